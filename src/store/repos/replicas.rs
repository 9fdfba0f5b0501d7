//! What each serving replica reports about itself: the signing keys it has
//! loaded (`replica_keyrings`), so that `keys::rotation` promotes a new key
//! to signing only once every live replica can verify what it signs.

use crate::domain::Timestamp;
use crate::store::{StoreError, Tx};

/// Rows of replicas silent for this long are removed at the next report:
/// long gone, they would only clutter the table.
const FORGET_AFTER: i64 = 86_400;

#[derive(Debug, Clone, sqlx::FromRow)]
struct KeyringRow {
    instance_id: String,
    loaded_kids: String,
}

impl Tx {
    /// Records that `instance` has loaded the keys `kids` (at `now`).
    pub async fn report_loaded_keys(
        &mut self,
        instance: &str,
        kids: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO replica_keyrings (instance_id, loaded_kids, seen_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (instance_id) DO UPDATE SET loaded_kids = excluded.loaded_kids, seen_at = excluded.seen_at";
        self.execute(sql, vec![instance.into(), kids.join(" ").into(), now.into()]).await?;
        let forget_before = now.plus_seconds(-FORGET_AFTER);
        self.execute("DELETE FROM replica_keyrings WHERE seen_at < $1", vec![forget_before.into()]).await?;
        Ok(())
    }

    /// The replicas that reported since `since` without having loaded `kid`.
    pub async fn replicas_missing_key(&mut self, kid: &str, since: Timestamp) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT instance_id, loaded_kids FROM replica_keyrings WHERE seen_at >= $1 ORDER BY instance_id";
        let rows: Vec<KeyringRow> = self.fetch_all(sql, vec![since.into()]).await?;
        Ok(rows.into_iter().filter(|r| !r.loaded_kids.split(' ').any(|k| k == kid)).map(|r| r.instance_id).collect())
    }

    /// A replica stopping cleanly: it no longer holds back a promotion.
    pub async fn forget_replica(&mut self, instance: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM replica_keyrings WHERE instance_id = $1", vec![instance.into()]).await?;
        Ok(())
    }
}
