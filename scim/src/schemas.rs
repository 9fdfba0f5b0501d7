//! Schema and message URNs (RFC 7643 §8.7, RFC 7644 §3) plus ScaiKey's AD
//! extension. Every SCIM body names its schemas with these; compare URNs
//! case-insensitively (RFC 7643 §2.1) with [`urn_eq`].

/// Core User resource (RFC 7643 §4.1).
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group resource (RFC 7643 §4.2).
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// ScaiKey's Active Directory User extension: `sAMAccountName`,
/// `userPrincipalName`, `objectGUID`, `distinguishedName`,
/// `organizationalUnit`.
pub const AD_USER: &str = "urn:scailabs:params:scim:schemas:extension:ad:2.0:User";
/// Service provider configuration (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// Resource type description (RFC 7643 §6).
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema description (RFC 7643 §7).
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// List / query response (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Query by POST to `/.search` (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// PATCH request (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Bulk request (RFC 7644 §3.7).
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// Bulk response (RFC 7644 §3.7).
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Error response (RFC 7644 §3.12).
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Whether two schema URNs are the same (URNs compare case-insensitively).
pub fn urn_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_are_well_formed() {
        for urn in [
            USER,
            GROUP,
            ENTERPRISE_USER,
            AD_USER,
            SERVICE_PROVIDER_CONFIG,
            RESOURCE_TYPE,
            SCHEMA,
            LIST_RESPONSE,
            SEARCH_REQUEST,
            PATCH_OP,
            BULK_REQUEST,
            BULK_RESPONSE,
            ERROR,
        ] {
            assert!(urn.starts_with("urn:") && urn.contains(":2.0:"), "{urn}");
            assert!(!urn.contains(char::is_whitespace));
        }
        assert!(urn_eq(USER, "urn:ietf:params:scim:schemas:core:2.0:user"));
        assert!(!urn_eq(USER, GROUP));
    }
}
