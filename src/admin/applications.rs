//! Applications: TENANT apps within the partner's `max_applications_per_tenant`,
//! PARTNER apps by that partner's admins, GLOBAL apps by super admins only.
//! Confidential apps get a client secret, shown once and stored hashed.

use serde_json::{Map, Value, json};

use crate::authn::secret;
use crate::domain::application::{
    AppScope, Application, ApplicationPatch, NewApplication, SigningAlg, default_grants, default_scopes,
};
use crate::domain::group::Group;
use crate::domain::partner::Partner;
use crate::domain::user::User;
use crate::ids::new_client_id;
use crate::store::{Scope, StoreError, Tx};

use super::{AdminError, Created, Ctx, Listed, Simple, check_limit, lock_tenant_in_scope, must_exist};

impl Listed for Application {
    const PATH: &'static str = "applications";
    const KIND: &'static str = "application";
    const FILTERS: &'static [&'static str] = &["tenant_id", "partner_id", "client_id", "scope", "name"];
}

async fn check_assignments(tx: &mut Tx, app: &Application) -> Result<(), AdminError> {
    if app.assigned_users.is_empty() && app.assigned_groups.is_empty() {
        return Ok(());
    }
    let Some(tenant_id) = app.tenant_id.clone() else {
        return Err(AdminError::field("assigned_users", "only TENANT applications have assignments"));
    };
    for (i, u) in app.assigned_users.iter().enumerate() {
        must_exist::<User>(tx, u, &tenant_id, &format!("assigned_users[{i}]")).await?;
    }
    for (i, g) in app.assigned_groups.iter().enumerate() {
        must_exist::<Group>(tx, g, &tenant_id, &format!("assigned_groups[{i}]")).await?;
    }
    Ok(())
}

