//! SAML 2.0 in the login flow. ScaiKey's SP for IdP `idp_x` of an issuer:
//!
//! | path | what |
//! |---|---|
//! | `{issuer}/saml/{idp_id}/metadata` | SP metadata; also the SP entity id |
//! | `{issuer}/saml/{idp_id}/acs` | the IdP POSTs `SAMLResponse` and `RelayState` |
//! | `{issuer}/saml/{idp_id}/continue` | the browser comes back for its own login |
//!
//! `begin` sends a signed AuthnRequest (a 128-bit `_…` id, kept as
//! `pending.nonce`) with a random RelayState (`pending.state`). The ACS is a
//! cross-site POST that carries no cookie (`SameSite=Lax`): it finds the
//! login by RelayState, checks the Response outside any transaction
//! (signature against the configured certificates, XSW, audience,
//! recipient, destination, time, InResponseTo = our request id), records
//! the assertion id against replay (a unique row, so across replicas),
//! keeps the identity in the login's state and redirects to `continue`,
//! where the browser's own `sk_login` cookie must name that login before
//! anyone is signed in — so a Response posted from another browser signs
//! nobody in there (login CSRF).
//!
//! Unsolicited Responses (IdP-initiated SSO) match no RelayState of ours.
//! They are refused unless the IdP's `allow_idp_initiated` is set; then the
//! RelayState must be the `client_id` of one of the tenant's apps with an
//! `initiate_login_uri`, the Response must answer no request, and the user
//! gets an SSO session and lands at that URI with `iss` (OIDC Core §4), so
//! the app starts its own sign-in, which the session completes.

use scaikey_connectors::PendingLogin;
use scaikey_connectors::saml::{SamlLogin, Sp};

use crate::app::Services;
use crate::authn::secret;
use crate::domain::Timestamp;
use crate::domain::idp::IdentityProvider;
use crate::domain::oidc::LoginState;
use crate::federation::saml_keys;
use crate::oauth::Issuer;
use crate::oauth::authorize::{Browser, Outcome};
use crate::store::StoreError;

use super::upstream::{FAILED, idp_of, unavailable};
use super::{FlowOutcome, Next, Transition, expired, load, param, read, write};

const UNSOLICITED: &str = "This sign-in was not started here. Go back to the application and sign in from there.";

pub fn entity_id(issuer: &Issuer, idp_id: &str) -> String {
    issuer.endpoint(&format!("/saml/{idp_id}/metadata"))
}

pub fn acs_url(issuer: &Issuer, idp_id: &str) -> String {
    issuer.endpoint(&format!("/saml/{idp_id}/acs"))
}

fn error_page(message: &str) -> FlowOutcome {
    FlowOutcome::Done(Outcome::ErrorPage { status: 400, message: message.into() })
}

/// A 128-bit request id, valid as an `xs:ID` (starts with `_`).
fn request_id() -> String {
    format!("_{}", secret::hash(&secret::generate("")).trim_start_matches("sha256:").replace(['-', '_'], "x"))
}

/// Sends the login to the SAML IdP `idp`.
pub(super) async fn begin(svc: &Services, issuer: &Issuer, idp: &IdentityProvider, saml: &SamlLogin) -> Transition {
    let (key_pem, cert_pem) = match saml_keys::material(svc, &idp.tenant_id).await {
        Ok(m) => m,
        Err(e) => return unavailable(idp, &e),
    };
    let (entity, acs) = (entity_id(issuer, &idp.id), acs_url(issuer, &idp.id));
    let sp = Sp { entity_id: &entity, acs_url: &acs, key_pem: &key_pem, cert_pem: &cert_pem };
    let pending = PendingLogin { state: secret::generate(""), nonce: request_id(), pkce_verifier: String::new() };
    match saml.authn_request_url(&sp, &pending.nonce, &pending.state).await {
        Ok(location) => Transition::to(Next::Redirect {
            state: LoginState::Upstream { idp_id: idp.id.clone(), pending, asserted: None },
            location,
        }),
        Err(e) => unavailable(idp, &e),
    }
}

