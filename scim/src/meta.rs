//! Resource metadata (RFC 7643 §3.1): `meta.resourceType`, `created`,
//! `lastModified` (RFC 3339 date-times, kept as text so this crate needs no
//! time library), `location` and `version` (an ETag such as `W/"3"`, the
//! value `If-Match` is compared with). All are server-assigned and
//! read-only; absent ones are omitted.

use serde::{Deserialize, Serialize};

/// The `meta` attribute of a SCIM resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// `User`, `Group`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// When the resource was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When the resource last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The resource's canonical URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The resource's ETag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_camel_case() {
        let meta = Meta {
            resource_type: Some("User".into()),
            created: Some("2010-01-23T04:56:22Z".into()),
            last_modified: Some("2011-05-13T04:42:34Z".into()),
            location: Some("https://example.com/scim/v2/tenants/acme/Users/usr_1".into()),
            version: Some("W/\"3694e05e9dff590\"".into()),
        };
        let v = serde_json::to_value(&meta).unwrap();
        assert_eq!(
            v,
            json!({
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "location": "https://example.com/scim/v2/tenants/acme/Users/usr_1",
                "version": "W/\"3694e05e9dff590\""
            })
        );
        assert_eq!(serde_json::from_value::<Meta>(v).unwrap(), meta);
    }

    #[test]
    fn omits_absent_fields() {
        let meta = Meta { resource_type: Some("Group".into()), ..Meta::default() };
        assert_eq!(serde_json::to_value(&meta).unwrap(), json!({"resourceType": "Group"}));
        assert_eq!(serde_json::from_value::<Meta>(json!({})).unwrap(), Meta::default());
    }
}
