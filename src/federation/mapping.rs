//! Upstream claims → ScaiKey user attributes. Each IdP's
//! `attribute_mapping` (ScaiKey field → upstream claim) overrides the
//! defaults below; `custom_attributes.x` fields fill custom attributes.
//!
//! | field | default claim |
//! |---|---|
//! | `user_name` | `preferred_username`, else `email`, else the external id |
//! | `email` | `email` (with `email_verified` from the upstream) |
//! | `given_name`, `family_name`, `locale`, `title`, `department`, `company`, `employee_id`, `employee_type`, `office` | same names (LDAP attributes are named so by the connector) |
//! | `display_name` | `name` |

use serde_json::{Map, Value};

use scaikey_connectors::UpstreamIdentity;

use crate::domain::idp::IdentityProvider;
use crate::domain::user::UserAttributes;

const DEFAULTS: &[(&str, &str)] = &[
    ("email", "email"),
    ("given_name", "given_name"),
    ("family_name", "family_name"),
    ("display_name", "name"),
    ("locale", "locale"),
    ("title", "title"),
    ("department", "department"),
    ("company", "company"),
    ("employee_id", "employee_id"),
    ("employee_type", "employee_type"),
    ("office", "office"),
];

/// A claim as text: strings as they are, numbers and booleans printed.
fn claim_text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    let text = match claims.get(name)? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.chars().count() <= 1024).then_some(text)
}

/// The attributes the upstream asserts for `identity` (no tenant, no status).
pub fn attributes(idp: &IdentityProvider, identity: &UpstreamIdentity) -> UserAttributes {
    let claims = &identity.claims;
    let mapped = |field: &str| idp.attribute_mapping.get(field).and_then(Value::as_str);
    let mut fields = Map::new();
    for (field, claim) in DEFAULTS {
        if let Some(v) = claim_text(claims, mapped(field).unwrap_or(claim)) {
            fields.insert((*field).to_owned(), Value::String(v));
        }
    }
    let mut custom = Map::new();
    for (field, claim) in &idp.attribute_mapping {
        let Some(claim) = claim.as_str() else { continue };
        if DEFAULTS.iter().any(|(f, _)| f == field) || field == "user_name" {
            continue;
        }
        let Some(value) = claim_text(claims, claim) else { continue };
        match field.strip_prefix("custom_attributes.") {
            Some(name) => {
                custom.insert(name.to_owned(), Value::String(value));
            }
            None => {
                fields.insert(field.clone(), Value::String(value));
            }
        }
    }
    let user_name = match mapped("user_name") {
        Some(claim) => claim_text(claims, claim),
        None => claim_text(claims, "preferred_username").or_else(|| claim_text(claims, "email")),
    }
    .unwrap_or_else(|| identity.external_id.clone());
    fields.insert("user_name".into(), Value::String(user_name));
    if !custom.is_empty() {
        fields.insert("custom_attributes".into(), Value::Object(custom));
    }
    let mut attrs: UserAttributes = serde_json::from_value(Value::Object(fields)).unwrap_or_default();
    if attrs.email.is_some() {
        attrs.email_verified = Some(identity.email_verified);
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn idp(mapping: Value) -> IdentityProvider {
        let now = crate::domain::Timestamp::EPOCH;
        IdentityProvider {
            id: "idp_1".into(),
            tenant_id: "tnt_1".into(),
            partner_id: "ptn_1".into(),
            kind: "oidc".into(),
            name: "Upstream".into(),
            domains: vec![],
            config: Map::new(),
            jit_provisioning: true,
            attribute_mapping: mapping.as_object().cloned().unwrap_or_default(),
            sync_schedule: None,
            trust_email_for_linking: false,
            trust_upstream_mfa: false,
            created_at: now,
            updated_at: now,
        }
    }

    fn identity(claims: Value) -> UpstreamIdentity {
        UpstreamIdentity {
            external_id: "sub-1".into(),
            claims: claims.as_object().cloned().unwrap_or_default(),
            email: None,
            email_verified: true,
            amr: vec![],
            groups: vec![],
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let claims = json!({"preferred_username": "ada", "email": "ada@acme.test", "name": "Ada L",
                            "given_name": "Ada", "dept": "R&D", "emp": 42});
        let a = attributes(&idp(json!({})), &identity(claims.clone()));
        assert_eq!(a.user_name.as_deref(), Some("ada"));
        assert_eq!(a.email, Some(Some("ada@acme.test".into())));
        assert_eq!(a.display_name, Some(Some("Ada L".into())));
        assert_eq!(a.email_verified, Some(true));
        let a = attributes(
            &idp(json!({"user_name": "email", "department": "dept", "custom_attributes.badge": "emp"})),
            &identity(claims),
        );
        assert_eq!(a.user_name.as_deref(), Some("ada@acme.test"));
        assert_eq!(a.department, Some(Some("R&D".into())));
        assert_eq!(a.custom_attributes.unwrap()["badge"], "42");
    }

    #[test]
    fn the_external_id_names_a_user_without_username_claims() {
        let a = attributes(&idp(json!({})), &identity(json!({"sub": "sub-1"})));
        assert_eq!(a.user_name.as_deref(), Some("sub-1"));
        assert!(a.email.is_none());
    }
}
