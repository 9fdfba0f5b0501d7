//! Access tokens: RFC 9068 JWTs (`typ: at+jwt`) with the claims of SPEC §2,
//! signed with the application's algorithm by the key ring's active key.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::ids::random_base36;
use crate::keys::KeyRing;

use super::OAuthError;

/// The subject of a token: the client itself, or a user.
pub enum Subject<'a> {
    Client,
    User { id: &'a str, email: Option<&'a str>, groups: Vec<String>, roles: Vec<String>, amr: Vec<String> },
}

pub struct AccessTokenSpec<'a> {
    pub issuer: &'a str,
    pub app: &'a Application,
    pub subject: Subject<'a>,
    pub audience: Vec<String>,
    pub scopes: &'a [String],
    pub tenant_id: Option<&'a str>,
    pub partner_id: Option<&'a str>,
    pub now: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

pub fn access_token_claims(spec: &AccessTokenSpec<'_>) -> Value {
    let iat = spec.now.unix_seconds();
    let mut c = Map::new();
    c.insert("iss".into(), json!(spec.issuer));
    let sub = match &spec.subject {
        Subject::Client => spec.app.client_id.as_str(),
        Subject::User { id, .. } => id,
    };
    c.insert("sub".into(), json!(sub));
    let aud = match spec.audience.as_slice() {
        [one] => json!(one),
        [] => json!(spec.app.client_id),
        many => json!(many),
    };
    c.insert("aud".into(), aud);
    c.insert("exp".into(), json!(iat + spec.app.token_lifetime));
    c.insert("iat".into(), json!(iat));
    c.insert("nbf".into(), json!(iat));
    c.insert("jti".into(), json!(random_base36(24)));
    c.insert("client_id".into(), json!(spec.app.client_id));
    c.insert("scope".into(), json!(spec.scopes.join(" ")));
    if let Some(t) = spec.tenant_id {
        c.insert("tenant_id".into(), json!(t));
    }
    if let Some(p) = spec.partner_id {
        c.insert("partner_id".into(), json!(p));
    }
    if let Subject::User { email, groups, roles, amr, .. } = &spec.subject {
        if let Some(e) = email {
            c.insert("email".into(), json!(e));
        }
        c.insert("groups".into(), json!(groups));
        c.insert("roles".into(), json!(roles));
        c.insert("amr".into(), json!(amr));
    }
    Value::Object(c)
}

pub fn sign_access_token(keys: &KeyRing, app: &Application, claims: &Value) -> Result<String, OAuthError> {
    let signer = keys.signer(app.token_signing_alg).map_err(|e| {
        tracing::error!(error = %e, "no signing key");
        OAuthError::server_error()
    })?;
    signer.sign_jwt("at+jwt", claims).map_err(|e| {
        tracing::error!(error = %e, "signing failed");
        OAuthError::server_error()
    })
}
