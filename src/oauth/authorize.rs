//! `/oauth/authorize` (RFC 6749 §4.1, OIDC Core §3.1.2).
//!
//! | check | failure |
//! |-------|---------|
//! | `client_id` known and served by this issuer | error page, no redirect |
//! | `redirect_uri` equals a registered value exactly | error page, no redirect |
//! | `response_type=code`, grant registered, no request objects | redirect with `error`, `state`, `iss` |
//! | PKCE: S256 only; required for SPA and NATIVE | redirect `invalid_request` |
//! | scopes cut to `allowed_scopes`, something left | redirect `invalid_scope` |
//! | `prompt` ∈ {none, login, consent, select_account}, `max_age` ≥ 0 | redirect `invalid_request` |
//!
//! A live SSO session (not `prompt=login`, within `max_age`) completes at
//! once; `prompt=none` without one redirects `login_required`; otherwise a
//! login request is stored and the browser goes to the login page.
//! Admin and SCIM scopes (`admin:*`, `scim:*`) need the user's consent,
//! remembered per user and app: without it the browser goes to the consent
//! step of the login page, and `prompt=none` redirects `consent_required`.

use crate::app::Services;
use crate::authn::{secret, session};
use crate::domain::Timestamp;
use crate::domain::application::{AppScope, AppType, Application, GRANT_AUTHORIZATION_CODE};
use crate::domain::consent::needs_consent;
use crate::domain::oidc::{
    AuthorizationCode, AuthorizeParams, CodeParams, LoginPurpose, LoginRequest, LoginState, Session,
};
use crate::domain::user::{User, UserStatus};
use crate::ids::new_id;
use crate::store::{Scope, StoreError, Tx};

use super::{Issuer, pkce};

/// Seconds a login request stays usable.
pub const LOGIN_REQUEST_TTL: i64 = 900;
/// Seconds an authorization code stays usable.
pub const CODE_TTL: i64 = 60;

/// What the HTTP layer does next.
#[derive(Debug)]
pub enum Outcome {
    Redirect {
        location: String,
        set_cookies: Vec<String>,
    },
    ErrorPage {
        status: u16,
        message: String,
    },
    /// A flow that ends on ScaiKey's own page (the device page's approval).
    Message {
        heading: String,
        message: String,
    },
}

pub struct Browser<'a> {
    pub cookies: Option<&'a str>,
}

fn error_page(message: &str) -> Outcome {
    Outcome::ErrorPage { status: 400, message: message.into() }
}

/// `redirect_uri?error=…&state=…&iss=…`
pub fn error_redirect(
    redirect_uri: &str,
    issuer: &Issuer,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> Outcome {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &issuer.url));
    Outcome::Redirect { location: with_query(redirect_uri, &pairs), set_cookies: vec![] }
}

pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    let encoded: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    out.push(if uri.contains('?') { '&' } else { '?' });
    out.push_str(&encoded);
    out
}

fn single<'a>(query: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut it = query.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() { Err(()) } else { Ok(first) }
}

/// The app of a `client_id` if this issuer serves it.
pub async fn served_app(svc: &Services, issuer: &Issuer, client_id: &str) -> Result<Option<Application>, StoreError> {
    if client_id.is_empty() || client_id.len() > 64 {
        return Ok(None);
    }
    let mut tx = svc.store.read(Scope::Platform).await?;
    let app = match tx.app_by_client_id(client_id).await {
        Ok(a) => Some(a).filter(|a| issuer.serves(a)),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(app)
}

pub async fn authorize(svc: &Services, issuer: &Issuer, query: &[(String, String)], browser: &Browser<'_>) -> Outcome {
    match authorize_inner(svc, issuer, query, browser).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "authorize failed");
            Outcome::ErrorPage { status: 500, message: "Something went wrong. Please try again.".into() }
        }
    }
}