impl Simple for Application {
    type Create = NewApplication;
    type Patch = ApplicationPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewApplication) -> Result<Created<Self>, AdminError> {
        let (tenant_id, partner_id) = match input.scope {
            AppScope::Tenant => {
                let Some(tid) = input.tenant_id.as_deref() else {
                    return Err(AdminError::field("tenant_id", "is required for TENANT applications"));
                };
                let tenant = lock_tenant_in_scope(tx, tid).await?;
                let limits = tx.limits_of_tenant(&tenant.id).await?;
                let count = tx.count_in_tenant("applications", &tenant.id).await?;
                check_limit(
                    count,
                    limits.max_applications_per_tenant,
                    "partner.max_applications_per_tenant",
                    "applications per tenant",
                )?;
                (Some(tenant.id), Some(tenant.partner_id))
            }
            AppScope::Partner => {
                if input.tenant_id.is_some() {
                    return Err(AdminError::field("tenant_id", "must be empty for PARTNER applications"));
                }
                let Some(pid) = input.partner_id.clone() else {
                    return Err(AdminError::field("partner_id", "is required for PARTNER applications"));
                };
                match &ctx.principal.authority {
                    Scope::Platform => {}
                    Scope::Partner(own) if *own == pid => {}
                    _ => return Err(AdminError::Forbidden("PARTNER applications need that partner's admin")),
                }
                match tx.get::<Partner>(&pid).await {
                    Ok(_) => {}
                    Err(StoreError::NotFound) => return Err(AdminError::field("partner_id", "no such partner")),
                    Err(e) => return Err(e.into()),
                }
                (None, Some(pid))
            }
            AppScope::Global => {
                if !ctx.principal.is_platform() {
                    return Err(AdminError::Forbidden("GLOBAL applications need super_admin"));
                }
                if input.tenant_id.is_some() || input.partner_id.is_some() {
                    return Err(AdminError::field("scope", "GLOBAL applications have no tenant_id or partner_id"));
                }
                (None, None)
            }
        };
        let mut once = Map::new();
        let client_secret_hash = if input.app_type.is_confidential() {
            let s = secret::generate("sks_");
            let h = secret::hash(&s);
            once.insert("client_secret".into(), Value::String(s));
            Some(h)
        } else {
            None
        };
        let mut app = Application {
            id: ctx.new_id("app"),
            tenant_id,
            partner_id,
            scope: input.scope,
            app_type: input.app_type,
            name: input.name.trim().to_owned(),
            client_id: new_client_id(),
            client_secret_hash,
            grant_types: input.grant_types.unwrap_or_else(|| default_grants(input.app_type)),
            redirect_uris: input.redirect_uris,
            logout_uris: input.logout_uris,
            allowed_origins: input.allowed_origins,
            allowed_scopes: input.allowed_scopes.unwrap_or_else(|| default_scopes(input.app_type)),
            token_lifetime: input.token_lifetime.unwrap_or(3600),
            refresh_token_lifetime: input.refresh_token_lifetime.unwrap_or(2_592_000),
            token_signing_alg: input.token_signing_alg.unwrap_or(SigningAlg::RS256),
            token_exchange_allowed: input.token_exchange_allowed,
            sync_webhook_url: input.sync_webhook_url,
            sync_webhook_secret_sealed: None,
            sync_webhook_secret_previous_sealed: None,
            sync_webhook_secret_previous_until: None,
            assigned_users: input.assigned_users,
            assigned_groups: input.assigned_groups,
            created_at: ctx.now,
            updated_at: ctx.now,
            first_party: input.first_party,
            accept_audience_from: input.accept_audience_from,
            initiate_login_uri: input.initiate_login_uri,
            logo_uri: input.logo_uri,
        };
        if app.first_party && !ctx.principal.is_platform() {
            return Err(AdminError::Forbidden("only super admins can mark an application first-party"));
        }
        app.validate()?;
        check_assignments(tx, &app).await?;
        if app.sync_webhook_url.is_some() {
            let s = match input.sync_webhook_secret {
                Some(s) => webhook_secret(s)?,
                None => {
                    let s = super::webhooks::generate_secret();
                    once.insert("sync_webhook_secret".into(), Value::String(s.clone()));
                    s
                }
            };
            super::webhooks::rotate(ctx, &mut app, &s);
        } else if input.sync_webhook_secret.is_some() {
            return Err(AdminError::field("sync_webhook_secret", "is only used with sync_webhook_url"));
        }
        Ok(Created { entity: app, once })
    }

    async fn apply(ctx: &Ctx<'_>, tx: &mut Tx, mut app: Application, p: ApplicationPatch) -> Result<Self, AdminError> {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = p.$f { app.$f = v; } )* };
        }
        set!(
            grant_types,
            redirect_uris,
            logout_uris,
            allowed_origins,
            allowed_scopes,
            token_lifetime,
            refresh_token_lifetime,
            token_signing_alg,
            token_exchange_allowed,
            sync_webhook_url,
            initiate_login_uri,
            logo_uri,
            assigned_users,
            assigned_groups,
            accept_audience_from
        );
        if let Some(fp) = p.first_party {
            if fp != app.first_party && !ctx.principal.is_platform() {
                return Err(AdminError::Forbidden("only super admins can mark an application first-party"));
            }
            app.first_party = fp;
        }
        if let Some(n) = p.name {
            app.name = n.trim().to_owned();
        }
        if let Some(s) = p.sync_webhook_secret {
            super::webhooks::rotate(ctx, &mut app, &webhook_secret(s)?);
        }
        app.updated_at = ctx.now;
        app.validate()?;
        check_assignments(tx, &app).await?;
        Ok(app)
    }
}

/// A webhook secret an admin chose: long enough to resist guessing.
fn webhook_secret(s: String) -> Result<String, AdminError> {
    if !(24..=256).contains(&s.len()) || s.chars().any(char::is_control) {
        return Err(AdminError::field("sync_webhook_secret", "must be 24 to 256 printable characters"));
    }
    Ok(s)
}

/// `POST /applications/{id}/secret`: a new secret replaces the old at once.
pub async fn rotate_secret(ctx: &Ctx<'_>, id: &str) -> Result<Value, AdminError> {
    let action = "application.rotate_secret".to_owned();
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let mut app: Application = tx.get_for_update(id).await?;
        if !app.app_type.is_confidential() {
            return Err(AdminError::Conflict {
                code: "application.public_client",
                message: "public applications (SPA, NATIVE) have no client secret",
            });
        }
        let s = secret::generate("sks_");
        app.client_secret_hash = Some(secret::hash(&s));
        app.updated_at = ctx.now;
        tx.update(&app).await?;
        ctx.record(
            &mut tx,
            action.clone(),
            ("application", &app.id),
            (app.partner_id.as_deref(), app.tenant_id.as_deref()),
        )
        .await?;
        tx.commit().await?;
        Ok(json!({"id": app.id, "client_id": app.client_id, "client_secret": s}))
    }
    .await;
    super::audited(ctx, action, "application", Some(id), r).await
}
