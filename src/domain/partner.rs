//! Partners: resellers, MSPs or business units that own tenants, with limits.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::validate::{FieldError, Problems};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerLimits {
    #[serde(default = "default_max_tenants")]
    pub max_tenants: i64,
    #[serde(default = "default_max_users")]
    pub max_users_per_tenant: i64,
    #[serde(default = "default_max_apps")]
    pub max_applications_per_tenant: i64,
}

fn default_max_tenants() -> i64 {
    100
}
fn default_max_users() -> i64 {
    100_000
}
fn default_max_apps() -> i64 {
    100
}

impl Default for PartnerLimits {
    fn default() -> Self {
        Self {
            max_tenants: default_max_tenants(),
            max_users_per_tenant: default_max_users(),
            max_applications_per_tenant: default_max_apps(),
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Partner {
    pub id: String,
    pub name: String,
    #[sqlx(json)]
    pub limits: PartnerLimits,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    pub name: String,
    #[serde(default)]
    pub limits: PartnerLimits,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerPatch {
    pub name: Option<String>,
    pub limits: Option<PartnerLimits>,
}

impl Partner {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        p.name("name", &self.name, 200);
        p.check(self.limits.max_tenants >= 0, "limits.max_tenants", "must not be negative");
        p.check(self.limits.max_users_per_tenant >= 0, "limits.max_users_per_tenant", "must not be negative");
        p.check(
            self.limits.max_applications_per_tenant >= 0,
            "limits.max_applications_per_tenant",
            "must not be negative",
        );
        p.into_result()
    }
}
