//! Browser endpoints of federated sign-in on both issuers: an IdP's link on
//! the login page (`/login/idp/{idp_id}`) and the OIDC callback
//! (`/federation/{idp_id}/callback`, SPEC "Paths").

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use axum::routing::get;

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
            .route(&format!("{prefix}/federation/{{idp_id}}/callback"), get(callback));
    }
    r
}

fn cookies(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::COOKIE).and_then(|v| v.to_str().ok())
}

/// The IdP id in the path: the segment after `/idp/` or before `/callback`
/// (read from the URI, as both issuers' routes share the handlers).
fn idp_id(uri: &Uri) -> &str {
    let path = uri.path();
    if let Some(rest) = path.rsplit_once("/login/idp/").map(|(_, r)| r) {
        return rest;
    }
    path.strip_suffix("/callback").and_then(|p| p.rsplit_once('/')).map(|(_, id)| id).unwrap_or_default()
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
