//! Browser-facing and resource-server endpoints of both issuers: authorize,
//! the login pages, userinfo, introspection, revocation, logout, and CORS
//! for the endpoints browsers call directly (token, userinfo, revoke).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::domain::application::Application;
use crate::login::{self, FlowOutcome};
use crate::oauth::authorize::{self, Browser, Outcome};
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::logout::{LogoutOutcome, logout};
use crate::oauth::{Issuer, OAuthError, client_auth, introspect, revoke, userinfo};
use crate::store::Scope;

use super::AppState;
use super::issuer::ResolvedIssuer;
use super::oauth::OAuthResponse;
use super::pages;

pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for prefix in ["/api/v1/platform", "/api/v1/auth/tenants/{slug}"] {
        r = r
            .route(&format!("{prefix}/oauth/authorize"), get(authorize_h))
            .route(&format!("{prefix}/login"), get(login_page).post(login_submit))
            .route(&format!("{prefix}/oauth/userinfo"), get(userinfo_h).post(userinfo_h).options(preflight))
            .route(&format!("{prefix}/oauth/introspect"), post(introspect_h))
            .route(&format!("{prefix}/oauth/revoke"), post(revoke_h).options(preflight))
            .route(&format!("{prefix}/oauth/logout"), get(logout_h).post(logout_h))
            .route(&format!("{prefix}/oauth/token"), axum::routing::options(preflight));
    }
    r
}

use super::client_ip::cookies;

pub(super) fn unknown_issuer_page() -> Response {
    pages::message(404, "Not found", "There is no such sign-in page.", "ScaiKey", None)
}

fn tenant_name(issuer: &Issuer) -> String {
    issuer
        .tenant
        .as_ref()
        .map(|t| t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()))
        .unwrap_or_else(|| "ScaiKey".into())
}

pub(super) fn outcome_response(issuer: &Issuer, o: Outcome) -> Response {
    match o {
        Outcome::Redirect { location, set_cookies } => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            for c in set_cookies {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Outcome::Message { heading, message } => {
            pages::message(200, &heading, &message, &tenant_name(issuer), issuer.tenant.as_ref().map(|t| &t.branding))
        }
        Outcome::ErrorPage { status, message } => pages::message(
            status,
            "Sign-in failed",
            &message,
            &tenant_name(issuer),
            issuer.tenant.as_ref().map(|t| &t.branding),
        ),
    }
}

/// Authorization endpoint (also under /api/v1/platform). Errors before the redirect_uri is
/// verified render an HTML page; later ones redirect with error, state and iss (RFC 9207).
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/oauth/authorize", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    responses((status = 303, description = "to the login page, or back to the client with code or error"),
              (status = 400, description = "unknown client or unregistered redirect_uri (HTML page)")))]
pub async fn authorize_h(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let o = authorize::authorize(&svc, &issuer, &query, &Browser { cookies: cookies(&headers) }).await;
    outcome_response(&issuer, o)
}

pub(super) fn flow_response(issuer: &Issuer, r: Result<FlowOutcome, crate::store::StoreError>) -> Response {
    match r {
        Ok(FlowOutcome::Page { page, status }) => pages::login(&page, status),
        Ok(FlowOutcome::Done(o)) => outcome_response(issuer, o),
        Err(e) => {
            tracing::error!(error = %e, "login failed");
            outcome_response(
                issuer,
                Outcome::ErrorPage { status: 500, message: "Something went wrong. Please try again.".into() },
            )
        }
    }
}

/// The hosted login page for a login request.
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/login", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug"), ("request" = String, Query, description = "login request id")),
    responses((status = 200, description = "HTML form"), (status = 400, description = "expired or foreign login request")))]
pub async fn login_page(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let request = query.iter().find(|(k, _)| k == "request").map(|(_, v)| v.as_str()).unwrap_or_default();
    flow_response(&issuer, login::show(&svc, &issuer, request, &Browser { cookies: cookies(&headers) }).await)
}

/// Submits a login step (`username`, then `password`) with `request` and `csrf_token`.
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/login", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "request, csrf_token, username or password"),
    responses((status = 200, description = "the next step, or the same step with an error"),
              (status = 303, description = "signed in: back to the client with a code"),
              (status = 400, description = "missing or wrong CSRF token, expired request"),
              (status = 429, description = "too many attempts from this address")))]
