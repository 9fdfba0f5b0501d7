//! The audit log and the change-event log, appended in the caller's
//! transaction so an event exists exactly when its change does.

use crate::domain::audit::{AuditEvent, ChangeEvent};
use crate::store::db::Arg;
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for AuditEvent {
    const TABLE: &'static str = "audit_events";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "partner_id",
        "tenant_id",
        "actor_type",
        "actor_id",
        "action",
        "target_type",
        "target_id",
        "outcome",
        "details",
        "request_id",
        "occurred_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn values(&self) -> Vec<Arg> {
        vec![
            (&self.id).into(),
            (&self.partner_id).into(),
            (&self.tenant_id).into(),
            (&self.actor_type).into(),
            (&self.actor_id).into(),
            (&self.action).into(),
            (&self.target_type).into(),
            (&self.target_id).into(),
            (&self.outcome).into(),
            Arg::Json(Some(self.details.clone())),
            (&self.request_id).into(),
            self.occurred_at.into(),
        ]
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Entity for ChangeEvent {
    const TABLE: &'static str = "events";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    const COLUMNS: &'static [&'static str] =
        &["id", "partner_id", "tenant_id", "type", "data", "occurred_at", "seq", "version"];
    fn id(&self) -> &str {
        &self.id
    }
    fn values(&self) -> Vec<Arg> {
        vec![
            (&self.id).into(),
            (&self.partner_id).into(),
            (&self.tenant_id).into(),
            (&self.kind).into(),
            Arg::Json(Some(self.data.clone())),
            self.occurred_at.into(),
            self.seq.into(),
            self.version.into(),
        ]
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Tx {
    /// Appends a change event numbered in commit order: the counter row stays
    /// locked by this transaction until it ends, so a later number always
    /// belongs to a later commit and a rollback leaves no gap.
    pub async fn append_event(&mut self, mut event: ChangeEvent) -> Result<(), StoreError> {
        #[derive(sqlx::FromRow)]
        struct Last {
            last: i64,
        }
        let sql = "UPDATE event_sequence SET last = last + 1 WHERE id = 1 RETURNING last";
        event.seq = self.fetch_one::<Last>(sql, vec![]).await?.last;
        self.append(&event).await
    }

    /// Events after `seq`, in order, within the scope.
    pub async fn events_after(&mut self, seq: i64, limit: usize) -> Result<Vec<ChangeEvent>, StoreError> {
        let mut args = vec![Arg::from(seq)];
        let scope = self.scope().predicate(ChangeEvent::SCOPE, &mut args);
        let sql =
            format!("SELECT * FROM events WHERE seq > $1 AND {scope} ORDER BY seq LIMIT {}", limit.clamp(1, 1000));
        self.fetch_all(&sql, args).await
    }

    /// Appends to a log regardless of the write scope: an audit record of a
    /// platform action on a tenant belongs to that tenant's log too.
    pub async fn append<E: Entity>(&mut self, e: &E) -> Result<(), StoreError> {
        let saved = std::mem::replace(&mut self.scope, crate::store::Scope::Platform);
        let r = self.insert(e).await;
        self.scope = saved;
        r
    }
}
