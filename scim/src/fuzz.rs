//! A fuzzing entry point ([`fuzz_filter_and_patch`]) that pushes arbitrary
//! bytes through every parser in the crate — filter, PATCH path, attribute
//! list, `If-Match`, PATCH body — and applies what parses to a fixed sample
//! user. It must never panic; cargo-fuzz targets call it directly.

use crate::etag::if_match_ok;
use crate::filter::parse_filter;
use crate::patch::{PatchPath, apply_patch, parse_patch};
use crate::projection::{parse_attr_list, project};
use serde_json::{Map, Value};

/// The user every fuzz input is evaluated against and patched.
const SAMPLE_USER: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "bjensen",
  "userName": "bjensen@example.com",
  "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
  "displayName": "Babs Jensen",
  "active": true,
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
             {"value": "babs@jensen.org", "type": "home"}],
  "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
  "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
  "members": [{"value": "u1"}, {"value": "u2", "display": "Two"}],
  "meta": {"resourceType": "User", "version": "W/\"3\""},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "manager": {"value": "26118915", "displayName": "John Smith"}
  }
}"#;

fn sample_user() -> Map<String, Value> {
    match serde_json::from_str::<Value>(SAMPLE_USER) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Parses `data` as a UTF-8 filter, PATCH path, attribute list and
/// `If-Match` value, and as a JSON PATCH body, evaluating / applying what
/// parses against a sample user. Never panics on any input.
pub fn fuzz_filter_and_patch(data: &[u8]) {
    let user = sample_user();
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(f) = parse_filter(s) {
            let _ = f.matches(&Value::Object(user.clone()));
            let _ = parse_filter(&f.to_string());
        }
        if let Ok(p) = PatchPath::parse(s) {
            let _ = PatchPath::parse(&p.to_string());
        }
        if let Ok(list) = parse_attr_list(s) {
            let _ = project(&user, &list, &[], &["id", "schemas"]);
            let _ = project(&user, &[], &list, &["id", "schemas"]);
        }
        let _ = if_match_ok(Some(s), "3");
    }
    if let Ok(body) = serde_json::from_slice::<Value>(data)
        && let Ok(ops) = parse_patch(&body)
    {
        let mut u = user.clone();
        let _ = apply_patch(&mut u, &ops, &["id", "meta", "groups"]);
        let mut u = user;
        let _ = apply_patch(&mut u, &ops, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic, dependency-free.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    /// A valid filter with random structure and keyword case.
    fn gen_filter(rng: &mut Rng, depth: u32, inner: bool) -> String {
        let kw = |rng: &mut Rng, k: &str| if rng.next().is_multiple_of(2) { k.to_uppercase() } else { k.to_owned() };
        let choice = if depth > 3 { 0 } else { rng.next() % 6 };
        match choice {
            0 | 1 => {
                let path = if inner {
                    rng.pick(&["type", "value", "primary", "display"]).to_owned()
                } else {
                    rng.pick(&[
                        "userName",
                        "name.givenName",
                        "emails.value",
                        "active",
                        "meta.lastModified",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                        "title",
                    ])
                    .to_owned()
                };
                if rng.next().is_multiple_of(5) {
                    return format!("{path} {}", kw(rng, "pr"));
                }
                let op = rng.pick(&["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
                let value =
                    rng.pick(&["\"work\"", "\"a \\\"q\\\" \\u00e9\"", "true", "false", "null", "42", "-1.5e3", "\"\""]);
                format!("{path} {} {value}", kw(rng, op))
            }
            2 => format!(
                "{} {} {}",
                gen_filter(rng, depth + 1, inner),
                kw(rng, "and"),
                gen_filter(rng, depth + 1, inner)
            ),
            3 => {
                format!("{} {} {}", gen_filter(rng, depth + 1, inner), kw(rng, "or"), gen_filter(rng, depth + 1, inner))
            }
            4 => {
                let not = if rng.next().is_multiple_of(2) { "not " } else { "not" };
                let not = kw(rng, not);
                format!("{not}({})", gen_filter(rng, depth + 1, inner))
            }
            _ if inner => format!("({})", gen_filter(rng, depth + 1, inner)),
            _ => format!("{}[{}]", rng.pick(&["emails", "members", "addresses"]), gen_filter(rng, depth + 1, true)),
        }
    }

    const FILTER_TOKENS: &[&str] = &[
        "userName",
        "emails",
        "name.givenName",
        "members",
        "type",
        "value",
        "primary",
        "active",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ".value",
        ".",
        " eq ",
        " EQ ",
        " ne ",
        " co ",
        " sw ",
        " gt ",
        " pr",
        " and ",
        " or ",
        " Or ",
        "not (",
        "not(",
        "(",
        ")",
        "[",
        "]",
        "\"work\"",
        "\"a\\\"b\"",
        "\"",
        "true",
        "false",
        "null",
        "42",
        "-1.5e3",
        " ",
        "\\",
        "é",
        "\u{0}",
    ];

    #[test]
    fn never_panics_on_generated_filters() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut parsed = 0;
        for _ in 0..4_000 {
            let s = if rng.next().is_multiple_of(4) {
                let n = 1 + rng.next() % 12;
                (0..n).map(|_| rng.pick(FILTER_TOKENS)).collect()
            } else {
                let mut s = gen_filter(&mut rng, 0, false);
                // Sometimes break it.
                if rng.next().is_multiple_of(5) && !s.is_empty() {
                    let at = (rng.next() % s.len() as u64) as usize;
                    if s.is_char_boundary(at) {
                        s.insert_str(at, rng.pick(FILTER_TOKENS));
                    }
                }
                s
            };
            fuzz_filter_and_patch(s.as_bytes());
            // What parses prints back to an equal filter.
            if let Ok(f) = parse_filter(&s) {
                parsed += 1;
                assert_eq!(parse_filter(&f.to_string()).as_ref(), Ok(&f), "{s:?} -> {f}");
            }
        }
        assert!(parsed > 1000, "the generator reaches the parser ({parsed})");
        // Random bytes too.
        for _ in 0..2_000 {
            let n = rng.next() % 64;
            let bytes: Vec<u8> = (0..n).map(|_| (rng.next() % 256) as u8).collect();
            fuzz_filter_and_patch(&bytes);
        }
    }

    #[test]
    fn never_panics_on_generated_patches() {
        let ops = ["add", "Add", "replace", "Replace", "remove", "REMOVE", "move"];
        let paths = [
            "null",
            "\"\"",
            "\"userName\"",
            "\"id\"",
            "\"meta.version\"",
            "\"name.givenName\"",
            "\"emails\"",
            "\"emails.value\"",
            "\"emails[type eq \\\"work\\\"].value\"",
            "\"emails[type eq \\\"work\\\"]\"",
            "\"emails[value co \\\"x\\\" or primary eq true]\"",
            "\"members[value eq \\\"u1\\\"]\"",
            "\"members\"",
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager\"",
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            "\"urn:x:y:Z:attr.sub\"",
            "\"userName[\"",
            "42",
        ];
        let values = [
            "\"x\"",
            "\"False\"",
            "false",
            "null",
            "\"\"",
            "[]",
            "[{\"value\":\"u1\"}]",
            "{\"value\":\"x\",\"primary\":true}",
            "{\"active\":false}",
            "{\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"displayName\":\"G\"}",
            "{\"name.givenName\":\"B\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"manager\":\"m\"}}",
            "{\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":7}",
            "{\"emails\":[1,2,{}],\"bad key\":1,\"schemas\":[]}",
            "[1,[2],{\"a\":{}}]",
        ];
        let mut rng = Rng(42);
        for _ in 0..4_000 {
            let n = 1 + rng.next() % 4;
            let body_ops: Vec<String> = (0..n)
                .map(|_| {
                    format!(
                        r#"{{"op":"{}","path":{},"value":{}}}"#,
                        rng.pick(&ops),
                        rng.pick(&paths),
                        rng.pick(&values)
                    )
                })
                .collect();
            let body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{}]}}"#,
                body_ops.join(",")
            );
            assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body}");
            fuzz_filter_and_patch(body.as_bytes());
        }
    }
}
