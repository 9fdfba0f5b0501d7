//! RFC 8628 device codes. Each change of status is a compare-and-set, so a
//! code is approved once and redeemed once however many polls race.

use crate::domain::Timestamp;
use crate::domain::oidc::{DeviceCode, LoginRequest, LoginState};
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for DeviceCode {
    const TABLE: &'static str = "device_codes";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "app_id" => (&self.app_id).into(),
        "device_code_hash" => (&self.device_code_hash).into(),
        "user_code_hash" => (&self.user_code_hash).into(),
        "scope" => (&self.scope).into(),
        "status" => (&self.status).into(),
        "user_id" => (&self.user_id).into(),
        "session_id" => (&self.session_id).into(),
        "auth_time" => self.auth_time.into(),
        "amr" => json(&self.amr),
        "poll_interval" => self.poll_interval.into(),
        "last_polled_at" => self.last_polled_at.into(),
        "created_at" => self.created_at.into(),
        "expires_at" => self.expires_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Tx {
    /// The device code with this hash (any scope: the device proves it by the secret).
    pub async fn device_by_code_hash(&mut self, hash: &str) -> Result<DeviceCode, StoreError> {
        self.fetch_one("SELECT * FROM device_codes WHERE device_code_hash = $1", vec![Arg::from(hash)]).await
    }

    /// The live device code a user typed (by its hash), within the scope.
    pub async fn device_by_user_code_hash(&mut self, hash: &str, now: Timestamp) -> Result<DeviceCode, StoreError> {
        let mut args = vec![Arg::from(hash), Arg::from(now)];
        let scope = self.scope().predicate(DeviceCode::SCOPE, &mut args);
        let sql = format!("SELECT * FROM device_codes WHERE user_code_hash = $1 AND expires_at > $2 AND {scope}");
        self.fetch_one(&sql, args).await
    }

    /// Records a poll; `interval` is the (possibly raised) wait before the next.
    pub async fn device_polled(&mut self, id: &str, interval: i64, now: Timestamp) -> Result<(), StoreError> {
        let sql = "UPDATE device_codes SET last_polled_at = $2, poll_interval = $3 WHERE id = $1";
        self.execute(sql, vec![id.into(), now.into(), interval.into()]).await?;
        Ok(())
    }

    /// A pending code approved by the signed-in user (or denied: `user` None).
    pub async fn device_decide(
        &mut self,
        id: &str,
        user: Option<(&str, &str, Timestamp, &[String])>,
    ) -> Result<bool, StoreError> {
        let n = match user {
            Some((user_id, session_id, auth_time, amr)) => {
                let sql = "UPDATE device_codes SET status = 'approved', user_id = $2, session_id = $3, auth_time = $4, \
                           amr = $5 WHERE id = $1 AND status = 'pending'";
                let args = vec![id.into(), user_id.into(), session_id.into(), auth_time.into(), json(&amr)];
                self.execute(sql, args).await?
            }
            None => {
                let sql = "UPDATE device_codes SET status = 'denied' WHERE id = $1 AND status = 'pending'";
                self.execute(sql, vec![id.into()]).await?
            }
        };
        Ok(n == 1)
    }

    /// An approved code redeemed, once.
    pub async fn device_use(&mut self, id: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE device_codes SET status = 'used' WHERE id = $1 AND status = 'approved'";
        Ok(self.execute(sql, vec![id.into()]).await? == 1)
    }

    /// Moves a login request (already claimed in this transaction) to `state`.
    pub async fn move_login(&mut self, request: &LoginRequest, state: &LoginState) -> Result<(), StoreError> {
        let sql = "UPDATE login_requests SET state = $2, step = $3, user_id = $4, version = version + 1 WHERE id = $1";
        let args = vec![
            Arg::from(&request.id),
            json(state),
            Arg::from(state.name()),
            Arg::from(state.user_id().map(str::to_owned)),
        ];
        self.execute(sql, args).await?;
        Ok(())
    }
}
