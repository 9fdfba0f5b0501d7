//! The token endpoint. Every step grants share happens here, once, in order:
//!
//! | step | failure |
//! |------|---------|
//! | parameters appear at most once (RFC 6749 §3.2)        | `invalid_request` |
//! | `grant_type` names a registered grant                  | `unsupported_grant_type` |
//! | client authenticates (basic or post, constant time)    | 401 `invalid_client` |
//! | app type may use the grant, and the app registered it  | `unauthorized_client` |
//! | requested scopes cut to `allowed_scopes`               | `invalid_scope` if nothing is left |
//! | the grant issues tokens; metrics and audit log          | |
//!
//! `Cache-Control: no-store` is set by the HTTP layer for every answer.

use std::sync::Arc;

use crate::app::Services;
use crate::domain::application::Application;
use crate::store::{Scope, StoreError};

use super::client_auth::{self, ClientCredentials};
use super::grants::{GrantRequest, registry};
use super::tokens::TokenResponse;
use super::{Issuer, OAuthError};

/// Parameters that may repeat (RFC 8707 `resource`, RFC 8693 `audience`).
const REPEATABLE: &[&str] = &["resource", "audience"];

pub struct TokenRequest {
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

pub async fn token(
    svc: &Services,
    issuer: &Issuer,
    req: TokenRequest,
) -> Result<(Arc<Application>, TokenResponse), OAuthError> {
    let form = &req.form;
    for (i, (k, _)) in form.iter().enumerate() {
        if !REPEATABLE.contains(&k.as_str()) && form.iter().skip(i + 1).any(|(k2, _)| k2 == k) {
            return Err(OAuthError::invalid_request(format!("parameter {k} is repeated")));
        }
    }
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let grant_type = param("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let grant =
        registry().iter().find(|g| g.grant_type() == grant_type).ok_or_else(OAuthError::unsupported_grant_type)?;

    let creds: ClientCredentials =
        client_auth::from_request(req.authorization.as_deref(), param("client_id"), param("client_secret"))?;
    if crate::ids::has_prefix(&creds.client_id, "agt") {
        // Boxed: the exchange's future is large and rare; every other
        // client's request would carry (and copy) it otherwise.
        return Box::pin(agent_token(svc, issuer, &creds, grant_type, form)).await;
    }
    let app = client_auth::authenticate(&svc.store, &svc.caches, issuer, &creds).await?;

    if !grant.app_types().contains(&app.app_type) || !app.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client("the client may not use this grant type"));
    }

    let scopes = match param("scope").map(str::split_whitespace).filter(|_| grant.uses_request_scope()) {
        Some(requested) => {
            let requested: Vec<&str> = requested.collect();
            let granted: Vec<String> =
                app.allowed_scopes.iter().filter(|s| requested.contains(&s.as_str())).cloned().collect();
            if granted.is_empty() && !requested.is_empty() {
                return Err(OAuthError::invalid_scope("none of the requested scopes is allowed for this client"));
            }
            granted
        }
        None => grant.default_scopes(&app),
    };

    let now = svc.clock.now();
    let response = grant.issue(GrantRequest { svc, issuer, app: &app, scopes, form, now }).await?;
    metrics::counter!("scaikey_tokens_issued_total", "grant_type" => grant.grant_type()).increment(1);
    tracing::info!(target: "audit", action = "token.issue", client_id = %app.client_id, grant_type, issuer = %issuer.url, "token issued");
    Ok((app, response))
}

/// An MCP agent at the token endpoint: it signs in with its own id and
/// secret and may only exchange its owner's token (RFC 8693), acting
/// through its application.
async fn agent_token(
    svc: &Services,
    issuer: &Issuer,
    creds: &ClientCredentials,
    grant_type: &str,
    form: &[(String, String)],
) -> Result<(Arc<Application>, TokenResponse), OAuthError> {
    let (agent, app) = client_auth::authenticate_agent(&svc.store, issuer, creds).await?;
    if grant_type != crate::domain::application::GRANT_TOKEN_EXCHANGE {
        return Err(OAuthError::unauthorized_client("an agent obtains tokens by token exchange only"));
    }
    let now = svc.clock.now();
    let req = GrantRequest { svc, issuer, app: &app, scopes: Vec::new(), form, now };
    let response = super::grants::token_exchange::exchange(req, Some(&agent)).await?;
    metrics::counter!("scaikey_tokens_issued_total", "grant_type" => "agent_token_exchange").increment(1);
    Ok((Arc::new(app), response))
}

/// `aud` from `audience` / `resource`: each must name the `client_id` of an
/// application of the caller's own tenant, or of one that lists the caller
/// in `accept_audience_from` (RFC 8707 `invalid_target` otherwise), so no
/// client mints tokens for another tenant's resource server uninvited.
pub async fn resolve_audience(req: &GrantRequest<'_>) -> Result<Vec<String>, OAuthError> {
    let mut names: Vec<&str> = req.params("audience");
    names.extend(req.params("resource"));
    if names.is_empty() {
        return Ok(Vec::new());
    }
    if names.len() > 10 {
        return Err(OAuthError::invalid_target("too many audiences"));
    }
    let mut tx = req.svc.store.read(Scope::Platform).await?;
    let mut out = Vec::new();
    for name in names {
        match tx.app_by_client_id(name).await {
            Ok(target) if accepts_audience(req.app, &target) => {
                if !out.contains(&target.client_id) {
                    out.push(target.client_id);
                }
            }
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(OAuthError::invalid_target("the requested audience is not a registered application"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Whether `caller` may name `target` as an audience.
fn accepts_audience(caller: &Application, target: &Application) -> bool {
    target.id == caller.id
        || (caller.tenant_id.is_some() && target.tenant_id == caller.tenant_id)
        || target.accept_audience_from.iter().any(|c| c == &caller.client_id)
}
