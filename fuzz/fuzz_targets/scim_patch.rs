//! SCIM PATCH end to end, as `PATCH /Users/{id}` and `PATCH /Groups/{id}` do
//! it (src/scim_server/service.rs): bytes → JSON → `parse_patch` →
//! `apply_patch` on a fixed resource, shaped like `users::render` /
//! `groups::render` output, with the server's read-only list → `users::parse`
//! / `groups::parse`. Never panics, and:
//!
//! 1. every rejection is a 4xx `ScimError` (never 5xx);
//! 2. `apply_patch` is atomic: on error the resource is unchanged;
//! 3. on success the read-only attributes (`id`, `meta`, `groups`, under
//!    any key case) are exactly as before, and `schemas` only grew by the
//!    URNs of extension objects the patch created.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scaikey_scim::ScimError;
use scaikey_scim::patch::{apply_patch, parse_patch};
use serde_json::{Map, Value};

/// As in src/scim_server/service.rs.
const READ_ONLY: &[&str] = &["id", "meta", "groups", "schemas"];

/// Every attribute `users::render` can emit (`locale` mirrors
/// `preferredLanguage`), with realistic values.
const SAMPLE_USER: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
              "urn:scailabs:params:scim:schemas:extension:ad:2.0:User"],
  "id": "usr_0k3j5d9x2a7f8g9h1j2k3l4m5n",
  "externalId": "4f1e2d3c-aaaa-bbbb-cccc-0123456789ab",
  "userName": "bjensen@example.com",
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "displayName": "Babs Jensen",
  "title": "Tour Guide",
  "userType": "Employee",
  "preferredLanguage": "en-US",
  "locale": "en-US",
  "timezone": "America/Los_Angeles",
  "active": true,
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
             {"value": "babs@jensen.org", "type": "home", "primary": false}],
  "phoneNumbers": [{"value": "555-555-5555", "type": "work", "primary": false},
                   {"value": "555-555-4444", "type": "mobile", "primary": false}],
  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                 "region": "CA", "postalCode": "91608", "country": "US",
                 "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true}],
  "groups": [{"value": "grp_0k3j5d9x2a00000000000000aa", "display": "Tour Guides",
              "$ref": "https://id.example.com/t/acme/scim/v2/Groups/grp_0k3j5d9x2a00000000000000aa",
              "type": "direct"},
             {"value": "grp_0k3j5d9x2a00000000000000bb", "display": "Employees",
              "$ref": "https://id.example.com/t/acme/scim/v2/Groups/grp_0k3j5d9x2a00000000000000bb",
              "type": "indirect"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "department": "Tour Operations", "organization": "Universal Studios",
    "manager": {"value": "usr_0k3j5d9x2a000000000000000m",
                "$ref": "https://id.example.com/t/acme/scim/v2/Users/usr_0k3j5d9x2a000000000000000m"}
  },
  "urn:scailabs:params:scim:schemas:extension:ad:2.0:User": {
    "sAMAccountName": "bjensen", "organizationalUnit": "ou_0k3j5d9x2a0000000000000000"
  },
  "meta": {"resourceType": "User", "created": "2026-01-23T04:56:22Z", "lastModified": "2026-05-01T12:00:00.5Z",
           "location": "https://id.example.com/t/acme/scim/v2/Users/usr_0k3j5d9x2a7f8g9h1j2k3l4m5n",
           "version": "W/\"1777636800500000\""}
}"#;

/// A freshly provisioned user: `users::render` with only the required
/// attributes (no extension objects, so a patch may create them).
const MINIMAL_USER: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "id": "usr_0k3j5d9x2a000000000000001a",
  "userName": "new.hire@example.com",
  "active": true,
  "meta": {"resourceType": "User", "created": "2026-05-01T12:00:00Z", "lastModified": "2026-05-01T12:00:00Z",
           "location": "https://id.example.com/t/acme/scim/v2/Users/usr_0k3j5d9x2a000000000000001a",
           "version": "W/\"1777636800000000\""}
}"#;

