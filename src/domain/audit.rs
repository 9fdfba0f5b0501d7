//! Audit events (who did what to which object, and whether it worked) and
//! change events (the durable log webhooks, SCIM and sync consumers read).

use serde::Serialize;
use utoipa::ToSchema;

use super::Timestamp;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub partner_id: Option<String>,
    pub tenant_id: Option<String>,
    /// `user`, `application` or `system`
    pub actor_type: String,
    pub actor_id: Option<String>,
    /// e.g. `user.create`
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// `success` or `failure`
    pub outcome: String,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub request_id: Option<String>,
    pub occurred_at: Timestamp,
}

/// One entry of the change-event log; `type` is a SPEC "Webhooks" event type
/// and `data` its payload of `version` (`directory::events`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ChangeEvent {
    pub id: String,
    /// Position in commit order, from 1 without gaps.
    pub seq: i64,
    pub version: i64,
    pub partner_id: Option<String>,
    pub tenant_id: Option<String>,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub occurred_at: Timestamp,
}
