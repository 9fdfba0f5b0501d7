//! Configuration of a Google Workspace upstream: parsed, validated, redacted.
//!
//! | key | rule |
//! |---|---|
//! | `client_id`, `client_secret` | required (OIDC login) |
//! | `hosted_domain` | required; the Workspace domain checked against `hd`, stored lowercase |
//! | `service_account_json` | optional; the key file Google issues, as a JSON string or object, with `client_email` and a PEM `private_key`; stored as a JSON string so it can be sealed like any other secret |
//! | `admin_subject` | the admin the service account impersonates; required with (and only allowed with) `service_account_json` |
//! | `customer_id` | default `my_customer` |
//! | `accounts_base_url` | default `https://accounts.google.com` |
//! | `directory_base_url` | default `https://admin.googleapis.com` |
//! | `token_uri` | default `https://oauth2.googleapis.com/token` (service-account token endpoint) |

use crate::error::ConfigError;
use crate::reader::Reader;
use crate::{redact, validate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Google's OIDC host.
pub const DEFAULT_ACCOUNTS_BASE_URL: &str = "https://accounts.google.com";
/// Google's Admin SDK host.
pub const DEFAULT_DIRECTORY_BASE_URL: &str = "https://admin.googleapis.com";
/// Google's OAuth token endpoint for service-account JWT grants.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The alias of the service account's own Workspace customer.
pub const DEFAULT_CUSTOMER_ID: &str = "my_customer";

const KEYS: &[&str] = &[
    "client_id",
    "client_secret",
    "hosted_domain",
    "service_account_json",
    "admin_subject",
    "customer_id",
    "accounts_base_url",
    "directory_base_url",
    "token_uri",
];

/// The parts of a service-account key file that directory sync uses.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    /// The service account's email, the JWT `iss`.
    pub client_email: String,
    /// The PKCS#8 PEM private key that signs the JWT (secret).
    pub private_key: String,
    /// The key id, sent as the JWT `kid` when present.
    pub private_key_id: Option<String>,
}

impl ServiceAccountKey {
    fn from_json(value: &Value) -> Result<Self, &'static str> {
        let Value::Object(map) = value else {
            return Err("must be a service account key: a JSON object or a string holding one");
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        let client_email = text("client_email").ok_or("must contain a client_email")?;
        let private_key = text("private_key").ok_or("must contain a private_key")?;
        if !validate::looks_like_pem(private_key) {
            return Err("private_key must be a PEM private key");
        }
        Ok(Self {
            client_email: client_email.to_owned(),
            private_key: private_key.to_owned(),
            private_key_id: text("private_key_id").map(str::to_owned),
        })
    }

    /// Parses a key file's JSON text.
    fn from_text(text: &str) -> Result<Self, &'static str> {
        let value: Value = serde_json::from_str(text)
            .map_err(|_| "must be a service account key: a JSON object or a string holding one")?;
        Self::from_json(&value)
    }
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key", &redact::Redacted)
            .field("private_key_id", &self.private_key_id)
            .finish()
    }
}

/// A validated Google Workspace upstream configuration.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Config {
    /// ScaiKey's OAuth client id at Google.
    pub client_id: String,
    /// ScaiKey's OAuth client secret at Google (secret).
    pub client_secret: String,
    /// The Workspace domain (`hd`), lowercase.
    pub hosted_domain: String,
    /// The service-account key file as JSON text (secret); directory sync
    /// is available only when set. Read it with [`Config::service_account`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_json: Option<String>,
    /// The Workspace admin the service account acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_subject: Option<String>,
    /// The Workspace customer whose directory is read.
    pub customer_id: String,
    /// Google OIDC host, without trailing slash.
    pub accounts_base_url: String,
    /// Admin SDK host, without trailing slash.
    pub directory_base_url: String,
    /// Token endpoint for the service-account grant.
    pub token_uri: String,
}

impl Config {
    /// Parses and validates a config object, reporting every problem.
    pub fn parse(value: &Value) -> Result<Self, ConfigError> {
        let mut r = Reader::new(value, KEYS);

        let client_id = r.required_string("client_id");
        let client_secret = r.required_string("client_secret");
        let hosted_domain = r.required_string("hosted_domain").and_then(|d| {
            let d = d.to_ascii_lowercase();
            if validate::is_domain(&d) {
                Some(d)
            } else {
                r.error("hosted_domain", "must be a domain name such as example.com");
                None
            }
        });

        let service_account_json = match r.raw("service_account_json") {
            None => None,
            Some(raw) => {
                let checked = match raw {
                    Value::String(text) => ServiceAccountKey::from_text(text).map(|_| text.clone()),
                    other => ServiceAccountKey::from_json(other).map(|_| other.to_string()),
                };
                checked.map_err(|msg| r.error("service_account_json", msg)).ok()
            }
        };
        let admin_subject = r.string("admin_subject");
        if let Some(subject) = &admin_subject {
            if !subject.contains('@') {
                r.error("admin_subject", "must be the email address of a Workspace admin");
            } else if !r.present("service_account_json") {
                r.error("admin_subject", "is only used together with service_account_json");
            }
        } else if r.present("service_account_json") && !r.has_error("admin_subject") {
            r.error("admin_subject", "is required with service_account_json");
        }

        let customer_id = r.string_or("customer_id", DEFAULT_CUSTOMER_ID).filter(|id| {
            let ok = id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                r.error("customer_id", "must be a Workspace customer id or \"my_customer\"");
            }
            ok
        });
        let accounts_base_url = r.base_url_or("accounts_base_url", DEFAULT_ACCOUNTS_BASE_URL);
        let directory_base_url = r.base_url_or("directory_base_url", DEFAULT_DIRECTORY_BASE_URL);
        let token_uri = r
            .string_or("token_uri", DEFAULT_TOKEN_URI)
            .filter(|uri| validate::web_url(uri).map_err(|msg| r.error("token_uri", msg)).is_ok());

