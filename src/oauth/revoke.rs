//! `/oauth/revoke` (RFC 7009). A refresh token revokes its whole family and
//! the access tokens it issued; an access token is revoked by its `jti`
//! until it would have expired. Tokens of other clients, unknown or invalid
//! tokens are ignored: the answer is always 200 (§2.2).

use serde_json::Value;

use crate::app::Services;
use crate::authn::secret;
use crate::domain::application::Application;
use crate::store::{Scope, StoreError};

use super::{Issuer, OAuthError, bearer};

pub async fn revoke(svc: &Services, issuer: &Issuer, caller: &Application, token: &str) -> Result<(), OAuthError> {
    let now = svc.clock.now();
    if token.starts_with("skr_") {
        let mut tx = svc.store.write(issuer.scope()).await?;
        match tx.refresh_by_hash(&secret::hash(token)).await {
            Ok(row) if row.app_id == caller.id => {
                tx.revoke_family(&row.family_id, now, now.plus_seconds(86_400)).await?;
                tracing::info!(target: "audit", action = "token.revoke", client_id = %caller.client_id, "refresh token family revoked");
            }
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        return Ok(());
    }
    if let Ok(verified) = bearer::check(svc, issuer, token).await
        && verified.app.id == caller.id
    {
        let claims = verified.claims;
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or_default();
        let until = now.plus_seconds((exp - now.unix_seconds()).max(0) + 60);
        let mut tx = svc.store.write(Scope::Platform).await?;
        tx.revoke_jti(jti, until).await?;
        tx.commit().await?;
        tracing::info!(target: "audit", action = "token.revoke", client_id = %caller.client_id, "access token revoked");
    }
    Ok(())
}
