//! ETags for SCIM resources (RFC 7644 §3.14, RFC 9110 §8.8.3): the
//! `meta.version` / `ETag` value for a resource version, and the
//! `If-Match` precondition check used by PUT, PATCH and DELETE.
//!
//! SCIM versions are weak validators (`W/"3"`); `If-Match` is compared with
//! the weak comparison (the `W/` prefix is ignored on both sides), which is
//! what Entra ID and Okta clients expect when they echo `meta.version`.

/// The weak ETag for a resource version: `W/"<version>"`. A `version` that
/// is already an entity tag (`W/"3"` or `"3"`) is normalised, not wrapped
/// twice; `"` characters inside a raw version are dropped.
pub fn etag(version: &str) -> String {
    let inner = opaque(version);
    let inner: String = inner.chars().filter(|c| *c != '"').collect();
    format!("W/\"{inner}\"")
}

/// Whether an `If-Match` header allows the write: no header, `*`, or a
/// list (`W/"1", "2"`) containing the current version (weak comparison).
/// `current_version` may be the raw version (`3`) or its ETag (`W/"3"`).
/// Unquoted tags (`3`), which some clients send, are accepted too.
pub fn if_match_ok(header: Option<&str>, current_version: &str) -> bool {
    let Some(header) = header else { return true };
    let header = header.trim();
    if header.is_empty() {
        return true;
    }
    let current = opaque(current_version);
    tags(header).iter().any(|t| *t == "*" || *t == current)
}

/// The opaque part of an entity tag: `W/"x"` → `x`, `"x"` → `x`, `x` → `x`.
fn opaque(tag: &str) -> &str {
    let t = tag.trim();
    let t = t.strip_prefix("W/").or_else(|| t.strip_prefix("w/")).unwrap_or(t);
    t.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(t)
}

/// Splits an `If-Match` value into opaque tags (quoted tags may contain
/// commas; `*` is returned as itself).
fn tags(header: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        let body = rest.strip_prefix("W/").or_else(|| rest.strip_prefix("w/")).unwrap_or(rest);
        if let Some(q) = body.strip_prefix('"') {
            match q.find('"') {
                Some(end) => {
                    out.push(q.get(..end).unwrap_or_default());
                    rest = q.get(end + 1..).unwrap_or_default();
                }
                None => {
                    // Unterminated quote: take the rest as the tag.
                    out.push(q);
                    break;
                }
            }
        } else {
            let end = body.find(',').unwrap_or(body.len());
            out.push(body.get(..end).unwrap_or_default().trim());
            rest = body.get(end..).unwrap_or_default();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_weak_etags() {
        assert_eq!(etag("3"), "W/\"3\"");
        assert_eq!(etag("3694e05e9dff590"), "W/\"3694e05e9dff590\"");
        assert_eq!(etag("W/\"3\""), "W/\"3\"");
        assert_eq!(etag("\"3\""), "W/\"3\"");
    }

    #[test]
    fn if_match_forms() {
        assert!(if_match_ok(None, "3"));
        assert!(if_match_ok(Some(""), "3"));
        assert!(if_match_ok(Some("*"), "3"));
        assert!(if_match_ok(Some("W/\"3\""), "3"));
        assert!(if_match_ok(Some("\"3\""), "3"));
        assert!(if_match_ok(Some("3"), "3"));
        assert!(if_match_ok(Some("W/\"3\""), "W/\"3\""));
        assert!(if_match_ok(Some("w/\"3\""), "3"));
        assert!(if_match_ok(Some("W/\"1\", W/\"3\""), "3"));
        assert!(if_match_ok(Some("\"1\",\"3\""), "3"));
        assert!(if_match_ok(Some("\"a,b\", \"3\""), "3"));
        assert!(if_match_ok(Some("\"a,b\""), "a,b"));
        assert!(if_match_ok(Some("\"1\", *"), "9"));
        assert!(!if_match_ok(Some("W/\"2\""), "3"));
        assert!(!if_match_ok(Some("\"1\", \"2\""), "3"));
        assert!(!if_match_ok(Some("W/\"33\""), "3"));
        assert!(!if_match_ok(Some("\"3"), "4"));
        assert!(!if_match_ok(Some(","), "3"));
    }
}
