//! Users and their external identities.

use crate::domain::Timestamp;
use crate::domain::user::{User, UserIdentity};
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for User {
    const TABLE: &'static str = "users";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "user_name" => (&self.user_name).into(),
        "user_name_lower" => crate::domain::identifier::username_key(&self.user_name).into(),
        "sam_account_name" => (&self.sam_account_name).into(),
        "email" => (&self.email).into(),
        "email_verified" => self.email_verified.into(),
        "given_name" => (&self.given_name).into(),
        "family_name" => (&self.family_name).into(),
        "display_name" => (&self.display_name).into(),
        "title" => (&self.title).into(),
        "department" => (&self.department).into(),
        "company" => (&self.company).into(),
        "employee_id" => (&self.employee_id).into(),
        "employee_type" => (&self.employee_type).into(),
        "manager_id" => (&self.manager_id).into(),
        "office" => (&self.office).into(),
        "phone_numbers" => json(&self.phone_numbers),
        "addresses" => json(&self.addresses),
        "locale" => (&self.locale).into(),
        "timezone" => (&self.timezone).into(),
        "status" => self.status.as_str().into(),
        "ou_id" => (&self.ou_id).into(),
        "custom_attributes" => json(&self.custom_attributes),
        "password_hash" => (&self.password_hash).into(),
        "password_changed_at" => self.password_changed_at.into(),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
        "external_id" => (&self.external_id).into(),
        "emails" => json(&self.emails),
        "preferred_language" => (&self.preferred_language).into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for UserIdentity {
    const TABLE: &'static str = "user_identities";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "user_id" => (&self.user_id).into(),
        "idp_id" => (&self.idp_id).into(),
        "external_id" => (&self.external_id).into(),
        "last_login_at" => self.last_login_at.into(),
        "created_at" => self.created_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
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
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "user_id" => (&self.user_id).into(),
        "password_hash" => (&self.password_hash).into(),
        "created_at" => self.created_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
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

    /// Which of these user-name keys (`identifier::username_key`) users of
    /// `tenant_id` already hold, in a query per thousand.
    pub async fn taken_user_names(
        &mut self,
        tenant_id: &str,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Key {
            user_name_lower: String,
        }
        let mut taken = std::collections::HashSet::new();
        for chunk in keys.chunks(1000) {
            let mut args = vec![Arg::from(tenant_id)];
            args.extend(chunk.iter().map(Arg::from));
            let list = crate::store::db::placeholders(2, chunk.len());
            let scope = self.scope().predicate(User::SCOPE, &mut args);
            let sql = format!(
                "SELECT user_name_lower FROM users WHERE tenant_id = $1 AND user_name_lower IN ({list}) AND {scope}"
            );
            taken.extend(self.fetch_all::<Key>(&sql, args).await?.into_iter().map(|k| k.user_name_lower));
        }
        Ok(taken)
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
