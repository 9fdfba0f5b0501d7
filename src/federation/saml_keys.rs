//! Each tenant's SAML SP signing key: made on first use (RSA-2048 and a
//! self-signed certificate), stored sealed with the master key; replicas
//! racing to make it keep whichever was stored first.

use crate::app::Services;
use crate::store::repos::saml::SamlSpKey;
use crate::store::{Scope, StoreError};

/// The context a tenant's SAML SP key is sealed under.
pub fn context(tenant_id: &str) -> String {
    format!("saml-sp:{tenant_id}")
}

/// The tenant's SP key (PKCS#8 PEM) and certificate (PEM).
pub async fn material(svc: &Services, tenant_id: &str) -> Result<(String, String), StoreError> {
    let sealer = svc.keys.sealer();
    let open = |k: SamlSpKey| -> Result<(String, String), StoreError> {
        let key = sealer
            .open_string(&context(&k.tenant_id), &k.private_key_sealed)
            .map_err(|e| StoreError::Database(sqlx::Error::Protocol(format!("SAML SP key: {e}"))))?;
        Ok((key, k.certificate_pem))
    };
    let mut tx = svc.store.read(Scope::Platform).await?;
    let found = tx.saml_sp_key(tenant_id).await?;
    tx.commit().await?;
    if let Some(k) = found {
        return open(k);
    }
    // Made outside any transaction (RSA generation takes a moment).
    let tenant = tenant_id.to_owned();
    let made =
        tokio::task::spawn_blocking(move || scaikey_connectors::saml::generate_sp_key(&format!("ScaiKey SP {tenant}")))
            .await
            .map_err(|e| StoreError::Database(sqlx::Error::Protocol(e.to_string())))?
            .map_err(|e| StoreError::Database(sqlx::Error::Protocol(e.to_string())))?;
    let row = SamlSpKey {
        tenant_id: tenant_id.to_owned(),
        private_key_sealed: sealer.seal(&context(tenant_id), made.0.as_bytes()),
        certificate_pem: made.1,
        created_at: svc.clock.now(),
    };
    let mut tx = svc.store.write(Scope::Platform).await?;
    tx.insert_saml_sp_key(&row).await?;
    let stored = tx.saml_sp_key(tenant_id).await?;
    tx.commit().await?;
    open(stored.ok_or(StoreError::NotFound)?)
}
