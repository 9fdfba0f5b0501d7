//! Who may call a tenant's SCIM endpoints: a SCIM token of that tenant
//! (hash lookup, expiry) or an access token with `scim:read` / `scim:write`
//! whose application's authority covers the tenant. Anything else is 401 in
//! the SCIM error schema.

use serde_json::Value;

use crate::admin::authz::{ActorKind, Principal};
use crate::app::Services;
use crate::authn::secret;
use crate::domain::tenant::Tenant;
use crate::store::{Scope, StoreError};

pub struct ScimCaller {
    pub tenant: Tenant,
    pub principal: Principal,
}

#[derive(Debug)]
pub enum ScimAuthError {
    Unauthenticated,
    Forbidden,
    UnknownTenant,
    Server,
}

impl From<StoreError> for ScimAuthError {
    fn from(_: StoreError) -> Self {
        ScimAuthError::Server
    }
}

pub async fn authenticate(
    svc: &Services,
    slug: &str,
    authorization: Option<&str>,
) -> Result<ScimCaller, ScimAuthError> {
    let token = authorization
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty() && t.len() <= 16 * 1024)
        .ok_or(ScimAuthError::Unauthenticated)?;
    if !crate::domain::tenant::is_valid_slug(slug) {
        return Err(ScimAuthError::UnknownTenant);
    }
    let now = svc.clock.now();
    let mut tx = svc.store.read(Scope::Platform).await?;
    let tenant = match tx.tenant_by_slug(slug).await {
        Ok(t) => t,
        Err(StoreError::NotFound) => return Err(ScimAuthError::UnknownTenant),
        Err(e) => return Err(e.into()),
    };
    let principal = if token.starts_with("scim_") {
        match tx.scim_token_by_hash(&secret::hash(token), now).await {
            // A token of another tenant is as good as none here.
            Ok(t) if t.tenant_id == tenant.id => Principal {
                kind: ActorKind::ScimToken,
                id: t.id,
                authority: Scope::Tenant(tenant.id.clone()),
                can_read: true,
                can_write: true,
            },
            Ok(_) | Err(StoreError::NotFound) => return Err(ScimAuthError::Unauthenticated),
            Err(e) => return Err(e.into()),
        }
    } else {
        let claims = svc.keys.verify(token, "at+jwt", now).map_err(|_| ScimAuthError::Unauthenticated)?;
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
        if tx.is_jti_revoked(jti).await? {
            return Err(ScimAuthError::Unauthenticated);
        }
        let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        let scopes: Vec<&str> =
            claims.get("scope").and_then(Value::as_str).unwrap_or_default().split_whitespace().collect();
        let app = match tx.app_by_client_id(client_id).await {
            Ok(a) if a.client_id == sub => a,
            Ok(_) | Err(StoreError::NotFound) => return Err(ScimAuthError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        let admin = Principal::for_application(&app, &[]).ok_or(ScimAuthError::Forbidden)?;
        if !admin.authority.contains(Some(&tenant.partner_id), Some(&tenant.id)) {
            return Err(ScimAuthError::Forbidden);
        }
        let can_write = scopes.contains(&"scim:write");
        let can_read = can_write || scopes.contains(&"scim:read");
        if !can_read {
            return Err(ScimAuthError::Forbidden);
        }
        Principal {
            kind: ActorKind::Application,
            id: app.id,
            authority: Scope::Tenant(tenant.id.clone()),
            can_read,
            can_write,
        }
    };
    tx.commit().await?;
    Ok(ScimCaller { tenant, principal })
}
