//! Upstream identity provider connectors for ScaiKey.
//!
//! One folder per upstream (`oidc`, `entra`, `google`, `saml`, `ldap`), each
//! with a `Config` that is parsed and validated here, once, before the server
//! stores it or opens a connection. The crate never touches the store,
//! tenants or tokens: it turns an identity provider's `type` + `config` JSON
//! into a typed, checked configuration (and, in later steps, into identities
//! and directory pages); the server provisions, maps and reconciles.
//!
//! [`Connector::open`] turns a config into capabilities: `redirect()`
//! (OIDC, Entra ID, Google), `saml()`, `password()` (LDAP bind) and
//! `directory()` (sync from LDAP, Entra ID and Google). Connectors talk to their upstream over
//! [`Http`] (bounded bodies, no redirects followed) and never to the store.
//!
//! Parsing collects every problem it finds ([`ConfigError::fields`]) so an
//! admin fixes a config in one round trip. Secrets never appear in `Debug`
//! output or in error messages; [`ConnectorKind::secret_fields`] names the
//! keys the server must seal at rest.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod directory;
pub mod entra;
mod error;
pub mod google;
mod http;
mod kind;
pub mod ldap;
mod login;
pub mod oidc;
mod reader;
mod redact;
mod runtime;
pub mod saml;
mod validate;

pub use error::{ConfigError, ConnectorError, FieldError};
pub use http::Http;
pub use kind::{ConnectorKind, UnknownConnectorKind};
pub use login::{BoxFuture, Callback, PendingLogin, RedirectLogin, UpstreamIdentity};
pub use runtime::Connector;

use serde::Serialize;

/// A validated identity provider configuration, one variant per upstream.
///
/// Serializes to the same JSON object the admin API accepts (defaults filled
/// in, secrets included: seal [`ConnectorKind::secret_fields`] before storing).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ConnectorConfig {
    /// Any OpenID Connect provider (Keycloak, Okta, Auth0, …).
    Oidc(oidc::Config),
    /// Microsoft Entra ID (login and Graph directory sync).
    Entra(entra::Config),
    /// Google Workspace (login and Admin SDK directory sync).
    Google(google::Config),
    /// A SAML 2.0 identity provider.
    Saml(saml::Config),
    /// Active Directory / OpenLDAP / 389-DS.
    Ldap(ldap::Config),
}

impl ConnectorConfig {
    /// Parses and validates `config` as the configuration of a `kind`
    /// identity provider, reporting every problem found.
    pub fn parse(kind: ConnectorKind, config: &serde_json::Value) -> Result<Self, ConfigError> {
        Ok(match kind {
            ConnectorKind::Oidc => Self::Oidc(oidc::Config::parse(config)?),
            ConnectorKind::Entra => Self::Entra(entra::Config::parse(config)?),
            ConnectorKind::Google => Self::Google(google::Config::parse(config)?),
            ConnectorKind::Saml => Self::Saml(saml::Config::parse(config)?),
            ConnectorKind::Ldap => Self::Ldap(ldap::Config::parse(config)?),
        })
    }

    /// The upstream type of this configuration.
    pub fn kind(&self) -> ConnectorKind {
        match self {
            Self::Oidc(_) => ConnectorKind::Oidc,
            Self::Entra(_) => ConnectorKind::Entra,
            Self::Google(_) => ConnectorKind::Google,
            Self::Saml(_) => ConnectorKind::Saml,
            Self::Ldap(_) => ConnectorKind::Ldap,
        }
    }
}

impl std::fmt::Debug for ConnectorConfig {
    // Delegates to each config's redacting Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oidc(c) => f.debug_tuple("Oidc").field(c).finish(),
            Self::Entra(c) => f.debug_tuple("Entra").field(c).finish(),
            Self::Google(c) => f.debug_tuple("Google").field(c).finish(),
            Self::Saml(c) => f.debug_tuple("Saml").field(c).finish(),
            Self::Ldap(c) => f.debug_tuple("Ldap").field(c).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_dispatches_on_kind_and_round_trips() {
        let raw = json!({"issuer": "https://idp.example.com", "client_id": "c", "client_secret": "s"});
        let parsed = ConnectorConfig::parse(ConnectorKind::Oidc, &raw).unwrap();
        assert_eq!(parsed.kind(), ConnectorKind::Oidc);
        let stored = serde_json::to_value(&parsed).unwrap();
        assert_eq!(stored["scopes"], json!(["openid", "email", "profile"]));
        assert_eq!(ConnectorConfig::parse(ConnectorKind::Oidc, &stored).unwrap(), parsed);
    }

    #[test]
    fn wrong_kind_reports_unknown_and_missing_fields() {
        let raw = json!({"issuer": "https://idp.example.com", "client_id": "c", "client_secret": "s"});
        let err = ConnectorConfig::parse(ConnectorKind::Ldap, &raw).unwrap_err();
        let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"issuer"));
        assert!(fields.contains(&"url"));
        assert!(fields.contains(&"user_base_dn"));
    }

    #[test]
    fn non_object_config_is_rejected() {
        let err = ConnectorConfig::parse(ConnectorKind::Saml, &json!("nope")).unwrap_err();
        assert_eq!(err.fields.len(), 1);
        assert_eq!(err.fields[0].field, "config");
    }

    #[test]
    fn debug_of_enum_redacts() {
        let raw = json!({"issuer": "https://idp.example.com", "client_id": "c", "client_secret": "hunter2"});
        let parsed = ConnectorConfig::parse(ConnectorKind::Oidc, &raw).unwrap();
        assert!(!format!("{parsed:?}").contains("hunter2"));
    }
}
