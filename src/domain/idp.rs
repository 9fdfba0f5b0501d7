//! Identity providers: the upstream's type, config (secrets sealed at rest by
//! the service before storage), home-realm domains and provisioning options.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::user::nullable;
use super::validate::{FieldError, Problems, is_hostname};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct IdentityProvider {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[sqlx(json)]
    pub domains: Vec<String>,
    /// Stored with secret fields sealed; the API shows them redacted.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub config: serde_json::Map<String, serde_json::Value>,
    pub jit_provisioning: bool,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub attribute_mapping: serde_json::Map<String, serde_json::Value>,
    pub sync_schedule: Option<String>,
    pub trust_email_for_linking: bool,
    /// Whether an upstream MFA claim satisfies the tenant's MFA policy.
    pub trust_upstream_mfa: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdentityProvider {
    pub tenant_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    #[serde(default)]
    pub jit_provisioning: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attribute_mapping: serde_json::Map<String, serde_json::Value>,
    pub sync_schedule: Option<String>,
    #[serde(default)]
    pub trust_email_for_linking: bool,
    #[serde(default)]
    pub trust_upstream_mfa: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderPatch {
    pub name: Option<String>,
    pub domains: Option<Vec<String>>,
    /// Replaces the config; a secret field left out keeps its stored value.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    pub jit_provisioning: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub attribute_mapping: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub sync_schedule: Option<Option<String>>,
    pub trust_email_for_linking: Option<bool>,
    pub trust_upstream_mfa: Option<bool>,
}

/// A six-field cron expression (sec min hour day month weekday), UTC.
pub fn is_valid_cron(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    fields.len() == 6
        && fields.iter().all(|f| {
            f.split(',').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'/' | b'-' | b'?' | b'L' | b'#'))
            })
        })
}

impl IdentityProvider {
    pub fn validate(&self, supports_sync: bool) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        p.name("name", &self.name, 200);
        for (i, d) in self.domains.iter().enumerate() {
            p.check(is_hostname(d) && d.contains('.'), &format!("domains[{i}]"), "must be a domain name");
        }
        if let Some(s) = &self.sync_schedule {
            if !supports_sync {
                p.add("sync_schedule", "this identity provider type does not sync");
            } else if !is_valid_cron(s) {
                p.add("sync_schedule", "must be a cron expression with 6 fields (UTC)");
            }
        }
        const FIELDS: &[&str] = &[
            "user_name",
            "email",
            "given_name",
            "family_name",
            "display_name",
            "title",
            "department",
            "company",
            "employee_id",
            "employee_type",
            "office",
            "locale",
            "timezone",
            "sam_account_name",
            "manager_id",
        ];
        for (k, v) in &self.attribute_mapping {
            let known = FIELDS.contains(&k.as_str()) || k.starts_with("custom_attributes.");
            p.check(known, &format!("attribute_mapping.{k}"), "is not a user attribute");
            p.check(v.is_string(), &format!("attribute_mapping.{k}"), "must name an upstream attribute or claim");
        }
        p.into_result()
    }
}
