//! A user's remembered approval of an application's admin and SCIM scopes
//! (SPEC §2): given on the consent page, kept per user and app until an
//! admin revokes it (`DELETE /consents/{id}`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

/// Scopes a user must approve before an app receives them in a user token:
/// they hand the app the user's administrative authority.
pub fn needs_consent(scope: &str) -> bool {
    scope.starts_with("admin:") || scope.starts_with("scim:")
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Consent {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub user_id: String,
    pub app_id: String,
    #[sqlx(json)]
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Consent {
    /// Whether every scope in `wanted` that needs consent was approved.
    pub fn covers(&self, wanted: &[String]) -> bool {
        wanted.iter().filter(|s| needs_consent(s)).all(|s| self.scopes.contains(s))
    }
}

/// Consents are given by users on the consent page, never created by an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {}
