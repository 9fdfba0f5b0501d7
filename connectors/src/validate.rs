//! Small syntax checks shared by the connector configs: URLs, GUIDs,
//! PEM / base64 DER, domains, DNs, LDAP filters and attribute names.
//!
//! They only answer "does this look right"; each returns a message for the
//! field error and never echoes the input.

use url::{Host, Url};

/// Whether `url` points at this machine (where tests run their peers).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An absolute `https://` URL (plain `http://` only for loopback hosts),
/// without credentials or fragment.
pub(crate) fn web_url(raw: &str) -> Result<Url, &'static str> {
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("must use https (http is allowed only for localhost)"),
        _ => return Err("must be an https URL"),
    }
    if url.host().is_none() {
        return Err("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials");
    }
    if url.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    Ok(url)
}

/// A base URL for an upstream API: a [`web_url`] without query, returned
/// without trailing slashes so paths can be appended.
pub(crate) fn base_url(raw: &str) -> Result<String, &'static str> {
    let url = web_url(raw)?;
    if url.query().is_some() {
        return Err("must not contain a query");
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// A GUID in its 8-4-4-4-12 hex form.
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8usize, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A DNS domain name such as `acme.test`.
pub(crate) fn is_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Decodes standard base64 (whitespace ignored, padding optional).
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let body = clean.strip_suffix(b"==").or_else(|| clean.strip_suffix(b"=")).unwrap_or(&clean);
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | value(c)?;
        }
        let bytes = acc.to_be_bytes();
        let decoded: &[u8] = match chunk.len() {
            4 => bytes.get(1..4)?,
            3 => &[(acc >> 10) as u8, (acc >> 2) as u8],
            2 => &[(acc >> 4) as u8],
            _ => return None,
        };
        out.extend_from_slice(decoded);
    }
    Some(out)
}

/// The DER bytes inside one PEM block with `label` (e.g. `CERTIFICATE`).
pub(crate) fn pem_body(s: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = s.find(&begin)? + begin.len();
    let stop = s.get(start..)?.find(&end)? + start;
    let der = base64_decode(s.get(start..stop)?)?;
    // Every X.509 certificate and PKCS#8 key is a DER SEQUENCE.
    (der.first() == Some(&0x30) && der.len() > 16).then_some(der)
}

/// A certificate as PEM or as bare base64 DER (the form SAML metadata uses).
pub(crate) fn is_certificate(s: &str) -> bool {
    if s.contains("-----BEGIN") {
        pem_body(s, "CERTIFICATE").is_some()
    } else {
        base64_decode(s).is_some_and(|der| der.first() == Some(&0x30) && der.len() > 16)
    }
}

/// Whether `s` holds at least one PEM block of any label.
pub(crate) fn looks_like_pem(s: &str) -> bool {
    s.contains("-----BEGIN ") && s.contains("-----END ")
}

/// A distinguished name such as `ou=people,dc=acme,dc=test` (syntax only
/// loosely checked: the directory is the judge).
pub(crate) fn is_dn(s: &str) -> bool {
    s.split(',')
        .all(|rdn| rdn.split_once('=').is_some_and(|(attr, val)| !attr.trim().is_empty() && !val.trim().is_empty()))
}

