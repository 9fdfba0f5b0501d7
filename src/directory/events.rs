//! The change-event log's contract: the `data` of each event type (payload
//! version 1). Webhooks send these payloads as SPEC "Webhooks" `data`; README points
//! here. Events are appended by the write path in the transaction of the
//! change and numbered in commit order (`seq`), so a consumer that
//! remembers the last `seq` it read never misses one.
//!
//! | type | `data` |
//! |---|---|
//! | `user.created`, `user.updated`, `user.suspended`, `user.deleted` | a user: `id`, `tenant_id`, `user_name`, `external_id`, `email`, `emails`, `email_verified`, `given_name`, `family_name`, `display_name`, `title`, `department`, `company`, `employee_id`, `employee_type`, `manager_id`, `office`, `phone_numbers`, `locale`, `preferred_language`, `timezone`, `status`, `ou_id`, `created_at`, `updated_at` (no secrets) |
//! | `group.created`, `group.updated`, `group.deleted` | a group: `id`, `tenant_id`, `name`, `description`, `external_id`, `ou_id`, `created_at`, `updated_at` |
//! | `group.member.added`, `group.member.removed` | `group_id`, `member_id`, `member_type` (`user` or `group`) |
//!
//! Deletions cascade into events: deleting a user or group that is a member
//! emits `group.member.removed` for each group it leaves; deleting a tenant
//! emits `user.deleted` for each of its users.

use serde_json::{Value, json};

use crate::domain::audit::ChangeEvent;
use crate::domain::group::Group;
use crate::domain::user::User;
use crate::ids::new_id;
use crate::store::{StoreError, Tx};

use super::Writer;

/// The version of every payload above; bumped only with a new contract.
pub const PAYLOAD_VERSION: i64 = 1;

pub fn user_payload(u: &User) -> Value {
    json!({
        "id": u.id, "tenant_id": u.tenant_id, "user_name": u.user_name, "external_id": u.external_id,
        "email": u.email, "emails": u.emails, "email_verified": u.email_verified,
        "given_name": u.given_name, "family_name": u.family_name, "display_name": u.display_name,
        "title": u.title, "department": u.department, "company": u.company,
        "employee_id": u.employee_id, "employee_type": u.employee_type, "manager_id": u.manager_id,
        "office": u.office, "phone_numbers": u.phone_numbers, "locale": u.locale,
        "preferred_language": u.preferred_language, "timezone": u.timezone, "status": u.status,
        "ou_id": u.ou_id, "created_at": u.created_at, "updated_at": u.updated_at,
    })
}

pub fn group_payload(g: &Group) -> Value {
    json!({
        "id": g.id, "tenant_id": g.tenant_id, "name": g.name, "description": g.description,
        "external_id": g.external_id, "ou_id": g.ou_id, "created_at": g.created_at, "updated_at": g.updated_at,
    })
}

pub fn member_payload(group_id: &str, member_id: &str) -> Value {
    let member_type = if member_id.starts_with("grp_") { "group" } else { "user" };
    json!({"group_id": group_id, "member_id": member_id, "member_type": member_type})
}

/// Appends one event of `kind` owned by (`partner_id`, `tenant_id`).
pub async fn emit(
    tx: &mut Tx,
    w: &Writer<'_>,
    owner: (&str, &str),
    kind: &'static str,
    data: Value,
) -> Result<(), StoreError> {
    tx.append_event(change_event(w, owner, kind, data)).await
}

/// The event of `kind`, numbered when appended.
pub fn change_event(w: &Writer<'_>, owner: (&str, &str), kind: &'static str, data: Value) -> ChangeEvent {
    ChangeEvent {
        id: new_id("evt", w.now),
        seq: 0,
        version: PAYLOAD_VERSION,
        partner_id: Some(owner.0.to_owned()),
        tenant_id: Some(owner.1.to_owned()),
        kind: kind.into(),
        data,
        occurred_at: w.now,
    }
}
