//! A user's second factors and recovery codes (MFA).

use serde::Serialize;
use utoipa::ToSchema;

use super::Timestamp;

/// A TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s).
pub const TOTP: &str = "totp";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Factor {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub user_id: String,
    /// `totp`.
    pub kind: String,
    pub name: String,
    #[serde(skip)]
    pub secret_sealed: Option<String>,
    /// The last time step a TOTP code was accepted for (each works once).
    #[serde(skip)]
    pub last_step: Option<i64>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
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
