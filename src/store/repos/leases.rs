//! Leases: cross-replica exclusivity without database-specific locks. A lease
//! is a row with a holder and an expiry; taking one is a single conditional
//! upsert, so exactly one of any number of contenders wins.

use crate::domain::Timestamp;
use crate::store::{StoreError, Tx};

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
        let sql = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                   WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder";
        let n = self.execute(sql, vec![name.into(), holder.into(), until.into(), now.into()]).await?;
        Ok(n == 1)
    }

    pub async fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM leases WHERE name = $1 AND holder = $2", vec![name.into(), holder.into()]).await?;
        Ok(())
    }
}
