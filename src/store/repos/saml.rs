//! SAML service-provider state: each tenant's SP signing key, assertion ids
//! kept against replay until they expire, and login requests found by the
//! RelayState an IdP posts back.

use crate::domain::Timestamp;
use crate::domain::oidc::LoginRequest;
use crate::store::db::Arg;
use crate::store::{Entity, StoreError, Tx};

/// A tenant's SAML SP key (sealed) and certificate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SamlSpKey {
    pub tenant_id: String,
    pub private_key_sealed: String,
    pub certificate_pem: String,
    pub created_at: Timestamp,
}

impl Tx {
    pub async fn saml_sp_key(&mut self, tenant_id: &str) -> Result<Option<SamlSpKey>, StoreError> {
        self.fetch_optional("SELECT * FROM saml_sp_keys WHERE tenant_id = $1", vec![Arg::from(tenant_id)]).await
    }

    /// Stores `key` unless the tenant has one already (another replica won).
    pub async fn insert_saml_sp_key(&mut self, key: &SamlSpKey) -> Result<(), StoreError> {
        let args = vec![
            Arg::from(key.tenant_id.as_str()),
            Arg::from(key.private_key_sealed.as_str()),
            Arg::from(key.certificate_pem.as_str()),
            Arg::from(key.created_at),
        ];
        let sql = "INSERT INTO saml_sp_keys (tenant_id, private_key_sealed, certificate_pem, created_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING";
        self.execute(sql, args).await?;
        Ok(())
    }

    /// Records that `assertion_id` of `idp_id` was consumed; false when it
    /// was already (a replay). Expired records of the IdP are dropped first.
    pub async fn remember_assertion(
        &mut self,
        idp_id: &str,
        assertion_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let args = vec![Arg::from(idp_id), Arg::from(now)];
        self.execute("DELETE FROM saml_assertions WHERE idp_id = $1 AND expires_at < $2", args).await?;
        let args = vec![Arg::from(idp_id), Arg::from(assertion_id), Arg::from(expires_at)];
        let sql = "INSERT INTO saml_assertions (idp_id, assertion_id, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (idp_id, assertion_id) DO NOTHING";
        Ok(self.execute(sql, args).await? == 1)
    }

    /// The login request waiting for the upstream answer `upstream_ref`.
    pub async fn login_by_upstream_ref(&mut self, upstream_ref: &str) -> Result<Option<LoginRequest>, StoreError> {
        let mut args = vec![Arg::from(upstream_ref)];
        let scope = self.scope().predicate(LoginRequest::SCOPE, &mut args);
        self.fetch_optional(&format!("SELECT * FROM login_requests WHERE upstream_ref = $1 AND {scope}"), args).await
    }
}
