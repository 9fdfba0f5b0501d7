//! SCIM discovery (RFC 7644 §4, RFC 7643 §5–7): ServiceProviderConfig,
//! ResourceTypes and Schemas, describing exactly what this server does.

use scaikey_scim::schemas::{
    AD_USER, ENTERPRISE_USER, GROUP, LIST_RESPONSE, RESOURCE_TYPE, SCHEMA, SERVICE_PROVIDER_CONFIG, USER,
};
use serde_json::{Value, json};

use super::service::MAX_COUNT;

pub const BULK_MAX_OPERATIONS: usize = 100;
pub const BULK_MAX_PAYLOAD: usize = 1024 * 1024;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": format!("{base}/ServiceProviderConfig"),
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": BULK_MAX_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true,
            "description": "A tenant SCIM token, or an access token with scim:read / scim:write"
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE], "id": "User", "name": "User", "endpoint": "/Users",
            "description": "User Account", "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}, {"schema": AD_USER, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [RESOURCE_TYPE], "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "Group", "schema": GROUP, "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

/// One attribute definition (RFC 7643 §7).
fn attr(
    name: &str,
    kind: &str,
    multi: bool,
    required: bool,
    mutability: &str,
    returned: &str,
    uniqueness: &str,
) -> Value {
    json!({"name": name, "type": kind, "multiValued": multi, "description": name, "required": required,
           "caseExact": false, "mutability": mutability, "returned": returned, "uniqueness": uniqueness})
}

fn s(name: &str) -> Value {
    attr(name, "string", false, false, "readWrite", "default", "none")
}

fn with_subs(mut a: Value, subs: Vec<Value>) -> Value {
    if let Some(o) = a.as_object_mut() {
        o.insert("subAttributes".into(), Value::Array(subs));
    }
    a
}

fn multi(name: &str, subs: Vec<Value>) -> Value {
    with_subs(attr(name, "complex", true, false, "readWrite", "default", "none"), subs)
}

fn typed_value() -> Vec<Value> {
    vec![s("value"), s("type"), attr("primary", "boolean", false, false, "readWrite", "default", "none")]
}

fn reference(name: &str, types: &[&str], mutability: &str) -> Value {
    let mut a = attr(name, "reference", false, false, mutability, "default", "none");
    if let Some(o) = a.as_object_mut() {
        o.insert("referenceTypes".into(), json!(types));
    }
    a
}

fn canonical(mut a: Value, values: &[&str]) -> Value {
    if let Some(o) = a.as_object_mut() {
        o.insert("canonicalValues".into(), json!(values));
    }
    a
}

fn schema(id: &str, name: &str, attributes: Vec<Value>, base: &str) -> Value {
    json!({"schemas": [SCHEMA], "id": id, "name": name, "description": name, "attributes": attributes,
           "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}})
}

pub fn schemas(base: &str) -> Vec<Value> {
    let mut user_name = attr("userName", "string", false, true, "readWrite", "default", "server");
    if let Some(o) = user_name.as_object_mut() {
        o.insert("caseExact".into(), json!(false));
    }
    let user = vec![
        user_name,
        with_subs(
            attr("name", "complex", false, false, "readWrite", "default", "none"),
            vec![s("familyName"), s("givenName")],
        ),
        s("displayName"),
        s("title"),
        s("userType"),
        s("preferredLanguage"),
        // A read-only mirror of preferredLanguage: ScaiKey keeps one locale.
        attr("locale", "string", false, false, "readOnly", "default", "none"),
        s("timezone"),
        // Required: an account is active or not, it cannot be unassigned.
        attr("active", "boolean", false, true, "readWrite", "default", "none"),
        attr("password", "string", false, false, "writeOnly", "never", "none"),
        multi("emails", typed_value()),
        multi("phoneNumbers", typed_value()),
        multi(
            "addresses",
            vec![
                s("formatted"),
                s("streetAddress"),
                s("locality"),
                s("region"),
                s("postalCode"),
                s("country"),
                s("type"),
                attr("primary", "boolean", false, false, "readWrite", "default", "none"),
            ],
        ),
        with_subs(
            attr("groups", "complex", true, false, "readOnly", "default", "none"),
            vec![
                attr("value", "string", false, false, "readOnly", "default", "none"),
                reference("$ref", &["Group"], "readOnly"),
                attr("display", "string", false, false, "readOnly", "default", "none"),
                canonical(attr("type", "string", false, false, "readOnly", "default", "none"), &["direct", "indirect"]),
            ],
        ),
    ];
    let enterprise = vec![
        s("employeeNumber"),
        s("organization"),
        s("department"),
        with_subs(
            attr("manager", "complex", false, false, "readWrite", "default", "none"),
            vec![
                s("value"),
                reference("$ref", &["User"], "readWrite"),
                attr("displayName", "string", false, false, "readOnly", "default", "none"),
            ],
        ),
    ];
    let ad = vec![
        s("sAMAccountName"),
        attr("userPrincipalName", "string", false, false, "readOnly", "request", "none"),
        attr("objectGUID", "string", false, false, "readOnly", "default", "none"),
        attr("distinguishedName", "string", false, false, "readOnly", "default", "none"),
        s("organizationalUnit"),
    ];
    let group = vec![
        attr("displayName", "string", false, true, "readWrite", "default", "server"),
        with_subs(
            attr("members", "complex", true, false, "readWrite", "default", "none"),
            vec![
                attr("value", "string", false, false, "immutable", "default", "none"),
                reference("$ref", &["User", "Group"], "immutable"),
                canonical(attr("type", "string", false, false, "immutable", "default", "none"), &["User", "Group"]),
            ],
        ),
    ];
    vec![
        schema(USER, "User", user, base),
        schema(ENTERPRISE_USER, "EnterpriseUser", enterprise, base),
        schema(AD_USER, "ActiveDirectoryUser", ad, base),
        schema(GROUP, "Group", group, base),
    ]
}

/// Discovery lists are ListResponses (RFC 7644 §4).
pub fn list(items: Vec<Value>) -> Value {
    json!({"schemas": [LIST_RESPONSE], "totalResults": items.len(), "startIndex": 1, "itemsPerPage": items.len(), "Resources": items})
}
