//! OAuth/OIDC routes of both issuers: discovery, JWKS and the token endpoint.
//! Responses carry `Cache-Control: no-store`; errors are RFC 6749 §5.2 JSON.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::oauth::endpoint::{TokenRequest, token};
use crate::oauth::{Issuer, OAuthError, discovery};
use crate::store::StoreError;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks_all))
        .route("/api/v1/platform/.well-known/openid-configuration", get(platform_discovery))
        .route("/api/v1/platform/.well-known/oauth-authorization-server", get(platform_discovery))
        .route("/api/v1/platform/oauth/token", post(platform_token))
        .route("/api/v1/platform/oauth/jwks", get(platform_jwks))
        .route("/api/v1/auth/tenants/{slug}/.well-known/openid-configuration", get(tenant_discovery))
        .route("/api/v1/auth/tenants/{slug}/.well-known/oauth-authorization-server", get(tenant_discovery))
        .route("/api/v1/auth/tenants/{slug}/oauth/token", post(tenant_token))
        .route("/api/v1/auth/tenants/{slug}/oauth/jwks", get(tenant_jwks))
        .route("/api/v1/auth/tenants/{slug}/oauth/register", post(tenant_register))
}

/// An OAuth error response.
pub struct OAuthResponse(pub OAuthError);

impl IntoResponse for OAuthResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({"error": self.0.error, "error_description": self.0.description});
        let mut r = (status, Json(body)).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"scaikey\""));
        }
        r
    }
}

impl From<OAuthError> for OAuthResponse {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

async fn tenant_issuer(svc: &AppState, slug: &str) -> Result<Issuer, Response> {
    let unknown = || {
        (StatusCode::NOT_FOUND, Json(json!({"error": "invalid_request", "error_description": "unknown issuer"})))
            .into_response()
    };
    if !crate::domain::tenant::is_valid_slug(slug) {
        return Err(unknown());
    }
    match svc.caches.tenant_by_slug(&svc.store, slug).await {
        Ok(t) => Ok(Issuer::tenant(&svc.base_url(), t)),
        Err(StoreError::NotFound) => Err(unknown()),
        Err(e) => Err(OAuthResponse(e.into()).into_response()),
    }
}

/// Public keys of every issuer (all issuers share the platform's keys).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth", responses((status = 200, description = "JSON Web Key Set")))]
pub async fn jwks_all(State(svc): State<AppState>) -> Response {
    jwks_response(&svc)
}

fn json_bytes(bytes: std::sync::Arc<[u8]>) -> Response {
    let mut r = axum::body::Body::from(axum::body::Bytes::from_owner(bytes)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn jwks_response(svc: &AppState) -> Response {
    let mut r = json_bytes(svc.keys.jwks_bytes());
    // Keys change rarely but must be picked up soon after a rotation.
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

/// The issuer's discovery document, serialized once per cache generation.
fn discovery_response(svc: &AppState, issuer: &Issuer) -> Response {
    let base = svc.base_url();
    let doc = svc.caches.document(&format!("discovery {}", issuer.url), || {
        serde_json::to_vec(&discovery::document(issuer, &base)).unwrap_or_default()
    });
    let mut r = json_bytes(doc);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

#[utoipa::path(get, path = "/api/v1/platform/.well-known/openid-configuration", tag = "oauth",
    responses((status = 200, description = "OpenID Provider metadata of the platform issuer (also at /.well-known/oauth-authorization-server)")))]
pub async fn platform_discovery(State(svc): State<AppState>) -> Response {
    discovery_response(&svc, &Issuer::platform(&svc.base_url()))
}

#[utoipa::path(get, path = "/api/v1/platform/oauth/jwks", tag = "oauth", responses((status = 200, description = "JSON Web Key Set")))]
pub async fn platform_jwks(State(svc): State<AppState>) -> Response {
    jwks_response(&svc)
}

#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/.well-known/openid-configuration", tag = "oauth",
    params(("slug" = String, Path, description = "tenant slug")),
    responses((status = 200, description = "OpenID Provider metadata of the tenant issuer (also at /.well-known/oauth-authorization-server)"),
              (status = 404, description = "no such tenant")))]
pub async fn tenant_discovery(State(svc): State<AppState>, Path(slug): Path<String>) -> Response {
    match tenant_issuer(&svc, &slug).await {
        Ok(issuer) => discovery_response(&svc, &issuer),
        Err(r) => r,
    }
}

#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/oauth/jwks", tag = "oauth",
    params(("slug" = String, Path, description = "tenant slug")),
    responses((status = 200, description = "JSON Web Key Set"), (status = 404, description = "no such tenant")))]
pub async fn tenant_jwks(State(svc): State<AppState>, Path(slug): Path<String>) -> Response {
    match tenant_issuer(&svc, &slug).await {
        Ok(_) => jwks_response(&svc),
        Err(r) => r,
    }
}

#[utoipa::path(post, path = "/api/v1/platform/oauth/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "RFC 6749 token request"),
    responses((status = 200, description = "tokens"), (status = 400, description = "RFC 6749 §5.2 error"),
              (status = 401, description = "invalid_client")))]
pub async fn platform_token(State(svc): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let issuer = Issuer::platform(&svc.base_url());
    token_response(&svc, &issuer, &headers, &body).await
}

#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/oauth/token", tag = "oauth",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "RFC 6749 token request"),
    responses((status = 200, description = "tokens"), (status = 400, description = "RFC 6749 §5.2 error"),
              (status = 401, description = "invalid_client"), (status = 404, description = "no such tenant")))]
pub async fn tenant_token(
    State(svc): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match tenant_issuer(&svc, &slug).await {
        Ok(issuer) => token_response(&svc, &issuer, &headers, &body).await,
        Err(r) => r,
    }
}

async fn token_response(svc: &AppState, issuer: &Issuer, headers: &HeaderMap, body: &Bytes) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form_type {
        return OAuthResponse(OAuthError::invalid_request("send the request as application/x-www-form-urlencoded"))
            .into_response();
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let client_id = crate::oauth::client_auth::from_request(
        authorization.as_deref(),
        form.iter().find(|(k, _)| k == "client_id").map(|(_, v)| v.as_str()),
        None,
    )
    .map(|c| c.client_id)
    .ok();
    let mut r = match token(svc, issuer, TokenRequest { authorization, form }).await {
        Ok((_app, tokens)) => {
            let mut r = Json(tokens).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => OAuthResponse(e).into_response(),
    };
    if let Some(cid) = client_id {
        super::oidc::cors_for_client(svc, issuer, headers, &cid, &mut r).await;
    }
    r
}

/// Dynamic client registration (RFC 7591), where the tenant enabled it.
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/oauth/register", tag = "oauth",
    params(("slug" = String, Path, description = "tenant slug")),
    request_body(content_type = "application/json", description = "RFC 7591 client metadata"),
    responses((status = 201, description = "the registered client (client_id, and client_secret when confidential)"),
              (status = 400, description = "invalid_redirect_uri or invalid_client_metadata"),
              (status = 401, description = "an initial access token is required"),
              (status = 404, description = "registration is off for this tenant")))]
pub async fn tenant_register(
    State(svc): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let issuer = match tenant_issuer(&svc, &slug).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let answer = crate::oauth::registration::register(&svc, &issuer, bearer, &body).await;
    let mut r =
        (StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST), Json(answer.body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
