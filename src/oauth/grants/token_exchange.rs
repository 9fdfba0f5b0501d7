//! `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a
//! confidential app trades a user's token for one aimed at another app.
//!
//! | check | failure |
//! |---|---|
//! | `subject_token`: a ScaiKey access token or ID token of this issuer, valid, for an active user | `invalid_grant` |
//! | the caller is the subject token's client or audience (no exchanging tokens it was never given) | `invalid_grant` |
//! | `audience` (or `resource`): one registered app the caller may name, with `token_exchange_allowed` | `invalid_target` |
//! | the user may use the target app (its assignments) | `invalid_grant` |
//! | `scope` within what the subject token carried and the target allows | `invalid_scope` |
//! | `actor_token` (optional): a valid access token of this issuer | `invalid_grant` |
//! | `requested_token_type`: an access token | `invalid_request` |
//!
//! The new access token keeps `sub` (the user), `amr` and `auth_time`, has
//! `aud` = the target, and carries `act` (RFC 8693 §4.1): the actor — the
//! actor token's subject, or else the calling client — with the subject
//! token's own `act` nested inside, so a chain of delegations stays visible.
//! No refresh token and no ID token are issued.

use serde_json::{Value, json};

use crate::domain::agent::McpAgent;
use crate::domain::application::{AppType, Application, GRANT_TOKEN_EXCHANGE};
use crate::domain::user::{User, UserStatus};
use crate::oauth::OAuthError;
use crate::oauth::issue::{self, ACCESS_TOKEN_TYPE, ForUser, Refresh};
use crate::oauth::tokens::TokenResponse;
use crate::oauth::verifier::{ExpectedIssuer, verify_access_token};
use crate::store::{Scope, StoreError};

use super::authorization_code::invalid_grant;
use super::{Grant, GrantFuture, GrantRequest};

pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

pub struct TokenExchange;

/// What the subject token says.
struct Subject {
    user: User,
    scopes: Vec<String>,
    amr: Vec<String>,
    auth_time: Option<i64>,
    session_id: String,
    act: Option<Value>,
}

fn audience_of(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

fn strings(claims: &Value, name: &str) -> Vec<String> {
    claims
        .get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

async fn subject(req: &GrantRequest<'_>, token: &str, kind: &str) -> Result<Subject, OAuthError> {
    let caller = &req.app.client_id;
    match kind {
        ACCESS_TOKEN_TYPE => {
            let v = verify_access_token(req.svc, token, ExpectedIssuer::Exactly(&req.issuer.url))
                .await
                .map_err(|_| invalid_grant("the subject token is invalid"))?;
            let Some(user) = v.user.clone() else {
                return Err(invalid_grant("the subject token names no user"));
            };
            if v.app.client_id != *caller && !audience_of(&v.claims).contains(caller) {
                return Err(invalid_grant("the subject token was not issued to or for this client"));
            }
            Ok(Subject {
                user,
                scopes: v.scopes.clone(),
                amr: strings(&v.claims, "amr"),
                auth_time: v.claims.get("auth_time").and_then(Value::as_i64),
                session_id: v.claim("sid").unwrap_or_default().to_owned(),
                act: v.claims.get("act").cloned(),
            })
        }
        ID_TOKEN_TYPE => {
            let leeway = i64::from(req.svc.config.token_leeway_seconds.min(crate::config::MAX_TOKEN_LEEWAY));
            let claims = req
                .svc
                .keys
                .verify(token.trim(), "JWT", req.now, leeway)
                .map_err(|_| invalid_grant("the subject token is invalid"))?;
            if claims.get("iss").and_then(Value::as_str) != Some(req.issuer.url.as_str())
                || !audience_of(&claims).contains(caller)
            {
                return Err(invalid_grant("the ID token was not issued by this issuer to this client"));
            }
            let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
            let mut tx = req.svc.store.read(Scope::Platform).await?;
            let user: User = match tx.get(sub).await {
                Ok(u) => u,
                Err(StoreError::NotFound) => return Err(invalid_grant("the user no longer exists")),
                Err(e) => return Err(e.into()),
            };
            tx.commit().await?;
            if user.status != UserStatus::Active {
                return Err(invalid_grant("the account is not active"));
            }
            // An ID token carries no scope: what the user's sign-in released to this client.
            let scopes = ["openid", "profile", "email"].map(str::to_owned).to_vec();
            Ok(Subject {
                user,
                scopes,
                amr: strings(&claims, "amr"),
                auth_time: claims.get("auth_time").and_then(Value::as_i64),
                session_id: claims.get("sid").and_then(Value::as_str).unwrap_or_default().to_owned(),
                act: None,
            })
        }
        _ => Err(OAuthError::invalid_request("subject_token_type must be an access token or an ID token")),
    }
}

/// The one target app named by `audience` / `resource`.
async fn target(req: &GrantRequest<'_>) -> Result<Application, OAuthError> {
    let names: Vec<&str> = req.params("audience").into_iter().chain(req.params("resource")).collect();
    let [name] = names.as_slice() else {
        return Err(OAuthError::invalid_target("name exactly one target application in audience"));
    };
    let mut tx = req.svc.store.read(Scope::Platform).await?;
    let found = tx.app_by_client_id(name).await;
    tx.commit().await?;
    let target = match found {
        Ok(t) => t,
        Err(StoreError::NotFound) => {
            return Err(OAuthError::invalid_target("the audience is not a registered application"));
        }
        Err(e) => return Err(e.into()),
    };
    let same_tenant = req.app.tenant_id.is_some() && target.tenant_id == req.app.tenant_id;
    if !(same_tenant || target.accept_audience_from.iter().any(|c| c == &req.app.client_id))
        || !req.issuer.serves(&target)
    {
        return Err(OAuthError::invalid_target("the audience is not a registered application"));
    }
    if !target.token_exchange_allowed {
        return Err(OAuthError::invalid_target("the target application does not accept exchanged tokens"));
    }
    Ok(target)
}

impl Grant for TokenExchange {
    fn grant_type(&self) -> &'static str {
        GRANT_TOKEN_EXCHANGE
    }

    fn app_types(&self) -> &'static [AppType] {
        &[AppType::Web, AppType::Service]
    }

    fn default_scopes(&self, _app: &Application) -> Vec<String> {
        Vec::new()
    }

    fn uses_request_scope(&self) -> bool {
        false
    }

    fn issue<'a>(&'a self, req: GrantRequest<'a>) -> GrantFuture<'a> {
        Box::pin(exchange(req, None))
    }
}

