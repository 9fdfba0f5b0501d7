//! `/oauth/introspect` (RFC 7662), for confidential clients only. Inactive,
//! unknown, expired, revoked or foreign tokens all answer `{"active": false}`.
//! A token is shown only to the client it was issued to or, for an access
//! token, a client named in its `aud` (the resource server it is meant for):
//! any other client learns nothing about it (RFC 7662 §4).

use serde_json::{Value, json};

use crate::app::Services;
use crate::authn::secret;
use crate::domain::application::Application;

use super::{Issuer, OAuthError, bearer};

pub async fn introspect(
    svc: &Services,
    issuer: &Issuer,
    caller: &Application,
    token: &str,
) -> Result<Value, OAuthError> {
    if !caller.app_type.is_confidential() {
        return Err(OAuthError::invalid_client());
    }
    let inactive = json!({"active": false});
    if token.is_empty() || token.len() > 16 * 1024 {
        return Ok(inactive);
    }
    if token.starts_with("skr_") {
        let mut tx = svc.store.read(issuer.scope()).await?;
        let row = tx.refresh_by_hash(&secret::hash(token)).await.ok();
        tx.commit().await?;
        let now = svc.clock.now();
        // Only the client that holds a refresh token may introspect it.
        return Ok(match row {
            Some(r)
                if r.app_id == caller.id && r.revoked_at.is_none() && r.rotated_at.is_none() && r.expires_at > now =>
            {
                json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": r.scope,
                "client_id": caller.client_id,
                "sub": r.user_id,
                "iss": issuer.url,
                "exp": r.expires_at.unix_seconds(),
                "iat": r.created_at.unix_seconds(),
                "tenant_id": r.tenant_id,
                })
            }
            _ => inactive,
        });
    }
    match bearer::check(svc, issuer, token).await {
        Ok(t) if may_see(caller, &t.claims) => {
            let Value::Object(mut claims) = t.claims else { return Ok(inactive) };
            claims.insert("active".into(), json!(true));
            claims.insert("token_type".into(), json!("Bearer"));
            Ok(Value::Object(claims))
        }
        Ok(_) => Ok(inactive),
        Err(bearer::BearerError::Server) => Err(OAuthError::server_error()),
        Err(_) => Ok(inactive),
    }
}

/// Whether `caller` is the token's client or one of its audiences.
fn may_see(caller: &Application, claims: &Value) -> bool {
    let cid = caller.client_id.as_str();
    let in_aud = match claims.get("aud") {
        Some(Value::String(a)) => a == cid,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(cid)),
        _ => false,
    };
    in_aud || claims.get("client_id").and_then(Value::as_str) == Some(cid)
}