async fn authorize_inner(
    svc: &Services,
    issuer: &Issuer,
    query: &[(String, String)],
    browser: &Browser<'_>,
) -> Result<Outcome, StoreError> {
    let (Ok(client_id), Ok(redirect_uri)) = (single(query, "client_id"), single(query, "redirect_uri")) else {
        return Ok(error_page("The request repeats client_id or redirect_uri."));
    };
    let Some(app) = served_app(svc, issuer, client_id.unwrap_or_default()).await? else {
        return Ok(error_page("The application is unknown."));
    };
    // Exact match: no prefix, no normalisation, no default (a NATIVE app's
    // loopback redirect on any port, RFC 8252 §7.3: `domain::redirect`).
    let native = app.app_type == crate::domain::application::AppType::Native;
    let registered = |r: &&str| app.redirect_uris.iter().any(|u| crate::domain::redirect::matches(u, r, native));
    let Some(redirect_uri) = redirect_uri.filter(registered) else {
        return Ok(error_page("The redirect_uri is not registered for this application."));
    };
    let state = single(query, "state").ok().flatten();
    let fail = |error: &str, description: &str| Ok(error_redirect(redirect_uri, issuer, error, description, state));

    let mut params: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
    params.sort_unstable();
    if params.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
        return fail("invalid_request", "a parameter is repeated");
    }
    if single(query, "request").ok().flatten().is_some() {
        return fail("request_not_supported", "request objects are not supported");
    }
    if single(query, "request_uri").ok().flatten().is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported");
    }
    match single(query, "response_type").ok().flatten() {
        Some("code") => {}
        Some(_) => return fail("unsupported_response_type", "only response_type=code is supported"),
        None => return fail("invalid_request", "response_type is required"),
    }
    if let Some(mode) = single(query, "response_mode").ok().flatten()
        && mode != "query"
    {
        return fail("invalid_request", "only response_mode=query is supported");
    }
    if !app.allows_grant(GRANT_AUTHORIZATION_CODE) {
        return fail("unauthorized_client", "the client may not use the authorization code flow");
    }
    let challenge = single(query, "code_challenge").ok().flatten();
    match (challenge, single(query, "code_challenge_method").ok().flatten()) {
        (Some(c), Some("S256")) if pkce::is_valid(c) => {}
        (Some(_), Some("S256")) => return fail("invalid_request", "code_challenge is malformed"),
        (Some(_), Some(_)) | (Some(_), None) => return fail("invalid_request", "code_challenge_method must be S256"),
        (None, Some(_)) => return fail("invalid_request", "code_challenge is missing"),
        (None, None) if matches!(app.app_type, AppType::Spa | AppType::Native) => {
            return fail("invalid_request", "PKCE (S256) is required for this client");
        }
        (None, None) => {}
    }
    let requested: Vec<&str> = single(query, "scope").ok().flatten().unwrap_or_default().split_whitespace().collect();
    let scope: Vec<String> = app.allowed_scopes.iter().filter(|s| requested.contains(&s.as_str())).cloned().collect();
    if scope.is_empty() {
        return fail("invalid_scope", "none of the requested scopes is allowed for this client");
    }
    let prompt = single(query, "prompt").ok().flatten();
    if let Some(p) = prompt {
        let values: Vec<&str> = p.split_whitespace().collect();
        if values.iter().any(|v| !matches!(*v, "none" | "login" | "consent" | "select_account"))
            || (values.contains(&"none") && values.len() > 1)
        {
            return fail("invalid_request", "unsupported prompt value");
        }
    }
    let max_age = match single(query, "max_age").ok().flatten() {
        None => None,
        Some(m) => match m.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => return fail("invalid_request", "max_age must be a non-negative integer"),
        },
    };
    let nonce = single(query, "nonce").ok().flatten();
    if nonce.is_some_and(|n| n.len() > 512) || state.is_some_and(|s| s.len() > 2048) {
        return fail("invalid_request", "state or nonce is too long");
    }
    let params = AuthorizeParams {
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.map(str::to_owned),
        prompt: prompt.map(str::to_owned),
        max_age,
        login_hint: single(query, "login_hint").ok().flatten().map(|h| h.chars().take(256).collect()),
    };

    let now = svc.clock.now();
    let mut tx = svc.store.write(issuer.scope()).await?;
    let wants_login = params.prompt.as_deref().is_some_and(|p| p.split_whitespace().any(|v| v == "login"));
    if !wants_login && let Some(session) = current_session(&mut tx, browser, issuer.realm(), now).await? {
        let fresh = params.max_age.is_none_or(|m| now.unix_seconds() - session.auth_time.unix_seconds() <= m);
        if fresh {
            let outcome = complete(&mut tx, issuer, &app, &params, &session, false, now).await?;
            tx.commit().await?;
            return Ok(outcome);
        }
    }
    if params.prompt.as_deref() == Some("none") {
        tx.commit().await?;
        return fail("login_required", "the user is not signed in");
    }
    let request = LoginRequest {
        id: new_id("lrq", now),
        tenant_id: issuer.tenant.as_ref().map(|t| t.id.clone()),
        partner_id: issuer.tenant.as_ref().map(|t| t.partner_id.clone()),
        app_id: Some(app.id.clone()),
        purpose: LoginPurpose::Authorize,
        params,
        state: LoginState::Identifier,
        version: 0,
        csrf_hash: String::new(),
        created_at: now,
        expires_at: now.plus_seconds(LOGIN_REQUEST_TTL),
    };
    tx.insert(&request).await?;
    tx.commit().await?;
    Ok(to_login_page(issuer, &request.id))
}

/// Starts the consent step: a login request for the signed-in user, shown
/// by the login page, bound to this browser by the login cookie.
async fn ask_consent(
    tx: &mut Tx,
    issuer: &Issuer,
    app: &Application,
    params: &AuthorizeParams,
    session: &Session,
    now: Timestamp,
) -> Result<Outcome, StoreError> {
    let request = LoginRequest {
        id: new_id("lrq", now),
        tenant_id: Some(session.tenant_id.clone()),
        partner_id: Some(session.partner_id.clone()),
        app_id: Some(app.id.clone()),
        purpose: LoginPurpose::Authorize,
        params: params.clone(),
        state: LoginState::Consent { user_id: session.user_id.clone() },
        version: 0,
        csrf_hash: String::new(),
        created_at: now,
        expires_at: now.plus_seconds(LOGIN_REQUEST_TTL),
    };
    tx.insert(&request).await?;
    Ok(to_login_page(issuer, &request.id))
}

