//! Token signing keys. A key is `next` (published in JWKS, not yet signing),
//! `active` (signing), or `retired` (published until `expires_at`, when the
//! last token it signed has expired), then dropped from JWKS.

use serde::Serialize;
use utoipa::ToSchema;

use super::Timestamp;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct SigningKey {
    /// The `kid`.
    pub id: String,
    pub alg: String,
    pub status: String,
    #[serde(skip)]
    pub private_key_sealed: String,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub public_jwk: serde_json::Value,
    pub created_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    pub retired_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}
