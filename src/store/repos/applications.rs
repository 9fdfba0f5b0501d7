//! Applications and the client lookup of the token endpoint.

use crate::domain::application::Application;
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for Application {
    const TABLE: &'static str = "applications";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "partner_id",
        "scope",
        "type",
        "name",
        "client_id",
        "client_secret_hash",
        "grant_types",
        "redirect_uris",
        "logout_uris",
        "allowed_origins",
        "allowed_scopes",
        "token_lifetime",
        "refresh_token_lifetime",
        "token_signing_alg",
        "token_exchange_allowed",
        "sync_webhook_url",
        "sync_webhook_secret_sealed",
        "assigned_users",
        "assigned_groups",
        "created_at",
        "updated_at",
        "first_party",
        "accept_audience_from",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn values(&self) -> Vec<Arg> {
        vec![
            (&self.id).into(),
            (&self.tenant_id).into(),
            (&self.partner_id).into(),
            self.scope.as_str().into(),
            self.app_type.as_str().into(),
            (&self.name).into(),
            (&self.client_id).into(),
            (&self.client_secret_hash).into(),
            json(&self.grant_types),
            json(&self.redirect_uris),
            json(&self.logout_uris),
            json(&self.allowed_origins),
            json(&self.allowed_scopes),
            self.token_lifetime.into(),
            self.refresh_token_lifetime.into(),
            self.token_signing_alg.as_str().into(),
            self.token_exchange_allowed.into(),
            (&self.sync_webhook_url).into(),
            (&self.sync_webhook_secret_sealed).into(),
            json(&self.assigned_users),
            json(&self.assigned_groups),
            self.created_at.into(),
            self.updated_at.into(),
            self.first_party.into(),
            json(&self.accept_audience_from),
        ]
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

    /// The application a `client_id` names, within the scope.
    pub async fn app_by_client_id(&mut self, client_id: &str) -> Result<Application, StoreError> {
        let mut args = vec![Arg::from(client_id)];
        let scope = self.scope().predicate(Application::SCOPE, &mut args);
        let sql = format!("SELECT * FROM applications WHERE client_id = $1 AND {scope}");
        self.fetch_one(&sql, args).await
    }
}
