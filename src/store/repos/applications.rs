//! Applications and the client lookup of the token endpoint.

use crate::domain::application::Application;
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for Application {
    const TABLE: &'static str = "applications";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "scope" => self.scope.as_str().into(),
        "type" => self.app_type.as_str().into(),
        "name" => (&self.name).into(),
        "client_id" => (&self.client_id).into(),
        "client_secret_hash" => (&self.client_secret_hash).into(),
        "grant_types" => json(&self.grant_types),
        "redirect_uris" => json(&self.redirect_uris),
        "logout_uris" => json(&self.logout_uris),
        "allowed_origins" => json(&self.allowed_origins),
        "allowed_scopes" => json(&self.allowed_scopes),
        "token_lifetime" => self.token_lifetime.into(),
        "refresh_token_lifetime" => self.refresh_token_lifetime.into(),
        "token_signing_alg" => self.token_signing_alg.as_str().into(),
        "token_exchange_allowed" => self.token_exchange_allowed.into(),
        "sync_webhook_url" => (&self.sync_webhook_url).into(),
        "sync_webhook_secret_sealed" => (&self.sync_webhook_secret_sealed).into(),
        "sync_webhook_secret_previous_sealed" => (&self.sync_webhook_secret_previous_sealed).into(),
        "sync_webhook_secret_previous_until" => self.sync_webhook_secret_previous_until.into(),
        "assigned_users" => json(&self.assigned_users),
        "assigned_groups" => json(&self.assigned_groups),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
        "first_party" => self.first_party.into(),
        "accept_audience_from" => json(&self.accept_audience_from),
        "initiate_login_uri" => (&self.initiate_login_uri).into(),
        "logo_uri" => (&self.logo_uri).into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Tx {
    /// An application by id whatever the transaction's scope. A PARTNER app
    /// has no tenant yet serves every tenant issuer of its partner, so a
    /// tenant-scoped login cannot see it; callers must check `Issuer::serves`.
    pub async fn app_by_id_any_scope(&mut self, id: &str) -> Result<Application, StoreError> {
        self.fetch_one("SELECT * FROM applications WHERE id = $1", vec![Arg::from(id)]).await
    }

    /// The apps a tenant's users can launch from the account page: its own
    /// and its partner's apps with an `initiate_login_uri` (callers check
    /// `Issuer::serves` and the assignment), by name.
    pub async fn launchable_apps(&mut self, tenant_id: &str, partner_id: &str) -> Result<Vec<Application>, StoreError> {
        let sql = "SELECT * FROM applications WHERE initiate_login_uri IS NOT NULL \
                   AND ((scope = 'TENANT' AND tenant_id = $1) OR (scope = 'PARTNER' AND partner_id = $2)) \
                   ORDER BY name, id LIMIT 200";
        self.fetch_all(sql, vec![Arg::from(tenant_id), Arg::from(partner_id)]).await
    }

    /// The application a `client_id` names, within the scope.
    pub async fn app_by_client_id(&mut self, client_id: &str) -> Result<Application, StoreError> {
        let mut args = vec![Arg::from(client_id)];
        let scope = self.scope().predicate(Application::SCOPE, &mut args);
        let sql = format!("SELECT * FROM applications WHERE client_id = $1 AND {scope}");
        self.fetch_one(&sql, args).await
    }
}