/// Checks a Response with the IdP's connector and this tenant's SP
/// (outside any transaction); `request_id` is `None` for IdP-initiated SSO.
async fn consume(
    svc: &Services,
    issuer: &Issuer,
    idp: &IdentityProvider,
    response: &str,
    request_id: Option<&str>,
) -> Result<scaikey_connectors::saml::SamlAssertion, String> {
    let connector = svc.federation.open(svc.keys.sealer(), idp).map_err(|e| e.to_string())?;
    let saml = connector.saml().ok_or("not a SAML identity provider")?;
    let (key_pem, cert_pem) = saml_keys::material(svc, &idp.tenant_id).await.map_err(|e| e.to_string())?;
    let (entity, acs) = (entity_id(issuer, &idp.id), acs_url(issuer, &idp.id));
    let sp = Sp { entity_id: &entity, acs_url: &acs, key_pem: &key_pem, cert_pem: &cert_pem };
    saml.consume(&sp, response, request_id).await.map_err(|e| e.to_string())
}

/// `POST {issuer}/saml/{idp_id}/acs` (HTTP-POST binding).
pub async fn acs(
    svc: &Services,
    issuer: &Issuer,
    idp_id: &str,
    form: &[(String, String)],
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    let relay_state = param(form, "RelayState").unwrap_or_default();
    let response = param(form, "SAMLResponse").unwrap_or_default();
    // 1. Read: the login this RelayState belongs to.
    let mut tx = svc.store.read(issuer.scope()).await?;
    let found = match relay_state.is_empty() {
        true => None,
        false => tx.login_by_upstream_ref(relay_state).await?,
    };
    let loaded = match found {
        Some(r) => load(&mut tx, issuer, &r.id, None, now, false).await?,
        None => None,
    };
    tx.commit().await?;
    let Some(mut loaded) = loaded else {
        return idp_initiated(svc, issuer, idp_id, response, relay_state).await;
    };
    let LoginState::Upstream { idp_id: expected, pending, asserted: None } = loaded.request.state.clone() else {
        return Ok(error_page(UNSOLICITED));
    };
    let Some(idp) = idp_of(svc, issuer, &loaded, idp_id).await?.filter(|_| expected == idp_id) else {
        return Ok(error_page(UNSOLICITED));
    };
    let version = loaded.request.version;

    // 2. The Response, checked outside any transaction.
    let checked = consume(svc, issuer, &idp, response, Some(&pending.nonce)).await;
    let assertion = match checked {
        Ok(a) => a,
        Err(why) => {
            tracing::warn!(target: "audit", action = "login.failure", idp_id = %idp.id, error = %why, "SAML response rejected");
            return Ok(error_page(FAILED));
        }
    };

    // 3. Write: the assertion id (replay), then the identity waits for this browser.
    let mut tx = svc.store.write(issuer.scope()).await?;
    let keep_until = assertion.expires_at.max(now.unix_seconds() + 60).saturating_mul(1_000_000);
    let expires = Timestamp::from_unix_micros(keep_until).unwrap_or(now);
    if !tx.remember_assertion(&idp.id, &assertion.assertion_id, expires, now).await? {
        tx.commit().await?;
        tracing::warn!(target: "audit", action = "login.failure", idp_id = %idp.id, "SAML assertion replayed");
        return Ok(error_page(FAILED));
    }
    loaded.request.state =
        LoginState::Upstream { idp_id: idp.id.clone(), pending, asserted: Some(Box::new(assertion.identity)) };
    if !tx.advance_login(&loaded.request, version).await? {
        return Ok(expired());
    }
    tx.commit().await?;
    let location = issuer.endpoint(&format!("/saml/{}/continue", idp.id));
    Ok(FlowOutcome::Done(Outcome::Redirect { location, set_cookies: Vec::new() }))
}

/// `GET {issuer}/saml/{idp_id}/continue`: this browser's login, with the
/// identity the ACS checked, signs in.
pub async fn resume(
    svc: &Services,
    issuer: &Issuer,
    idp_id: &str,
    browser: &Browser<'_>,
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    let request_id =
        crate::authn::session::cookie(browser.cookies, crate::authn::session::LOGIN_COOKIE).unwrap_or_default();
    let Some(mut loaded) = read(svc, issuer, request_id, browser, now).await? else { return Ok(expired()) };
    let LoginState::Upstream { idp_id: expected, asserted: Some(identity), .. } = loaded.request.state.clone() else {
        return Ok(expired());
    };
    let Some(idp) = idp_of(svc, issuer, &loaded, idp_id).await?.filter(|_| expected == idp_id) else {
        return Ok(expired());
    };
    let version = loaded.request.version;
    let transition = Transition::to(Next::Federated { idp: Box::new(idp), identity });
    write(svc, issuer, &mut loaded, version, transition, browser, now).await
}