/// The exchange for a calling app, or for an MCP agent acting through its
/// application (`agent`): then the subject must be the agent's owner, the
/// scope is also cut to the agent's `allowed_scopes`, the actor is the
/// agent, and the token lives no longer than its `max_token_lifetime`.
pub async fn exchange(req: GrantRequest<'_>, agent: Option<&McpAgent>) -> Result<TokenResponse, OAuthError> {
    if req.param("requested_token_type").is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::invalid_request("only access tokens are issued"));
    }
    let token = req.param("subject_token").ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
    let kind =
        req.param("subject_token_type").ok_or_else(|| OAuthError::invalid_request("subject_token_type is required"))?;
    let subject = subject(&req, token, kind).await?;
    if agent.is_some_and(|a| a.user_id != subject.user.id) {
        return Err(invalid_grant("an agent acts only for its owner"));
    }
    if req.issuer.tenant.as_ref().is_some_and(|t| t.id != subject.user.tenant_id) {
        return Err(invalid_grant("the subject token names a user of another tenant"));
    }
    let target = target(&req).await?;

    // Never more than the subject token carried, nor than the target allows.
    let allowed: Vec<String> = subject
        .scopes
        .iter()
        .filter(|s| target.allowed_scopes.contains(s) && agent.is_none_or(|a| a.allowed_scopes.contains(s)))
        .cloned()
        .collect();
    let scopes: Vec<String> = match req.param("scope") {
        Some(asked) => {
            let asked: Vec<String> = asked.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|s| !allowed.contains(s)) {
                return Err(OAuthError::invalid_scope(format!("{extra} exceeds the subject token or the target")));
            }
            asked
        }
        None => allowed,
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope("no scope is left for the target"));
    }

    let actor = match (req.param("actor_token"), req.param("actor_token_type")) {
        (Some(t), Some(ACCESS_TOKEN_TYPE)) => {
            let v = verify_access_token(req.svc, t, ExpectedIssuer::Exactly(&req.issuer.url))
                .await
                .map_err(|_| invalid_grant("the actor token is invalid"))?;
            v.claim("sub").unwrap_or_default().to_owned()
        }
        (Some(_), _) => return Err(OAuthError::invalid_request("actor_token_type must be an access token")),
        (None, Some(_)) => return Err(OAuthError::invalid_request("actor_token_type without actor_token")),
        (None, None) => req.app.client_id.clone(),
    };
    // An agent is the actor itself; it cannot name another.
    let actor = match agent {
        Some(_) if req.param("actor_token").is_some() => {
            return Err(OAuthError::invalid_request("an agent cannot present an actor_token"));
        }
        Some(a) => a.id.clone(),
        None => actor,
    };
    let mut act = json!({ "sub": actor });
    if let (Some(prior), Some(obj)) = (subject.act.clone(), act.as_object_mut()) {
        obj.insert("act".into(), prior);
    }

    let mut tx = req.svc.store.write(req.issuer.scope()).await?;
    if !crate::oauth::authorize::is_assigned(&mut tx, &target, &subject.user).await? {
        return Err(invalid_grant("the user may not use the target application"));
    }
    let auth_time = subject
        .auth_time
        .and_then(|t| crate::domain::Timestamp::from_unix_micros(t.saturating_mul(1_000_000)))
        .unwrap_or(req.now);
    let issued = issue::for_user(
        &mut tx,
        req.svc,
        req.issuer,
        req.app,
        ForUser {
            user: &subject.user,
            session_id: &subject.session_id,
            auth_time,
            amr: &subject.amr,
            nonce: None,
            scopes,
            audience: vec![target.client_id.clone()],
            act: Some(act),
            id_token: false,
            refresh: Refresh::Never,
            lifetime_cap: agent.map(|a| a.max_token_lifetime),
        },
        req.now,
    )
    .await?;
    tx.commit().await?;
    let agent_id = agent.map(|a| a.id.as_str()).unwrap_or_default();
    tracing::info!(target: "audit", action = "token.exchange", client_id = %req.app.client_id, agent_id, audience = %target.client_id, user_id = %subject.user.id, "token exchanged");
    Ok(issued.response)
}
