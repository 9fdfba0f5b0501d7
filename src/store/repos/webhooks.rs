//! Webhook deliveries and attempts, the fan-out's place in the event log,
//! what each assignment-scoped app has been told exists, and the
//! membership closures the fan-out's scope rules read.

use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::domain::webhook::{Attempt, DELIVERED, Delivery, FAILED, PENDING, SENDING};
use crate::store::db::{Arg, Count, IdRow};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for Delivery {
    const TABLE: &'static str = "webhook_deliveries";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "app_id" => (&self.app_id).into(),
        "event_id" => (&self.event_id).into(),
        "event_seq" => self.event_seq.into(),
        "event_type" => (&self.event_type).into(),
        "position" => self.position.into(),
        "resource_id" => (&self.resource_id).into(),
        "body" => (&self.body).into(),
        "status" => (&self.status).into(),
        "attempts" => self.attempts.into(),
        "next_attempt_at" => self.next_attempt_at.into(),
        "lease_until" => self.lease_until.into(),
        "last_status_code" => self.last_status_code.into(),
        "last_error" => (&self.last_error).into(),
        "delivered_at" => self.delivered_at.into(),
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

impl Entity for Attempt {
    const TABLE: &'static str = "webhook_attempts";
    const SCOPE: ScopeCols = ScopeCols::PLATFORM_ONLY;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "delivery_id" => (&self.delivery_id).into(),
        "attempted_at" => self.attempted_at.into(),
        "latency_ms" => self.latency_ms.into(),
        "status_code" => self.status_code.into(),
        "outcome" => (&self.outcome).into(),
        "response" => (&self.response).into(),
        "error" => (&self.error).into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (None, None)
    }
}

#[derive(sqlx::FromRow)]
struct Last {
    last_seq: i64,
}

impl Tx {
    /// The last event fanned out, locked until commit so one replica fans
    /// out at a time; `None` when another replica holds it (PostgreSQL
    /// skips the locked row; SQLite's write lock already serializes).
    pub async fn lock_fanout_cursor(&mut self) -> Result<Option<i64>, StoreError> {
        let lock = if self.dialect().for_update().is_empty() { "" } else { " FOR UPDATE SKIP LOCKED" };
        let sql = format!("SELECT last_seq FROM webhook_fanout WHERE id = 1{lock}");
        Ok(self.fetch_optional::<Last>(&sql, vec![]).await?.map(|l| l.last_seq))
    }

    /// The last event fanned out (no lock: a quick look for new events).
    pub async fn fanout_cursor(&mut self) -> Result<i64, StoreError> {
        Ok(self.fetch_one::<Last>("SELECT last_seq FROM webhook_fanout WHERE id = 1", vec![]).await?.last_seq)
    }

    pub async fn set_fanout_cursor(&mut self, seq: i64) -> Result<(), StoreError> {
        self.execute("UPDATE webhook_fanout SET last_seq = $1 WHERE id = 1", vec![Arg::from(seq)]).await?;
        Ok(())
    }

    /// The tenant's applications with a webhook URL.
    pub async fn webhook_apps_of_tenant(&mut self, tenant_id: &str) -> Result<Vec<Application>, StoreError> {
        let sql = "SELECT * FROM applications WHERE tenant_id = $1 AND sync_webhook_url IS NOT NULL ORDER BY id";
        self.fetch_all(sql, vec![Arg::from(tenant_id)]).await
    }

    /// Every group that contains `group_id`, directly or through nesting.
    pub async fn ancestor_groups(&mut self, group_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = "WITH RECURSIVE a(id) AS ( \
                     SELECT group_id FROM group_members WHERE member_group_id = $1 \
                     UNION \
                     SELECT gm.group_id FROM group_members gm JOIN a ON gm.member_group_id = a.id) \
                   SELECT id FROM a ORDER BY id";
        Ok(self.fetch_all::<IdRow>(sql, vec![group_id.into()]).await?.into_iter().map(|r| r.id).collect())
    }

    /// Every user in `group_id`, directly or through nested groups.
    pub async fn users_under_group(&mut self, group_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = "WITH RECURSIVE d(id) AS ( \
                     SELECT CAST($1 AS TEXT) \
                     UNION \
                     SELECT gm.member_group_id FROM group_members gm JOIN d ON gm.group_id = d.id \
                     WHERE gm.member_group_id IS NOT NULL) \
                   SELECT DISTINCT gm.member_user_id AS id FROM group_members gm JOIN d ON gm.group_id = d.id \
                   WHERE gm.member_user_id IS NOT NULL ORDER BY id";
        Ok(self.fetch_all::<IdRow>(sql, vec![group_id.into()]).await?.into_iter().map(|r| r.id).collect())
    }

    /// Whether `app_id` has been told `object_id` exists.
    pub async fn webhook_scope_has(&mut self, app_id: &str, object_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM webhook_scope WHERE app_id = $1 AND object_id = $2";
        Ok(self.fetch_one::<Count>(sql, vec![app_id.into(), object_id.into()]).await?.n > 0)
    }