/// An LDAP search filter with balanced parentheses, e.g. `(objectClass=person)`.
pub(crate) fn is_ldap_filter(s: &str) -> bool {
    if !s.starts_with('(') || !s.ends_with(')') {
        return false;
    }
    let mut depth = 0i32;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                // The outer parenthesis closes only at the very end.
                if depth < 0 || (depth == 0 && i + 1 != s.len()) {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// An LDAP attribute description: a name (`userPrincipalName`) or an OID.
pub(crate) fn is_attribute_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() => bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        Some(b) if b.is_ascii_digit() => s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// An OAuth scope token (RFC 6749 §3.3).
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! A real self-signed certificate (P-256, CN=scaikey-test), for tests of
    //! certificate fields.

    /// Base64 DER of a self-signed test certificate.
    pub(crate) const CERT_B64: &str = "MIIBgjCCASmgAwIBAgIUDR7gFvcZduwgHijiyaDNmSLBrFMwCgYIKoZIzj0EAwIwFzEVMBMGA1UEAwwMc2NhaWtleS10ZXN0MB4XDTI2MTEyMzEyMTYzNloXDTM2MTEyMDEyMTYzNlowFzEVMBMGA1UEAwwMc2NhaWtleS10ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEV0hrCMYBUemhRcpiIrdteIMRx0ALzXOp6mreCKjdFG2QC2BZbcPfjA+A0vQr4vBZUuHVkiIe8yOTcuvX/x3+L6NTMFEwHQYDVR0OBBYEFHMe6FNOv/qrVkpi3Cgt8OA8Wd6dMB8GA1UdIwQYMBaAFHMe6FNOv/qrVkpi3Cgt8OA8Wd6dMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgUTTqefd9TzvrbrHpsO2TnjwEzLz0o7pRAniIvWMmVmECIF9BkCUp4YNEkN27YJCJY78DP7uReT0LXfLodkZXAwgI";

    pub(crate) fn cert_pem() -> String {
        format!("-----BEGIN CERTIFICATE-----\n{CERT_B64}\n-----END CERTIFICATE-----\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls() {
        assert!(web_url("https://idp.example.com/realms/x").is_ok());
        assert!(web_url("http://127.0.0.1:8080").is_ok());
        assert!(web_url("http://localhost:1").is_ok());
        assert!(web_url("http://[::1]:1").is_ok());
        assert!(web_url("http://idp.example.com").is_err());
        assert!(web_url("ftp://idp.example.com").is_err());
        assert!(web_url("idp.example.com").is_err());
        assert!(web_url("https://u:p@idp.example.com").is_err());
        assert!(web_url("https://idp.example.com/#x").is_err());
        assert_eq!(base_url("https://graph.example.com/").unwrap(), "https://graph.example.com");
        assert!(base_url("https://graph.example.com/?a=b").is_err());
    }

    #[test]
    fn guids_and_domains() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("72f988bf86f141af91ab2d7cd011db47"));
        assert!(!is_guid("organizations"));
        assert!(is_domain("acme.test"));
        assert!(!is_domain("acme"));
        assert!(!is_domain("-acme.test"));
        assert!(!is_domain("acme..test"));
    }

    #[test]
    fn base64_and_pem() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("!!!!").is_none());
        assert!(is_certificate(fixtures::CERT_B64));
        assert!(is_certificate(&fixtures::cert_pem()));
        assert!(!is_certificate("aGVsbG8="));
        assert!(!is_certificate("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"));
        assert!(looks_like_pem(&fixtures::cert_pem()));
        assert!(!looks_like_pem("hello"));
    }

    #[test]
    fn ldap_syntax() {
        assert!(is_dn("ou=people,dc=acme,dc=test"));
        assert!(!is_dn("people"));
        assert!(!is_dn("ou=,dc=x"));
        assert!(is_ldap_filter("(objectClass=person)"));
        assert!(is_ldap_filter("(&(objectCategory=person)(objectClass=user))"));
        assert!(is_ldap_filter("(cn=a\\29b)"));
        assert!(!is_ldap_filter("objectClass=person"));
        assert!(!is_ldap_filter("(a=b))("));
        assert!(!is_ldap_filter("(a=b)(c=d)"));
        assert!(!is_ldap_filter("((a=b)"));
        assert!(is_attribute_name("objectGUID"));
        assert!(is_attribute_name("1.2.840.113556.1.4.1"));
        assert!(!is_attribute_name("bad attr"));
        assert!(!is_attribute_name(""));
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("openid"));
        assert!(is_scope_token("api:read"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
    }
}
