//! Field-level validation: every problem of a request is collected, so the
//! admin API answers all of them at once in `error.details`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }
    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }
    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }

    pub fn name(&mut self, field: &str, value: &str, max: usize) {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, "must not be empty");
        } else if v.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if v.chars().any(char::is_control) {
            self.add(field, "must not contain control characters");
        }
    }

    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            if v.chars().count() > max {
                self.add(field, format!("must be at most {max} characters"));
            } else if v.chars().any(char::is_control) {
                self.add(field, "must not contain control characters");
            }
        }
    }

    pub fn email(&mut self, field: &str, value: &str) {
        if !is_email(value) {
            self.add(field, "must be an e-mail address");
        }
    }

    /// An absolute URL; plain `http` only where `allow_http` (loopback
    /// redirect URIs of native apps, RFC 8252) — never with a fragment.
    pub fn url(&mut self, field: &str, value: &str, allow_http: bool) {
        match url::Url::parse(value) {
            Ok(u) if u.fragment().is_some() => self.add(field, "must not contain a fragment"),
            Ok(u) if u.scheme() == "https" && u.host().is_some() => {}
            Ok(u) if u.scheme() == "http" && u.host().is_some() && (allow_http || is_loopback(&u)) => {}
            Ok(_) => self.add(field, "must be an https URL"),
            Err(_) => self.add(field, "must be an absolute URL"),
        }
    }

    pub fn id(&mut self, field: &str, value: &str, prefix: &str) {
        if !crate::ids::has_prefix(value, prefix) {
            self.add(field, format!("must be a {prefix}_ id"));
        }
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted
/// domain of hostname characters, no spaces, at most 254 characters.
pub fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else { return false };
    !local.is_empty()
        && v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && is_hostname(domain)
        && domain.contains('.')
}

pub fn is_hostname(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("ada@acme.test"));
        assert!(!is_email("ada"));
        assert!(!is_email("ada@acme"));
        assert!(!is_email("a da@acme.test"));
        assert!(!is_email("a@b@acme.test"));
    }

    #[test]
    fn urls() {
        let mut p = Problems::default();
        p.url("a", "https://wiki.acme.test/cb", false);
        p.url("b", "http://127.0.0.1:9000/cb", false);
        assert!(p.0.is_empty());
        p.url("c", "http://wiki.acme.test/cb", false);
        p.url("d", "https://wiki.acme.test/cb#x", false);
        p.url("e", "not a url", false);
        assert_eq!(p.0.len(), 3);
    }
}
