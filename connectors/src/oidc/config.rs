//! Configuration of a generic OIDC upstream: parsed, validated, redacted.
//!
//! | key | rule |
//! |---|---|
//! | `issuer` | required; https URL without query or fragment (http for loopback hosts only) |
//! | `client_id`, `client_secret` | required |
//! | `scopes` | default `["openid", "email", "profile"]`; must contain `openid` |
//! | `token_endpoint_auth_method` | `client_secret_basic` (default) or `client_secret_post` |

use crate::error::ConfigError;
use crate::reader::Reader;
use crate::{redact, validate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Scopes asked of the upstream when the config names none.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

const KEYS: &[&str] = &["issuer", "client_id", "client_secret", "scopes", "token_endpoint_auth_method"];

/// How ScaiKey authenticates to the upstream's token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
    #[default]
    ClientSecretBasic,
    /// Client id and secret in the form body.
    ClientSecretPost,
}

impl TokenEndpointAuthMethod {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }
}

/// A validated OIDC upstream configuration.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Config {
    /// The upstream issuer, exactly as its discovery document states it.
    pub issuer: String,
    /// ScaiKey's client id at the upstream.
    pub client_id: String,
    /// ScaiKey's client secret at the upstream (secret).
    pub client_secret: String,
    /// Scopes requested at login; always contains `openid`.
    pub scopes: Vec<String>,
    /// Token endpoint client authentication.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
}

impl Config {
    /// Parses and validates a config object, reporting every problem.
    pub fn parse(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let mut r = Reader::new(value, KEYS);

        let issuer = r.required_string("issuer").filter(|raw| {
            let checked = validate::web_url(raw).and_then(|url| match url.query() {
                Some(_) => Err("must not contain a query"),
                None => Ok(()),
            });
            checked.map_err(|msg| r.error("issuer", msg)).is_ok()
        });
        let client_id = r.required_string("client_id");
        let client_secret = r.required_string("client_secret");

        let scopes = r.string_list("scopes").unwrap_or_else(|| DEFAULT_SCOPES.map(String::from).to_vec());
        if !r.has_error("scopes") {
            if scopes.iter().any(|s| !validate::is_scope_token(s)) {
                r.error("scopes", "each scope must be a single token without spaces or quotes");
            } else if !scopes.iter().any(|s| s == "openid") {
                r.error("scopes", "must contain \"openid\"");
            }
        }

        let method = r.string("token_endpoint_auth_method");
        let token_endpoint_auth_method = match method.as_deref() {
            None => TokenEndpointAuthMethod::default(),
            Some(m) => TokenEndpointAuthMethod::parse(m).unwrap_or_else(|| {
                r.error("token_endpoint_auth_method", "must be client_secret_basic or client_secret_post");
                TokenEndpointAuthMethod::default()
            }),
        };

        let (Some(issuer), Some(client_id), Some(client_secret)) = (issuer, client_id, client_secret) else {
            return Err(r.into_error());
        };
        r.finish(Self { issuer, client_id, client_secret, scopes, token_endpoint_auth_method })
    }

    /// Where the upstream's discovery document lives.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'))
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
        f.debug_struct("oidc::Config")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &redact::Redacted)
            .field("scopes", &self.scopes)
            .field("token_endpoint_auth_method", &self.token_endpoint_auth_method)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn minimal() -> Value {
        json!({"issuer": "https://idp.example.com/realms/acme", "client_id": "scaikey", "client_secret": "hunter2"})
    }

    fn without(key: &str) -> Value {
        let mut v = minimal();
        v.as_object_mut().unwrap().remove(key);
        v
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = minimal();
        v[key] = value;
        v
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(&minimal()).unwrap();
        assert_eq!(c.issuer, "https://idp.example.com/realms/acme");
        assert_eq!(c.scopes, ["openid", "email", "profile"]);
        assert_eq!(c.token_endpoint_auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert_eq!(c.discovery_url(), "https://idp.example.com/realms/acme/.well-known/openid-configuration");
    }

    #[test]
    fn explicit_values_are_kept() {
        let mut v = with("scopes", json!(["openid", "groups"]));
        v["token_endpoint_auth_method"] = json!("client_secret_post");
        let c = Config::parse(&v).unwrap();
        assert_eq!(c.scopes, ["openid", "groups"]);
        assert_eq!(c.token_endpoint_auth_method, TokenEndpointAuthMethod::ClientSecretPost);
    }

    #[test]
    fn each_required_field_is_reported() {
        for key in ["issuer", "client_id", "client_secret"] {
            let err = Config::parse(&without(key)).unwrap_err();
            assert_eq!(err.fields.len(), 1, "{key}: {err}");
            assert_eq!(err.fields[0].field, key);
        }
        let err = Config::parse(&json!({})).unwrap_err();
        assert_eq!(err.fields.len(), 3);
    }

    #[test]
    fn bad_urls_are_rejected() {
        for bad in
            ["http://idp.example.com", "idp.example.com", "https://idp.example.com?x=1", "https://idp.example.com#x"]
        {
            let err = Config::parse(&with("issuer", json!(bad))).unwrap_err();
            assert!(err.has("issuer"), "{bad}");
        }
        assert!(Config::parse(&with("issuer", json!("http://127.0.0.1:9999/realm"))).is_ok());
        assert!(Config::parse(&with("issuer", json!("http://localhost:9999"))).is_ok());
    }

    #[test]
    fn scopes_and_method_are_checked() {
        assert!(Config::parse(&with("scopes", json!(["email"]))).unwrap_err().has("scopes"));
        assert!(Config::parse(&with("scopes", json!(["openid email"]))).unwrap_err().has("scopes"));
        assert!(Config::parse(&with("scopes", json!("openid"))).unwrap_err().has("scopes"));
        let err = Config::parse(&with("token_endpoint_auth_method", json!("private_key_jwt"))).unwrap_err();
        assert!(err.has("token_endpoint_auth_method"));
    }

    #[test]
    fn unknown_keys_and_all_problems_are_reported() {
        let mut v = with("tenant", json!("x"));
        v["issuer"] = json!(5);
        v.as_object_mut().unwrap().remove("client_id");
        let err = Config::parse(&v).unwrap_err();
        assert!(err.has("tenant") && err.has("issuer") && err.has("client_id"));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let c = Config::parse(&minimal()).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("[redacted]"));
        assert!(!Config::parse(&with("issuer", json!("hunter2"))).unwrap_err().to_string().contains("hunter2"));
    }

    #[test]
    fn serde_round_trips_through_validation() {
        let c = Config::parse(&minimal()).unwrap();
        let back: Config = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_value::<Config>(without("issuer")).is_err());
    }
}
