//! State of the OpenID Connect provider: SSO sessions, login requests in
//! flight, single-use authorization codes and rotating refresh tokens. The
//! secret part of each (cookie, code, token) is stored only as a hash.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// The parameters of an accepted `/oauth/authorize` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

/// An SSO session: one per browser and tenant.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub user_id: String,
    pub auth_time: Timestamp,
    #[sqlx(json)]
    pub amr: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

/// The steps of the login state machine (see `authn::flow`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LoginStep {
    Identifier,
    Password,
    /// The password was right but is older than the policy allows.
    ChangePassword,
    /// Signed in; the app asks for admin or SCIM scopes not yet approved.
    Consent,
}

impl LoginStep {
    pub fn as_str(&self) -> &'static str {
        match self {
            LoginStep::Identifier => "identifier",
            LoginStep::Password => "password",
            LoginStep::ChangePassword => "change_password",
            LoginStep::Consent => "consent",
        }
    }
}

impl TryFrom<String> for LoginStep {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "identifier" => Ok(LoginStep::Identifier),
            "password" => Ok(LoginStep::Password),
            "change_password" => Ok(LoginStep::ChangePassword),
            "consent" => Ok(LoginStep::Consent),
            _ => Err(format!("unknown login step {s}")),
        }
    }
}

/// A login in progress, created by `/oauth/authorize`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LoginRequest {
    pub id: String,
    /// `None` on the platform issuer until the identifier step names a tenant.
    pub tenant_id: Option<String>,
    pub partner_id: Option<String>,
    pub app_id: String,
    #[sqlx(json)]
    pub params: AuthorizeParams,
    #[sqlx(try_from = "String")]
    pub step: LoginStep,
    pub user_id: Option<String>,
    pub csrf_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What a code was issued for, fixed at issue time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CodeParams {
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuthorizationCode {
    pub id: String,
    pub code_hash: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub app_id: String,
    pub user_id: String,
    pub session_id: String,
    #[sqlx(json)]
    pub params: CodeParams,
    pub access_jti: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// A refresh token; rotation creates a new row in the same family.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RefreshToken {
    pub id: String,
    pub token_hash: String,
    pub family_id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub app_id: String,
    pub user_id: String,
    pub session_id: String,
    pub code_id: Option<String>,
    pub access_jti: Option<String>,
    pub scope: String,
    pub auth_time: Timestamp,
    #[sqlx(json)]
    pub amr: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub rotated_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}
