//! Webhook deliveries (SPEC "Webhooks"): one per event and application,
//! from the durable outbox the fan-out fills, with every attempt recorded.

use serde::Serialize;
use utoipa::ToSchema;

use super::Timestamp;

/// Waiting for its first or next attempt.
pub const PENDING: &str = "pending";
/// Claimed by a dispatcher until `lease_until` (then claimable again).
pub const SENDING: &str = "sending";
/// A 2xx answer was received.
pub const DELIVERED: &str = "delivered";
/// Given up: retried for the whole retry window, or no URL any more.
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub app_id: String,
    pub event_id: String,
    /// The event's commit-ordered `seq`: deliveries of one resource to one
    /// app are sent in this order.
    pub event_seq: i64,
    pub event_type: String,
    /// The place among the messages one event makes for one app (a user
    /// entering its scope: `user.created` 0, then the membership 1).
    pub position: i64,
    /// The user or group the event is about.
    pub resource_id: String,
    /// The exact JSON sent (and signed).
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    #[serde(skip)]
    pub lease_until: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One try at a delivery.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub attempted_at: Timestamp,
    pub latency_ms: i64,
    pub status_code: Option<i64>,
    /// `delivered`, `http_error`, `timeout`, `refused` (the destination is
    /// not allowed) or `unreachable`.
    pub outcome: String,
    /// The start of the receiver's answer (at most 1 KiB).
    pub response: Option<String>,
    pub error: Option<String>,
}
