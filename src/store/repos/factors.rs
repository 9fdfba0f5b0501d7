//! Second factors and recovery codes. Using a TOTP step or a recovery code
//! is a compare-and-set, so two submits of one code cannot both win.

use crate::domain::Timestamp;
use crate::domain::factor::{Ceremony, Factor, RecoveryCode};
use crate::store::db::{Arg, Count};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for Factor {
    const TABLE: &'static str = "user_factors";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "user_id" => (&self.user_id).into(),
        "kind" => (&self.kind).into(),
        "name" => (&self.name).into(),
        "secret_sealed" => (&self.secret_sealed).into(),
        "last_step" => self.last_step.into(),
        "created_at" => self.created_at.into(),
        "last_used_at" => self.last_used_at.into(),
        "credential_id" => (&self.credential_id).into(),
        "passkey" => (&self.passkey).into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for RecoveryCode {
    const TABLE: &'static str = "recovery_codes";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "user_id" => (&self.user_id).into(),
        "code_hash" => (&self.code_hash).into(),
        "used_at" => self.used_at.into(),
        "created_at" => self.created_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for Ceremony {
    const TABLE: &'static str = "ceremonies";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "owner" => (&self.owner).into(),
        "kind" => (&self.kind).into(),
        "state" => (&self.state).into(),
        "created_at" => self.created_at.into(),
        "expires_at" => self.expires_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Tx {
    /// The passkey factor with this credential id in the tenant.
    pub async fn factor_by_credential(
        &mut self,
        tenant_id: &str,
        credential_id: &str,
    ) -> Result<Option<Factor>, StoreError> {
        let mut args = vec![Arg::from(tenant_id), Arg::from(credential_id)];
        let scope = self.scope().predicate(Factor::SCOPE, &mut args);
        let sql = format!("SELECT * FROM user_factors WHERE tenant_id = $1 AND credential_id = $2 AND {scope}");
        self.fetch_optional(&sql, args).await
    }

    /// A passkey was used: its record (the signature counter) moves forward.
    pub async fn passkey_used(&mut self, factor_id: &str, passkey: &str, now: Timestamp) -> Result<(), StoreError> {
        let sql = "UPDATE user_factors SET passkey = $2, last_used_at = $3 WHERE id = $1";
        self.execute(sql, vec![factor_id.into(), passkey.into(), now.into()]).await?;
        Ok(())
    }

    /// Stores a ceremony's state, replacing any earlier one of its owner and kind.
    pub async fn put_ceremony(&mut self, c: &Ceremony) -> Result<(), StoreError> {
        let sql = "DELETE FROM ceremonies WHERE owner = $1 AND kind = $2";
        self.execute(sql, vec![c.owner.as_str().into(), c.kind.as_str().into()]).await?;
        self.insert(c).await
    }

    /// Takes (deletes and returns) the live ceremony of `owner` and `kind`: each is used once.
    pub async fn take_ceremony(
        &mut self,
        owner: &str,
        kind: &str,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError> {
        let mut args = vec![Arg::from(owner), Arg::from(kind)];
        let scope = self.scope().predicate(Ceremony::SCOPE, &mut args);
        let sql = format!("DELETE FROM ceremonies WHERE owner = $1 AND kind = $2 AND {scope} RETURNING *");
        let found: Option<Ceremony> = self.fetch_optional(&sql, args).await?;
        Ok(found.filter(|c| c.expires_at > now))
    }

    /// The user's factors, oldest first.
    pub async fn factors_of(&mut self, user_id: &str) -> Result<Vec<Factor>, StoreError> {
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(Factor::SCOPE, &mut args);
        let sql = format!("SELECT * FROM user_factors WHERE user_id = $1 AND {scope} ORDER BY created_at, id");
        self.fetch_all(&sql, args).await
    }

    /// Marks TOTP `step` used on `factor_id` unless it (or a later one) was.
    pub async fn use_totp_step(&mut self, factor_id: &str, step: i64, now: Timestamp) -> Result<bool, StoreError> {
        let sql = "UPDATE user_factors SET last_step = $2, last_used_at = $3 \
                   WHERE id = $1 AND (last_step IS NULL OR last_step < $2)";
        Ok(self.execute(sql, vec![factor_id.into(), step.into(), now.into()]).await? == 1)
    }

    /// Uses the user's unused recovery code with this hash, once.
    pub async fn use_recovery_code(
        &mut self,
        user_id: &str,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE recovery_codes SET used_at = $3 WHERE id = ( \
                     SELECT id FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL LIMIT 1) \
                   AND used_at IS NULL";
        Ok(self.execute(sql, vec![user_id.into(), code_hash.into(), now.into()]).await? == 1)
    }

    /// Whether the user has an unused recovery code with this hash.
    pub async fn recovery_code_unused(&mut self, user_id: &str, code_hash: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
        Ok(self.fetch_one::<Count>(sql, vec![user_id.into(), code_hash.into()]).await?.n > 0)
    }

    /// How many of the user's recovery codes are unused.
    pub async fn recovery_codes_left(&mut self, user_id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";
        Ok(self.fetch_one::<Count>(sql, vec![user_id.into()]).await?.n)
    }

    /// Removes every factor and recovery code of the user.
    pub async fn delete_factors_of(&mut self, user_id: &str) -> Result<u64, StoreError> {
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(Factor::SCOPE, &mut args);
        let n = self.execute(&format!("DELETE FROM user_factors WHERE user_id = $1 AND {scope}"), args.clone()).await?;
        self.execute(&format!("DELETE FROM recovery_codes WHERE user_id = $1 AND {scope}"), args).await?;
        Ok(n)
    }
}
