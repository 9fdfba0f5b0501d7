//! The small aggregates: MCP agents, role assignments, consents, SCIM tokens, signing keys.

use crate::domain::Timestamp;
use crate::domain::agent::McpAgent;
use crate::domain::consent::Consent;
use crate::domain::role::RoleAssignment;
use crate::domain::scim_token::ScimToken;
use crate::domain::signing_key::SigningKey;
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for McpAgent {
    const TABLE: &'static str = "mcp_agents";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "name" => (&self.name).into(),
        "description" => (&self.description).into(),
        "user_id" => (&self.user_id).into(),
        "application_id" => (&self.application_id).into(),
        "allowed_scopes" => json(&self.allowed_scopes),
        "status" => (&self.status).into(),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
        "secret_hash" => (&self.secret_hash).into(),
        "max_token_lifetime" => self.max_token_lifetime.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for RoleAssignment {
    const TABLE: &'static str = "role_assignments";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "user_id" => (&self.user_id).into(),
        "role" => self.role.as_str().into(),
        "partner_id" => (&self.partner_id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "created_at" => self.created_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Entity for Consent {
    const TABLE: &'static str = "consents";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "user_id" => (&self.user_id).into(),
        "app_id" => (&self.app_id).into(),
        "scopes" => json(&self.scopes),
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

impl Entity for ScimToken {
    const TABLE: &'static str = "scim_tokens";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "name" => (&self.name).into(),
        "token_hash" => (&self.token_hash).into(),
        "expires_at" => self.expires_at.into(),
        "last_used_at" => self.last_used_at.into(),
        "created_at" => self.created_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for SigningKey {
    const TABLE: &'static str = "signing_keys";
    const SCOPE: ScopeCols = ScopeCols::PLATFORM_ONLY;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "alg" => (&self.alg).into(),
        "status" => (&self.status).into(),
        "private_key_sealed" => (&self.private_key_sealed).into(),
        "public_jwk" => Arg::Json(Some(self.public_jwk.clone())),
        "created_at" => self.created_at.into(),
        "activated_at" => self.activated_at.into(),
        "retired_at" => self.retired_at.into(),
        "expires_at" => self.expires_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (None, None)
    }
}

impl Tx {
    /// Every role a user holds (the caller's own scope decides what it may see).
    pub async fn roles_of_user(&mut self, user_id: &str) -> Result<Vec<RoleAssignment>, StoreError> {
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(RoleAssignment::SCOPE, &mut args);
        let sql = format!("SELECT * FROM role_assignments WHERE user_id = $1 AND {scope} ORDER BY id");
        self.fetch_all(&sql, args).await
    }

    /// Every role a user holds, whatever the transaction's scope: the
    /// wider-admin check must see roles beyond the caller's own to refuse
    /// acting on their holders. Never shown to the caller.
    pub async fn all_roles_of_user(&mut self, user_id: &str) -> Result<Vec<RoleAssignment>, StoreError> {
        let sql = "SELECT * FROM role_assignments WHERE user_id = $1 ORDER BY id";
        self.fetch_all(sql, vec![Arg::from(user_id)]).await
    }

    /// Every role held by a user of `tenant_id`, whatever the transaction's
    /// scope (see `all_roles_of_user`).
    pub async fn roles_of_tenant_users(&mut self, tenant_id: &str) -> Result<Vec<RoleAssignment>, StoreError> {
        let sql =
            "SELECT r.* FROM role_assignments r JOIN users u ON u.id = r.user_id WHERE u.tenant_id = $1 ORDER BY r.id";
        self.fetch_all(sql, vec![Arg::from(tenant_id)]).await
    }

    /// The consent a user gave an application, if any.
    pub async fn consent_of(&mut self, user_id: &str, app_id: &str) -> Result<Option<Consent>, StoreError> {
        let mut args = vec![Arg::from(user_id), Arg::from(app_id)];
        let scope = self.scope().predicate(Consent::SCOPE, &mut args);
        let sql = format!("SELECT * FROM consents WHERE user_id = $1 AND app_id = $2 AND {scope}");
        self.fetch_optional(&sql, args).await
    }

    /// The SCIM token whose hash is `hash`, if not expired.
    pub async fn scim_token_by_hash(&mut self, hash: &str, now: Timestamp) -> Result<ScimToken, StoreError> {
        let sql = "SELECT * FROM scim_tokens WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)";
        self.fetch_one(sql, vec![hash.into(), now.into()]).await
    }

    /// Keys that belong in JWKS: not yet expired, newest first.
    pub async fn published_keys(&mut self, now: Timestamp) -> Result<Vec<SigningKey>, StoreError> {
        let sql = "SELECT * FROM signing_keys WHERE expires_at IS NULL OR expires_at > $1 ORDER BY id DESC";
        self.fetch_all(sql, vec![now.into()]).await
    }
}
