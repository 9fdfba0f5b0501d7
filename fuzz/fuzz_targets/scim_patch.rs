//! SCIM PATCH end to end, as `PATCH /Users/{id}` and `PATCH /Groups/{id}` do
//! it (src/scim_server/service.rs): bytes → JSON → `parse_patch` →
//! `apply_patch` on a fixed resource, shaped like `users::render` /
//! `groups::render` output, with the server's read-only list → `users::parse`
//! / `groups::parse`. Never panics, and:
//!
//! 1. every rejection is a 4xx `ScimError` (never 5xx);
//! 2. `apply_patch` is atomic: on error the resource is unchanged;
//! 3. on success the read-only attributes (`id`, `meta`, `groups`,
//!    `schemas`, under any key case) are exactly as before.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scaikey_scim::ScimError;
use scaikey_scim::patch::{apply_patch, parse_patch};
use serde_json::{Map, Value};

/// As in src/scim_server/service.rs.
const READ_ONLY: &[&str] = &["id", "meta", "groups", "schemas"];

/// Every attribute `users::render` can emit, with realistic values.
const SAMPLE_USER: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
              "urn:scailabs:params:scim:schemas:extension:ad:2.0:User"],
  "id": "usr_0k3j5d9x2a7f8g9h1j2k3l4m5n",
  "externalId": "4f1e2d3c-aaaa-bbbb-cccc-0123456789ab",
  "userName": "bjensen@example.com",
  "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
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
    "sAMAccountName": "bjensen", "userPrincipalName": "bjensen@example.com",
    "organizationalUnit": "ou_0k3j5d9x2a0000000000000000"
  },
  "meta": {"resourceType": "User", "created": "2026-01-23T04:56:22Z", "lastModified": "2026-05-01T12:00:00.5Z",
           "location": "https://id.example.com/t/acme/scim/v2/Users/usr_0k3j5d9x2a7f8g9h1j2k3l4m5n",
           "version": "W/\"1777636800500000\""}
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

fn samples() -> &'static (Map<String, Value>, Map<String, Value>) {
    static S: OnceLock<(Map<String, Value>, Map<String, Value>)> = OnceLock::new();
    S.get_or_init(|| (object(SAMPLE_USER), object(SAMPLE_GROUP)))
}

/// The entries of `m` whose key is a read-only attribute, in any case.
fn read_only_part(m: &Map<String, Value>) -> Vec<(String, Value)> {
    m.iter()
        .filter(|(k, _)| READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn client_error(e: &ScimError, stage: &str, input: &[u8]) {
    assert!(
        (400..500).contains(&e.status),
        "{stage} failed with a non-4xx error: {e:?}\ninput: {:?}",
        String::from_utf8_lossy(input)
    );
}

fuzz_target!(|data: &[u8]| {
    let (user, group) = samples();
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let ops = match parse_patch(&body) {
        Ok(ops) => ops,
        Err(e) => return client_error(&e, "parse_patch", data),
    };

    for (resource, is_user) in [(user, true), (group, false)] {
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
            }
        }
        let parsed = if is_user {
            scaikey::scim_server::users::parse(&patched).map(drop)
        } else {
            scaikey::scim_server::groups::parse(&patched).map(drop)
        };
        if let Err(e) = parsed {
            client_error(&e, if is_user { "users::parse" } else { "groups::parse" }, data);
        }
    }
});
