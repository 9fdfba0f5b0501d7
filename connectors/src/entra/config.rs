//! Configuration of an Entra ID upstream: parsed, validated, redacted.
//!
//! | key | rule |
//! |---|---|
//! | `tenant` | required: a directory GUID, `organizations` or `common` |
//! | `allowed_tenant_ids` | GUIDs; required (non-empty) for `organizations` / `common`, since otherwise every Entra tenant in the world could sign in; for a GUID tenant it may only list that GUID |
//! | `client_id`, `client_secret` | required |
//! | `login_base_url` | default `https://login.microsoftonline.com` |
//! | `graph_base_url` | default `https://graph.microsoft.com` |
//!
//! Base URLs are config so tests point at local servers (http is allowed
//! for loopback hosts only). GUIDs are stored lowercase, the form Entra
//! puts in `tid`.

use crate::error::ConfigError;
use crate::reader::Reader;
use crate::{redact, validate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Microsoft's public-cloud login host.
pub const DEFAULT_LOGIN_BASE_URL: &str = "https://login.microsoftonline.com";
/// Microsoft's public-cloud Graph host.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";

const KEYS: &[&str] =
    &["tenant", "allowed_tenant_ids", "client_id", "client_secret", "login_base_url", "graph_base_url"];

/// Which Entra directories the login authority accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntraTenant {
    /// One directory, by its GUID (lowercase).
    Id(String),
    /// Any work or school directory (`organizations`).
    Organizations,
    /// Work, school and personal Microsoft accounts (`common`).
    Common,
}

impl EntraTenant {
    /// The path segment of the login authority.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Organizations => "organizations",
            Self::Common => "common",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "organizations" => Some(Self::Organizations),
            "common" => Some(Self::Common),
            id if validate::is_guid(id) => Some(Self::Id(id.to_ascii_lowercase())),
            _ => None,
        }
    }
}

impl Serialize for EntraTenant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A validated Entra ID upstream configuration.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Config {
    /// The login authority's tenant segment.
    pub tenant: EntraTenant,
    /// Entra directories (`tid`) allowed to sign in, lowercase GUIDs.
    pub allowed_tenant_ids: Vec<String>,
    /// ScaiKey's application (client) id in Entra.
    pub client_id: String,
    /// ScaiKey's client secret in Entra (secret).
    pub client_secret: String,
    /// Login host, without trailing slash.
    pub login_base_url: String,
    /// Microsoft Graph host, without trailing slash.
    pub graph_base_url: String,
}

impl Config {
    /// Parses and validates a config object, reporting every problem.
    pub fn parse(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let mut r = Reader::new(value, KEYS);

        let tenant = r.required_string("tenant").and_then(|raw| {
            let parsed = EntraTenant::parse(&raw);
            if parsed.is_none() {
                r.error("tenant", "must be a directory GUID, \"organizations\" or \"common\"");
            }
            parsed
        });

        let mut allowed_tenant_ids = r.string_list("allowed_tenant_ids").unwrap_or_default();
        if allowed_tenant_ids.iter().any(|id| !validate::is_guid(id)) {
            r.error("allowed_tenant_ids", "each entry must be a directory GUID");
        }
        allowed_tenant_ids.iter_mut().for_each(|id| id.make_ascii_lowercase());
        if !r.has_error("allowed_tenant_ids") {
            match &tenant {
                Some(EntraTenant::Id(id)) if allowed_tenant_ids.iter().any(|a| a != id) => {
                    r.error("allowed_tenant_ids", "may only list the configured tenant");
                }
                Some(EntraTenant::Organizations | EntraTenant::Common) if allowed_tenant_ids.is_empty() => {
                    r.error("allowed_tenant_ids", "is required when tenant is \"organizations\" or \"common\"");
                }
                _ => {}
            }
        }

        let client_id = r.required_string("client_id");
        let client_secret = r.required_string("client_secret");
        let login_base_url = r.base_url_or("login_base_url", DEFAULT_LOGIN_BASE_URL);
        let graph_base_url = r.base_url_or("graph_base_url", DEFAULT_GRAPH_BASE_URL);

        let (Some(tenant), Some(client_id), Some(client_secret), Some(login_base_url), Some(graph_base_url)) =
            (tenant, client_id, client_secret, login_base_url, graph_base_url)
        else {
            return Err(r.into_error());
        };
        r.finish(Self { tenant, allowed_tenant_ids, client_id, client_secret, login_base_url, graph_base_url })
    }

