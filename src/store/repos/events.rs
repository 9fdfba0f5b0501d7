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
    const COLUMNS: &'static [&'static str] = &["id", "partner_id", "tenant_id", "type", "data", "occurred_at"];
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
        ]
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (self.partner_id.as_deref(), self.tenant_id.as_deref())
    }
}

impl Tx {
    /// Appends to a log regardless of the write scope: an audit record of a
    /// platform action on a tenant belongs to that tenant's log too.
    pub async fn append<E: Entity>(&mut self, e: &E) -> Result<(), StoreError> {
        let saved = std::mem::replace(&mut self.scope, crate::store::Scope::Platform);
        let r = self.insert(e).await;
        self.scope = saved;
        r
    }
}
