//! Bearer authentication of admin API calls: the token must be an access
//! token (`typ: at+jwt`) signed by one of our published keys, unexpired,
//! issued by one of our issuers. The caller's authority is then read fresh
//! from the store (the application's scope, or the user's role
//! assignments), so a deleted app or revoked role stops working at once.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde_json::Value;

use crate::admin::AdminError;
use crate::admin::authz::Principal;
use crate::store::{Scope, StoreError};

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
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(AdminError::Unauthenticated)?;
        let claims =
            svc.keys.verify(token.trim(), "at+jwt", svc.clock.now()).map_err(|_| AdminError::Unauthenticated)?;
        let base = svc.base_url();
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        let ours = iss == format!("{base}/api/v1/platform") || iss.starts_with(&format!("{base}/api/v1/auth/tenants/"));
        if !ours {
            return Err(AdminError::Unauthenticated.into());
        }
        let scope_claim = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
        let scopes: Vec<&str> = scope_claim.split_whitespace().collect();
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();

        let mut tx = svc.store.read(Scope::Platform).await?;
        let principal = if sub.starts_with("usr_") {
            let roles = tx.roles_of_user(sub).await?;
            Principal::for_user(sub, &roles, &scopes)
        } else {
            match tx.app_by_client_id(client_id).await {
                Ok(app) if app.client_id == sub => Principal::for_application(&app, &scopes),
                Ok(_) | Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            }
        };
        tx.commit().await?;
        principal.map(Caller).ok_or_else(|| AdminError::Forbidden("this token carries no admin authority").into())
    }
}