/// `GET {issuer}/saml/{idp_id}/metadata`: ScaiKey's SP metadata for the IdP.
pub async fn metadata(svc: &Services, issuer: &Issuer, idp_id: &str) -> Result<Option<String>, StoreError> {
    if !crate::ids::has_prefix(idp_id, "idp") {
        return Ok(None);
    }
    let mut tx = svc.store.read(issuer.scope()).await?;
    let found = tx.get::<IdentityProvider>(idp_id).await;
    tx.commit().await?;
    let idp = match found {
        Ok(idp) if issuer.tenant.as_ref().is_none_or(|t| t.id == idp.tenant_id) => idp,
        Ok(_) | Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(connector) = svc.federation.open(svc.keys.sealer(), &idp) else { return Ok(None) };
    let Some(saml) = connector.saml() else { return Ok(None) };
    let (key_pem, cert_pem) = saml_keys::material(svc, &idp.tenant_id).await?;
    let (entity, acs) = (entity_id(issuer, &idp.id), acs_url(issuer, &idp.id));
    let sp = Sp { entity_id: &entity, acs_url: &acs, key_pem: &key_pem, cert_pem: &cert_pem };
    match saml.metadata(&sp).await {
        Ok(xml) => Ok(Some(xml)),
        Err(e) => {
            tracing::warn!(idp_id = %idp.id, error = %e, "SP metadata unavailable");
            Ok(None)
        }
    }
}

/// An unsolicited Response: IdP-initiated SSO into the app the RelayState names.
async fn idp_initiated(
    svc: &Services,
    issuer: &Issuer,
    idp_id: &str,
    response: &str,
    relay_state: &str,
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    let refuse = |why: &str| {
        tracing::warn!(target: "audit", action = "login.failure", idp_id = %idp_id, reason = %why, "unsolicited SAML response refused");
        Ok(error_page(UNSOLICITED))
    };
    let Some(tenant) = issuer.tenant.clone() else { return refuse("not a tenant issuer") };
    if !crate::ids::has_prefix(idp_id, "idp") || relay_state.is_empty() {
        return refuse("no RelayState naming an application");
    }
    let mut tx = svc.store.read(issuer.scope()).await?;
    let idp = tx.get::<IdentityProvider>(idp_id).await;
    let app = tx.app_by_client_id(relay_state).await;
    tx.commit().await?;
    let (Ok(idp), Ok(app)) = (idp, app) else { return refuse("unknown IdP or application") };
    let Some(landing) = app.initiate_login_uri.clone().filter(|_| issuer.serves(&app)) else {
        return refuse("the application has no initiate_login_uri");
    };
    let checked = consume(svc, issuer, &idp, response, None).await;
    let assertion = match checked {
        Ok(a) => a,
        Err(why) => return refuse(&why),
    };
    let mut tx = svc.store.write(issuer.scope()).await?;
    let keep_until = assertion.expires_at.max(now.unix_seconds() + 60).saturating_mul(1_000_000);
    if !tx
        .remember_assertion(
            &idp.id,
            &assertion.assertion_id,
            Timestamp::from_unix_micros(keep_until).unwrap_or(now),
            now,
        )
        .await?
    {
        tx.commit().await?;
        return refuse("assertion replayed");
    }
    let user_id = match crate::federation::jit::resolve(&mut tx, &idp, &assertion.identity, now).await? {
        Ok(id) => id,
        Err(message) => {
            tx.commit().await?;
            return Ok(FlowOutcome::Done(Outcome::ErrorPage { status: 403, message: message.into() }));
        }
    };
    let user: crate::domain::user::User = tx.get(&user_id).await?;
    let (_, cookie) =
        super::effects::start_session(svc, &mut tx, issuer, &tenant, &user, vec!["fed".into()], now).await?;
    tx.commit().await?;
    let mut location = url::Url::parse(&landing).map_err(|_| StoreError::NotFound)?;
    location.query_pairs_mut().append_pair("iss", &issuer.url);
    Ok(FlowOutcome::Done(Outcome::Redirect { location: location.into(), set_cookies: vec![cookie] }))
}
