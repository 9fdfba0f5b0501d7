//! RFC 8628 over HTTP: the device authorization endpoint (OAuth JSON) and
//! the device page where the user types the code (HTML, then the login flow).

use axum::Json;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::login::DeviceEntry;
use crate::oauth::authorize::{Browser, Outcome};
use crate::oauth::endpoint::TokenRequest;
use crate::oauth::{Issuer, OAuthError};

use super::AppState;
use super::issuer::ResolvedIssuer;
use super::oauth::OAuthResponse;
use super::oidc::{outcome_response, unknown_issuer_page};
use super::pages;

pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for prefix in ["/api/v1/platform", "/api/v1/auth/tenants/{slug}"] {
        r = r
            .route(&format!("{prefix}/oauth/device_authorization"), post(device_authorization))
            .route(&format!("{prefix}/device"), get(device_page).post(device_submit));
    }
    r
}

/// RFC 8628 §3.1: a device code and a user code for a client.
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/oauth/device_authorization", tag = "oauth",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "client_id (and secret), scope"),
    responses((status = 200, description = "device_code, user_code, verification_uri(_complete), expires_in, interval"),
              (status = 400, description = "RFC 6749 §5.2 error"), (status = 401, description = "invalid_client")))]
pub async fn device_authorization(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    req: Request,
) -> Response {
    let Some(issuer) = issuer else {
        return OAuthResponse(OAuthError::invalid_request("unknown issuer")).into_response();
    };
    let headers = req.headers().clone();
    let Ok(body) = axum::body::to_bytes(req.into_body(), super::BODY_LIMIT).await else {
        return OAuthResponse(OAuthError::invalid_request("the request is too large")).into_response();
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match crate::oauth::device::authorize(&svc, &issuer, TokenRequest { authorization, form }).await {
        Ok(answer) => {
            let mut r = Json(answer).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => OAuthResponse(e).into_response(),
    }
}

fn code_page(issuer: &Issuer, user_code: &str, error: Option<&str>, status: u16) -> Response {
    pages::device(issuer, &issuer.endpoint("/device"), user_code, error, status)
}

/// The device page: a form for the code the device shows (`user_code` prefills it).
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/device", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug"), ("user_code" = Option<String>, Query, description = "the code, from verification_uri_complete")),
    responses((status = 200, description = "HTML form")))]
pub async fn device_page(
    ResolvedIssuer(issuer): ResolvedIssuer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let code = query.iter().find(|(k, _)| k == "user_code").map(|(_, v)| v.as_str()).unwrap_or_default();
    code_page(&issuer, &code.chars().take(16).collect::<String>(), None, 200)
}

/// The typed code: on to the sign-in and the approval, or the form again.
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/device", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "user_code"),
    responses((status = 303, description = "to the sign-in or the approval"), (status = 200, description = "wrong code"),
              (status = 429, description = "too many attempts from this address")))]
pub async fn device_submit(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    req: Request,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let headers: HeaderMap = req.headers().clone();
    let ip = super::client_ip::of_request(&req, &svc.trusted_proxies);
    let Ok(body) = axum::body::to_bytes(req.into_body(), super::BODY_LIMIT).await else {
        return code_page(&issuer, "", Some("The form is too large."), 413);
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let typed = form.iter().find(|(k, _)| k == "user_code").map(|(_, v)| v.as_str()).unwrap_or_default();
    let cookies = super::client_ip::cookies(&headers);
    match crate::login::enter_device_code(&svc, &issuer, typed, &Browser { cookies }, ip).await {
        Ok(DeviceEntry::Go(outcome)) => outcome_response(&issuer, outcome),
        Ok(DeviceEntry::Again { error, status }) => {
            code_page(&issuer, &typed.chars().take(16).collect::<String>(), Some(error), status)
        }
        Err(e) => {
            tracing::error!(error = %e, "device page failed");
            let o = Outcome::ErrorPage { status: 500, message: "Something went wrong. Please try again.".into() };
            outcome_response(&issuer, o)
        }
    }
}
