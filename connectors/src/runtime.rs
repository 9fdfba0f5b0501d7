//! The connector runtime: a validated config opens into a [`Connector`]
//! offering capabilities, each `None` when the upstream type lacks it —
//! `redirect()` for OIDC-style logins, `saml()` for SAML 2.0, `password()`
//! (LDAP bind) and `directory()` (sync from LDAP, Entra ID, Google). Opening does no
//! I/O; the server keeps opened connectors by IdP id and config version,
//! so caches (discovery, keys, tokens) live as long as the config does.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::directory::Directory;
use crate::entra::{EntraDirectory, Graph};
use crate::google::GoogleDirectory;
use crate::http::Http;
use crate::ldap::{LdapDirectory, LdapLogin};
use crate::login::RedirectLogin;
use crate::oidc::{Client, Flavor, OidcLogin, TokenEndpointAuthMethod};
use crate::saml::SamlLogin;
use crate::{ConnectorConfig, ConnectorError, ConnectorKind};

/// Scopes asked of Entra and Google: they need no configuration.
const STANDARD_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// An opened upstream.
pub struct Connector {
    kind: ConnectorKind,
    oidc: Option<OidcLogin>,
    saml: Option<SamlLogin>,
    ldap: Option<(LdapLogin, LdapDirectory)>,
    directory: Option<Box<dyn Directory>>,
}

impl Connector {
    /// Opens `config` with `http` for its upstream calls.
    pub fn open(config: ConnectorConfig, http: &Http) -> Self {
        let kind = config.kind();
        let standard = || STANDARD_SCOPES.map(String::from).to_vec();
        let saml = match &config {
            ConnectorConfig::Saml(c) => Some(SamlLogin::new(http.clone(), c.clone())),
            _ => None,
        };
        let ldap = match &config {
            ConnectorConfig::Ldap(c) => Some((LdapLogin::new(c.clone()), LdapDirectory::new(c.clone()))),
            _ => None,
        };
        let directory: Option<Box<dyn Directory>> = match &config {
            ConnectorConfig::Entra(c) => Some(Box::new(EntraDirectory::new(Arc::new(Graph::new(http.clone(), c)), c))),
            ConnectorConfig::Google(c) if c.service_account_json.is_some() => {
                Some(Box::new(GoogleDirectory::new(http.clone(), c)))
            }
            _ => None,
        };
        let oidc = match config {
            ConnectorConfig::Oidc(c) => Some(OidcLogin::new(
                http.clone(),
                c.issuer.clone(),
                c.discovery_url(),
                Client { id: c.client_id, secret: c.client_secret, auth_method: c.token_endpoint_auth_method },
                c.scopes,
                Flavor::Plain,
            )),
            ConnectorConfig::Entra(c) => {
                let authority = format!("{}/{}/v2.0", c.login_base_url, c.tenant.as_str());
                Some(OidcLogin::new(
                    http.clone(),
                    authority.clone(),
                    format!("{authority}/.well-known/openid-configuration"),
                    Client {
                        id: c.client_id.clone(),
                        secret: c.client_secret.clone(),
                        auth_method: TokenEndpointAuthMethod::ClientSecretPost,
                    },
                    standard(),
                    Flavor::Entra(Box::new(c)),
                ))
            }
            ConnectorConfig::Google(c) => Some(OidcLogin::new(
                http.clone(),
                c.accounts_base_url.clone(),
                format!("{}/.well-known/openid-configuration", c.accounts_base_url),
                Client {
                    id: c.client_id,
                    secret: c.client_secret,
                    auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
                },
                standard(),
                Flavor::Google { hosted_domain: c.hosted_domain },
            )),
            ConnectorConfig::Saml(_) | ConnectorConfig::Ldap(_) => None,
        };
        Self { kind, oidc, saml, ldap, directory }
    }

    /// The upstream type.
    pub fn kind(&self) -> ConnectorKind {
        self.kind
    }

    /// Logins by browser redirect and code (OIDC, Entra ID, Google).
    pub fn redirect(&self) -> Option<&dyn RedirectLogin> {
        self.oidc.as_ref().map(|o| o as &dyn RedirectLogin)
    }

    /// Password logins checked by the upstream (LDAP bind).
    pub fn password(&self) -> Option<&LdapLogin> {
        self.ldap.as_ref().map(|(l, _)| l)
    }

    /// Directory sync (pages of users and groups): LDAP, Entra ID (Graph
    /// delta queries), Google Workspace with a service account.
    pub fn directory(&self) -> Option<&dyn Directory> {
        match &self.ldap {
            Some((_, d)) => Some(d as &dyn Directory),
            None => self.directory.as_deref(),
        }
    }

    /// SAML 2.0 logins (signed AuthnRequest, Response at the ACS).
    pub fn saml(&self) -> Option<&SamlLogin> {
        self.saml.as_ref()
    }

    /// Fetches what the upstream publishes about itself (discovery and
    /// keys, or SAML metadata) and reports it, without signing anyone in.
    pub async fn describe(&self) -> Result<Map<String, Value>, ConnectorError> {
        match (&self.oidc, &self.saml, &self.ldap) {
            (Some(o), _, _) => o.describe().await,
            (_, Some(s), _) => s.describe().await,
            (_, _, Some((l, _))) => l.describe().await,
            _ => Err(ConnectorError::Config(format!("testing a {} identity provider is not supported yet", self.kind))),
        }
    }
}
