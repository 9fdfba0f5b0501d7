//! PATCH parsing and application tests, replaying RFC 7644 §3.5.2
//! examples and the request shapes Entra ID and Okta send.

use super::*;
use crate::ScimType;
use serde_json::json;

const RO: &[&str] = &["id", "meta", "groups"];
const ENT: &str = schemas::ENTERPRISE_USER;

fn user() -> Map<String, Value> {
    json!({
        "schemas": [schemas::USER],
        "id": "u1",
        "userName": "bjensen",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "groups": [{"value": "g1"}],
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
    .as_object()
    .unwrap()
    .clone()
}

fn group() -> Map<String, Value> {
    json!({
        "schemas": [schemas::GROUP],
        "id": "g1",
        "displayName": "Tour Guides",
        "members": [{"value": "u1", "display": "One"}, {"value": "u2"}, {"value": "u3"}],
        "meta": {"resourceType": "Group"}
    })
    .as_object()
    .unwrap()
    .clone()
}

fn body(ops: Value) -> Value {
    json!({"schemas": [schemas::PATCH_OP], "Operations": ops})
}

/// Parses and applies `ops` to `res`, returning the result.
fn patch(mut res: Map<String, Value>, ops: Value) -> Result<Map<String, Value>, ScimError> {
    let ops = parse_patch(&body(ops))?;
    apply_patch(&mut res, &ops, RO)?;
    Ok(res)
}

fn ok(res: Map<String, Value>, ops: Value) -> Map<String, Value> {
    patch(res, ops).unwrap_or_else(|e| panic!("{e}"))
}

fn err(res: Map<String, Value>, ops: Value) -> ScimType {
    patch(res, ops).unwrap_err().scim_type.unwrap()
}

// ---- parsing ----

#[test]
fn parses_paths() {
    let p = PatchPath::parse(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p.attr, AttrPath::simple("emails"));
    assert_eq!(p.sub_attr.as_deref(), Some("value"));
    assert_eq!(p.filter.as_ref().unwrap().as_simple_eq(), Some(("type", &json!("work"))));
    assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);
    let p = PatchPath::parse(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap();
    assert_eq!(p.attr.attr, "members");
    assert!(p.sub_attr.is_none());
    let p = PatchPath::parse("name.familyName").unwrap();
    assert_eq!(p, PatchPath { attr: AttrPath::with_sub("name", "familyName"), filter: None, sub_attr: None });
    let p = PatchPath::parse(&format!("{ENT}:manager")).unwrap();
    assert_eq!(p.attr.schema.as_deref(), Some(ENT));
    let p = PatchPath::parse(r#"addresses[type eq "work"].streetAddress"#).unwrap();
    assert_eq!(p.sub_attr.as_deref(), Some("streetAddress"));
    let p = PatchPath::parse(r#"emails[type eq "work" and value ew "example.com"]"#).unwrap();
    assert!(matches!(p.filter, Some(Filter::And(..))));
    assert!(PatchPath::parse(r#"emails[not(type eq "work")]"#).is_ok());
    for bad in ["", "emails[", r#"emails[type eq "work"]value"#, "a.b.c", r#"name.x[type eq "a"]"#, "emails]"] {
        assert_eq!(PatchPath::parse(bad).unwrap_err().scim_type, Some(ScimType::InvalidPath), "{bad:?}");
    }
}

#[test]
fn parses_bodies() {
    let ops = parse_patch(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp", "urn:example:extra"],
        "Operations": [
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "replace", "value": {"active": false}},
            {"op": "REMOVE", "path": "title"},
            {"op": "Replace", "path": "", "value": {"title": "x"}}
        ]
    }))
    .unwrap();
    assert_eq!(ops.len(), 4);
    assert_eq!(ops[0].op, PatchOpKind::Add);
    assert_eq!(ops[1].op, PatchOpKind::Replace);
    assert!(ops[1].path.is_none());
    assert_eq!(ops[2].op, PatchOpKind::Remove);
    assert!(ops[3].path.is_none(), "an empty path counts as none");
    // Lower-case schema URN still matches.
    assert!(
        parse_patch(
            &json!({"schemas": [schemas::PATCH_OP.to_lowercase()], "Operations": [{"op": "remove", "path": "x"}]})
        )
        .is_ok()
    );
}

#[test]
fn rejects_bad_bodies() {
    let e = |v: Value| parse_patch(&v).unwrap_err().scim_type.unwrap();
    assert_eq!(e(json!([])), ScimType::InvalidSyntax);
    assert_eq!(e(json!({"Operations": [{"op": "add", "path": "x", "value": 1}]})), ScimType::InvalidSyntax);
    assert_eq!(e(json!({"schemas": [schemas::USER], "Operations": []})), ScimType::InvalidSyntax);
    assert_eq!(e(json!({"schemas": [schemas::PATCH_OP]})), ScimType::InvalidSyntax);
    assert_eq!(e(body(json!([]))), ScimType::InvalidValue);
    assert_eq!(e(body(json!([{"op": "move", "path": "x"}]))), ScimType::InvalidSyntax);
    assert_eq!(e(body(json!([{"path": "x"}]))), ScimType::InvalidSyntax);
    assert_eq!(e(body(json!(["add"]))), ScimType::InvalidSyntax);
    assert_eq!(e(body(json!([{"op": "remove"}]))), ScimType::NoTarget);
    assert_eq!(e(body(json!([{"op": "remove", "path": ""}]))), ScimType::NoTarget);
    assert_eq!(e(body(json!([{"op": "add", "path": "x"}]))), ScimType::InvalidValue);
    assert_eq!(e(body(json!([{"op": "replace", "value": "x"}]))), ScimType::InvalidValue);
    assert_eq!(e(body(json!([{"op": "add", "path": "x[", "value": 1}]))), ScimType::InvalidPath);
    assert_eq!(e(body(json!([{"op": "add", "path": 5, "value": 1}]))), ScimType::InvalidPath);
    let many: Vec<Value> = (0..=MAX_PATCH_OPERATIONS).map(|_| json!({"op": "remove", "path": "x"})).collect();
    assert_eq!(e(body(Value::Array(many))), ScimType::InvalidValue);
}

// ---- RFC 7644 §3.5.2 semantics ----

#[test]
fn add_single_and_multi_valued() {
    let u = ok(user(), json!([{"op": "add", "path": "nickName", "value": "Babs"}]));
    assert_eq!(u["nickName"], "Babs");
    // Add to multi-valued appends, single value or array, skipping duplicates.
    let u = ok(
        user(),
        json!([
            {"op": "add", "path": "emails", "value": [{"value": "b@home.org", "type": "home"}]},
            {"op": "add", "path": "emails", "value": {"value": "b@example.com", "type": "work", "primary": true}},
            {"op": "add", "path": "phoneNumbers", "value": {"value": "555", "type": "work"}}
        ]),
    );
    assert_eq!(u["emails"].as_array().unwrap().len(), 2);
    assert_eq!(u["phoneNumbers"], json!([{"value": "555", "type": "work"}]));
    // A new primary clears the old one.
    let u = ok(user(), json!([{"op": "add", "path": "emails", "value": [{"value": "n@x", "primary": true}]}]));
    assert_eq!(u["emails"][0]["primary"], false);
    assert_eq!(u["emails"][1]["primary"], true);
    // Complex single-valued add merges sub-attributes.
    let u = ok(user(), json!([{"op": "add", "path": "name", "value": {"middleName": "J"}}]));
    assert_eq!(u["name"], json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"}));
    let u = ok(user(), json!([{"op": "add", "path": "name.honorificPrefix", "value": "Ms."}]));
    assert_eq!(u["name"]["honorificPrefix"], "Ms.");
    // Case-insensitive names keep the existing key's spelling.
    let u = ok(user(), json!([{"op": "add", "path": "USERNAME", "value": "b2"}]));
    assert_eq!(u["userName"], "b2");
    assert!(!u.contains_key("USERNAME"));
}

#[test]
fn group_member_add_skips_existing() {
    // Okta: add members that may already be there (with or without display).
    let g = ok(
        group(),
        json!([{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2", "display": "Two"}, {"value": "u4"}]}]),
    );
    let values: Vec<&str> = g["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["u1", "u2", "u3", "u4"]);
}

#[test]
fn replace_semantics() {
    // Single-valued set; complex merge; multi-valued whole replacement.
    let u = ok(
        user(),
        json!([
            {"op": "replace", "path": "userName", "value": "bj"},
            {"op": "replace", "path": "name", "value": {"givenName": "Babs"}},
            {"op": "replace", "path": "emails", "value": [{"value": "new@x", "type": "work"}]}
        ]),
    );
    assert_eq!(u["userName"], "bj");
    assert_eq!(u["name"], json!({"givenName": "Babs", "familyName": "Jensen"}));
    assert_eq!(u["emails"], json!([{"value": "new@x", "type": "work"}]));
    // Filter: replace matching elements or their sub-attribute.
    let u = ok(user(), json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x"}]));
    assert_eq!(u["emails"], json!([{"value": "w@x", "type": "work", "primary": true}]));
    let u = ok(
        user(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "z@x", "type": "work"}}]),
    );
    assert_eq!(u["emails"], json!([{"value": "z@x", "type": "work"}]));
    // No match without a sub-attribute: noTarget.
    assert_eq!(
        err(user(), json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x"}}])),
        ScimType::NoTarget
    );
    assert_eq!(
        err(
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"home\" or primary eq false].value", "value": "h@x"}])
        ),
        ScimType::NoTarget
    );
    // Replace with null unassigns.
    let u = ok(user(), json!([{"op": "replace", "path": "name.familyName", "value": null}]));
    assert_eq!(u["name"], json!({"givenName": "Barbara"}));
}

#[test]
fn remove_semantics() {
    let u = ok(user(), json!([{"op": "remove", "path": "name.familyName"}, {"op": "remove", "path": "active"}]));
    assert_eq!(u["name"], json!({"givenName": "Barbara"}));
    assert!(!u.contains_key("active"));
    // Whole multi-valued attribute → empty array.
    let u = ok(user(), json!([{"op": "remove", "path": "emails"}]));
    assert_eq!(u["emails"], json!([]));
    // Sub-attribute of filtered elements.
    let u = ok(user(), json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
    assert_eq!(u["emails"], json!([{"value": "b@example.com", "type": "work"}]));
    // Absent targets are fine (idempotent retries).
    let u = ok(
        user(),
        json!([{"op": "remove", "path": "title"}, {"op": "remove", "path": "x509Certificates[value eq \"x\"]"}]),
    );
    assert_eq!(u, user());
    let u = ok(user(), json!([{"op": "remove", "path": format!("{ENT}:manager")}]));
    assert_eq!(u, user());
}

#[test]
fn read_only_attributes() {
    for op in [
        json!({"op": "replace", "path": "id", "value": "x"}),
        json!({"op": "remove", "path": "meta"}),
        json!({"op": "add", "path": "groups", "value": [{"value": "g2"}]}),
        json!({"op": "remove", "path": "groups[value eq \"g1\"]"}),
        json!({"op": "replace", "path": "meta.version", "value": "x"}),
        json!({"op": "replace", "value": {"id": "other"}}),
    ] {
        assert_eq!(err(user(), json!([op])), ScimType::Mutability, "{op}");
    }
    // The caller decides what is read-only.
    let mut u = user();
    let ops = parse_patch(&body(json!([{"op": "replace", "path": "id", "value": "x"}]))).unwrap();
    apply_patch(&mut u, &ops, &[]).unwrap();
    assert_eq!(u["id"], "x");
    // URN-qualified read-only names.
    let ops =
        parse_patch(&body(json!([{"op": "add", "path": format!("{ENT}:employeeNumber"), "value": "1"}]))).unwrap();
    let e = apply_patch(&mut user(), &ops, &[&format!("{ENT}:employeeNumber")]).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
}

#[test]
fn atomic_on_error() {
    let mut u = user();
    let ops = parse_patch(&body(json!([
        {"op": "replace", "path": "userName", "value": "changed"},
        {"op": "replace", "path": "id", "value": "x"}
    ])))
    .unwrap();
    assert!(apply_patch(&mut u, &ops, RO).is_err());
    assert_eq!(u, user());
}

// ---- Entra ID shapes ----

#[test]
fn entra_capitalised_ops_and_string_booleans() {
    let u = ok(
        user(),
        json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "displayName", "value": "Babs"},
        ]),
    );
    assert_eq!(u["active"], "False", "the server converts the string");
    assert_eq!(u["displayName"], "Babs");
}

#[test]
fn entra_manager_as_bare_string() {
    let u = ok(user(), json!([{"op": "Add", "path": format!("{ENT}:manager"), "value": "m-42"}]));
    assert_eq!(u[ENT], json!({"manager": {"value": "m-42"}}));
    assert!(u["schemas"].as_array().unwrap().contains(&json!(ENT)), "extension URN listed");
    let u = ok(u, json!([{"op": "Replace", "path": format!("{ENT}:manager"), "value": "m-43"}]));
    assert_eq!(u[ENT]["manager"]["value"], "m-43");
    let u = ok(u, json!([{"op": "Replace", "path": format!("{ENT}:manager"), "value": ""}]));
    assert_eq!(u[ENT], json!({}));
    let u = ok(u, json!([{"op": "Add", "path": format!("{ENT}:employeeNumber"), "value": "701984"}]));
    assert_eq!(u[ENT]["employeeNumber"], "701984");
    let u = ok(u, json!([{"op": "Remove", "path": format!("{ENT}:employeeNumber")}]));
    assert_eq!(u[ENT], json!({}));
}

#[test]
fn entra_filtered_sub_attribute_creates_the_element() {
    let mut u = user();
    u.remove("emails");
    let u = ok(
        u,
        json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@x"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"}
        ]),
    );
    assert_eq!(u["emails"], json!([{"type": "work", "value": "w@x"}]));
    assert_eq!(u["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555"}]));
    assert_eq!(u["addresses"], json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}]));
    // Existing element: updated in place.
    let u = ok(u, json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w2@x"}]));
    assert_eq!(u["emails"], json!([{"type": "work", "value": "w2@x"}]));
    // Add with a filter and an object value creates from the filter too.
    let u = ok(u, json!([{"op": "Add", "path": "emails[type eq \"home\"]", "value": {"value": "h@x"}}]));
    assert_eq!(u["emails"][1], json!({"type": "home", "value": "h@x"}));
}

