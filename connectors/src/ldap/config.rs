//! Configuration of an LDAP upstream: parsed, validated, redacted.
//!
//! | key | rule |
//! |---|---|
//! | `url` | required; `ldap://host[:port]` or `ldaps://host[:port]`, no DN in the URL |
//! | `start_tls` | default false; not with `ldaps://` |
//! | `ca_pem` | optional PEM bundle to trust; only with `ldaps://` or `start_tls` |
//! | `bind_dn`, `bind_password` | required: the service account that searches. An empty password would be an unauthenticated bind (RFC 4513 §5.1.2), so it is refused |
//! | `flavor` | `active_directory` or `openldap` (default) |
//! | `user_base_dn` | required |
//! | `user_filter` | default `(objectClass=person)`; AD `(&(objectCategory=person)(objectClass=user))` |
//! | `group_base_dn` | optional: without it groups are not synced |
//! | `group_filter` | default `(objectClass=groupOfNames)`; AD `(objectClass=group)` |
//! | `user_id_attribute` | default `entryUUID`; AD `objectGUID` |
//! | `login_attribute` | default `uid`; AD `userPrincipalName` |
//! | `group_member_attribute` | default `member` |
//! | `page_size` | default 500, 1 to 5000 |
//!
//! Defaults depend on `flavor`, so it is read first.

use crate::error::ConfigError;
use crate::reader::Reader;
use crate::{redact, validate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Search page size when none is configured.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// The largest page size accepted (AD's MaxPageSize defaults to 1000; some
/// directories allow more).
pub const MAX_PAGE_SIZE: u32 = 5000;

const KEYS: &[&str] = &[
    "url",
    "start_tls",
    "ca_pem",
    "bind_dn",
    "bind_password",
    "flavor",
    "user_base_dn",
    "user_filter",
    "group_base_dn",
    "group_filter",
    "user_id_attribute",
    "login_attribute",
    "group_member_attribute",
    "page_size",
];

/// Which directory dialect to expect (defaults and delta strategy differ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LdapFlavor {
    /// Microsoft Active Directory (`uSNChanged` deltas, `userAccountControl`).
    #[serde(rename = "active_directory")]
    ActiveDirectory,
    /// OpenLDAP, 389-DS and other RFC 4512 directories.
    #[default]
    #[serde(rename = "openldap")]
    OpenLdap,
}

impl LdapFlavor {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "active_directory" => Some(Self::ActiveDirectory),
            "openldap" => Some(Self::OpenLdap),
            _ => None,
        }
    }

    fn is_ad(self) -> bool {
        self == Self::ActiveDirectory
    }
}

/// A validated LDAP upstream configuration.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Config {
    /// `ldap://` or `ldaps://` URL of the server, without trailing slash.
    pub url: String,
    /// Whether to upgrade a plain `ldap://` connection with StartTLS.
    pub start_tls: bool,
    /// Extra CA certificates (PEM) to trust for TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The service account's DN.
    pub bind_dn: String,
    /// The service account's password (secret).
    pub bind_password: String,
    /// The directory dialect.
    pub flavor: LdapFlavor,
    /// Where users are searched.
    pub user_base_dn: String,
    /// Which entries are users.
    pub user_filter: String,
    /// Where groups are searched; groups are not synced without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_base_dn: Option<String>,
    /// Which entries are groups.
    pub group_filter: String,
    /// The stable, unique attribute used as the external id.
    pub user_id_attribute: String,
    /// The attribute a user signs in with.
    pub login_attribute: String,
    /// The group attribute listing member DNs.
    pub group_member_attribute: String,
    /// Entries per paged-search page.
    pub page_size: u32,
}

impl Config {
    /// Parses and validates a config object, reporting every problem.
    pub fn parse(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let mut r = Reader::new(value, KEYS);

        let flavor = match r.string("flavor") {
            None => LdapFlavor::default(),
            Some(f) => LdapFlavor::parse(&f).unwrap_or_else(|| {
                r.error("flavor", "must be active_directory or openldap");
                LdapFlavor::default()
            }),
        };
        let ad = flavor.is_ad();

        let url = r.required_string("url").and_then(|raw| match check_url(&raw) {
            Ok(()) => Some(raw.trim_end_matches('/').to_owned()),
            Err(msg) => {
                r.error("url", msg);
                None
            }
        });
        let ldaps = url.as_deref().is_some_and(|u| u.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("ldaps://")));
        let start_tls = r.bool_or("start_tls", false);
        if start_tls && ldaps {
            r.error("start_tls", "cannot be used with ldaps:// (the connection is already TLS)");
        }
        let ca_pem = r.string("ca_pem");
        if let Some(pem) = &ca_pem {
            if !validate::looks_like_pem(pem) || pem_certificates(pem) == 0 {
                r.error("ca_pem", "must be one or more PEM certificates");
            } else if url.is_some() && !ldaps && !start_tls {
                r.error("ca_pem", "is only used with ldaps:// or start_tls");
            }
        }

