//! The one access-token verifier (SPEC §2). The admin API, SCIM, userinfo,
//! introspection and revocation all call `verify_access_token`; nothing else
//! checks an access token, so no endpoint can forget a step.
//!
//! | step | refused when |
//! |------|--------------|
//! | signature | `kid` unknown, `alg` not the key's own, signature wrong |
//! | `typ` | not `at+jwt` (an ID token is not an access token) |
//! | time | past `exp` or before `nbf`, beyond `token_leeway_seconds` (≤ 5 s) |
//! | issuer | not the endpoint's issuer (or, for the admin API and SCIM, not one of ours) |
//! | revocation | its `jti` was revoked (`/oauth/revoke`, family revocation, logout) |
//! | application | the app of `client_id` was deleted (or `sub` claims another client) |
//! | user | the user of `sub` was deleted, suspended or deprovisioned |
//! | agent | the MCP agent named in `act.sub` was deleted or suspended |

use serde_json::Value;

use crate::app::Services;
use crate::domain::application::Application;
use crate::domain::user::{User, UserStatus};
use crate::store::{Scope, StoreError};

/// Which `iss` an endpoint accepts.
#[derive(Debug, Clone, Copy)]
pub enum ExpectedIssuer<'a> {
    /// One issuer URL (userinfo, introspection, revocation of that issuer).
    Exactly(&'a str),
    /// Any issuer of this deployment, given its base URL (admin API, SCIM).
    AnyOf(&'a str),
}

impl ExpectedIssuer<'_> {
    fn accepts(&self, iss: &str) -> bool {
        match self {
            ExpectedIssuer::Exactly(url) => iss == *url,
            ExpectedIssuer::AnyOf(base) => {
                iss == format!("{base}/api/v1/platform")
                    || iss
                        .strip_prefix(&format!("{base}/api/v1/auth/tenants/"))
                        .is_some_and(crate::domain::tenant::is_valid_slug)
            }
        }
    }
}

/// A valid access token and what it was checked against.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: Value,
    /// The application that obtained the token (it still exists).
    pub app: std::sync::Arc<Application>,
    /// The user the token was issued for (still active), or `None` for a client's own token.
    pub user: Option<User>,
    pub scopes: Vec<String>,
}

impl VerifiedToken {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// RFC 6750 `invalid_token`, with a description safe to show.
    #[error("{0}")]
    Invalid(&'static str),
    #[error("the token could not be checked")]
    Server,
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "token verification failed");
        TokenError::Server
    }
}

pub async fn verify_access_token(
    svc: &Services,
    token: &str,
    issuer: ExpectedIssuer<'_>,
) -> Result<VerifiedToken, TokenError> {
    let now = svc.clock.now();
    let leeway = i64::from(svc.config.token_leeway_seconds.min(crate::config::MAX_TOKEN_LEEWAY));
    let claims = svc
        .keys
        .verify(token.trim(), "at+jwt", now, leeway)
        .map_err(|_| TokenError::Invalid("the access token is invalid or expired"))?;
    let str_claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default().to_owned();
    if !issuer.accepts(&str_claim("iss")) {
        return Err(TokenError::Invalid("the access token was issued by another issuer"));
    }
    let (jti, sub, client_id) = (str_claim("jti"), str_claim("sub"), str_claim("client_id"));
    if jti.is_empty() || sub.is_empty() || client_id.is_empty() {
        return Err(TokenError::Invalid("the access token lacks jti, sub or client_id"));
    }
    // The cache may read the database on a miss: before this request holds
    // a connection of its own, never while (a burst of misses would hold
    // every connection, each waiting for another).
    let app = match svc.caches.app_by_client_id(&svc.store, &client_id).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(TokenError::Invalid("the application no longer exists")),
        Err(e) => return Err(e.into()),
    };
    let mut tx = svc.store.read(Scope::Platform).await?;
    if tx.is_jti_revoked(&jti).await? {
        return Err(TokenError::Invalid("the access token was revoked"));
    }
    let user = if crate::ids::has_prefix(&sub, "usr") {
        let user: User = match tx.get(&sub).await {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(TokenError::Invalid("the user no longer exists")),
            Err(e) => return Err(e.into()),
        };
        if user.status != UserStatus::Active {
            return Err(TokenError::Invalid("the account is not active"));
        }
        if claims.get("tenant_id").and_then(Value::as_str) != Some(user.tenant_id.as_str()) {
            return Err(TokenError::Invalid("the access token names another tenant"));
        }
        Some(user)
    } else if sub == app.client_id {
        None
    } else {
        return Err(TokenError::Invalid("the access token has an unknown subject"));
    };
    // A token an MCP agent obtained (anywhere in its chain of actors) lives
    // only as long as the agent is active.
    let mut act = claims.get("act");
    while let Some(a) = act {
        if let Some(agent_id) = a.get("sub").and_then(Value::as_str).filter(|s| crate::ids::has_prefix(s, "agt")) {
            match tx.get::<crate::domain::agent::McpAgent>(agent_id).await {
                Ok(agent) if agent.is_active() => {}
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(TokenError::Invalid("the agent was suspended or deleted"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        act = a.get("act");
    }
    tx.commit().await?;
    let scopes = str_claim("scope").split_whitespace().map(str::to_owned).collect();
    Ok(VerifiedToken { claims, app, user, scopes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        let base = "https://id.example.com";
        let any = ExpectedIssuer::AnyOf(base);
        assert!(any.accepts("https://id.example.com/api/v1/platform"));
        assert!(any.accepts("https://id.example.com/api/v1/auth/tenants/acme"));
        assert!(!any.accepts("https://id.example.com/api/v1/auth/tenants/acme/x"));
        assert!(!any.accepts("https://evil.example.com/api/v1/platform"));
        let one = ExpectedIssuer::Exactly("https://id.example.com/api/v1/auth/tenants/acme");
        assert!(one.accepts("https://id.example.com/api/v1/auth/tenants/acme"));
        assert!(!one.accepts("https://id.example.com/api/v1/platform"));
    }
}
