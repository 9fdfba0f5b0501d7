//! The `DirectoryPassword` state: the password of a user of an LDAP / AD
//! identity provider, checked by a bind against the directory (outside any
//! transaction), so a password changed upstream works at once. The user is
//! then the linked, linkable or provisioned one, like any federated user.

use crate::app::Services;
use crate::domain::idp::IdentityProvider;
use crate::oauth::Issuer;
use crate::store::{StoreError, Tx};

use super::steps::WRONG_CREDENTIALS;
use super::upstream::unavailable;
use super::{Loaded, Next, Transition, param};

/// The LDAP IdP that `username` signs in with, if any: by the domain of an
/// email, or because the tenant's user of that name came from one. In the
/// caller's transaction: a step never holds one connection while waiting
/// for another (under load every connection would be held by such a wait).
pub(super) async fn idp_for(
    tx: &mut Tx,
    tenant_id: &str,
    username: &str,
) -> Result<Option<IdentityProvider>, StoreError> {
    let mut found = None;
    if let Some((_, domain)) = username.rsplit_once('@') {
        found = tx.directory_idp_for_domain(tenant_id, domain).await?;
    }
    if found.is_none()
        && let Ok(user) = tx.user_by_name(tenant_id, username).await
    {
        found = tx.directory_idp_of_user(&user.id).await?;
    }
    Ok(found)
}

/// Binds as the user; a wrong login or password is the usual message.
pub(super) async fn password(
    svc: &Services,
    issuer: &Issuer,
    loaded: &Loaded,
    idp_id: &str,
    form: &[(String, String)],
) -> Result<Transition, StoreError> {
    let presented = param(form, "password").unwrap_or_default();
    let login = loaded.request.params.login_hint.clone().unwrap_or_default();
    let idp = match super::upstream::idp_of(svc, issuer, loaded, idp_id).await? {
        Some(idp) => idp,
        None => return Ok(Transition::to(Next::Render { error: Some(WRONG_CREDENTIALS.into()), status: 200 })),
    };
    let connector = match svc.federation.open(svc.keys.sealer(), &idp) {
        Ok(c) => c,
        Err(e) => return Ok(unavailable(&idp, &e)),
    };
    let Some(ldap) = connector.password() else {
        return Ok(unavailable(&idp, &"this identity provider type has no password sign-in"));
    };
    match ldap.authenticate(&login, presented).await {
        Ok(Some(user)) => Ok(Transition::to(Next::Federated { idp: Box::new(idp), identity: Box::new(user.identity) })),
        Ok(None) => {
            tracing::info!(target: "audit", action = "login.failure", idp_id = %idp.id, "directory bind refused");
            Ok(Transition::to(Next::Render { error: Some(WRONG_CREDENTIALS.into()), status: 200 }))
        }
        Err(e) => Ok(unavailable(&idp, &e)),
    }
}
