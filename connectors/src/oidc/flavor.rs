//! What differs between OIDC upstreams once the protocol is shared: where
//! discovery lives, which issuer a token may carry, extra checks on the
//! claims, the external id, and extra authorization parameters.
//!
//! | flavor | issuer rule | extra check | external id |
//! |---|---|---|---|
//! | plain | the discovered issuer, exactly | — | `sub` |
//! | Google | the discovered issuer (or its host, as Google also writes it) | `hd` equals `hosted_domain` | `sub` |
//! | Entra | the discovered issuer with `{tenantid}` replaced by the token's own `tid` | `tid` allowed | `tid/oid` |

use serde_json::{Map, Value};

use crate::ConnectorError;
use crate::entra;

/// The per-upstream rules of an OIDC login.
#[derive(Debug, Clone)]
pub enum Flavor {
    /// Any OpenID provider.
    Plain,
    /// Google Workspace: one hosted domain.
    Google {
        /// Lowercase Workspace domain, checked against `hd`.
        hosted_domain: String,
    },
    /// Microsoft Entra ID.
    Entra(Box<entra::Config>),
}

fn rejected(msg: &str) -> ConnectorError {
    ConnectorError::Rejected(msg.to_owned())
}

fn text<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c str> {
    claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl Flavor {
    /// Checks the discovery document's own `issuer` against the config.
    pub fn check_discovered_issuer(&self, configured: &str, discovered: &str) -> Result<(), ConnectorError> {
        let same = configured.trim_end_matches('/') == discovered.trim_end_matches('/');
        let ok = match self {
            Self::Plain | Self::Google { .. } => same,
            // Multi-tenant authorities publish a template; a GUID authority its own issuer.
            Self::Entra(c) => match &c.tenant {
                entra::EntraTenant::Id(id) => discovered.contains(id.as_str()) || discovered.contains("{tenantid}"),
                _ => discovered.contains("{tenantid}"),
            },
        };
        if ok {
            Ok(())
        } else {
            Err(ConnectorError::Unreachable(
                "the discovery document names another issuer than the one configured".into(),
            ))
        }
    }

    /// Checks `iss` and the flavor's own claims; returns the external id.
    pub fn check(&self, discovered_issuer: &str, claims: &Map<String, Value>) -> Result<String, ConnectorError> {
        let iss = text(claims, "iss").ok_or_else(|| rejected("the id_token has no issuer"))?;
        let sub = text(claims, "sub").ok_or_else(|| rejected("the id_token has no subject"))?;
        match self {
            Self::Plain => {
                if iss != discovered_issuer {
                    return Err(rejected("the id_token comes from another issuer"));
                }
                Ok(sub.to_owned())
            }
            Self::Google { hosted_domain } => {
                let host_form = discovered_issuer.strip_prefix("https://").unwrap_or(discovered_issuer);
                if iss != discovered_issuer && iss != host_form {
                    return Err(rejected("the id_token comes from another issuer"));
                }
                let hd = text(claims, "hd").map(str::to_ascii_lowercase);
                if hd.as_deref() != Some(hosted_domain.as_str()) {
                    return Err(rejected("the account does not belong to the configured Google Workspace domain (hd)"));
                }
                Ok(sub.to_owned())
            }
            Self::Entra(config) => {
                let tid = text(claims, "tid")
                    .map(str::to_ascii_lowercase)
                    .ok_or_else(|| rejected("the id_token has no tenant (tid)"))?;
                let expected = discovered_issuer.replace("{tenantid}", &tid);
                if iss != expected {
                    return Err(rejected("the id_token's issuer does not match its own tenant (tid)"));
                }
                if !config.allows_tenant(&tid) {
                    return Err(rejected("the account's Entra tenant is not allowed to sign in here"));
                }
                let oid = text(claims, "oid").ok_or_else(|| rejected("the id_token has no object id (oid)"))?;
                Ok(format!("{tid}/{}", oid.to_ascii_lowercase()))
            }
        }
    }

    /// Extra parameters of the authorization request.
    pub fn authorization_params(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Google { hosted_domain } => vec![("hd", hosted_domain.clone())],
            Self::Plain | Self::Entra(_) => Vec::new(),
        }
    }

    /// Whether the upstream's email address can be taken as verified when
    /// it does not say (`email_verified` absent): Workspace and Entra
    /// addresses belong to the directory itself.
    pub fn email_is_directory_owned(&self) -> bool {
        !matches!(self, Self::Plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entra(tenant: &str, allowed: &[&str]) -> Flavor {
        let cfg = entra::Config::parse(&json!({"tenant": tenant, "allowed_tenant_ids": allowed,
            "client_id": "c", "client_secret": "s", "login_base_url": "http://127.0.0.1:9"}))
        .unwrap();
        Flavor::Entra(Box::new(cfg))
    }

    const T1: &str = "11111111-1111-1111-1111-111111111111";
    const T2: &str = "22222222-2222-2222-2222-222222222222";
    const TEMPLATE: &str = "http://127.0.0.1:9/{tenantid}/v2.0";

    fn entra_claims(tid: &str, iss_tid: &str) -> Map<String, Value> {
        json!({"iss": format!("http://127.0.0.1:9/{iss_tid}/v2.0"), "sub": "s", "tid": tid, "oid": "OID-1"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn entra_checks_issuer_against_its_own_tid_and_the_allow_list() {
        let f = entra("organizations", &[T1]);
        assert_eq!(f.check(TEMPLATE, &entra_claims(T1, T1)).unwrap(), format!("{T1}/oid-1"));
        // A token whose issuer names another tenant than its tid.
        assert!(f.check(TEMPLATE, &entra_claims(T1, T2)).is_err());
        // A tenant not in allowed_tenant_ids.
        let err = f.check(TEMPLATE, &entra_claims(T2, T2)).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
        let single = entra(T1, &[]);
        assert!(single.check(TEMPLATE, &entra_claims(T2, T2)).is_err());
        let mut no_oid = entra_claims(T1, T1);
        no_oid.remove("oid");
        assert!(f.check(TEMPLATE, &no_oid).is_err());
    }

    #[test]
    fn google_checks_hd_and_accepts_the_host_form_of_its_issuer() {
        let f = Flavor::Google { hosted_domain: "acme.test".into() };
        let c = |iss: &str, hd: Option<&str>| {
            let mut m = json!({"iss": iss, "sub": "g1"}).as_object().unwrap().clone();
            if let Some(hd) = hd {
                m.insert("hd".into(), json!(hd));
            }
            m
        };
        let g = "https://accounts.google.com";
        assert_eq!(f.check(g, &c(g, Some("acme.test"))).unwrap(), "g1");
        assert!(f.check(g, &c("accounts.google.com", Some("ACME.test"))).is_ok());
        assert!(f.check(g, &c(g, Some("evil.test"))).is_err());
        assert!(f.check(g, &c(g, None)).is_err());
        assert!(f.check(g, &c("https://evil.test", Some("acme.test"))).is_err());
    }

    #[test]
    fn plain_requires_the_exact_issuer() {
        let m = json!({"iss": "https://idp.test/other", "sub": "u"}).as_object().unwrap().clone();
        assert!(Flavor::Plain.check("https://idp.test", &m).is_err());
        assert!(Flavor::Plain.check_discovered_issuer("https://idp.test/", "https://idp.test").is_ok());
        assert!(Flavor::Plain.check_discovered_issuer("https://idp.test", "https://evil.test").is_err());
    }
}