        let bind_dn = r.required_string("bind_dn").filter(|dn| dn_ok(&mut r, "bind_dn", dn));
        let bind_password = r.required_string("bind_password");
        let user_base_dn = r.required_string("user_base_dn").filter(|dn| dn_ok(&mut r, "user_base_dn", dn));
        let group_base_dn = r.string("group_base_dn").filter(|dn| dn_ok(&mut r, "group_base_dn", dn));

        let user_filter = filter(
            &mut r,
            "user_filter",
            if ad { "(&(objectCategory=person)(objectClass=user))" } else { "(objectClass=person)" },
        );
        let group_filter =
            filter(&mut r, "group_filter", if ad { "(objectClass=group)" } else { "(objectClass=groupOfNames)" });
        let user_id_attribute = attribute(&mut r, "user_id_attribute", if ad { "objectGUID" } else { "entryUUID" });
        let login_attribute = attribute(&mut r, "login_attribute", if ad { "userPrincipalName" } else { "uid" });
        let group_member_attribute = attribute(&mut r, "group_member_attribute", "member");
        let page_size = r.u32_or("page_size", DEFAULT_PAGE_SIZE, 1..=MAX_PAGE_SIZE);

        let (
            Some(url),
            Some(bind_dn),
            Some(bind_password),
            Some(user_base_dn),
            Some(user_filter),
            Some(group_filter),
            Some(user_id_attribute),
            Some(login_attribute),
            Some(group_member_attribute),
        ) = (
            url,
            bind_dn,
            bind_password,
            user_base_dn,
            user_filter,
            group_filter,
            user_id_attribute,
            login_attribute,
            group_member_attribute,
        )
        else {
            return Err(r.into_error());
        };
        r.finish(Self {
            url,
            start_tls,
            ca_pem,
            bind_dn,
            bind_password,
            flavor,
            user_base_dn,
            user_filter,
            group_base_dn,
            group_filter,
            user_id_attribute,
            login_attribute,
            group_member_attribute,
            page_size,
        })
    }

    /// Whether the connection is encrypted (`ldaps://` or StartTLS).
    pub fn uses_tls(&self) -> bool {
        self.start_tls || self.url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("ldaps://"))
    }
}

fn check_url(raw: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(raw).map_err(|_| "must be an ldap:// or ldaps:// URL")?;
    if !matches!(url.scheme(), "ldap" | "ldaps") {
        return Err("must be an ldap:// or ldaps:// URL");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials (use bind_dn and bind_password)");
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err("must not contain a DN, attributes or filter (use user_base_dn and user_filter)");
    }
    Ok(())
}

fn pem_certificates(pem: &str) -> usize {
    pem.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .filter(|block| validate::pem_body(&format!("-----BEGIN CERTIFICATE-----{block}"), "CERTIFICATE").is_some())
        .count()
}

fn dn_ok(r: &mut Reader<'_>, key: &str, dn: &str) -> bool {
    let ok = validate::is_dn(dn);
    if !ok {
        r.error(key, "must be a distinguished name such as ou=people,dc=example,dc=com");
    }
    ok
}

fn filter(r: &mut Reader<'_>, key: &str, default: &str) -> Option<String> {
    r.string_or(key, default).filter(|f| {
        let ok = validate::is_ldap_filter(f);
        if !ok {
            r.error(key, "must be an LDAP filter in parentheses, such as (objectClass=person)");
        }
        ok
    })
}

fn attribute(r: &mut Reader<'_>, key: &str, default: &str) -> Option<String> {
    r.string_or(key, default).filter(|a| {
        let ok = validate::is_attribute_name(a);
        if !ok {
            r.error(key, "must be an LDAP attribute name");
        }
        ok
    })
}

