//! Redirect URIs: what an application may register, and which requested
//! URI matches a registered one.
//!
//! Every app: `https` URLs, and `http` on loopback for development; no
//! fragment. NATIVE apps (RFC 8252) also register private-use schemes in
//! reverse-domain form (`com.example.app:/cb`, §7.1) and loopback IP
//! redirects (`http://127.0.0.1/…`, `http://[::1]/…`, §7.3); `localhost` by
//! name is refused for them (§8.3: it can resolve elsewhere). Matching is
//! exact, except that a NATIVE app's loopback redirect matches any port,
//! since the app listens on whichever port the OS gives it (§7.3).

/// Schemes that are never a native app's own.
const NOT_PRIVATE_USE: &[&str] = &["http", "https", "javascript", "data", "file", "about", "blob", "ftp", "ws", "wss"];

fn loopback_ip(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// Why `uri` cannot be registered by an app (`native` or not), if it cannot.
pub fn refuse(uri: &str, native: bool) -> Option<&'static str> {
    let Ok(u) = url::Url::parse(uri) else { return Some("must be an absolute URL") };
    if u.fragment().is_some() {
        return Some("must not contain a fragment");
    }
    match u.scheme() {
        "https" if u.host().is_some() => None,
        "http" if native && loopback_ip(&u) => None,
        "http" if native && u.host_str() == Some("localhost") => {
            Some("must use a loopback IP (127.0.0.1 or [::1]), not localhost (RFC 8252 §8.3)")
        }
        "http" if !native && (loopback_ip(&u) || u.host_str() == Some("localhost")) => None,
        "http" => Some("must be an https URL (http is for loopback only)"),
        scheme if native && !NOT_PRIVATE_USE.contains(&scheme) => {
            // A reverse domain name the app's publisher controls (§7.1).
            let labels: Vec<&str> = scheme.split('.').collect();
            if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
                return Some("a private-use scheme must be a reverse domain name such as com.example.app");
            }
            None
        }
        _ if native => Some("must be https, a loopback http URL or a reverse-domain private-use scheme"),
        _ => Some("must be an https URL"),
    }
}

/// Whether `requested` matches the registered `registered`.
pub fn matches(registered: &str, requested: &str, native: bool) -> bool {
    if registered == requested {
        return true;
    }
    if !native {
        return false;
    }
    let (Ok(r), Ok(q)) = (url::Url::parse(registered), url::Url::parse(requested)) else { return false };
    r.scheme() == "http"
        && q.scheme() == "http"
        && loopback_ip(&r)
        && r.host() == q.host()
        && r.path() == q.path()
        && r.query() == q.query()
        && q.fragment().is_none()
        && q.username().is_empty()
        && q.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_apps_register_private_use_schemes_and_loopback_ips() {
        for ok in [
            "com.example.app:/cb",
            "com.example.app:/oauth2redirect?x=1",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "https://app.example.com/cb",
        ] {
            assert_eq!(refuse(ok, true), None, "{ok}");
        }
        for bad in [
            "http://localhost/cb",
            "myapp:/cb",
            "javascript:alert(1)",
            "http://example.com/cb",
            "com..app:/cb",
            "https://a.example/cb#x",
        ] {
            assert!(refuse(bad, true).is_some(), "{bad}");
        }
        assert!(refuse("com.example.app:/cb", false).is_some(), "web apps keep https");
        assert_eq!(refuse("http://localhost:3000/cb", false), None, "web apps may develop on localhost");
    }

    #[test]
    fn a_native_loopback_redirect_matches_any_port_and_nothing_else() {
        let reg = "http://127.0.0.1/callback";
        assert!(matches(reg, "http://127.0.0.1:51004/callback", true));
        assert!(matches(reg, "http://127.0.0.1/callback", true));
        assert!(!matches(reg, "http://127.0.0.1:51004/other", true));
        assert!(!matches(reg, "http://[::1]:51004/callback", true));
        assert!(!matches(reg, "http://127.0.0.1:51004/callback", false), "only native apps");
        assert!(!matches("https://app.example.com/cb", "https://app.example.com:444/cb", true), "https stays exact");
        assert!(!matches("com.example.app:/cb", "com.example.app:/cb2", true));
        assert!(!matches(reg, "http://user@127.0.0.1:5/callback", true));
    }
}