    pub async fn webhook_scope_set(&mut self, app_id: &str, object_id: &str, inside: bool) -> Result<(), StoreError> {
        let sql = if inside {
            "INSERT INTO webhook_scope (app_id, object_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM webhook_scope WHERE app_id = $1 AND object_id = $2"
        };
        self.execute(sql, vec![app_id.into(), object_id.into()]).await?;
        Ok(())
    }

    /// Claims up to `limit` deliveries due at `now` for `lease` seconds: a
    /// delivery waits while an earlier one of the same resource to the same
    /// app is undelivered (per-resource order), or an earlier message of the
    /// same event to the same app (`user.created` before the membership that
    /// brought the user in), and a claim whose lease
    /// lapsed (its dispatcher died) is taken again. PostgreSQL skips rows
    /// another dispatcher is claiming; SQLite's write lock serializes.
    pub async fn claim_deliveries(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let lock = if self.dialect().for_update().is_empty() { "" } else { " FOR UPDATE SKIP LOCKED" };
        let sql = format!(
            "UPDATE webhook_deliveries SET status = '{SENDING}', lease_until = $2, attempts = attempts + 1, \
             updated_at = $1 WHERE id IN ( \
               SELECT d.id FROM webhook_deliveries d \
               WHERE d.status IN ('{PENDING}', '{SENDING}') AND d.next_attempt_at <= $1 \
                 AND (d.status = '{PENDING}' OR d.lease_until <= $1) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.app_id = d.app_id \
                   AND ((e.resource_id = d.resource_id AND e.event_seq < d.event_seq) \
                     OR (e.event_seq = d.event_seq AND e.position < d.position)) \
                   AND e.status IN ('{PENDING}', '{SENDING}')) \
               ORDER BY d.event_seq, d.position LIMIT {}{lock}) \
             RETURNING *",
            limit.clamp(1, 500)
        );
        let mut claimed: Vec<Delivery> = self.fetch_all(&sql, vec![Arg::from(now), Arg::from(lease_until)]).await?;
        claimed.sort_by(|a, b| (a.event_seq, a.position, &a.id).cmp(&(b.event_seq, b.position, &b.id)));
        Ok(claimed)
    }

    /// Records an attempt and its outcome on the delivery.
    pub async fn record_attempt(&mut self, d: &Delivery, attempt: &Attempt) -> Result<(), StoreError> {
        let sql = "UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3, lease_until = NULL, \
                   last_status_code = $4, last_error = $5, delivered_at = $6, updated_at = $7 WHERE id = $1";
        let args = vec![
            Arg::from(&d.id),
            Arg::from(&d.status),
            Arg::from(d.next_attempt_at),
            Arg::from(d.last_status_code),
            Arg::from(&d.last_error),
            Arg::from(d.delivered_at),
            Arg::from(d.updated_at),
        ];
        self.execute(sql, args).await?;
        self.insert(attempt).await
    }

    /// The attempts of a delivery, oldest first.
    pub async fn attempts_of(&mut self, delivery_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let sql = "SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempted_at, id";
        self.fetch_all(sql, vec![delivery_id.into()]).await
    }

    /// Removes deliveries (and their attempts) settled before `before`.
    pub async fn purge_webhook_deliveries(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        let sql =
            format!("DELETE FROM webhook_deliveries WHERE status IN ('{DELIVERED}', '{FAILED}') AND updated_at < $1");
        self.execute(&sql, vec![Arg::from(before)]).await
    }

    /// Removes audit records older than `before`, and change events older
    /// than `events_before` that the webhook fan-out has passed.
    pub async fn purge_logs(&mut self, before: Timestamp, events_before: Timestamp) -> Result<u64, StoreError> {
        let mut n = self.execute("DELETE FROM audit_events WHERE occurred_at < $1", vec![Arg::from(before)]).await?;
        let sql =
            "DELETE FROM events WHERE occurred_at < $1 AND seq <= (SELECT last_seq FROM webhook_fanout WHERE id = 1)";
        n += self.execute(sql, vec![Arg::from(events_before)]).await?;
        Ok(n)
    }

    /// Undelivered deliveries, and the creation time of the oldest (metrics).
    pub async fn webhook_backlog(&mut self) -> Result<(i64, Option<Timestamp>), StoreError> {
        #[derive(sqlx::FromRow)]
        struct Backlog {
            n: i64,
            oldest: Option<Timestamp>,
        }
        let sql = format!(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM webhook_deliveries \
             WHERE status IN ('{PENDING}', '{SENDING}')"
        );
        let b: Backlog = self.fetch_one(&sql, vec![]).await?;
        Ok((b.n, b.oldest))
    }
}

/// A delivery's outcome after an attempt: delivered, or retried at `next`,
/// or failed for good.
pub fn settle(d: &mut Delivery, ok: bool, next: Option<Timestamp>, now: Timestamp) {
    d.updated_at = now;
    d.lease_until = None;
    if ok {
        d.status = DELIVERED.into();
        d.delivered_at = Some(now);
        return;
    }
    match next {
        Some(at) => {
            d.status = PENDING.into();
            d.next_attempt_at = at;
        }
        None => d.status = FAILED.into(),
    }
}