        let (
            Some(client_id),
            Some(client_secret),
            Some(hosted_domain),
            Some(customer_id),
            Some(accounts_base_url),
            Some(directory_base_url),
            Some(token_uri),
        ) = (client_id, client_secret, hosted_domain, customer_id, accounts_base_url, directory_base_url, token_uri)
        else {
            return Err(r.into_error());
        };
        r.finish(Self {
            client_id,
            client_secret,
            hosted_domain,
            service_account_json,
            admin_subject,
            customer_id,
            accounts_base_url,
            directory_base_url,
            token_uri,
        })
    }

    /// The service-account key, when directory sync is configured.
    pub fn service_account(&self) -> Option<ServiceAccountKey> {
        self.service_account_json.as_deref().and_then(|text| ServiceAccountKey::from_text(text).ok())
    }
}

impl TryFrom<Value> for Config {
    type Error = ConfigError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("google::Config")
            .field("client_id", &self.client_id)
            .field("client_secret", &redact::Redacted)
            .field("hosted_domain", &self.hosted_domain)
            .field("service_account_json", &redact::optional(&self.service_account_json))
            .field("admin_subject", &self.admin_subject)
            .field("customer_id", &self.customer_id)
            .field("accounts_base_url", &self.accounts_base_url)
            .field("directory_base_url", &self.directory_base_url)
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY_PEM: &str =
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

    fn minimal() -> Value {
        json!({"client_id": "id.apps.googleusercontent.com", "client_secret": "hunter2", "hosted_domain": "Acme.test"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = minimal();
        v[key] = value;
        v
    }

    fn sa_key() -> Value {
        json!({"type": "service_account", "client_email": "sync@acme.iam.gserviceaccount.com",
               "private_key": KEY_PEM, "private_key_id": "k1"})
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(&minimal()).unwrap();
        assert_eq!(c.hosted_domain, "acme.test");
        assert_eq!(c.customer_id, "my_customer");
        assert_eq!(c.accounts_base_url, DEFAULT_ACCOUNTS_BASE_URL);
        assert_eq!(c.directory_base_url, DEFAULT_DIRECTORY_BASE_URL);
        assert_eq!(c.token_uri, DEFAULT_TOKEN_URI);
        assert!(c.service_account().is_none());
    }

    #[test]
    fn service_account_as_object_or_string() {
        let mut v = with("service_account_json", sa_key());
        v["admin_subject"] = json!("admin@acme.test");
        let c = Config::parse(&v).unwrap();
        let key = c.service_account().unwrap();
        assert_eq!(key.client_email, "sync@acme.iam.gserviceaccount.com");
        assert_eq!(key.private_key_id.as_deref(), Some("k1"));

        v["service_account_json"] = json!(sa_key().to_string());
        assert_eq!(Config::parse(&v).unwrap(), c);

        let back: Config = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn service_account_is_checked() {
        for bad in [
            json!("not json"),
            json!(42),
            json!({"client_email": "x@y"}),
            json!({"client_email": "x@y", "private_key": "raw"}),
        ] {
            let mut v = with("service_account_json", bad);
            v["admin_subject"] = json!("admin@acme.test");
            let err = Config::parse(&v).unwrap_err();
            assert_eq!(err.fields.len(), 1, "{err}");
            assert!(err.has("service_account_json"));
        }
        assert!(Config::parse(&with("service_account_json", sa_key())).unwrap_err().has("admin_subject"));
        assert!(Config::parse(&with("admin_subject", json!("admin@acme.test"))).unwrap_err().has("admin_subject"));
    }

    #[test]
    fn each_required_field_is_reported() {
        for key in ["client_id", "client_secret", "hosted_domain"] {
            let mut v = minimal();
            v.as_object_mut().unwrap().remove(key);
            let err = Config::parse(&v).unwrap_err();
            assert_eq!(err.fields.len(), 1, "{key}: {err}");
            assert_eq!(err.fields[0].field, key);
        }
        assert!(Config::parse(&with("hosted_domain", json!("not a domain"))).unwrap_err().has("hosted_domain"));
    }

    #[test]
    fn urls_are_checked() {
        let mut v = with("accounts_base_url", json!("http://accounts.example.com"));
        v["directory_base_url"] = json!("ftp://x");
        v["token_uri"] = json!("nope");
        let err = Config::parse(&v).unwrap_err();
        assert!(err.has("accounts_base_url") && err.has("directory_base_url") && err.has("token_uri"));
        let mut v = with("accounts_base_url", json!("http://127.0.0.1:1"));
        v["token_uri"] = json!("http://127.0.0.1:1/token");
        assert_eq!(Config::parse(&v).unwrap().token_uri, "http://127.0.0.1:1/token");
    }

    #[test]
    fn unknown_keys_are_reported() {
        assert!(Config::parse(&with("tenant", json!("x"))).unwrap_err().has("tenant"));
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut v = with("service_account_json", sa_key());
        v["admin_subject"] = json!("admin@acme.test");
        let c = Config::parse(&v).unwrap();
        let shown = format!("{c:?} {:?}", c.service_account());
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("PRIVATE KEY"));
        assert!(shown.contains("Some([redacted])"));
    }
}
