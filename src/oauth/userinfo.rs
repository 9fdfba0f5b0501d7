//! `/oauth/userinfo` (OIDC Core §5.3): the claims the token's scopes release,
//! for an active user, read fresh from the store.

use serde_json::{Value, json};

use crate::app::Services;
use crate::domain::user::{User, UserStatus};
use crate::store::{Scope, StoreError};

use super::bearer::BearerError;
use super::user_claims::{groups_and_roles, standard_claims};

/// The claims for the user of an access token already verified by
/// `bearer::check` (the caller needs its `client_id` for CORS too).
pub async fn userinfo(svc: &Services, claims: &Value) -> Result<Value, BearerError> {
    let scopes: Vec<String> =
        claims.get("scope").and_then(Value::as_str).unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(BearerError::InsufficientScope("the openid scope is required"));
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let tenant = claims.get("tenant_id").and_then(Value::as_str).unwrap_or_default();
    if !sub.starts_with("usr_") {
        return Err(BearerError::InvalidToken("the access token has no user"));
    }
    let found = async {
        let mut tx = svc.store.read(Scope::Tenant(tenant.to_owned())).await?;
        let user: User = tx.get(sub).await?;
        let (groups, _) = groups_and_roles(&mut tx, &user).await?;
        tx.commit().await?;
        Ok::<_, StoreError>((user, groups))
    }
    .await;
    let (user, groups) = match found {
        Ok(v) => v,
        Err(StoreError::NotFound) => return Err(BearerError::InvalidToken("the user no longer exists")),
        Err(_) => return Err(BearerError::Server),
    };
    if user.status != UserStatus::Active {
        return Err(BearerError::InvalidToken("the account is not active"));
    }
    let mut out = standard_claims(&user, &scopes, &groups);
    out.insert("sub".into(), json!(user.id));
    Ok(Value::Object(out))
}
