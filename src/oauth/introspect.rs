//! `/oauth/introspect` (RFC 7662), for confidential clients only. Inactive,
//! unknown, expired, revoked or foreign tokens all answer `{"active": false}`.

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
        let app = match &row {
            Some(r) => tx.get::<Application>(&r.app_id).await.ok(),
            None => None,
        };
        tx.commit().await?;
        let now = svc.clock.now();
        return Ok(match (row, app) {
            (Some(r), Some(app)) if r.revoked_at.is_none() && r.rotated_at.is_none() && r.expires_at > now => json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": r.scope,
                "client_id": app.client_id,
                "sub": r.user_id,
                "iss": issuer.url,
                "exp": r.expires_at.unix_seconds(),
                "iat": r.created_at.unix_seconds(),
                "tenant_id": r.tenant_id,
            }),
            _ => inactive,
        });
    }
    match bearer::check(svc, issuer, token).await {
        Ok(Value::Object(mut claims)) => {
            claims.insert("active".into(), json!(true));
            claims.insert("token_type".into(), json!("Bearer"));
            Ok(Value::Object(claims))
        }
        Ok(_) => Ok(inactive),
        Err(bearer::BearerError::Server) => Err(OAuthError::server_error()),
        Err(_) => Ok(inactive),
    }
}
