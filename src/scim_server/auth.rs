//! Who may call a tenant's SCIM endpoints: a SCIM token of that tenant
//! (hash lookup, expiry) or an access token (checked by the one verifier)
//! with `scim:read` / `scim:write` whose authority — the app's, cut by the
//! user's roles for a user token — covers the tenant. Anything else is 401
//! in the SCIM error schema.

use crate::admin::authz::{ActorKind, Principal};
use crate::app::Services;
use crate::authn::secret;
use crate::domain::tenant::Tenant;
use crate::oauth::verifier::{ExpectedIssuer, TokenError, verify_access_token};
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
        tx.commit().await?;
        return access_token_caller(svc, tenant, token).await;
    };
    tx.commit().await?;
    Ok(ScimCaller { tenant, principal })
}

async fn access_token_caller(svc: &Services, tenant: Tenant, token: &str) -> Result<ScimCaller, ScimAuthError> {
    let base = svc.base_url();
    let verified = verify_access_token(svc, token, ExpectedIssuer::AnyOf(&base)).await.map_err(|e| match e {
        TokenError::Invalid(_) => ScimAuthError::Unauthenticated,
        TokenError::Server => ScimAuthError::Server,
    })?;
    let can_write = verified.has_scope("scim:write");
    let can_read = can_write || verified.has_scope("scim:read");
    if !can_read {
        return Err(ScimAuthError::Forbidden);
    }
    let principal = match &verified.user {
        Some(user) => {
            let mut tx = svc.store.read(Scope::Platform).await?;
            let roles = tx.roles_of_user(&user.id).await?;
            tx.commit().await?;
            Principal::for_user(&user.id, &roles, &verified.app, &[])
        }
        None => Principal::for_application(&verified.app, &[]),
    }
    .ok_or(ScimAuthError::Forbidden)?;
    if !principal.authority.contains(Some(&tenant.partner_id), Some(&tenant.id)) {
        return Err(ScimAuthError::Forbidden);
    }
    let principal = Principal { authority: Scope::Tenant(tenant.id.clone()), can_read, can_write, ..principal };
    Ok(ScimCaller { tenant, principal })
}
