//! Leases: cross-replica exclusivity without database-specific locks. A lease
//! is a row with a holder, an expiry and an epoch; taking one is a single
//! conditional upsert, so exactly one of any number of contenders wins, and
//! the epoch moves whenever the lease changes hands (fencing).

use crate::domain::Timestamp;
use crate::store::{StoreError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
struct EpochRow {
    epoch: i64,
}

impl Tx {
    /// Takes or renews `name` for `holder` until `until`, if it is free,
    /// expired, or already `holder`'s. Returns whether `holder` now holds it.
    pub async fn try_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.take_lease(name, holder, now, until).await?.is_some())
    }

    /// Takes `name` for `holder` until `until` if it is free, expired or
    /// already theirs; returns the lease's epoch, which moves whenever the
    /// lease changes hands (`None` when someone else holds it).
    pub async fn take_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "INSERT INTO leases (name, holder, expires_at, epoch) VALUES ($1, $2, $3, 1) \
                   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
                   epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END \
                   WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder RETURNING epoch";
        let row: Option<EpochRow> =
            self.fetch_optional(sql, vec![name.into(), holder.into(), until.into(), now.into()]).await?;
        Ok(row.map(|r| r.epoch))
    }

    /// Whether `holder` still holds `name` at `epoch`, locked until commit so
    /// that nobody can take it over while this transaction writes (fencing).
    pub async fn holds_lease(
        &mut self,
        name: &str,
        holder: &str,
        epoch: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT epoch FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > $4{}",
            self.dialect().for_update()
        );
        let row: Option<EpochRow> =
            self.fetch_optional(&sql, vec![name.into(), holder.into(), epoch.into(), now.into()]).await?;
        Ok(row.is_some())
    }

    pub async fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM leases WHERE name = $1 AND holder = $2", vec![name.into(), holder.into()]).await?;
        Ok(())
    }
}
