//! SCIM bearer tokens: long-lived, per tenant, shown once, stored as a hash.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ScimToken {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScimToken {
    pub tenant_id: String,
    pub name: String,
    pub expires_at: Option<Timestamp>,
}
