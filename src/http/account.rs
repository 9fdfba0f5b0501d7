//! The account page (`{issuer}/account`), the passkey options the login and
//! account pages' script asks for, and that script (`/assets/passkey.js`,
//! same origin, so the pages' CSP allows it and nothing else).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::account::{self, AccountOutcome};
use crate::oauth::authorize::{Browser, Outcome};

use super::AppState;
use super::issuer::ResolvedIssuer;
use super::oidc::{outcome_response, unknown_issuer_page};
use super::pages;

const PASSKEY_JS: &str = include_str!("pages/passkey.js");

pub fn routes() -> Router<AppState> {
    let t = "/api/v1/auth/tenants/{slug}";
    Router::new()
        .route(&format!("{t}/account"), get(account_page).post(account_submit))
        .route(&format!("{t}/account/passkey"), post(account_passkey))
        .route(&format!("{t}/login/passkey"), post(login_passkey))
        .route("/assets/passkey.js", get(passkey_js))
}

use super::client_ip::cookies;

async fn form_of(req: Request) -> Result<(HeaderMap, Vec<(String, String)>), Response> {
    let headers = req.headers().clone();
    match axum::body::to_bytes(req.into_body(), super::BODY_LIMIT).await {
        Ok(body) => Ok((headers, url::form_urlencoded::parse(&body).into_owned().collect())),
        Err(_) => Err(json(413, r#"{"error":"the form is too large"}"#.into())),
    }
}

fn json(status: u16, body: String) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn respond(issuer: &crate::oauth::Issuer, r: Result<AccountOutcome, crate::store::StoreError>) -> Response {
    match r {
        Ok(AccountOutcome::Page(page)) => pages::account(&page),
        Ok(AccountOutcome::Redirect(o)) => outcome_response(issuer, o),
        Ok(AccountOutcome::Json { status, body }) => json(status, body),
        Ok(AccountOutcome::NotFound) => unknown_issuer_page(),
        Err(e) => {
            tracing::error!(error = %e, "account page failed");
            let o = Outcome::ErrorPage { status: 500, message: "Something went wrong. Please try again.".into() };
            outcome_response(issuer, o)
        }
    }
}

/// A signed-in user's own page: factors, recovery codes, password, app launcher.
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/account", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    responses((status = 200, description = "HTML page"), (status = 303, description = "to the login page first")))]
pub async fn account_page(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    headers: HeaderMap,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    respond(&issuer, account::show(&svc, &issuer, &Browser { cookies: cookies(&headers) }).await)
}

/// An action of the account page (`action`, `csrf_token`, and the action's fields).
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/account", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "action, csrf_token, fields"),
    responses((status = 200, description = "the page with the outcome"),
              (status = 303, description = "sign in again first"), (status = 400, description = "wrong CSRF token")))]
pub async fn account_submit(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    req: Request,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let (headers, form) = match form_of(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    respond(&issuer, account::submit(&svc, &issuer, &form, &Browser { cookies: cookies(&headers) }).await)
}

/// WebAuthn options for registering a passkey on the account page (JSON).
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/account/passkey", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    responses((status = 200, description = "PublicKeyCredentialCreationOptions JSON"), (status = 401, description = "sign in again")))]
pub async fn account_passkey(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    req: Request,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let (headers, form) = match form_of(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    respond(&issuer, account::passkey_options(&svc, &issuer, &form, &Browser { cookies: cookies(&headers) }).await)
}

/// WebAuthn options for the login request's step: a passwordless sign-in
/// on the identifier step, the user's passkeys on the MFA step (JSON).
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/login/passkey", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "request, csrf_token"),
    responses((status = 200, description = "PublicKeyCredentialRequestOptions JSON"), (status = 400, description = "expired"),
              (status = 429, description = "too many attempts from this address")))]
pub async fn login_passkey(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    req: Request,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let ip = super::client_ip::of_request(&req, &svc.trusted_proxies);
    let allowed = match ip {
        Some(ip) => svc.login_limiter.allow(ip, svc.clock.now()).await,
        None => true,
    };
    if !allowed {
        return json(429, r#"{"error":"too many attempts"}"#.into());
    }
    let (headers, form) = match form_of(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match crate::login::passkey_options(&svc, &issuer, &form, &Browser { cookies: cookies(&headers) }).await {
        Ok(Ok(options)) => json(200, options),
        Ok(Err((status, message))) => json(status, serde_json::json!({ "error": message }).to_string()),
        Err(e) => {
            tracing::error!(error = %e, "passkey options failed");
            json(500, r#"{"error":"server error"}"#.into())
        }
    }
}

async fn passkey_js() -> Response {
    let mut r = PASSKEY_JS.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}
