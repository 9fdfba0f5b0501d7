//! Identity providers, their home-realm domains, and the external
//! identities that link users to them.

use crate::domain::Timestamp;
use crate::domain::idp::IdentityProvider;
use crate::domain::user::{User, UserIdentity};
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

/// IdP types a user signs in with through the browser (LDAP signs in by password).
const BROWSER_TYPES: &str = "'oidc', 'entra', 'google', 'saml'";

impl Entity for IdentityProvider {
    const TABLE: &'static str = "identity_providers";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "type" => (&self.kind).into(),
        "name" => (&self.name).into(),
        "domains" => json(&self.domains),
        "config" => json(&self.config),
        "jit_provisioning" => self.jit_provisioning.into(),
        "attribute_mapping" => json(&self.attribute_mapping),
        "sync_schedule" => (&self.sync_schedule).into(),
        "trust_email_for_linking" => self.trust_email_for_linking.into(),
        "trust_upstream_mfa" => self.trust_upstream_mfa.into(),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Tx {
    /// Makes `idp.domains` the IdP's home-realm domains. A domain another
    /// IdP of the tenant holds is a conflict on `idp_domains_tenant_id_domain_key`.
    pub async fn set_idp_domains(&mut self, idp: &IdentityProvider) -> Result<(), StoreError> {
        self.execute("DELETE FROM idp_domains WHERE idp_id = $1", vec![Arg::from(idp.id.as_str())]).await?;
        for domain in &idp.domains {
            let args =
                vec![Arg::from(idp.tenant_id.as_str()), Arg::from(domain.to_lowercase()), Arg::from(idp.id.as_str())];
            self.execute("INSERT INTO idp_domains (tenant_id, domain, idp_id) VALUES ($1, $2, $3)", args).await?;
        }
        Ok(())
    }

    /// The tenant's IdP that owns `domain` (home-realm discovery).
    pub async fn idp_for_domain(
        &mut self,
        tenant_id: &str,
        domain: &str,
    ) -> Result<Option<IdentityProvider>, StoreError> {
        let mut args = vec![Arg::from(tenant_id), Arg::from(domain.to_lowercase())];
        let scope = self.scope().predicate(IdentityProvider::SCOPE, &mut args);
        let sql = format!(
            "SELECT * FROM identity_providers WHERE id = \
             (SELECT idp_id FROM idp_domains WHERE tenant_id = $1 AND domain = $2) AND type IN ({BROWSER_TYPES}) AND {scope}"
        );
        self.fetch_optional(&sql, args).await
    }

    /// The tenant's IdPs offered as buttons on the login page, by name.
    pub async fn login_idps(&mut self, tenant_id: &str) -> Result<Vec<IdentityProvider>, StoreError> {
        let mut args = vec![Arg::from(tenant_id)];
        let scope = self.scope().predicate(IdentityProvider::SCOPE, &mut args);
        let sql = format!(
            "SELECT * FROM identity_providers WHERE tenant_id = $1 AND type IN ({BROWSER_TYPES}) AND {scope} \
             ORDER BY name, id LIMIT 50"
        );
        self.fetch_all(&sql, args).await
    }

    /// The identity `external_id` at `idp_id`, if a user holds it.
    pub async fn identity_at(&mut self, idp_id: &str, external_id: &str) -> Result<Option<UserIdentity>, StoreError> {
        let mut args = vec![Arg::from(idp_id), Arg::from(external_id)];
        let scope = self.scope().predicate(UserIdentity::SCOPE, &mut args);
        let sql = format!("SELECT * FROM user_identities WHERE idp_id = $1 AND external_id = $2 AND {scope}");
        self.fetch_optional(&sql, args).await
    }

    /// Records a sign-in through an identity.
    pub async fn touch_identity(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut args = vec![Arg::from(id), Arg::from(now)];
        let scope = self.scope().predicate(UserIdentity::SCOPE, &mut args);
        self.execute(&format!("UPDATE user_identities SET last_login_at = $2 WHERE id = $1 AND {scope}"), args).await?;
        Ok(())
    }

    /// Users of a tenant whose primary email is `email` (case-insensitive).
    pub async fn users_by_email(&mut self, tenant_id: &str, email: &str) -> Result<Vec<User>, StoreError> {
        let mut args = vec![Arg::from(tenant_id), Arg::from(email.to_lowercase())];
        let scope = self.scope().predicate(User::SCOPE, &mut args);
        let sql = format!("SELECT * FROM users WHERE tenant_id = $1 AND lower(email) = $2 AND {scope} LIMIT 2");
        self.fetch_all(&sql, args).await
    }
}
