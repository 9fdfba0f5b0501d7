//! The `Upstream` state: a sign-in at one of the tenant's IdPs.
//!
//! `start` (the IdP's link on the page) and home-realm discovery enter it
//! through `begin`, which draws the login's `state`, `nonce` and PKCE
//! verifier and sends the browser to the upstream. `callback` takes the
//! browser back (`{issuer}/federation/{idp_id}/callback`): the request is
//! this browser's (the `sk_login` cookie, `SameSite=Lax`, rides the
//! top-level redirect), the `state` must match in constant time, the code
//! is redeemed and the id_token checked outside any transaction, and the
//! write transaction provisions or links the user and finishes.

use subtle::ConstantTimeEq;

use scaikey_connectors::{Callback, PendingLogin};

use crate::app::Services;
use crate::authn::{secret, session};
use crate::domain::idp::IdentityProvider;
use crate::domain::oidc::LoginState;
use crate::oauth::Issuer;
use crate::oauth::authorize::Browser;
use crate::store::StoreError;

use super::{FlowOutcome, Loaded, Next, Transition, expired, param, read, write};

pub(super) const UNAVAILABLE: &str =
    "This sign-in method is not available right now. Try again, or use another way to sign in.";
pub(super) const FAILED: &str = "Signing in with your organization's account did not work. Try again.";
const CANCELLED: &str = "Signing in with your organization's account was cancelled.";

/// Where the IdP sends the browser back.
pub fn callback_url(issuer: &Issuer, idp_id: &str) -> String {
    issuer.endpoint(&format!("/federation/{idp_id}/callback"))
}

pub(super) fn unavailable(idp: &IdentityProvider, error: &dyn std::fmt::Display) -> Transition {
    tracing::warn!(idp_id = %idp.id, error = %error, "upstream sign-in unavailable");
    Transition::to(Next::Render { error: Some(UNAVAILABLE.into()), status: 502 })
}

/// Sends the login to `idp`.
pub(super) async fn begin(
    svc: &Services,
    issuer: &Issuer,
    idp: &IdentityProvider,
    login_hint: Option<&str>,
) -> Transition {
    let connector = match svc.federation.open(svc.keys.sealer(), idp) {
        Ok(c) => c,
        Err(e) => return unavailable(idp, &e),
    };
    if let Some(saml) = connector.saml() {
        return super::saml::begin(svc, issuer, idp, saml).await;
    }
    let Some(redirect) = connector.redirect() else {
        return unavailable(idp, &"this identity provider type has no browser sign-in");
    };
    let pending =
        PendingLogin { state: secret::generate(""), nonce: secret::generate(""), pkce_verifier: secret::generate("") };
    match redirect.authorization_url(&callback_url(issuer, &idp.id), &pending, login_hint).await {
        Ok(location) => {
            let state = LoginState::Upstream { idp_id: idp.id.clone(), pending, asserted: None };
            Transition::to(Next::Redirect { state, location })
        }
        Err(e) => unavailable(idp, &e),
    }
}

/// The tenant's IdP `idp_id`, if it is one of the login's tenant.
pub(super) async fn idp_of(
    svc: &Services,
    issuer: &Issuer,
    loaded: &Loaded,
    idp_id: &str,
) -> Result<Option<IdentityProvider>, StoreError> {
    let Some(tenant) = &loaded.tenant else { return Ok(None) };
    if !crate::ids::has_prefix(idp_id, "idp") {
        return Ok(None);
    }
    let mut tx = svc.store.read(issuer.scope()).await?;
    let found = tx.get::<IdentityProvider>(idp_id).await;
    tx.commit().await?;
    match found {
        Ok(idp) if idp.tenant_id == tenant.id => Ok(Some(idp)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET {issuer}/login/idp/{idp_id}?request=…`: the IdP's link on the page.
pub async fn start(
    svc: &Services,
    issuer: &Issuer,
    request_id: &str,
    idp_id: &str,
    browser: &Browser<'_>,
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    let Some(mut loaded) = read(svc, issuer, request_id, browser, now).await? else { return Ok(expired()) };
    let version = loaded.request.version;
    let transition = match idp_of(svc, issuer, &loaded, idp_id).await? {
        Some(idp) => begin(svc, issuer, &idp, loaded.request.params.login_hint.clone().as_deref()).await,
        None => Transition::to(Next::Render { error: Some(UNAVAILABLE.into()), status: 404 }),
    };
    write(svc, issuer, &mut loaded, version, transition, browser, now).await
}

/// `GET {issuer}/federation/{idp_id}/callback?code=…&state=…` (or `error=…`).
pub async fn callback(
    svc: &Services,
    issuer: &Issuer,
    idp_id: &str,
    query: &[(String, String)],
    browser: &Browser<'_>,
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    let request_id = session::cookie(browser.cookies, session::LOGIN_COOKIE).unwrap_or_default();
    let Some(mut loaded) = read(svc, issuer, request_id, browser, now).await? else { return Ok(expired()) };
    let LoginState::Upstream { idp_id: expected_idp, pending, asserted: None } = loaded.request.state.clone() else {
        return Ok(expired());
    };
    let returned_state = param(query, "state").unwrap_or_default();
    let state_ok: bool = returned_state.as_bytes().ct_eq(pending.state.as_bytes()).into();
    if expected_idp != idp_id || !state_ok {
        tracing::warn!(idp_id = %idp_id, "upstream callback with a foreign or replayed state");
        return Ok(expired());
    }
    let version = loaded.request.version;
    let transition = match (param(query, "error"), param(query, "code"), idp_of(svc, issuer, &loaded, idp_id).await?) {
        (Some(error), _, _) => {
            tracing::info!(idp_id = %idp_id, error = %error.chars().take(64).collect::<String>(), "upstream sign-in not completed");
            Transition::to(Next::Restart { error: CANCELLED.into() })
        }
        (None, Some(code), Some(idp)) => {
            let iss = param(query, "iss");
            complete(
                svc,
                issuer,
                idp,
                Callback { redirect_uri: "", code, iss, pending: &pending, now: now.unix_seconds() },
            )
            .await
        }
        _ => Transition::to(Next::Restart { error: FAILED.into() }),
    };
    write(svc, issuer, &mut loaded, version, transition, browser, now).await
}

/// Redeems the code and checks the upstream's answer (`callback` without its redirect_uri).
async fn complete(svc: &Services, issuer: &Issuer, idp: IdentityProvider, callback: Callback<'_>) -> Transition {
    let connector = match svc.federation.open(svc.keys.sealer(), &idp) {
        Ok(c) => c,
        Err(e) => return unavailable(&idp, &e),
    };
    let Some(redirect) = connector.redirect() else {
        return unavailable(&idp, &"this identity provider type has no browser sign-in");
    };
    let redirect_uri = callback_url(issuer, &idp.id);
    match redirect.complete(Callback { redirect_uri: &redirect_uri, ..callback }).await {
        Ok(identity) => Transition::to(Next::Federated { idp: Box::new(idp), identity: Box::new(identity) }),
        Err(e) => {
            tracing::warn!(target: "audit", action = "login.failure", idp_id = %idp.id, error = %e, "upstream sign-in rejected");
            Transition::to(Next::Restart { error: FAILED.into() })
        }
    }
}
