//! SSO sessions and browser cookies. The session cookie holds 256 random
//! bits; the store keeps only their hash. Cookies are `HttpOnly`,
//! `SameSite=Lax`, scoped to the issuer's path, and `Secure` whenever the
//! public URL is https.

use crate::authn::secret;

/// The session cookie of an issuer (`tenant_id`, or `platform`).
pub fn session_cookie_name(realm: &str) -> String {
    format!("sk_sid_{realm}")
}

/// The cookie binding a login request to the browser that started it.
pub const LOGIN_COOKIE: &str = "sk_login";

/// A `Set-Cookie` value.
pub fn set_cookie(name: &str, value: &str, path: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(name: &str, path: &str, secure: bool) -> String {
    set_cookie(name, "", path, secure, Some(0))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// A new session secret and the hash stored for it.
pub fn new_secret() -> (String, String) {
    let s = secret::generate("");
    let h = secret::hash(&s);
    (s, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_parse_and_are_locked_down() {
        assert_eq!(cookie(Some("a=1; sk_login=xyz; b=2"), "sk_login"), Some("xyz"));
        assert_eq!(cookie(Some("a=1"), "sk_login"), None);
        let c = set_cookie("sk_sid_t", "v", "/api/v1/auth/tenants/acme", true, Some(60));
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure") && c.contains("Max-Age=60")
        );
    }
}