/// Every attribute `groups::render` can emit.
const SAMPLE_GROUP: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "grp_0k3j5d9x2a00000000000000aa",
  "externalId": "e9e30dba-f08f-4109-8486-d5c6a331660a",
  "displayName": "Tour Guides",
  "members": [{"value": "usr_0k3j5d9x2a7f8g9h1j2k3l4m5n", "type": "User",
               "$ref": "https://id.example.com/t/acme/scim/v2/Users/usr_0k3j5d9x2a7f8g9h1j2k3l4m5n"},
              {"value": "grp_0k3j5d9x2a00000000000000bb", "type": "Group",
               "$ref": "https://id.example.com/t/acme/scim/v2/Groups/grp_0k3j5d9x2a00000000000000bb"}],
  "meta": {"resourceType": "Group", "created": "2026-01-23T04:56:22Z", "lastModified": "2026-05-01T12:00:00Z",
           "location": "https://id.example.com/t/acme/scim/v2/Groups/grp_0k3j5d9x2a00000000000000aa",
           "version": "W/\"1777636800000000\""}
}"#;

fn object(json: &str) -> Map<String, Value> {
    match serde_json::from_str(json) {
        Ok(Value::Object(m)) => m,
        other => panic!("sample resource is not a JSON object: {other:?}"),
    }
}

/// Each sample resource, and whether it is a user.
fn samples() -> &'static [(Map<String, Value>, bool)] {
    static S: OnceLock<Vec<(Map<String, Value>, bool)>> = OnceLock::new();
    S.get_or_init(|| vec![(object(SAMPLE_USER), true), (object(MINIMAL_USER), true), (object(SAMPLE_GROUP), false)])
}

/// The entries of `m` whose key is a read-only attribute, in any case;
/// `schemas` apart.
fn read_only_part(m: &Map<String, Value>) -> Vec<(String, Value)> {
    m.iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas") && READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `schemas` may only grow by the URN of an extension object the patch
/// created (apply_patch keeps the list in step with the resource).
fn check_schemas(before: &Map<String, Value>, after: &Map<String, Value>, input: &[u8]) {
    let list = |m: &Map<String, Value>| -> Vec<(String, Value)> {
        m.iter().filter(|(k, _)| k.eq_ignore_ascii_case("schemas")).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let (old, new) = (list(before), list(after));
    let grown = match (old.as_slice(), new.as_slice()) {
        ([(ko, Value::Array(o))], [(kn, Value::Array(n))]) if ko == kn && n.starts_with(o) => n.get(o.len()..),
        _ => None,
    };
    let ok = grown.is_some_and(|added| {
        added.iter().all(|u| {
            u.as_str().is_some_and(|u| {
                let is_key = |m: &Map<String, Value>| m.keys().any(|k| k.eq_ignore_ascii_case(u));
                !is_key(before) && after.iter().any(|(k, v)| k.eq_ignore_ascii_case(u) && v.is_object())
            })
        })
    });
    assert!(
        ok,
        "schemas changed beyond a created extension: {old:?} -> {new:?}\ninput: {:?}",
        String::from_utf8_lossy(input)
    );
}

fn client_error(e: &ScimError, stage: &str, input: &[u8]) {
    assert!(
        (400..500).contains(&e.status),
        "{stage} failed with a non-4xx error: {e:?}\ninput: {:?}",
        String::from_utf8_lossy(input)
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let ops = match parse_patch(&body) {
        Ok(ops) => ops,
        Err(e) => return client_error(&e, "parse_patch", data),
    };

    for (resource, is_user) in samples() {
        let mut patched = resource.clone();
        match apply_patch(&mut patched, &ops, READ_ONLY) {
            Err(e) => {
                client_error(&e, "apply_patch", data);
                assert!(&patched == resource, "apply_patch failed but changed the resource: {e:?}");
                continue;
            }
            Ok(()) => {
                assert_eq!(
                    read_only_part(&patched),
                    read_only_part(resource),
                    "a read-only attribute changed\ninput: {:?}",
                    String::from_utf8_lossy(data)
                );
                check_schemas(resource, &patched, data);
            }
        }
        let parsed = if *is_user {
            scaikey::scim_server::users::parse(&patched).map(drop)
        } else {
            scaikey::scim_server::groups::parse(&patched).map(drop)
        };
        if let Err(e) = parsed {
            client_error(&e, if *is_user { "users::parse" } else { "groups::parse" }, data);
        }
    }
});