    /// Whether a token whose `tid` is `tid` may sign in. A GUID tenant with
    /// an empty allow-list admits that tenant only.
    pub fn allows_tenant(&self, tid: &str) -> bool {
        let tid = tid.to_ascii_lowercase();
        match &self.tenant {
            EntraTenant::Id(id) if self.allowed_tenant_ids.is_empty() => *id == tid,
            _ => self.allowed_tenant_ids.contains(&tid),
        }
    }
}

impl TryFrom<serde_json::Value> for Config {
    type Error = ConfigError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("entra::Config")
            .field("tenant", &self.tenant)
            .field("allowed_tenant_ids", &self.allowed_tenant_ids)
            .field("client_id", &self.client_id)
            .field("client_secret", &redact::Redacted)
            .field("login_base_url", &self.login_base_url)
            .field("graph_base_url", &self.graph_base_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const OTHER: &str = "0b2a3c4d-1111-2222-3333-444455556666";

    fn minimal() -> Value {
        json!({"tenant": TID, "client_id": "app", "client_secret": "hunter2"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = minimal();
        v[key] = value;
        v
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(&minimal()).unwrap();
        assert_eq!(c.tenant, EntraTenant::Id(TID.into()));
        assert!(c.allowed_tenant_ids.is_empty());
        assert_eq!(c.login_base_url, DEFAULT_LOGIN_BASE_URL);
        assert_eq!(c.graph_base_url, DEFAULT_GRAPH_BASE_URL);
        assert!(c.allows_tenant(&TID.to_uppercase()));
        assert!(!c.allows_tenant(OTHER));
    }

    #[test]
    fn multi_tenant_needs_an_allow_list() {
        for t in ["organizations", "common"] {
            assert!(Config::parse(&with("tenant", json!(t))).unwrap_err().has("allowed_tenant_ids"));
        }
        let mut v = with("tenant", json!("organizations"));
        v["allowed_tenant_ids"] = json!([TID.to_uppercase(), OTHER]);
        let c = Config::parse(&v).unwrap();
        assert_eq!(c.tenant, EntraTenant::Organizations);
        assert_eq!(c.allowed_tenant_ids, [TID, OTHER]);
        assert!(c.allows_tenant(OTHER));
        assert!(!c.allows_tenant("9188040d-6c67-4c5b-b112-36a304b66dad"));
        assert_eq!(serde_json::to_value(&c).unwrap()["tenant"], "organizations");
    }

    #[test]
    fn tenant_and_allow_list_are_checked() {
        assert!(Config::parse(&with("tenant", json!("contoso.com"))).unwrap_err().has("tenant"));
        assert!(Config::parse(&with("allowed_tenant_ids", json!(["nope"]))).unwrap_err().has("allowed_tenant_ids"));
        assert!(Config::parse(&with("allowed_tenant_ids", json!([OTHER]))).unwrap_err().has("allowed_tenant_ids"));
        assert!(Config::parse(&with("allowed_tenant_ids", json!([TID]))).is_ok());
    }

    #[test]
    fn each_required_field_is_reported() {
        for key in ["tenant", "client_id", "client_secret"] {
            let mut v = minimal();
            v.as_object_mut().unwrap().remove(key);
            let err = Config::parse(&v).unwrap_err();
            assert_eq!(err.fields.len(), 1, "{key}: {err}");
            assert_eq!(err.fields[0].field, key);
        }
    }

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        let mut v = with("login_base_url", json!("http://127.0.0.1:4010/"));
        v["graph_base_url"] = json!("http://localhost:4011");
        let c = Config::parse(&v).unwrap();
        assert_eq!(c.login_base_url, "http://127.0.0.1:4010");
        assert_eq!(c.graph_base_url, "http://localhost:4011");
        let mut v = with("login_base_url", json!("http://login.example.com"));
        v["graph_base_url"] = json!("not a url");
        let err = Config::parse(&v).unwrap_err();
        assert!(err.has("login_base_url") && err.has("graph_base_url"));
    }

    #[test]
    fn unknown_keys_are_reported() {
        assert!(Config::parse(&with("issuer", json!("x"))).unwrap_err().has("issuer"));
    }

    #[test]
    fn debug_redacts_and_serde_round_trips() {
        let c = Config::parse(&minimal()).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let back: Config = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