impl TryFrom<serde_json::Value> for Config {
    type Error = ConfigError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ldap::Config")
            .field("url", &self.url)
            .field("start_tls", &self.start_tls)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "[pem]"))
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &redact::Redacted)
            .field("flavor", &self.flavor)
            .field("user_base_dn", &self.user_base_dn)
            .field("user_filter", &self.user_filter)
            .field("group_base_dn", &self.group_base_dn)
            .field("group_filter", &self.group_filter)
            .field("user_id_attribute", &self.user_id_attribute)
            .field("login_attribute", &self.login_attribute)
            .field("group_member_attribute", &self.group_member_attribute)
            .field("page_size", &self.page_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::fixtures::cert_pem;
    use serde_json::{Value, json};

    fn minimal() -> Value {
        json!({"url": "ldap://127.0.0.1:3389", "bind_dn": "cn=admin,dc=acme,dc=test",
               "bind_password": "hunter2", "user_base_dn": "ou=people,dc=acme,dc=test"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = minimal();
        v[key] = value;
        v
    }

    #[test]
    fn openldap_defaults() {
        let c = Config::parse(&minimal()).unwrap();
        assert_eq!(c.flavor, LdapFlavor::OpenLdap);
        assert!(!c.start_tls && !c.uses_tls());
        assert_eq!(c.user_filter, "(objectClass=person)");
        assert_eq!(c.group_filter, "(objectClass=groupOfNames)");
        assert_eq!(c.user_id_attribute, "entryUUID");
        assert_eq!(c.login_attribute, "uid");
        assert_eq!(c.group_member_attribute, "member");
        assert_eq!(c.page_size, 500);
        assert_eq!(c.group_base_dn, None);
    }

    #[test]
    fn active_directory_defaults() {
        let mut v = with("flavor", json!("active_directory"));
        v["url"] = json!("ldaps://dc1.acme.test:636/");
        v["ca_pem"] = json!(cert_pem());
        let c = Config::parse(&v).unwrap();
        assert_eq!(c.url, "ldaps://dc1.acme.test:636");
        assert!(c.uses_tls());
        assert_eq!(c.user_filter, "(&(objectCategory=person)(objectClass=user))");
        assert_eq!(c.group_filter, "(objectClass=group)");
        assert_eq!(c.user_id_attribute, "objectGUID");
        assert_eq!(c.login_attribute, "userPrincipalName");
        assert_eq!(serde_json::to_value(&c).unwrap()["flavor"], "active_directory");
    }

    #[test]
    fn explicit_values_are_kept_and_round_trip() {
        let mut v = with("start_tls", json!(true));
        v["group_base_dn"] = json!("ou=groups,dc=acme,dc=test");
        v["user_filter"] = json!("(&(objectClass=inetOrgPerson)(!(pwdAccountLockedTime=*)))");
        v["login_attribute"] = json!("mail");
        v["page_size"] = json!(5000);
        let c = Config::parse(&v).unwrap();
        assert!(c.start_tls && c.uses_tls());
        assert_eq!(c.login_attribute, "mail");
        assert_eq!(c.page_size, 5000);
        let back: Config = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn each_required_field_is_reported() {
        for key in ["url", "bind_dn", "bind_password", "user_base_dn"] {
            let mut v = minimal();
            v.as_object_mut().unwrap().remove(key);
            let err = Config::parse(&v).unwrap_err();
            assert_eq!(err.fields.len(), 1, "{key}: {err}");
            assert_eq!(err.fields[0].field, key);
        }
        assert!(Config::parse(&with("bind_password", json!(""))).unwrap_err().has("bind_password"));
    }

    #[test]
    fn bad_urls_are_rejected() {
        for bad in [
            "http://dc1.acme.test",
            "dc1.acme.test:389",
            "ldap://",
            "ldap://dc1.acme.test/dc=acme,dc=test",
            "ldap://cn=x:pw@dc1.acme.test",
        ] {
            assert!(Config::parse(&with("url", json!(bad))).unwrap_err().has("url"), "{bad}");
        }
        assert!(Config::parse(&with("url", json!("ldap://[::1]:389"))).is_ok());
    }

    #[test]
    fn tls_options_are_consistent() {
        let mut v = with("url", json!("ldaps://dc1.acme.test"));
        v["start_tls"] = json!(true);
        assert!(Config::parse(&v).unwrap_err().has("start_tls"));
        assert!(Config::parse(&with("ca_pem", json!(cert_pem()))).unwrap_err().has("ca_pem"));
        let mut v = with("start_tls", json!(true));
        v["ca_pem"] = json!("not pem");
        assert!(Config::parse(&v).unwrap_err().has("ca_pem"));
    }

    #[test]
    fn values_are_checked() {
        for (key, bad) in [
            ("flavor", json!("novell")),
            ("user_base_dn", json!("people")),
            ("group_base_dn", json!("groups")),
            ("user_filter", json!("objectClass=person")),
            ("group_filter", json!("(a=b")),
            ("user_id_attribute", json!("object guid")),
            ("page_size", json!(0)),
            ("page_size", json!(5001)),
            ("start_tls", json!("yes")),
            ("ldap_url", json!("ldap://x")),
        ] {
            assert!(Config::parse(&with(key, bad)).unwrap_err().has(key), "{key}");
        }
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = Config::parse(&minimal()).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("[redacted]"));
    }
}