#[test]
fn entra_member_removal_shapes() {
    let g = ok(group(), json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u3"}]}]));
    assert_eq!(g["members"], json!([{"value": "u2"}]));
    let g = ok(group(), json!([{"op": "Remove", "path": "members[value eq \"u2\"]"}]));
    assert_eq!(g["members"], json!([{"value": "u1", "display": "One"}, {"value": "u3"}]));
    // Removing a member that is not there succeeds.
    let g = ok(group(), json!([{"op": "Remove", "path": "members[value eq \"nobody\"]"}]));
    assert_eq!(g, group());
    let g = ok(group(), json!([{"op": "Remove", "path": "members", "value": [{"value": "nobody"}]}]));
    assert_eq!(g, group());
    // Entra's add shape.
    let g = ok(group(), json!([{"op": "Add", "path": "members", "value": [{"value": "u9"}]}]));
    assert_eq!(g["members"].as_array().unwrap().len(), 4);
}

// ---- Okta shapes ----

#[test]
fn okta_pathless_replace_active() {
    let g_user = ok(user(), json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(g_user["active"], false);
    let mut expected = user();
    expected.insert("active".into(), json!(false));
    assert_eq!(g_user, expected, "nothing else changes");
}

#[test]
fn okta_group_rename_with_id() {
    let g = ok(group(), json!([{"op": "replace", "value": {"id": "g1", "displayName": "Guides"}}]));
    assert_eq!(g["displayName"], "Guides");
    assert_eq!(g["members"], group()["members"], "members untouched");
    assert_eq!(g["id"], "g1");
}

#[test]
fn pathless_replace_without_members_keeps_members() {
    let g = ok(group(), json!([{"op": "replace", "value": {"displayName": "X", "externalId": "e"}}]));
    assert_eq!(g["members"].as_array().unwrap().len(), 3);
    // With members present, they are replaced (RFC).
    let g = ok(group(), json!([{"op": "replace", "value": {"members": [{"value": "u7"}]}}]));
    assert_eq!(g["members"], json!([{"value": "u7"}]));
}

#[test]
fn pathless_keys_dotted_urn_and_extension_objects() {
    let u = ok(
        user(),
        json!([{"op": "replace", "value": {
            "name.givenName": "B",
            "urn:ietf:params:scim:schemas:core:2.0:User:nickName": "Babs",
            format!("{ENT}:department"): "Tour Operations",
            ENT: {"employeeNumber": "7", "manager": {"value": "m1"}},
            schemas::AD_USER: {"sAMAccountName": "bjensen"},
            "schemas": ["ignored"]
        }}]),
    );
    assert_eq!(u["name"]["givenName"], "B");
    assert_eq!(u["nickName"], "Babs");
    assert_eq!(u[ENT], json!({"department": "Tour Operations", "employeeNumber": "7", "manager": {"value": "m1"}}));
    assert_eq!(u[schemas::AD_USER], json!({"sAMAccountName": "bjensen"}));
    assert_eq!(u["schemas"], json!([schemas::USER, ENT, schemas::AD_USER]));
    // Path-less add appends to multi-valued attributes.
    let u = ok(user(), json!([{"op": "add", "value": {"emails": [{"value": "h@x", "type": "home"}], "title": "T"}}]));
    assert_eq!(u["emails"].as_array().unwrap().len(), 2);
    assert_eq!(u["title"], "T");
    // Core schema URN as a key: its attributes are top-level.
    let u = ok(user(), json!([{"op": "replace", "value": {schemas::USER: {"title": "Dr"}}}]));
    assert_eq!(u["title"], "Dr");
    // The extension URN as a path.
    let u = ok(user(), json!([{"op": "add", "path": ENT, "value": {"costCenter": "4130"}}]));
    assert_eq!(u[ENT], json!({"costCenter": "4130"}));
    // Keys that are not attribute names.
    assert_eq!(err(user(), json!([{"op": "replace", "value": {"bad key": 1}}])), ScimType::InvalidValue);
}

#[test]
fn type_mismatches_are_errors_not_panics() {
    assert_eq!(
        err(user(), json!([{"op": "add", "path": "userName[type eq \"x\"].value", "value": "v"}])),
        ScimType::InvalidPath
    );
    assert_eq!(err(user(), json!([{"op": "add", "path": "userName.sub", "value": "v"}])), ScimType::InvalidPath);
    let mut u = user();
    u.insert(ENT.into(), json!("not an object"));
    assert_eq!(err(u, json!([{"op": "add", "path": format!("{ENT}:manager"), "value": "m"}])), ScimType::InvalidValue);
    assert_eq!(
        err(user(), json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": "scalar"}])),
        ScimType::InvalidValue
    );
}
