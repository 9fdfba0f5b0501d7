//! Browser endpoints of federated sign-in on both issuers: an IdP's link on
//! the login page (`/login/idp/{idp_id}`), the OIDC callback
//! (`/federation/{idp_id}/callback`) and the SAML SP (`/saml/{idp_id}/…`:
//! metadata, ACS, continue) — SPEC "Paths".

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::login;
use crate::oauth::authorize::Browser;

use super::AppState;
use super::issuer::ResolvedIssuer;
use super::oidc::{flow_response, unknown_issuer_page};

pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for prefix in ["/api/v1/platform", "/api/v1/auth/tenants/{slug}"] {
        r = r
            .route(&format!("{prefix}/login/idp/{{idp_id}}"), get(start))
            .route(&format!("{prefix}/federation/{{idp_id}}/callback"), get(callback))
            .route(&format!("{prefix}/saml/{{idp_id}}/metadata"), get(saml_metadata))
            .route(&format!("{prefix}/saml/{{idp_id}}/acs"), post(saml_acs))
            .route(&format!("{prefix}/saml/{{idp_id}}/continue"), get(saml_continue));
    }
    r
}

use super::client_ip::cookies;

/// The IdP id in the path: the segment after `/login/idp/`, or the one
/// before the last (`…/{idp_id}/callback`, `…/{idp_id}/acs`); read from
/// the URI, as both issuers' routes share the handlers.
fn idp_id(uri: &Uri) -> &str {
    let path = uri.path();
    if let Some((_, rest)) = path.rsplit_once("/login/idp/") {
        return rest;
    }
    path.rsplit('/').nth(1).unwrap_or_default()
}

/// Sends the login to one of the tenant's identity providers.
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/login/idp/{idp_id}", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug"), ("idp_id" = String, Path, description = "identity provider id"),
           ("request" = String, Query, description = "login request id")),
    responses((status = 303, description = "to the identity provider's authorization endpoint"),
              (status = 400, description = "expired or foreign login request"),
              (status = 502, description = "the identity provider cannot be reached (login page with a message)")))]
pub async fn start(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let request = query.iter().find(|(k, _)| k == "request").map(|(_, v)| v.as_str()).unwrap_or_default();
    let browser = Browser { cookies: cookies(&headers) };
    flow_response(&issuer, login::start_upstream(&svc, &issuer, request, idp_id(&uri), &browser).await)
}

/// The identity provider sends the browser back here with `code` and `state` (or `error`).
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/federation/{idp_id}/callback", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug"), ("idp_id" = String, Path, description = "identity provider id"),
           ("code" = Option<String>, Query, description = "authorization code"), ("state" = String, Query, description = "the state ScaiKey sent"),
           ("error" = Option<String>, Query, description = "the upstream's error")),
    responses((status = 303, description = "signed in: back to the client with a code"),
              (status = 200, description = "the login page again, with what went wrong"),
              (status = 400, description = "foreign, replayed or expired state"),
              (status = 403, description = "the upstream account may not sign in here (login page with a message)")))]
pub async fn callback(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let browser = Browser { cookies: cookies(&headers) };
    flow_response(&issuer, login::upstream_callback(&svc, &issuer, idp_id(&uri), &query, &browser).await)
}

/// ScaiKey's SAML SP metadata for one IdP (its URL is also the SP entity id).
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/saml/{idp_id}/metadata", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug"), ("idp_id" = String, Path, description = "SAML identity provider id")),
    responses((status = 200, description = "SAML metadata (EntityDescriptor)", content_type = "application/samlmetadata+xml"),
              (status = 404, description = "no such SAML identity provider")))]
pub async fn saml_metadata(State(svc): State<AppState>, ResolvedIssuer(issuer): ResolvedIssuer, uri: Uri) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    match login::saml_metadata(&svc, &issuer, idp_id(&uri)).await {
        Ok(Some(xml)) => ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response(),
        Ok(None) => unknown_issuer_page(),
        Err(e) => {
            tracing::error!(error = %e, "SP metadata failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The Assertion Consumer Service: the IdP's browser POST (`SAMLResponse`, `RelayState`).
#[utoipa::path(post, path = "/api/v1/auth/tenants/{slug}/saml/{idp_id}/acs", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug"), ("idp_id" = String, Path, description = "SAML identity provider id")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "SAMLResponse, RelayState"),
    responses((status = 303, description = "to /continue, where this browser's login signs in"),
              (status = 400, description = "rejected, replayed or unsolicited response (HTML page)")))]
pub async fn saml_acs(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    flow_response(&issuer, login::saml_acs(&svc, &issuer, idp_id(&uri), &form).await)
}

/// Back from the ACS: this browser's login signs in with the checked assertion.
#[utoipa::path(get, path = "/api/v1/auth/tenants/{slug}/saml/{idp_id}/continue", tag = "oidc",
    params(("slug" = String, Path, description = "tenant slug"), ("idp_id" = String, Path, description = "SAML identity provider id")),
    responses((status = 303, description = "signed in: back to the client with a code"),
              (status = 400, description = "no checked assertion for this browser's login")))]
pub async fn saml_continue(
    State(svc): State<AppState>,
    ResolvedIssuer(issuer): ResolvedIssuer,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(issuer) = issuer else { return unknown_issuer_page() };
    let browser = Browser { cookies: cookies(&headers) };
    flow_response(&issuer, login::saml_resume(&svc, &issuer, idp_id(&uri), &browser).await)
}
