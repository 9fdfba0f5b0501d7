//! The small resources: MCP agents, role assignments, consents, SCIM tokens, and the
//! read-only signing keys and audit events.

use serde_json::Value;

use crate::authn::secret;
use crate::domain::agent::{McpAgent, McpAgentPatch, NewMcpAgent};
use crate::domain::application::Application;
use crate::domain::audit::AuditEvent;
use crate::domain::consent::{Consent, NewConsent};
use crate::domain::role::{NewRoleAssignment, Role, RoleAssignment};
use crate::domain::scim_token::{NewScimToken, ScimToken};
use crate::domain::signing_key::SigningKey;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::store::{Scope, StoreError, Tx};

use super::{AdminError, Created, Ctx, Listed, Simple, must_exist, tenant_in_scope};

impl Listed for McpAgent {
    const PATH: &'static str = "mcp-agents";
    const KIND: &'static str = "mcp_agent";
    const FILTERS: &'static [&'static str] = &["tenant_id", "user_id"];
}

impl Simple for McpAgent {
    type Create = NewMcpAgent;
    type Patch = McpAgentPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewMcpAgent) -> Result<Created<Self>, AdminError> {
        let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
        let agent = McpAgent {
            id: ctx.new_id("agt"),
            tenant_id: tenant.id.clone(),
            partner_id: tenant.partner_id.clone(),
            name: input.name.trim().to_owned(),
            description: input.description,
            user_id: input.user_id,
            application_id: input.application_id,
            allowed_scopes: input.allowed_scopes,
            status: "active".into(),
            created_at: ctx.now,
            updated_at: ctx.now,
            secret_hash: None,
            max_token_lifetime: input.max_token_lifetime.unwrap_or(3600),
        };
        agent.validate()?;
        must_exist::<User>(tx, &agent.user_id, &tenant.id, "user_id").await?;
        if let Some(a) = &agent.application_id {
            must_exist::<Application>(tx, a, &tenant.id, "application_id").await?;
        }
        // The agent's own secret for the token endpoint, shown this once.
        let secret = crate::authn::secret::generate("ska_");
        let mut agent = agent;
        agent.secret_hash = Some(crate::authn::secret::hash(&secret));
        let mut created = Created::new(agent);
        created.once.insert("client_secret".into(), secret.into());
        Ok(created)
    }

    async fn apply(ctx: &Ctx<'_>, _tx: &mut Tx, mut a: McpAgent, p: McpAgentPatch) -> Result<Self, AdminError> {
        if let Some(n) = p.name {
            a.name = n.trim().to_owned();
        }
        if let Some(d) = p.description {
            a.description = d;
        }
        if let Some(s) = p.allowed_scopes {
            a.allowed_scopes = s;
        }
        if let Some(s) = p.status {
            a.status = s;
        }
        if let Some(l) = p.max_token_lifetime {
            a.max_token_lifetime = l;
        }
        a.updated_at = ctx.now;
        a.validate()?;
        Ok(a)
    }
}

impl Listed for RoleAssignment {
    const PATH: &'static str = "role-assignments";
    const KIND: &'static str = "role_assignment";
    const FILTERS: &'static [&'static str] = &["user_id", "tenant_id", "partner_id", "role"];
}

/// Role assignments are created and deleted, never changed.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoPatch {}

impl Simple for RoleAssignment {
    type Create = NewRoleAssignment;
    type Patch = NoPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewRoleAssignment) -> Result<Created<Self>, AdminError> {
        let user: User = match tx.get(&input.user_id).await {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(AdminError::field("user_id", "no such user")),
            Err(e) => return Err(e.into()),
        };
        let (partner_id, tenant_id) = match input.role {
            Role::SuperAdmin => {
                ctx.require_platform()?;
                if input.partner_id.is_some() || input.tenant_id.is_some() {
                    return Err(AdminError::field("role", "super_admin has no partner_id or tenant_id"));
                }
                (None, None)
            }
            Role::PartnerAdmin => {
                let Some(p) = input.partner_id else {
                    return Err(AdminError::field("partner_id", "is required for partner_admin"));
                };
                if input.tenant_id.is_some() {
                    return Err(AdminError::field("tenant_id", "must be empty for partner_admin"));
                }
                match &ctx.principal.authority {
                    Scope::Platform => {}
                    Scope::Partner(own) if *own == p => {}
                    _ => {
                        return Err(AdminError::Forbidden(
                            "partner_admin can be granted by super admins and that partner's admins",
                        ));
                    }
                }
                if user.partner_id != p {
                    return Err(AdminError::field("user_id", "the user must belong to one of the partner's tenants"));
                }
                (Some(p), None)
            }
            Role::TenantAdmin => {
                let Some(t) = input.tenant_id else {
                    return Err(AdminError::field("tenant_id", "is required for tenant_admin"));
                };
                let tenant: Tenant = tenant_in_scope(tx, &t).await?;
                if input.partner_id.as_ref().is_some_and(|p| *p != tenant.partner_id) {
                    return Err(AdminError::field("partner_id", "does not own this tenant"));
                }
                if user.partner_id != tenant.partner_id {
                    return Err(AdminError::field("user_id", "the user must belong to the tenant's partner"));
                }
                (Some(tenant.partner_id), Some(tenant.id))
            }
        };
        Ok(Created::new(RoleAssignment {
            id: ctx.new_id("rol"),
            user_id: user.id,
            role: input.role,
            partner_id,
            tenant_id,
            created_at: ctx.now,
        }))
    }

    async fn apply(_ctx: &Ctx<'_>, _tx: &mut Tx, _r: RoleAssignment, _p: NoPatch) -> Result<Self, AdminError> {
        Err(AdminError::Forbidden("role assignments cannot be changed; delete and create instead"))
    }
}

