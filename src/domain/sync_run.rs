//! Directory-sync runs (SPEC "Further contract points"): one per start, with
//! what it did to users and groups and the objects it could not apply.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

/// What a run did to one kind of object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tally {
    pub created: u64,
    pub updated: u64,
    /// Users disabled or gone upstream (never deleted).
    pub suspended: u64,
    /// Groups gone upstream (removed).
    pub deleted: u64,
    pub unchanged: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncCounts {
    pub users: Tally,
    pub groups: Tally,
}

/// An object a run could not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncError {
    pub external_id: String,
    pub message: String,
}

/// At most this many errors are kept per run (the counts keep the total).
pub const MAX_ERRORS: usize = 200;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct SyncRun {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub idp_id: String,
    /// `full` or `delta`.
    pub mode: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    #[sqlx(json)]
    pub counts: SyncCounts,
    #[sqlx(json)]
    pub errors: Vec<SyncError>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl SyncRun {
    /// Records a failed object, keeping at most [`MAX_ERRORS`].
    pub fn error(&mut self, external_id: &str, message: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(SyncError { external_id: external_id.to_owned(), message: message.into() });
        }
    }
}

/// The body of `POST /identity-providers/{id}/sync`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSync {
    /// `full` or `delta` (default: delta after the first full run).
    pub mode: Option<String>,
}
