//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the
//! browser's SSO session for the issuer and, when the client names a
//! `post_logout_redirect_uri` that equals one of its `logout_uris`, sends the
//! browser back there with `state`. Anything else shows the signed-out page.
//! The refresh tokens the session issued are revoked with it, except
//! `offline_access` ones, which exist to outlive the session.

use serde_json::Value;

use crate::app::Services;
use crate::authn::{secret, session};
use crate::store::StoreError;

use super::Issuer;
use super::authorize::{Browser, issuer_path, served_app, with_query};

pub enum LogoutOutcome {
    Redirect { location: String, set_cookies: Vec<String> },
    SignedOut { set_cookies: Vec<String> },
    ErrorPage(String),
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub async fn logout(
    svc: &Services,
    issuer: &Issuer,
    params: &[(String, String)],
    browser: &Browser<'_>,
) -> Result<LogoutOutcome, StoreError> {
    let hint = param(params, "id_token_hint").and_then(|t| svc.keys.verify_ignoring_time(t, "JWT").ok());
    if param(params, "id_token_hint").is_some() && hint.is_none() {
        return Ok(LogoutOutcome::ErrorPage("The id_token_hint is not valid.".into()));
    }
    if let Some(h) = &hint
        && h.get("iss").and_then(Value::as_str) != Some(issuer.url.as_str())
    {
        return Ok(LogoutOutcome::ErrorPage("The id_token_hint was issued by another issuer.".into()));
    }
    let hinted_client = hint.as_ref().and_then(|h| h.get("aud")).and_then(Value::as_str);
    let client_id = match (param(params, "client_id"), hinted_client) {
        (Some(a), Some(b)) if a != b => {
            return Ok(LogoutOutcome::ErrorPage("client_id does not match the id_token_hint.".into()));
        }
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    let mut redirect = None;
    if let Some(uri) = param(params, "post_logout_redirect_uri") {
        let app = match client_id {
            Some(c) => served_app(svc, issuer, c).await?,
            None => None,
        };
        match app {
            Some(app) if app.logout_uris.iter().any(|u| u == uri) => redirect = Some(uri.to_owned()),
            _ => {
                return Ok(LogoutOutcome::ErrorPage(
                    "The post_logout_redirect_uri is not registered for this application.".into(),
                ));
            }
        }
    }
    let mut set_cookies = Vec::new();
    let name = session::session_cookie_name(issuer.realm());
    if let Some(value) = session::cookie(browser.cookies, &name) {
        let now = svc.clock.now();
        let mut tx = svc.store.write(issuer.scope()).await?;
        match tx.live_session(&secret::hash(value), now).await {
            Ok(s) => {
                tx.end_session(&s.id, now).await?;
                tx.revoke_session_refresh(&s.id, now, now.plus_seconds(86_400)).await?;
                tracing::info!(target: "audit", action = "logout", tenant_id = %s.tenant_id, "session ended");
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
        tx.commit().await?;
    }
    set_cookies.push(session::clear_cookie(&name, &issuer_path(issuer), svc.base_url().starts_with("https://")));
    Ok(match redirect {
        Some(uri) => {
            let location = match param(params, "state") {
                Some(s) => with_query(&uri, &[("state", s)]),
                None => uri,
            };
            LogoutOutcome::Redirect { location, set_cookies }
        }
        None => LogoutOutcome::SignedOut { set_cookies },
    })
}
