//! Users and their external identities.

use crate::domain::Timestamp;
use crate::domain::user::{User, UserIdentity};
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for User {
    const TABLE: &'static str = "users";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "partner_id",
        "user_name",
        "user_name_lower",
        "sam_account_name",
        "email",
        "email_verified",
        "given_name",
        "family_name",
        "display_name",
        "title",
        "department",
        "company",
        "employee_id",
        "employee_type",
        "manager_id",
        "office",
        "phone_numbers",
        "addresses",
        "locale",
        "timezone",
        "status",
        "ou_id",
        "custom_attributes",
        "password_hash",
        "password_changed_at",
        "created_at",
        "updated_at",
        "external_id",
        "emails",
        "preferred_language",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn values(&self) -> Vec<Arg> {
        vec![
            (&self.id).into(),
            (&self.tenant_id).into(),
            (&self.partner_id).into(),
            (&self.user_name).into(),
            crate::domain::identifier::username_key(&self.user_name).into(),
            (&self.sam_account_name).into(),
            (&self.email).into(),
            self.email_verified.into(),
            (&self.given_name).into(),
            (&self.family_name).into(),
            (&self.display_name).into(),
            (&self.title).into(),
            (&self.department).into(),
            (&self.company).into(),
            (&self.employee_id).into(),
            (&self.employee_type).into(),
            (&self.manager_id).into(),
            (&self.office).into(),
            json(&self.phone_numbers),
            json(&self.addresses),
            (&self.locale).into(),
            (&self.timezone).into(),
            self.status.as_str().into(),
            (&self.ou_id).into(),
            json(&self.custom_attributes),
            (&self.password_hash).into(),
            self.password_changed_at.into(),
            self.created_at.into(),
            self.updated_at.into(),
            (&self.external_id).into(),
            json(&self.emails),
            (&self.preferred_language).into(),
        ]
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for UserIdentity {
    const TABLE: &'static str = "user_identities";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    const COLUMNS: &'static [&'static str] =
        &["id", "tenant_id", "partner_id", "user_id", "idp_id", "external_id", "last_login_at", "created_at"];
    fn id(&self) -> &str {
        &self.id
    }
    fn values(&self) -> Vec<Arg> {
        vec![
            (&self.id).into(),
            (&self.tenant_id).into(),
            (&self.partner_id).into(),
            (&self.user_id).into(),
            (&self.idp_id).into(),
            (&self.external_id).into(),
            self.last_login_at.into(),
            self.created_at.into(),
        ]
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

/// A replaced password hash, kept for the tenant policy's `history`.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct PasswordHistoryRow {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub user_id: String,
    pub password_hash: String,
    pub created_at: Timestamp,
}

impl Entity for PasswordHistoryRow {
    const TABLE: &'static str = "password_history";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    const COLUMNS: &'static [&'static str] =
        &["id", "tenant_id", "partner_id", "user_id", "password_hash", "created_at"];
    fn id(&self) -> &str {
        &self.id
    }
    fn values(&self) -> Vec<Arg> {
        vec![
            (&self.id).into(),
            (&self.tenant_id).into(),
            (&self.partner_id).into(),
            (&self.user_id).into(),
            (&self.password_hash).into(),
            self.created_at.into(),
        ]
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Tx {
    /// The `limit` most recently replaced password hashes of a user.
    pub async fn password_history(&mut self, user_id: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let mut args = vec![Arg::from(user_id), Arg::from(limit)];
        let scope = self.scope().predicate(PasswordHistoryRow::SCOPE, &mut args);
        let sql = format!(
            "SELECT * FROM password_history WHERE user_id = $1 AND {scope} ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<PasswordHistoryRow> = self.fetch_all(&sql, args).await?;
        Ok(rows.into_iter().map(|r| r.password_hash).collect())
    }

    /// A user by user name, compared as the write path normalizes it (PRECIS,
    /// case-insensitive), within one tenant of the scope.
    pub async fn user_by_name(&mut self, tenant_id: &str, user_name: &str) -> Result<User, StoreError> {
        let key = crate::domain::identifier::username_key(user_name);
        let mut args = vec![Arg::from(tenant_id), Arg::from(key)];
        let scope = self.scope().predicate(User::SCOPE, &mut args);
        let sql = format!("SELECT * FROM users WHERE tenant_id = $1 AND user_name_lower = $2 AND {scope}");
        self.fetch_one(&sql, args).await
    }

    pub async fn identities_of(&mut self, user_id: &str) -> Result<Vec<UserIdentity>, StoreError> {
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(UserIdentity::SCOPE, &mut args);
        let sql = format!("SELECT * FROM user_identities WHERE user_id = $1 AND {scope} ORDER BY id");
        self.fetch_all(&sql, args).await
    }

    pub async fn set_password_hash(&mut self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut args = vec![Arg::from(user_id), Arg::from(hash), Arg::from(now)];
        let scope = self.scope().predicate(User::SCOPE, &mut args);
        let sql = format!("UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1 AND {scope}");
        match self.execute(&sql, args).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}
