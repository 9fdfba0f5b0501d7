//! `/oauth/userinfo` (OIDC Core §5.3): the claims the token's scopes release,
//! for the active user the verifier found, with groups read fresh.

use serde_json::{Value, json};

use crate::app::Services;
use crate::store::Scope;

use super::bearer::BearerError;
use super::user_claims::{groups_and_roles, standard_claims};
use super::verifier::VerifiedToken;

/// The claims for the user of an access token already verified by
/// `bearer::check` (the caller needs its `client_id` for CORS too).
pub async fn userinfo(svc: &Services, token: &VerifiedToken) -> Result<Value, BearerError> {
    if !token.has_scope("openid") {
        return Err(BearerError::InsufficientScope("the openid scope is required"));
    }
    let Some(user) = &token.user else {
        return Err(BearerError::InvalidToken("the access token has no user"));
    };
    let groups = async {
        let mut tx = svc.store.read(Scope::Tenant(user.tenant_id.clone())).await?;
        let (groups, _) = groups_and_roles(&mut tx, user).await?;
        tx.commit().await?;
        Ok::<_, crate::store::StoreError>(groups)
    }
    .await
    .map_err(|_| BearerError::Server)?;
    let mut out = standard_claims(user, &token.scopes, &groups);
    out.insert("sub".into(), json!(user.id));
    Ok(Value::Object(out))
}
