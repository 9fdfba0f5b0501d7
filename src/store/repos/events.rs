//! The audit log and the change-event log, appended in the caller's
//! transaction so an event exists exactly when its change does.

use crate::domain::audit::{AuditEvent, ChangeEvent};
use crate::store::db::Arg;
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for AuditEvent {
    const TABLE: &'static str = "audit_events";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "partner_id" => (&self.partner_id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "actor_type" => (&self.actor_type).into(),
        "actor_id" => (&self.actor_id).into(),
        "action" => (&self.action).into(),
        "target_type" => (&self.target_type).into(),
        "target_id" => (&self.target_id).into(),
        "outcome" => (&self.outcome).into(),
        "details" => Arg::Json(Some(self.details.clone())),
        "request_id" => (&self.request_id).into(),
        "occurred_at" => self.occurred_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Entity for ChangeEvent {
    const TABLE: &'static str = "events";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "partner_id" => (&self.partner_id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "type" => (&self.kind).into(),
        "data" => Arg::Json(Some(self.data.clone())),
        "occurred_at" => self.occurred_at.into(),
        "seq" => self.seq.into(),
        "version" => self.version.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Tx {
    /// Appends a change event numbered in commit order: the counter row stays
    /// locked by this transaction until it ends, so a later number always
    /// belongs to a later commit and a rollback leaves no gap.
    pub async fn append_event(&mut self, event: ChangeEvent) -> Result<(), StoreError> {
        self.append_records(None, event).await
    }

    /// Appends an audit record and the change event of the same write, in one
    /// round trip where the database allows it (the hot path of every write).
    pub async fn append_audit_and_event(&mut self, audit: &AuditEvent, event: ChangeEvent) -> Result<(), StoreError> {
        self.append_records(Some(audit), event).await
    }

    async fn append_records(&mut self, audit: Option<&AuditEvent>, mut event: ChangeEvent) -> Result<(), StoreError> {
        #[derive(sqlx::FromRow)]
        struct Last {
            last: i64,
        }
        const NEXT: &str = "UPDATE event_sequence SET last = last + 1 WHERE id = 1 RETURNING last";
        if !self.dialect().counter_in_insert() {
            if let Some(a) = audit {
                self.append(a).await?;
            }
            event.seq = self.fetch_one::<Last>(NEXT, vec![]).await?.last;
            return self.append(&event).await;
        }
        // PostgreSQL: data-modifying CTEs, the number taken inside the INSERT.
        let mut args = Vec::new();
        let mut with = Vec::new();
        if let Some(a) = audit {
            args.extend(a.values());
            let list = crate::store::db::placeholders(1, args.len());
            with.push(format!("a AS (INSERT INTO audit_events ({}) VALUES ({list}))", AuditEvent::COLUMNS.join(", ")));
        }
        with.push(format!("s AS ({NEXT})"));
        let mut values = Vec::new();
        for (col, v) in ChangeEvent::COLUMNS.iter().zip(event.values()) {
            if *col == "seq" {
                values.push("s.last".to_owned());
            } else {
                args.push(v);
                values.push(format!("${}", args.len()));
            }
        }
        let sql = format!(
            "WITH {} INSERT INTO events ({}) SELECT {} FROM s",
            with.join(", "),
            ChangeEvent::COLUMNS.join(", "),
            values.join(", ")
        );
        self.execute(&sql, args).await?;
        Ok(())
    }

    /// Appends many audit records and change events in a few statements:
    /// the events take a block of consecutive numbers from the counter row,
    /// which stays locked until commit as for one event.
    pub async fn append_audits_and_events(
        &mut self,
        audits: &[AuditEvent],
        mut events: Vec<ChangeEvent>,
    ) -> Result<(), StoreError> {
        #[derive(sqlx::FromRow)]
        struct Last {
            last: i64,
        }
        if !events.is_empty() {
            let n = events.len() as i64;
            let sql = "UPDATE event_sequence SET last = last + $1 WHERE id = 1 RETURNING last";
            let last = self.fetch_one::<Last>(sql, vec![Arg::from(n)]).await?.last;
            for (seq, e) in (last - n + 1..).zip(events.iter_mut()) {
                e.seq = seq;
            }
        }
        // Like `append`: the logs are written regardless of the write scope.
        let saved = std::mem::replace(&mut self.scope, crate::store::Scope::Platform);
        let mut r = self.insert_many(audits).await;
        if r.is_ok() {
            r = self.insert_many(&events).await;
        }
        self.scope = saved;
        r
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
