//! The closed set of upstream identity provider types and what each offers.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An identity provider `type` as named in the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Generic OpenID Connect.
    Oidc,
    /// Microsoft Entra ID.
    Entra,
    /// Google Workspace.
    Google,
    /// SAML 2.0.
    Saml,
    /// LDAP / Active Directory.
    Ldap,
}

impl ConnectorKind {
    /// Every kind, in a stable order.
    pub const ALL: [ConnectorKind; 5] = [Self::Oidc, Self::Entra, Self::Google, Self::Saml, Self::Ldap];

    /// The wire name (`oidc`, `entra`, `google`, `saml`, `ldap`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Entra => "entra",
            Self::Google => "google",
            Self::Saml => "saml",
            Self::Ldap => "ldap",
        }
    }

    /// Whether this kind offers scheduled directory sync.
    pub fn supports_sync(&self) -> bool {
        matches!(self, Self::Entra | Self::Google | Self::Ldap)
    }

    /// Top-level config keys holding secrets, to be sealed at rest and
    /// never returned by the admin API.
    pub fn secret_fields(&self) -> &'static [&'static str] {
        match self {
            Self::Oidc | Self::Entra => &["client_secret"],
            Self::Google => &["client_secret", "service_account_json"],
            Self::Ldap => &["bind_password"],
            Self::Saml => &[],
        }
    }
}

impl fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `type` that names no known identity provider kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity provider type (expected one of: oidc, entra, google, saml, ldap)")]
pub struct UnknownConnectorKind;

impl FromStr for ConnectorKind {
    type Err = UnknownConnectorKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(UnknownConnectorKind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ConnectorKind::ALL {
            assert_eq!(kind.as_str().parse::<ConnectorKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            let back: ConnectorKind = serde_json::from_value(kind.as_str().into()).unwrap();
            assert_eq!(back, kind);
        }
        assert!("OIDC".parse::<ConnectorKind>().is_err());
        assert!("okta".parse::<ConnectorKind>().is_err());
    }

    #[test]
    fn capabilities() {
        let syncing: Vec<_> = ConnectorKind::ALL.into_iter().filter(|k| k.supports_sync()).collect();
        assert_eq!(syncing, [ConnectorKind::Entra, ConnectorKind::Google, ConnectorKind::Ldap]);
        assert_eq!(ConnectorKind::Google.secret_fields(), ["client_secret", "service_account_json"]);
        assert_eq!(ConnectorKind::Ldap.secret_fields(), ["bind_password"]);
        assert!(ConnectorKind::Saml.secret_fields().is_empty());
    }
}
