//! Configuration of a SAML 2.0 upstream: parsed and validated.
//!
//! The IdP is described in exactly one way ([`Metadata`]):
//!
//! | way | keys |
//! |---|---|
//! | inline metadata | `metadata_xml` (an `EntityDescriptor` document) |
//! | fetched metadata | `metadata_url` (https; http for loopback hosts only) |
//! | by hand | `entity_id` + `sso_url` + `certificates` (PEM or base64 DER, at least one) |
//!
//! Other keys: `name_id_format` (a `urn:` URI, optional),
//! `sign_authn_requests` (default true), `want_assertions_signed`
//! (default true), `clock_skew_seconds` (default 120, at most 600),
//! `allow_idp_initiated` (default false: unsolicited Responses are refused).
//! Nothing here is secret: the SP key belongs to ScaiKey's key store.

use crate::error::ConfigError;
use crate::reader::Reader;
use crate::validate;
use serde::{Deserialize, Serialize};

/// Allowed clock difference with the IdP when none is configured.
pub const DEFAULT_CLOCK_SKEW_SECONDS: u32 = 120;
/// The largest clock skew accepted: more would stretch assertion lifetimes.
pub const MAX_CLOCK_SKEW_SECONDS: u32 = 600;

const KEYS: &[&str] = &[
    "metadata_xml",
    "metadata_url",
    "entity_id",
    "sso_url",
    "certificates",
    "name_id_format",
    "sign_authn_requests",
    "want_assertions_signed",
    "clock_skew_seconds",
    "allow_idp_initiated",
];

const MANUAL_KEYS: [&str; 3] = ["entity_id", "sso_url", "certificates"];

/// Where the IdP's entity id, SSO endpoint and signing certificates come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Metadata {
    /// Inline IdP metadata.
    Xml {
        /// An `EntityDescriptor` XML document.
        metadata_xml: String,
    },
    /// IdP metadata fetched from a URL.
    Url {
        /// Where the metadata is published.
        metadata_url: String,
    },
    /// The IdP described by hand.
    Manual {
        /// The IdP's entity id (the Response `Issuer`).
        entity_id: String,
        /// The IdP's SSO endpoint (HTTP-Redirect binding).
        sso_url: String,
        /// Certificates whose keys may sign Responses / Assertions.
        certificates: Vec<String>,
    },
}

/// A validated SAML upstream configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Config {
    /// How the IdP is described.
    #[serde(flatten)]
    pub metadata: Metadata,
    /// The NameID format asked for in the AuthnRequest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    /// Whether AuthnRequests are signed with ScaiKey's SP key.
    pub sign_authn_requests: bool,
    /// Whether each Assertion must carry its own signature (otherwise a
    /// signed Response suffices).
    pub want_assertions_signed: bool,
    /// Allowed clock difference with the IdP, in seconds.
    pub clock_skew_seconds: u32,
    /// Whether Responses nobody asked for (IdP-initiated SSO) are accepted.
    pub allow_idp_initiated: bool,
}