pub async fn login_submit(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    req: Request,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let headers = req.headers().clone();
    let ip = super::client_ip::of_request(&req, &svc.trusted_proxies);
    let Ok(body) = axum::body::to_bytes(req.into_body(), super::BODY_LIMIT).await else {
        return outcome_response(&issuer, Outcome::ErrorPage { status: 413, message: "The form is too large.".into() });
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    flow_response(&issuer, login::submit(&svc, &issuer, &form, &Browser { cookies: cookies(&headers) }, ip).await)
}

/// RFC 6750 §3 answers.
fn bearer_error(issuer: &Issuer, e: BearerError) -> Response {
    let (status, challenge) = match &e {
        BearerError::Missing => (StatusCode::UNAUTHORIZED, format!("Bearer realm=\"{}\"", issuer.url)),
        BearerError::InvalidToken(d) => (
            StatusCode::UNAUTHORIZED,
            format!("Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{d}\"", issuer.url),
        ),
        BearerError::InsufficientScope(d) => (
            StatusCode::FORBIDDEN,
            format!(
                "Bearer realm=\"{}\", error=\"insufficient_scope\", error_description=\"{d}\", scope=\"openid\"",
                issuer.url
            ),
        ),
        BearerError::Server => return OAuthResponse(OAuthError::server_error()).into_response(),
    };
    let body = match &e {
        BearerError::Missing => json!({"error": "invalid_request", "error_description": "a bearer token is required"}),
        BearerError::InvalidToken(d) => json!({"error": "invalid_token", "error_description": d}),
        BearerError::InsufficientScope(d) => json!({"error": "insufficient_scope", "error_description": d}),
        BearerError::Server => json!({}),
    };
    let mut r = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// UserInfo (OIDC Core §5.3), GET or POST, bearer access token.
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/oauth/userinfo", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    responses((status = 200, description = "claims"), (status = 401, description = "RFC 6750 invalid_token"),
              (status = 403, description = "insufficient_scope")))]
pub async fn userinfo_h(State(svc): State<AppState>, ResolvedIssuer(issuer): ResolvedIssuer, req: Request) -> Response {
    let Some(issuer) = issuer else { return StatusCode::NOT_FOUND.into_response() };
    let headers = req.headers().clone();
    let method = req.method().clone();
    let form_token = if method == Method::POST {
        let body = axum::body::to_bytes(req.into_body(), super::BODY_LIMIT).await.unwrap_or_default();
        url::form_urlencoded::parse(&body).into_owned().find(|(k, _)| k == "access_token").map(|(_, v)| v)
    } else {
        None
    };
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = match bearer::from_request(auth, form_token.as_deref()) {
        Ok(t) => t,
        Err(e) => return bearer_error(&issuer, e),
    };
    let verified = match bearer::check(&svc, &issuer, &token).await {
        Ok(v) => v,
        Err(e) => return bearer_error(&issuer, e),
    };
    let client_id = Some(verified.app.client_id.clone());
    let mut r = match userinfo::userinfo(&svc, &verified).await {
        Ok(out) => Json(out).into_response(),
        Err(e) => bearer_error(&issuer, e),
    };
    if let Some(cid) = client_id {
        cors_for_client(&svc, &issuer, &headers, &cid, &mut r).await;
    }
    r
}

/// Authenticates the calling client for introspection and revocation.
async fn client(
    svc: &AppState,
    issuer: &Issuer,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<std::sync::Arc<Application>, OAuthError> {
    let p = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let creds = client_auth::from_request(auth, p("client_id"), p("client_secret"))?;
    client_auth::authenticate(&svc.store, &svc.caches, issuer, &creds).await
}

fn parse_form(headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, String)>, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(OAuthError::invalid_request("send the request as application/x-www-form-urlencoded"));
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

/// Token introspection (RFC 7662), confidential clients.
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/oauth/introspect", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "token"),
    responses((status = 200, description = "active and claims"), (status = 401, description = "invalid_client")))]
pub async fn introspect_h(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(issuer) = issuer else { return StatusCode::NOT_FOUND.into_response() };
    let result = async {
        let form = parse_form(&headers, &body)?;
        let app = client(&svc, &issuer, &headers, &form).await?;
        let token = form.iter().find(|(k, _)| k == "token").map(|(_, v)| v.as_str()).unwrap_or_default();
        introspect::introspect(&svc, &issuer, &app, token).await
    }
    .await;
    match result {
        Ok(v) => {
            let mut r = Json(v).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => OAuthResponse(e).into_response(),
    }
}

/// Token revocation (RFC 7009).
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/oauth/revoke", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint"),
    responses((status = 200, description = "revoked (or nothing to revoke)"), (status = 401, description = "invalid_client")))]