impl Listed for Consent {
    const PATH: &'static str = "consents";
    const KIND: &'static str = "consent";
    const FILTERS: &'static [&'static str] = &["tenant_id", "user_id", "app_id"];
}

/// Admins list and revoke consents; only users give them.
impl Simple for Consent {
    type Create = NewConsent;
    type Patch = NoPatch;

    async fn build(_ctx: &Ctx<'_>, _tx: &mut Tx, _input: NewConsent) -> Result<Created<Self>, AdminError> {
        Err(AdminError::Forbidden("consent is given by the user on the consent page"))
    }

    async fn apply(_ctx: &Ctx<'_>, _tx: &mut Tx, _c: Consent, _p: NoPatch) -> Result<Self, AdminError> {
        Err(AdminError::Forbidden("consents cannot be changed; delete to revoke"))
    }
}

impl Listed for ScimToken {
    const PATH: &'static str = "scim-tokens";
    const KIND: &'static str = "scim_token";
}

impl Simple for ScimToken {
    type Create = NewScimToken;
    type Patch = NoPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewScimToken) -> Result<Created<Self>, AdminError> {
        let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
        let mut problems = crate::domain::validate::Problems::default();
        problems.name("name", &input.name, 200);
        if input.expires_at.is_some_and(|e| e <= ctx.now) {
            problems.add("expires_at", "must be in the future");
        }
        problems.into_result()?;
        let token = secret::generate("scim_");
        let t = ScimToken {
            id: ctx.new_id("sct"),
            tenant_id: tenant.id,
            partner_id: tenant.partner_id,
            name: input.name.trim().to_owned(),
            token_hash: secret::hash(&token),
            expires_at: input.expires_at,
            last_used_at: None,
            created_at: ctx.now,
        };
        let mut created = Created::new(t);
        created.once.insert("token".into(), Value::String(token));
        Ok(created)
    }

    async fn apply(_ctx: &Ctx<'_>, _tx: &mut Tx, _t: ScimToken, _p: NoPatch) -> Result<Self, AdminError> {
        Err(AdminError::Forbidden("SCIM tokens cannot be changed; delete and create instead"))
    }
}

impl Listed for SigningKey {
    const PATH: &'static str = "signing-keys";
    const KIND: &'static str = "signing_key";
    const FILTERS: &'static [&'static str] = &["alg", "status"];
}

impl Listed for AuditEvent {
    const PATH: &'static str = "audit-events";
    const KIND: &'static str = "audit_event";
    const FILTERS: &'static [&'static str] = &["tenant_id", "actor_id", "target_id", "action", "outcome"];
}

/// `POST /signing-keys/rotate` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeys {
    /// One algorithm, or every algorithm when absent.
    pub alg: Option<crate::domain::application::SigningAlg>,
    /// Seconds between publishing and signing (default 900, at least 60); the
    /// key signs only once every running replica has loaded it.
    pub activate_in: Option<i64>,
}

/// Publishes new signing keys (super admins only).
pub async fn rotate_keys(ctx: &Ctx<'_>, input: RotateKeys) -> Result<Vec<SigningKey>, AdminError> {
    ctx.require_write()?;
    ctx.require_platform()?;
    let activate_in = input.activate_in.unwrap_or(crate::keys::rotation::DEFAULT_ACTIVATE_IN);
    let soonest = crate::keys::rotation::RELOAD_INTERVAL;
    if !(soonest..=86_400).contains(&activate_in) {
        return Err(AdminError::Invalid(vec![crate::domain::validate::FieldError {
            field: "activate_in".into(),
            message: format!("must be {soonest} to 86400 seconds: every replica must have the key before it signs"),
        }]));
    }
    let algs = match input.alg {
        Some(a) => vec![a],
        None => crate::keys::ALGORITHMS.to_vec(),
    };
    let keys = ctx
        .svc
        .keys
        .rotate(&ctx.svc.store, ctx.svc.clock.as_ref(), &algs, activate_in)
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    let mut tx = ctx.svc.store.write(Scope::Platform).await?;
    for k in &keys {
        ctx.record(&mut tx, "signing_key.rotate".into(), ("signing_key", &k.id), (None, None)).await?;
    }
    tx.commit().await?;
    Ok(keys)
}
