//! First-run and on-demand bootstrap (SPEC §2): the default partner and
//! tenant, a super admin user and a GLOBAL SERVICE application with
//! `admin:read admin:write`. Idempotent: run again, it resets the admin's
//! password and rotates the application's secret, which is how an operator
//! regains access. Everything goes through the admin services, so it is
//! validated and audited like any other change (actor `system`).

use serde::Serialize;
use serde_json::Value;

use crate::admin::authz::{ActorKind, Principal};
use crate::admin::{self, AdminError, Ctx};
use crate::app::Services;
use crate::domain::application::{AppScope, AppType, Application, NewApplication};
use crate::domain::partner::{NewPartner, Partner, PartnerLimits};
use crate::domain::role::{NewRoleAssignment, Role, RoleAssignment};
use crate::domain::tenant::{NewTenant, Tenant};
use crate::domain::user::{User, UserAttributes};
use crate::store::{Arg, PageRequest, Scope};

pub const DEFAULT_TENANT: &str = "default";
pub const ADMIN_USER: &str = "admin";
const APP_NAME: &str = "ScaiKey bootstrap";

#[derive(Debug, Serialize)]
pub struct BootstrapOutput {
    pub admin_user: String,
    pub admin_password: String,
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    pub token_endpoint: String,
}

fn str_field(v: &Value, name: &str) -> Result<String, AdminError> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| AdminError::Internal(format!("bootstrap: missing {name}")))
}

/// Whether the database has never been bootstrapped (no partner exists).
pub async fn is_empty(svc: &Services) -> Result<bool, AdminError> {
    let mut tx = svc.store.read(Scope::Platform).await?;
    let n = tx.count::<Partner>(vec![]).await?;
    tx.commit().await?;
    Ok(n == 0)
}

pub async fn run(svc: &Services, password: Option<String>) -> Result<BootstrapOutput, AdminError> {
    let principal = Principal {
        kind: ActorKind::System,
        id: "bootstrap".into(),
        authority: Scope::Platform,
        can_read: true,
        can_write: true,
    };
    let request_id = crate::ids::random_base36(16);
    let ctx = Ctx { svc, principal: &principal, request_id: &request_id, now: svc.clock.now() };
    let password = password.unwrap_or_else(|| crate::ids::random_base36(24));

    let mut tx = svc.store.read(Scope::Platform).await?;
    let tenant = tx.tenant_by_slug(DEFAULT_TENANT).await.ok();
    tx.commit().await?;
    let tenant_id = match tenant {
        Some(t) => t.id,
        None => {
            let partner =
                admin::create::<Partner>(&ctx, NewPartner { name: "Default".into(), limits: PartnerLimits::default() })
                    .await?;
            let tenant = admin::create::<Tenant>(
                &ctx,
                NewTenant {
                    partner_id: Some(str_field(&partner, "id")?),
                    slug: DEFAULT_TENANT.into(),
                    name: "Default".into(),
                    settings: Default::default(),
                    branding: Default::default(),
                },
            )
            .await?;
            str_field(&tenant, "id")?
        }
    };

    let mut tx = svc.store.read(Scope::Platform).await?;
    let user = tx.user_by_name(&tenant_id, ADMIN_USER).await.ok();
    tx.commit().await?;
    let user_id = match user {
        Some(u) => {
            let patch = UserAttributes { password: Some(password.clone()), ..Default::default() };
            admin::update::<User>(&ctx, &u.id, patch).await?;
            u.id
        }
        None => {
            let attrs = UserAttributes {
                tenant_id: Some(tenant_id.clone()),
                user_name: Some(ADMIN_USER.into()),
                display_name: Some(Some("Administrator".into())),
                password: Some(password.clone()),
                ..Default::default()
            };
            str_field(&admin::create::<User>(&ctx, attrs).await?, "id")?
        }
    };

    let mut tx = svc.store.read(Scope::Platform).await?;
    let roles = tx.roles_of_user(&user_id).await?;
    let apps = tx
        .list::<Application>(
            vec![("scope", Arg::from("GLOBAL")), ("name", Arg::from(APP_NAME))],
            &PageRequest { limit: 1, after: None },
        )
        .await?;
    tx.commit().await?;
    if !roles.iter().any(|r: &RoleAssignment| r.role == Role::SuperAdmin) {
        let ra =
            NewRoleAssignment { user_id: user_id.clone(), role: Role::SuperAdmin, partner_id: None, tenant_id: None };
        admin::create::<RoleAssignment>(&ctx, ra).await?;
    }
    let (client_id, client_secret) = match apps.items.first() {
        Some(app) => {
            let v = admin::applications::rotate_secret(&ctx, &app.id).await?;
            (str_field(&v, "client_id")?, str_field(&v, "client_secret")?)
        }
        None => {
            let input = NewApplication {
                tenant_id: None,
                partner_id: None,
                scope: AppScope::Global,
                app_type: AppType::Service,
                name: APP_NAME.into(),
                grant_types: None,
                redirect_uris: vec![],
                logout_uris: vec![],
                allowed_origins: vec![],
                allowed_scopes: Some(vec!["admin:read".into(), "admin:write".into()]),
                token_lifetime: None,
                refresh_token_lifetime: None,
                token_signing_alg: None,
                token_exchange_allowed: false,
                sync_webhook_url: None,
                sync_webhook_secret: None,
                assigned_users: vec![],
                assigned_groups: vec![],
                first_party: true,
                accept_audience_from: vec![],
                initiate_login_uri: None,
                logo_uri: None,
            };
            let v = admin::create::<Application>(&ctx, input).await?;
            (str_field(&v, "client_id")?, str_field(&v, "client_secret")?)
        }
    };
    Ok(BootstrapOutput {
        admin_user: ADMIN_USER.into(),
        admin_password: password,
        tenant: DEFAULT_TENANT.into(),
        client_id,
        client_secret,
        token_endpoint: crate::oauth::Issuer::platform(&svc.base_url()).endpoint("/oauth/token"),
    })
}
