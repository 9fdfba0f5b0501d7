//! Tenants: the unit of isolation. Each has its own issuer, users and apps.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::settings::{Branding, TenantSettings};
use super::validate::{FieldError, Problems};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Tenant {
    pub id: String,
    pub partner_id: String,
    pub slug: String,
    pub name: String,
    #[sqlx(json)]
    pub settings: TenantSettings,
    #[sqlx(json)]
    pub branding: Branding,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub partner_id: Option<String>,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub settings: TenantSettings,
    #[serde(default)]
    pub branding: Branding,
}

/// The slug is the issuer's path segment and never changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub settings: Option<TenantSettings>,
    pub branding: Option<Branding>,
}

/// Slugs that would shadow platform paths or confuse people.
const RESERVED_SLUGS: &[&str] = &["platform", "admin", "api", "oauth", "scim", "well-known", "www", "static"];

pub fn is_valid_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

impl Tenant {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        if !is_valid_slug(&self.slug) {
            p.add("slug", "must be 2-63 characters of a-z, 0-9 and '-', not starting or ending with '-'");
        } else if RESERVED_SLUGS.contains(&self.slug.as_str()) {
            p.add("slug", "is reserved");
        }
        p.name("name", &self.name, 200);
        self.settings.check(&mut p);
        self.branding.check(&mut p);
        p.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert!(is_valid_slug("acme"));
        assert!(is_valid_slug("acme-2"));
        assert!(!is_valid_slug("a"));
        assert!(!is_valid_slug("Acme"));
        assert!(!is_valid_slug("-acme"));
        assert!(!is_valid_slug("ac_me"));
        assert!(!is_valid_slug(&"a".repeat(64)));
    }
}
