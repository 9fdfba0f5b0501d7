//! Resolves the issuer a request is addressed to from its path:
//! `/api/v1/platform/…` or `/api/v1/auth/tenants/{slug}/…`. An unknown slug
//! is 404 in the issuer's error format of choice (the handler's).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::oauth::Issuer;
use crate::store::StoreError;

use super::AppState;

pub struct ResolvedIssuer(pub Option<Issuer>);

impl FromRequestParts<AppState> for ResolvedIssuer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, svc: &AppState) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path();
        let base = svc.base_url();
        if path.starts_with("/api/v1/platform/") {
            return Ok(ResolvedIssuer(Some(Issuer::platform(&base))));
        }
        let Some(slug) = path.strip_prefix("/api/v1/auth/tenants/").and_then(|r| r.split('/').next()) else {
            return Ok(ResolvedIssuer(None));
        };
        if !crate::domain::tenant::is_valid_slug(slug) {
            return Ok(ResolvedIssuer(None));
        }
        let found = svc.caches.tenant_by_slug(&svc.store, slug).await;
        Ok(ResolvedIssuer(match found {
            Ok(t) => Some(Issuer::tenant(&base, t)),
            Err(StoreError::NotFound) => None,
            Err(e) => {
                tracing::error!(error = %e, "issuer lookup failed");
                None
            }
        }))
    }
}
