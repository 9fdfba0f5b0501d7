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
    /// RFC 8693 §4.1 `act`: the actor (nested for a chain of delegations).
    pub act: Option<Value>,
    /// Seconds the token lives.
    pub lifetime: i64,
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
    /// RFC 8693 §2.2.1, for a token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
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
    c.insert("exp".into(), json!(iat + spec.lifetime));
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
    if let Some(act) = &spec.act {
        c.insert("act".into(), act.clone());
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

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the access
/// token, with the hash of the signing algorithm (SHA-512 for Ed25519).
pub fn at_hash(access_token: &str, alg: crate::domain::application::SigningAlg) -> String {
    use base64::Engine;
    let algorithm = match alg {
        crate::domain::application::SigningAlg::EdDSA => &aws_lc_rs::digest::SHA512,
        _ => &aws_lc_rs::digest::SHA256,
    };
    let d = aws_lc_rs::digest::digest(algorithm, access_token.as_bytes());
    let bytes = d.as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.get(..bytes.len() / 2).unwrap_or(bytes))
}

/// Everything the user-facing grants issue: access token, optional ID token
/// and optional refresh token (the caller stores the refresh token).
pub struct UserTokenSpec<'a> {
    pub issuer: &'a str,
    pub app: &'a Application,
    pub user: &'a crate::domain::user::User,
    pub scopes: &'a [String],
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub auth_time: Timestamp,
    pub amr: &'a [String],
    pub session_id: &'a str,
    pub nonce: Option<&'a str>,
    /// `aud` of the access token; empty: the app itself.
    pub audience: Vec<String>,
    pub act: Option<Value>,
    /// Whether an ID token is issued when `openid` is granted.
    pub id_token: bool,
    /// Seconds the access token lives.
    pub lifetime: i64,
    pub now: Timestamp,
}

pub struct IssuedUserTokens {
    pub access_token: String,
    pub access_jti: String,
    pub id_token: Option<String>,
}

pub fn issue_user_tokens(keys: &KeyRing, spec: &UserTokenSpec<'_>) -> Result<IssuedUserTokens, OAuthError> {
    let claims = access_token_claims(&AccessTokenSpec {
        issuer: spec.issuer,
        app: spec.app,
        subject: Subject::User {
            id: &spec.user.id,
            email: spec.user.email.as_deref(),
            groups: spec.groups.clone(),
            roles: spec.roles.clone(),
            amr: spec.amr.to_vec(),
        },
        audience: spec.audience.clone(),
        scopes: spec.scopes,
        tenant_id: Some(&spec.user.tenant_id),
        partner_id: Some(&spec.user.partner_id),
        act: spec.act.clone(),
        lifetime: spec.lifetime,
        now: spec.now,
    });
    let access_jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default().to_owned();
    let access_token = sign_access_token(keys, spec.app, &claims)?;
    let id_token = if spec.id_token && spec.scopes.iter().any(|s| s == "openid") {
        let iat = spec.now.unix_seconds();
        let mut c = super::user_claims::standard_claims(spec.user, spec.scopes, &spec.groups);
        c.insert("iss".into(), json!(spec.issuer));
        c.insert("aud".into(), json!(spec.app.client_id));
        c.insert("azp".into(), json!(spec.app.client_id));
        c.insert("exp".into(), json!(iat + spec.app.token_lifetime));
        c.insert("iat".into(), json!(iat));
        c.insert("auth_time".into(), json!(spec.auth_time.unix_seconds()));
        c.insert("at_hash".into(), json!(at_hash(&access_token, spec.app.token_signing_alg)));
        c.insert("sid".into(), json!(spec.session_id));
        c.insert("amr".into(), json!(spec.amr));
        c.insert("acr".into(), json!(if spec.amr.iter().any(|a| a == "mfa") { "2" } else { "1" }));
        c.insert("tenant_id".into(), json!(spec.user.tenant_id));
        if let Some(n) = spec.nonce {
            c.insert("nonce".into(), json!(n));
        }
        let signer = keys.signer(spec.app.token_signing_alg).map_err(|_| OAuthError::server_error())?;
        Some(signer.sign_jwt("JWT", &Value::Object(c)).map_err(|_| OAuthError::server_error())?)
    } else {
        None
    };
    Ok(IssuedUserTokens { access_token, access_jti, id_token })
}