/// Sends the browser to the login page of login request `request_id`,
/// bound to it by the login cookie (every flow that starts a login ends here).
pub fn to_login_page(issuer: &Issuer, request_id: &str) -> Outcome {
    let secure = issuer.url.starts_with("https://");
    let cookie =
        session::set_cookie(session::LOGIN_COOKIE, request_id, &issuer_path(issuer), secure, Some(LOGIN_REQUEST_TTL));
    Outcome::Redirect {
        location: with_query(&issuer.endpoint("/login"), &[("request", request_id)]),
        set_cookies: vec![cookie],
    }
}

/// The URL path of the issuer, for cookie scoping.
pub fn issuer_path(issuer: &Issuer) -> String {
    url::Url::parse(&issuer.url).map(|u| u.path().to_owned()).unwrap_or_else(|_| "/".into())
}

/// The live SSO session the browser presents for an issuer's `realm`, if any.
pub async fn current_session(
    tx: &mut Tx,
    browser: &Browser<'_>,
    realm: &str,
    now: Timestamp,
) -> Result<Option<Session>, StoreError> {
    let Some(value) = session::cookie(browser.cookies, &session::session_cookie_name(realm)) else {
        return Ok(None);
    };
    match tx.live_session(&secret::hash(value), now).await {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `user` may use `app`: apps with assignments admit only the
/// assigned users and members (transitively) of the assigned groups.
pub async fn is_assigned(tx: &mut Tx, app: &Application, user: &User) -> Result<bool, StoreError> {
    if app.assigned_users.is_empty() && app.assigned_groups.is_empty() {
        return Ok(true);
    }
    if app.assigned_users.contains(&user.id) {
        return Ok(true);
    }
    let groups = tx.transitive_groups_of_user(&user.id).await?;
    Ok(groups.iter().any(|g| app.assigned_groups.contains(g)))
}

/// Whether the user must still approve scopes of `params` for `app`: admin
/// and SCIM scopes not yet remembered, or any of them under `prompt=consent`.
/// First-party GLOBAL apps never ask.
async fn consent_missing(
    tx: &mut Tx,
    app: &Application,
    user: &User,
    params: &AuthorizeParams,
) -> Result<bool, StoreError> {
    if !params.scope.iter().any(|s| needs_consent(s)) || (app.first_party && app.scope == AppScope::Global) {
        return Ok(false);
    }
    if params.prompt.as_deref().is_some_and(|p| p.split_whitespace().any(|v| v == "consent")) {
        return Ok(true);
    }
    Ok(!tx.consent_of(&user.id, &app.id).await?.is_some_and(|c| c.covers(&params.scope)))
}

/// The end of a successful sign-in: checks the user may use the app and has
/// approved what it asks for (`consented`: approved just now), issues a
/// single-use code and redirects back to the client.
pub async fn complete(
    tx: &mut Tx,
    issuer: &Issuer,
    app: &Application,
    params: &AuthorizeParams,
    session: &Session,
    consented: bool,
    now: Timestamp,
) -> Result<Outcome, StoreError> {
    let user: User = tx.get(&session.user_id).await?;
    let state = params.state.as_deref();
    if user.status != UserStatus::Active {
        return Ok(error_redirect(&params.redirect_uri, issuer, "access_denied", "the account is not active", state));
    }
    if !is_assigned(tx, app, &user).await? {
        return Ok(error_redirect(
            &params.redirect_uri,
            issuer,
            "access_denied",
            "the user is not assigned to this application",
            state,
        ));
    }
    if !consented && consent_missing(tx, app, &user, params).await? {
        if params.prompt.as_deref() == Some("none") {
            return Ok(error_redirect(
                &params.redirect_uri,
                issuer,
                "consent_required",
                "the user has not approved the requested scopes",
                state,
            ));
        }
        return ask_consent(tx, issuer, app, params, session, now).await;
    }
    let code = secret::generate("skc_");
    let row = AuthorizationCode {
        id: new_id("cod", now),
        code_hash: secret::hash(&code),
        tenant_id: session.tenant_id.clone(),
        partner_id: session.partner_id.clone(),
        app_id: app.id.clone(),
        user_id: user.id.clone(),
        session_id: session.id.clone(),
        params: CodeParams {
            redirect_uri: params.redirect_uri.clone(),
            scope: params.scope.clone(),
            nonce: params.nonce.clone(),
            code_challenge: params.code_challenge.clone(),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
        },
        access_jti: None,
        created_at: now,
        expires_at: now.plus_seconds(CODE_TTL),
        used_at: None,
    };
    tx.insert(&row).await?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &issuer.url));
    tracing::info!(target: "audit", action = "authorize.code", client_id = %app.client_id, user_id = %user.id, "authorization code issued");
    Ok(Outcome::Redirect { location: with_query(&params.redirect_uri, &pairs), set_cookies: vec![] })
}