pub async fn revoke_h(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(issuer) = issuer else { return StatusCode::NOT_FOUND.into_response() };
    let result = async {
        let form = parse_form(&headers, &body)?;
        let app = client(&svc, &issuer, &headers, &form).await?;
        let token = form.iter().find(|(k, _)| k == "token").map(|(_, v)| v.as_str()).unwrap_or_default();
        if token.is_empty() {
            return Err(OAuthError::invalid_request("token is required"));
        }
        revoke::revoke(&svc, &issuer, &app, token).await?;
        Ok(app)
    }
    .await;
    match result {
        Ok(app) => {
            let mut r = StatusCode::OK.into_response();
            cors_for_client(&svc, &issuer, &headers, &app.client_id, &mut r).await;
            r
        }
        Err(e) => OAuthResponse(e).into_response(),
    }
}

/// RP-initiated logout (GET or POST): id_token_hint, post_logout_redirect_uri, state, client_id.
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/oauth/logout", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    responses((status = 303, description = "back to a registered logout URI"), (status = 200, description = "signed-out page"),
              (status = 400, description = "invalid hint or unregistered post_logout_redirect_uri")))]
pub async fn logout_h(State(svc): State<AppState>, ResolvedIssuer(issuer): ResolvedIssuer, req: Request) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let headers = req.headers().clone();
    let mut params: Vec<(String, String)> =
        req.uri().query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    if req.method() == Method::POST {
        let body = axum::body::to_bytes(req.into_body(), super::BODY_LIMIT).await.unwrap_or_default();
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    let name = tenant_name(&issuer);
    let branding = issuer.tenant.as_ref().map(|t| &t.branding);
    match logout(&svc, &issuer, &params, &Browser { cookies: cookies(&headers) }).await {
        Ok(LogoutOutcome::Redirect { location, set_cookies }) => {
            outcome_response(&issuer, Outcome::Redirect { location, set_cookies })
        }
        Ok(LogoutOutcome::SignedOut { set_cookies }) => {
            let mut r = pages::message(200, "Signed out", "You are signed out.", &name, branding);
            for c in set_cookies {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Ok(LogoutOutcome::ErrorPage(m)) => pages::message(400, "Sign-out failed", &m, &name, branding),
        Err(e) => {
            tracing::error!(error = %e, "logout failed");
            pages::message(500, "Sign-out failed", "Something went wrong.", &name, branding)
        }
    }
}

/// Adds CORS headers when the request's Origin is one of the client's `allowed_origins`.
pub async fn cors_for_client(svc: &AppState, issuer: &Issuer, headers: &HeaderMap, client_id: &str, r: &mut Response) {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return };
    if let Ok(Some(app)) = authorize::served_app(svc, issuer, client_id).await
        && app.allowed_origins.iter().any(|o| o == origin)
        && let Ok(v) = HeaderValue::from_str(origin)
    {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    r.headers_mut().append(header::VARY, HeaderValue::from_static("Origin"));
}

/// CORS preflight: allowed when some application of this issuer lists the
/// Origin; the actual request is then checked against its own client.
async fn preflight(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    headers: HeaderMap,
) -> Response {
    let Some(issuer) = issuer else { return StatusCode::NOT_FOUND.into_response() };
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let allowed = async {
        // The partner's scope holds this tenant's apps and the partner's own
        // PARTNER apps; `serves` keeps exactly the ones this issuer serves.
        let scope = match &issuer.tenant {
            Some(t) => Scope::Partner(t.partner_id.clone()),
            None => Scope::Platform,
        };
        let mut tx = svc.store.read(scope).await?;
        let mut after = None;
        let mut found = false;
        // At most the partner's application limit per tenant: page through them.
        loop {
            let filters = match issuer.tenant {
                Some(_) => vec![],
                None => vec![("scope", crate::store::Arg::from("GLOBAL"))],
            };
            let page = tx.list::<Application>(filters, &crate::store::PageRequest { limit: 200, after }).await?;
            if page.items.iter().any(|a| issuer.serves(a) && a.allowed_origins.iter().any(|o| o == origin)) {
                found = true;
                break;
            }
            match page.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        tx.commit().await?;
        Ok::<bool, crate::store::StoreError>(found)
    }
    .await
    .unwrap_or(false);
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if allowed && let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    r
}
