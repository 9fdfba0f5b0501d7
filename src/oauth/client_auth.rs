//! Client authentication at the token endpoint: `client_secret_basic` or
//! `client_secret_post` (never both), constant-time secret checks, and the
//! same work for unknown clients as for known ones so timing reveals nothing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::authn::secret;
use crate::domain::application::Application;
use crate::store::{Scope, Store, StoreError};

use super::{Issuer, OAuthError};

/// Credentials as presented.
#[derive(Debug, Default, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// Reads `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded parts) or
/// the form's `client_id`/`client_secret`. Presenting both is an error.
pub fn from_request(
    authorization: Option<&str>,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<ClientCredentials, OAuthError> {
    if let Some(h) = authorization {
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request("use one client authentication method"));
        }
        let (scheme, value) = h.split_once(' ').ok_or_else(OAuthError::invalid_client)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(OAuthError::invalid_client());
        }
        let decoded = STANDARD.decode(value.trim()).map_err(|_| OAuthError::invalid_client())?;
        let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
        let id = url_decode(id).ok_or_else(OAuthError::invalid_client)?;
        let secret = url_decode(secret).ok_or_else(OAuthError::invalid_client)?;
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request("client_id does not match the Authorization header"));
        }
        return Ok(ClientCredentials { client_id: id, client_secret: Some(secret) });
    }
    let id = form_id.ok_or_else(OAuthError::invalid_client)?;
    Ok(ClientCredentials { client_id: id.to_owned(), client_secret: form_secret.map(str::to_owned) })
}

fn url_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
}

/// A hash no secret matches, compared against when the client is unknown.
const DUMMY_HASH: &str = "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The application behind `creds`, if it exists, is served by `issuer`, and
/// the secret matches (confidential clients) or is absent (public clients).
pub async fn authenticate(
    store: &Store,
    caches: &crate::cache::Caches,
    issuer: &Issuer,
    creds: &ClientCredentials,
) -> Result<std::sync::Arc<Application>, OAuthError> {
    if creds.client_id.len() > 64 || creds.client_secret.as_ref().is_some_and(|s| s.len() > 512) {
        return Err(OAuthError::invalid_client());
    }
    // client_id is globally unique; which issuer may serve it is checked below.
    let app = match caches.app_by_client_id(store, &creds.client_id).await {
        Ok(a) => Some(a),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let presented = creds.client_secret.as_deref().unwrap_or_default();
    let stored = app.as_ref().and_then(|a| a.client_secret_hash.as_deref()).unwrap_or(DUMMY_HASH);
    let secret_ok = secret::matches(presented, stored);
    let Some(app) = app else { return Err(OAuthError::invalid_client()) };
    if !issuer.serves(&app) {
        return Err(OAuthError::invalid_client());
    }
    match (app.app_type.is_confidential(), creds.client_secret.is_some()) {
        (true, true) if secret_ok => Ok(app),
        (false, false) => Ok(app),
        _ => Err(OAuthError::invalid_client()),
    }
}

/// The MCP agent behind `creds` (`client_id` = the agent's `agt_` id, its
/// secret), if it exists in `issuer`'s tenant, is active, and the secret
/// matches; and the application it acts through.
pub async fn authenticate_agent(
    store: &Store,
    issuer: &Issuer,
    creds: &ClientCredentials,
) -> Result<(crate::domain::agent::McpAgent, Application), OAuthError> {
    let Some(tenant) = &issuer.tenant else { return Err(OAuthError::invalid_client()) };
    if creds.client_id.len() > 64 || creds.client_secret.as_ref().is_some_and(|s| s.len() > 512) {
        return Err(OAuthError::invalid_client());
    }
    let mut tx = store.read(Scope::Tenant(tenant.id.clone())).await?;
    let agent: Option<crate::domain::agent::McpAgent> = match tx.get(&creds.client_id).await {
        Ok(a) => Some(a),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let app = match agent.as_ref().and_then(|a| a.application_id.clone()) {
        Some(id) => match tx.app_by_id_any_scope(&id).await {
            Ok(a) => Some(a),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    tx.commit().await?;
    let stored = agent.as_ref().and_then(|a| a.secret_hash.as_deref()).unwrap_or(DUMMY_HASH);
    let secret_ok = secret::matches(creds.client_secret.as_deref().unwrap_or_default(), stored);
    match (agent, app) {
        (Some(agent), Some(app)) if secret_ok && agent.is_active() && issuer.serves(&app) => Ok((agent, app)),
        _ => Err(OAuthError::invalid_client()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("abc:s%3Acret"));
        let c = from_request(Some(&h), None, None).unwrap();
        assert_eq!(c.client_id, "abc");
        assert_eq!(c.client_secret.as_deref(), Some("s:cret"));
        assert!(from_request(Some(&h), None, Some("x")).is_err());
        assert!(from_request(Some("Bearer x"), None, None).is_err());
    }
}
