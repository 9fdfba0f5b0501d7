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

/// Where a login in progress stands, with the data that state needs (see
/// `crate::login`). Stored as JSON in the login request, so new steps (an
/// upstream IdP, a second factor) bring their own data without a migration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum LoginState {
    /// Asks for the user name (and the organization on the platform issuer).
    Identifier,
    /// Asks for the password of `user_id`; `None` when no such user exists,
    /// which the page never reveals.
    Password { user_id: Option<String> },
    /// The password was right but older than the policy allows.
    ChangePassword { user_id: String },
    /// Signed in; the app asks for admin or SCIM scopes not yet approved.
    Consent { user_id: String },
    /// Asks for the password of a user of an LDAP / AD identity provider,
    /// checked by a bind against the directory.
    DirectoryPassword { idp_id: String },
    /// Sent to an upstream IdP; its answer must return `pending.state` (the
    /// OIDC `state`, the SAML RelayState; `pending.nonce` is the SAML
    /// AuthnRequest ID). A SAML answer checked at the ACS waits in
    /// `asserted` until this browser comes back for it.
    Upstream {
        idp_id: String,
        pending: scaikey_connectors::PendingLogin,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        asserted: Option<Box<scaikey_connectors::UpstreamIdentity>>,
    },
    /// The first factor (`amr`) is proven; asks for a TOTP or recovery code,
    /// or a passkey: `methods` are the kinds of factor the user has (empty
    /// in requests stored before passkeys: TOTP).
    Mfa {
        user_id: String,
        amr: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        methods: Vec<String>,
    },
    /// Enrolls a TOTP authenticator (MFA required, or offered when
    /// `optional`); the new secret waits here, sealed, until a first code
    /// confirms it.
    EnrollTotp { user_id: String, amr: Vec<String>, secret_sealed: String, optional: bool },
    /// The recovery codes of the new enrollment, shown once (sealed here).
    RecoveryCodes { user_id: String, amr: Vec<String>, codes_sealed: String },
    /// Signed in on the device page: the user approves or denies the device.
    DeviceConfirm { user_id: String },
}

impl LoginState {
    /// The name of the step, for the page and the `step` column.
    pub fn name(&self) -> &'static str {
        match self {
            LoginState::Identifier => "identifier",
            LoginState::Password { .. } => "password",
            LoginState::ChangePassword { .. } => "change_password",
            LoginState::Consent { .. } => "consent",
            LoginState::Upstream { .. } => "upstream",
            // The same form as a local password.
            LoginState::DirectoryPassword { .. } => "password",
            LoginState::Mfa { .. } => "mfa",
            LoginState::EnrollTotp { .. } => "enroll_totp",
            LoginState::RecoveryCodes { .. } => "recovery_codes",
            LoginState::DeviceConfirm { .. } => "device_confirm",
        }
    }

    /// What an upstream's answer is found by (the RelayState), while one is awaited.
    pub fn upstream_ref(&self) -> Option<&str> {
        match self {
            LoginState::Upstream { pending, asserted: None, .. } => Some(&pending.state),
            _ => None,
        }
    }

    /// The user this state is about, once known.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            LoginState::Identifier | LoginState::Upstream { .. } | LoginState::DirectoryPassword { .. } => None,
            LoginState::Password { user_id } => user_id.as_deref(),
            LoginState::ChangePassword { user_id }
            | LoginState::Consent { user_id }
            | LoginState::Mfa { user_id, .. }
            | LoginState::EnrollTotp { user_id, .. }
            | LoginState::RecoveryCodes { user_id, .. }
            | LoginState::DeviceConfirm { user_id } => Some(user_id),
        }
    }
}

/// What a login request was started for, and so where it ends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoginPurpose {
    /// An authorization request of its app: back to the client with a code.
    #[default]
    Authorize,
    /// The user's own account page (`{issuer}/account`); no app.
    Account,
    /// The device page: the user approves device code `device_id` of the app.
    Device { device_id: String },
}

/// A login in progress, created by `/oauth/authorize` or the account page.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LoginRequest {
    pub id: String,
    /// `None` on the platform issuer until the identifier step names a tenant.
    pub tenant_id: Option<String>,
    pub partner_id: Option<String>,
    /// The app of an authorization request; `None` for the account page.
    pub app_id: Option<String>,
    #[sqlx(json)]
    pub purpose: LoginPurpose,
    #[sqlx(json)]
    pub params: AuthorizeParams,
    #[sqlx(json)]
    pub state: LoginState,
    /// Moves on each change: a step applies only to the version it read
    /// (compare-and-set), so slow work can run outside the transaction.
    pub version: i64,
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

/// An RFC 8628 device authorization in progress.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeviceCode {
    pub id: String,
    pub tenant_id: Option<String>,
    pub partner_id: Option<String>,
    pub app_id: String,
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub scope: String,
    /// `pending`, `approved`, `denied` or `used`.
    pub status: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<Timestamp>,
    #[sqlx(json)]
    pub amr: Vec<String>,
    /// Seconds the device waits between polls (raised by `slow_down`).
    pub poll_interval: i64,
    pub last_polled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}
