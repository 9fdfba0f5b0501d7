//! Organizational units: a tree per tenant; users and groups live in one OU.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::user::nullable;
use super::validate::{FieldError, Problems};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct OrganizationalUnit {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganizationalUnit {
    pub tenant_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationalUnitPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

impl OrganizationalUnit {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        p.name("name", &self.name, 256);
        p.optional_text("description", self.description.as_deref(), 1024);
        if let Some(parent) = &self.parent_id {
            p.id("parent_id", parent, "ou");
            p.check(parent != &self.id, "parent_id", "an organizational unit cannot be its own parent");
        }
        p.into_result()
    }
}
