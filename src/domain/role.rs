//! Admin roles are assignments of a user to a role at a scope (SPEC §1).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    TenantAdmin,
    PartnerAdmin,
    SuperAdmin,
}

impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.clone())).map_err(|_| format!("unknown role {s}"))
    }
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::TenantAdmin => "tenant_admin",
            Role::PartnerAdmin => "partner_admin",
            Role::SuperAdmin => "super_admin",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct RoleAssignment {
    pub id: String,
    pub user_id: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// Set for partner_admin and tenant_admin.
    pub partner_id: Option<String>,
    /// Set for tenant_admin.
    pub tenant_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoleAssignment {
    pub user_id: String,
    pub role: Role,
    pub partner_id: Option<String>,
    pub tenant_id: Option<String>,
}
