//! Connections to the directory: `ldap://`, `ldaps://` or StartTLS, with
//! the server's certificate checked against the configured CA (or the
//! system's roots when none is configured) — never "accept any
//! certificate" — and a bind as the service account.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::Config;
use crate::ConnectorError;

/// How long connecting (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one LDAP operation may take.
pub const OP_TIMEOUT: Duration = Duration::from_secs(30);

fn unreachable(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unreachable(format!("{what}: {e}"))
}

/// The TLS client config: the configured CA bundle, else the system roots.
fn tls_config(ca_pem: Option<&str>) -> Result<rustls::ClientConfig, ConnectorError> {
    let mut roots = RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|_| ConnectorError::Config("ca_pem holds an unreadable certificate".into()))?;
                roots.add(cert).map_err(|_| ConnectorError::Config("ca_pem holds an unusable certificate".into()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // Unparseable system certificates are skipped, as rustls' own loaders do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectorError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An unbound connection to the directory.
pub async fn connect(config: &Config) -> Result<Ldap, ConnectorError> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(CONNECT_TIMEOUT).set_starttls(config.start_tls);
    if config.uses_tls() {
        settings = settings.set_config(Arc::new(tls_config(config.ca_pem.as_deref())?));
    }
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &config.url)
        .await
        .map_err(|e| unreachable("connecting to the directory", e))?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// A connection bound as the service account.
pub async fn service(config: &Config) -> Result<Ldap, ConnectorError> {
    let mut ldap = connect(config).await?;
    ldap.with_timeout(OP_TIMEOUT)
        .simple_bind(&config.bind_dn, &config.bind_password)
        .await
        .and_then(|r| r.success())
        .map_err(|e| match e {
        ldap3::LdapError::LdapResult { result } if result.rc == 49 => {
            ConnectorError::Config("the service account's bind DN or password is wrong".into())
        }
        other => unreachable("binding as the service account", other),
    })?;
    Ok(ldap)
}
