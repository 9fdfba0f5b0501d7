//! The `password()` capability: LDAP bind login. A pooled connection bound
//! as the service account finds the user's DN by `login_attribute` (or
//! `mail`), then a fresh connection binds as the user with the password, so
//! a password changed in the directory works at once and ScaiKey never
//! stores it. An empty password is refused before any bind: it would be an
//! unauthenticated bind, which succeeds (RFC 4513 §5.1.2).

use ldap3::{Ldap, Scope, SearchEntry, ldap_escape};
use tokio::sync::Mutex;

use super::conn::{self, OP_TIMEOUT};
use super::entry::{self, USER_ATTRIBUTES};
use super::{Config, LdapFlavor};
use crate::ConnectorError;
use crate::directory::DirectoryUser;

/// LDAP bind login against one directory.
pub struct LdapLogin {
    config: Config,
    service: Mutex<Option<Ldap>>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unreachable(format!("{what}: {e}"))
}

impl LdapLogin {
    /// Bind login for `config`'s directory (connects on first use).
    pub fn new(config: Config) -> Self {
        Self { config, service: Mutex::new(None) }
    }

    /// The attributes a user search reads.
    pub fn user_attributes(config: &Config) -> Vec<String> {
        let mut attrs: Vec<String> = USER_ATTRIBUTES.iter().map(|s| (*s).to_owned()).collect();
        attrs.push(config.user_id_attribute.clone());
        attrs.push(config.login_attribute.clone());
        attrs
    }

    /// The one user whose login attribute or mail is `login`.
    async fn find(&self, login: &str) -> Result<Option<SearchEntry>, ConnectorError> {
        let filter = format!(
            "(&{}(|({}={login})(mail={login})))",
            self.config.user_filter,
            self.config.login_attribute,
            login = ldap_escape(login)
        );
        let attrs = Self::user_attributes(&self.config);
        let mut pooled = self.service.lock().await;
        // One retry on a fresh connection: the pooled one may have been dropped by the server.
        for attempt in 0..2 {
            let ldap = match pooled.as_mut() {
                Some(l) => l,
                None => pooled.insert(conn::service(&self.config).await?),
            };
            let found = ldap
                .with_timeout(OP_TIMEOUT)
                .search(&self.config.user_base_dn, Scope::Subtree, &filter, attrs.clone())
                .await
                .and_then(|r| r.success());
            match found {
                Ok((entries, _)) => {
                    let mut entries = entries.into_iter().map(SearchEntry::construct);
                    let first = entries.next();
                    // Two entries answering one login name: refuse rather than guess.
                    return Ok(if entries.next().is_some() { None } else { first });
                }
                Err(e) if attempt == 0 => {
                    let _ = e;
                    *pooled = None;
                }
                Err(e) => return Err(failed("searching for the user", e)),
            }
        }
        Ok(None)
    }

    /// The user `login` if `password` is theirs; `None` for a wrong login
    /// or password (which the caller must not tell apart).
    pub async fn authenticate(&self, login: &str, password: &str) -> Result<Option<DirectoryUser>, ConnectorError> {
        if login.is_empty() || password.is_empty() || password.len() > 1024 {
            return Ok(None);
        }
        let Some(found) = self.find(login).await? else { return Ok(None) };
        let mut as_user = conn::connect(&self.config).await?;
        let bound = as_user.with_timeout(OP_TIMEOUT).simple_bind(&found.dn, password).await;
        let _ = as_user.unbind().await;
        match bound.and_then(|r| r.success()) {
            Ok(_) => {}
            // invalidCredentials: AD also answers 49 for disabled or locked accounts.
            Err(ldap3::LdapError::LdapResult { result }) if result.rc == 49 => return Ok(None),
            Err(e) => return Err(failed("binding as the user", e)),
        }
        let user = entry::user(&self.config, &found)
            .ok_or_else(|| ConnectorError::Rejected("the user entry has no id attribute".into()))?;
        if user.disabled && self.config.flavor == LdapFlavor::ActiveDirectory {
            return Ok(None);
        }
        Ok(Some(user))
    }

    /// What the directory's root DSE says, for the admin's test button.
    pub async fn describe(&self) -> Result<serde_json::Map<String, serde_json::Value>, ConnectorError> {
        let mut ldap = conn::service(&self.config).await?;
        let (entries, _) = ldap
            .with_timeout(OP_TIMEOUT)
            .search("", Scope::Base, "(objectClass=*)", vec!["+", "*"])
            .await
            .and_then(|r| r.success())
            .map_err(|e| failed("reading the root DSE", e))?;
        let _ = ldap.unbind().await;
        let mut out = serde_json::Map::new();
        if let Some(root) = entries.into_iter().next().map(SearchEntry::construct) {
            for key in [
                "namingContexts",
                "supportedControl",
                "supportedLDAPVersion",
                "vendorName",
                "vendorVersion",
                "defaultNamingContext",
                "dnsHostName",
            ] {
                if let Some((_, v)) = root.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                    out.insert(key.to_owned(), serde_json::json!(v));
                }
            }
        }
        out.insert("service_bind".into(), serde_json::Value::Bool(true));
        Ok(out)
    }
}