impl Config {
    /// Parses and validates a config object, reporting every problem.
    pub fn parse(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let mut r = Reader::new(value, KEYS);
        let metadata = read_metadata(&mut r);

        let name_id_format = r.string("name_id_format").filter(|f| {
            let ok = f.starts_with("urn:") && !f.contains(char::is_whitespace);
            if !ok {
                r.error(
                    "name_id_format",
                    "must be a NameID format URI such as urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                );
            }
            ok
        });
        let sign_authn_requests = r.bool_or("sign_authn_requests", true);
        let want_assertions_signed = r.bool_or("want_assertions_signed", true);
        let clock_skew_seconds = r.u32_or("clock_skew_seconds", DEFAULT_CLOCK_SKEW_SECONDS, 0..=MAX_CLOCK_SKEW_SECONDS);

        let Some(metadata) = metadata else {
            return Err(r.into_error());
        };
        let allow_idp_initiated = r.bool_or("allow_idp_initiated", false);
        r.finish(Self {
            metadata,
            name_id_format,
            sign_authn_requests,
            want_assertions_signed,
            clock_skew_seconds,
            allow_idp_initiated,
        })
    }
}

fn read_metadata(r: &mut Reader<'_>) -> Option<Metadata> {
    let has_xml = r.present("metadata_xml");
    let has_url = r.present("metadata_url");
    let has_manual = MANUAL_KEYS.iter().any(|k| r.present(k));
    let ways = [has_xml, has_url, has_manual].iter().filter(|w| **w).count();
    if ways == 0 {
        if !r.is_object() {
            return None;
        }
        r.error("metadata_xml", "one of metadata_xml, metadata_url or entity_id + sso_url + certificates is required");
        return None;
    }
    if ways > 1 {
        let given: Vec<&str> =
            ["metadata_xml", "metadata_url"].into_iter().chain(MANUAL_KEYS).filter(|k| r.present(k)).collect();
        for key in given {
            r.error(key, "give only one of metadata_xml, metadata_url or entity_id + sso_url + certificates");
        }
        return None;
    }

    if has_xml {
        let xml = r.string("metadata_xml")?;
        let body = xml.trim_start_matches('\u{feff}').trim_start();
        if !body.starts_with('<') || !body.contains("EntityDescriptor") {
            r.error("metadata_xml", "must be a SAML metadata document (EntityDescriptor)");
            return None;
        }
        if let Err(problem) = super::idp_metadata::parse(body) {
            r.error("metadata_xml", problem);
            return None;
        }
        return Some(Metadata::Xml { metadata_xml: xml });
    }
    if has_url {
        let url = r.string("metadata_url")?;
        return match validate::web_url(&url) {
            Ok(_) => Some(Metadata::Url { metadata_url: url }),
            Err(msg) => {
                r.error("metadata_url", msg);
                None
            }
        };
    }

    let entity_id = r.required_string("entity_id");
    let sso_url = r
        .required_string("sso_url")
        .filter(|url| validate::web_url(url).map_err(|msg| r.error("sso_url", msg)).is_ok());
    let certificates = if r.present("certificates") {
        r.string_list("certificates").filter(|certs| {
            let ok = !certs.is_empty() && certs.iter().all(|c| validate::is_certificate(c));
            if !ok {
                r.error("certificates", "must be a non-empty list of PEM or base64 DER X.509 certificates");
            }
            ok
        })
    } else {
        r.error("certificates", "is required");
        None
    };
    Some(Metadata::Manual { entity_id: entity_id?, sso_url: sso_url?, certificates: certificates? })
}

impl TryFrom<serde_json::Value> for Config {
    type Error = ConfigError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::fixtures::{CERT_B64, cert_pem};
    use serde_json::{Value, json};

    const BARE: &str = r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com"/>"#;

    fn xml() -> String {
        super::super::idp_metadata::manual_xml("https://idp.example.com", "https://idp.example.com/sso", &[cert_pem()])
    }

    #[test]
    fn metadata_without_an_sso_endpoint_or_signing_certificate_is_refused() {
        assert!(Config::parse(&json!({"metadata_xml": BARE})).unwrap_err().has("metadata_xml"));
        let no_cert =
            super::super::idp_metadata::manual_xml("https://idp.example.com", "https://idp.example.com/sso", &[]);
        let err = Config::parse(&json!({"metadata_xml": no_cert})).unwrap_err();
        assert!(err.fields[0].message.contains("signing certificate"), "{err}");
    }

    fn manual() -> Value {
        json!({"entity_id": "https://idp.example.com", "sso_url": "https://idp.example.com/sso",
               "certificates": [CERT_B64, cert_pem()]})
    }

    fn with(mut v: Value, key: &str, value: Value) -> Value {
        v[key] = value;
        v
    }

