//! Groups: members are users and groups; nesting is allowed, cycles are not.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::user::nullable;
use super::validate::{FieldError, Problems};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Group {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub name: String,
    pub description: Option<String>,
    pub ou_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The provisioning client's id for this group (SCIM `externalId`).
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub tenant_id: String,
    pub external_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub ou_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub ou_id: Option<Option<String>>,
}

/// `POST /groups/{id}/members`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Member {
    pub group_id: String,
    /// `usr_…` or `grp_…`
    pub member_id: String,
    /// `user` or `group`
    #[sqlx(rename = "member_type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: Timestamp,
}

impl Group {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        p.name("name", &self.name, 256);
        p.optional_text("description", self.description.as_deref(), 1024);
        if let Some(o) = &self.ou_id {
            p.id("ou_id", o, "ou");
        }
        p.into_result()
    }
}
