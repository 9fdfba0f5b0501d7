//! Bearer authentication of admin API calls through the one verifier
//! (`oauth::verifier`: signature, type, time, one of our issuers, not
//! revoked, app and user still valid). The caller's authority is then read
//! fresh from the store — the application's scope, cut by the user's role
//! assignments for user tokens — so a deleted app or revoked role stops
//! working at once.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::admin::AdminError;
use crate::admin::authz::Principal;
use crate::oauth::verifier::{ExpectedIssuer, TokenError, verify_access_token};
use crate::store::Scope;

use super::AppState;
use super::error::ApiError;

pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, svc: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or(AdminError::Unauthenticated)?;
        let base = svc.base_url();
        let verified = verify_access_token(svc, token, ExpectedIssuer::AnyOf(&base)).await.map_err(|e| match e {
            TokenError::Invalid(_) => AdminError::Unauthenticated,
            TokenError::Server => AdminError::Internal("token verification failed".into()),
        })?;
        let scopes: Vec<&str> = verified.scopes.iter().map(String::as_str).collect();
        let principal = match &verified.user {
            Some(user) => {
                let mut tx = svc.store.read(Scope::Platform).await?;
                let roles = tx.roles_of_user(&user.id).await?;
                tx.commit().await?;
                Principal::for_user(&user.id, &roles, &verified.app, &scopes)
            }
            None => Principal::for_application(&verified.app, &scopes),
        };
        principal.map(Caller).ok_or_else(|| AdminError::Forbidden("this token carries no admin authority").into())
    }
}