    #[test]
    fn each_way_of_describing_the_idp_parses_with_defaults() {
        let c = Config::parse(&json!({"metadata_xml": xml()})).unwrap();
        assert_eq!(c.metadata, Metadata::Xml { metadata_xml: xml() });
        assert!(c.sign_authn_requests && c.want_assertions_signed);
        assert_eq!(c.clock_skew_seconds, 120);
        assert_eq!(c.name_id_format, None);

        let c = Config::parse(&json!({"metadata_url": "http://127.0.0.1:7000/metadata"})).unwrap();
        assert!(matches!(c.metadata, Metadata::Url { .. }));

        let c = Config::parse(&manual()).unwrap();
        let Metadata::Manual { certificates, .. } = &c.metadata else { panic!() };
        assert_eq!(certificates.len(), 2);
    }

    #[test]
    fn explicit_values_are_kept_and_round_trip() {
        let mut v = with(manual(), "name_id_format", json!("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));
        v["sign_authn_requests"] = json!(false);
        v["clock_skew_seconds"] = json!(600);
        let c = Config::parse(&v).unwrap();
        assert!(!c.sign_authn_requests);
        assert_eq!(c.clock_skew_seconds, 600);
        let stored = serde_json::to_value(&c).unwrap();
        assert_eq!(stored["entity_id"], "https://idp.example.com");
        let back: Config = serde_json::from_value(stored).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn idp_description_is_required_and_exclusive() {
        assert!(Config::parse(&json!({})).unwrap_err().has("metadata_xml"));
        let err =
            Config::parse(&json!({"metadata_xml": xml(), "metadata_url": "https://idp.example.com/md"})).unwrap_err();
        assert!(err.has("metadata_xml") && err.has("metadata_url"));
        assert!(Config::parse(&with(manual(), "metadata_xml", json!(xml()))).is_err());
    }

    #[test]
    fn each_manual_field_is_required() {
        for key in MANUAL_KEYS {
            let mut v = manual();
            v.as_object_mut().unwrap().remove(key);
            let err = Config::parse(&v).unwrap_err();
            assert_eq!(err.fields.len(), 1, "{key}: {err}");
            assert_eq!(err.fields[0].field, key);
        }
    }

    #[test]
    fn values_are_checked() {
        assert!(Config::parse(&json!({"metadata_url": "http://idp.example.com/md"})).unwrap_err().has("metadata_url"));
        assert!(Config::parse(&json!({"metadata_xml": "hello"})).unwrap_err().has("metadata_xml"));
        assert!(Config::parse(&with(manual(), "sso_url", json!("nope"))).unwrap_err().has("sso_url"));
        assert!(Config::parse(&with(manual(), "certificates", json!([]))).unwrap_err().has("certificates"));
        assert!(Config::parse(&with(manual(), "certificates", json!(["aGVsbG8="]))).unwrap_err().has("certificates"));
        assert!(
            Config::parse(&with(manual(), "clock_skew_seconds", json!(601))).unwrap_err().has("clock_skew_seconds")
        );
        assert!(Config::parse(&with(manual(), "clock_skew_seconds", json!(-1))).unwrap_err().has("clock_skew_seconds"));
        assert!(
            Config::parse(&with(manual(), "want_assertions_signed", json!("no")))
                .unwrap_err()
                .has("want_assertions_signed")
        );
        assert!(Config::parse(&with(manual(), "name_id_format", json!("email"))).unwrap_err().has("name_id_format"));
    }

    #[test]
    fn unknown_keys_are_reported() {
        assert!(Config::parse(&with(manual(), "client_secret", json!("x"))).unwrap_err().has("client_secret"));
    }

    #[test]
    fn has_no_secrets_to_redact() {
        assert!(crate::ConnectorKind::Saml.secret_fields().is_empty());
        assert!(format!("{:?}", Config::parse(&manual()).unwrap()).contains("idp.example.com"));
    }
}
