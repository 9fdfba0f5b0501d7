//! A user's second factors and recovery codes (MFA).

use serde::Serialize;
use utoipa::ToSchema;

use super::Timestamp;

/// A TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s).
pub const TOTP: &str = "totp";
/// A WebAuthn passkey (`credential_id`, and webauthn-rs's record in `passkey`).
pub const PASSKEY: &str = "passkey";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Factor {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub user_id: String,
    /// `totp` or `passkey`.
    pub kind: String,
    pub name: String,
    #[serde(skip)]
    pub secret_sealed: Option<String>,
    /// The last time step a TOTP code was accepted for (each works once).
    #[serde(skip)]
    pub last_step: Option<i64>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    /// A passkey's credential id (base64url), unique in the tenant.
    #[serde(skip)]
    pub credential_id: Option<String>,
    /// A passkey's public key and signature counter (webauthn-rs JSON).
    #[serde(skip)]
    pub passkey: Option<String>,
}

/// A single-use recovery code, stored hashed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RecoveryCode {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub user_id: String,
    pub code_hash: String,
    pub used_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A ceremony's state between its start and the browser's answer, used
/// once: WebAuthn options' state (webauthn-rs JSON, holding the challenge)
/// or a TOTP secret, sealed, awaiting its first code.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Ceremony {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    /// The login request or session it belongs to.
    pub owner: String,
    /// `register`, `authenticate`, `discover` or `totp`.
    pub kind: String,
    pub state: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Ceremony {
    /// A ceremony of `owner` in a tenant, answerable for `ttl` seconds.
    pub fn new(owner_tenant: (&str, &str), owner: &str, kind: &str, state: String, now: Timestamp, ttl: i64) -> Self {
        let (tenant_id, partner_id) = owner_tenant;
        Self {
            id: crate::ids::new_id("cer", now),
            tenant_id: tenant_id.into(),
            partner_id: partner_id.into(),
            owner: owner.into(),
            kind: kind.into(),
            state,
            created_at: now,
            expires_at: now.plus_seconds(ttl),
        }
    }
}
