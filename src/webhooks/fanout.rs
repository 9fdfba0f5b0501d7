//! From the change-event log to deliveries: the outbox. The fan-out reads
//! events after its cursor in `seq` (commit) order and, in the same
//! transaction that advances the cursor, writes one delivery per event and
//! application whose `sync_webhook_url` is set and whose scope the event is
//! in — so an event is fanned out exactly once, even across replicas (the
//! cursor row is locked; another replica skips it).
//!
//! Scope: an app without assignments hears of every user and group of its
//! tenant. An app with assignments hears of the users assigned to it or in
//! an assigned group (through nested groups too) and of the assigned groups
//! and the groups nested in them. `webhook_scope` remembers what each such
//! app has been told exists, so a membership change that brings a user into
//! its scope sends it `user.created` for that user, one that takes the user
//! out sends `user.deleted`, and a deleted user is announced only to apps
//! that knew it. Scope is read from the directory as it is when the event
//! is fanned out (a fraction of a second after the change).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::app::Services;
use crate::directory::events::user_payload;
use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::domain::audit::ChangeEvent;
use crate::domain::user::User;
use crate::domain::webhook::{Delivery, PENDING};
use crate::ids::new_id;
use crate::store::{Scope, StoreError, Tx};

/// Events fanned out per transaction.
const BATCH: usize = 500;

/// One message for one app: its type, the resource, and the data.
struct Message {
    id: String,
    kind: String,
    resource: String,
    data: Value,
}

/// Fans out the events after the cursor; returns how many were read.
pub async fn run_once(svc: &Services) -> Result<usize, StoreError> {
    // A cheap read first: most polls find nothing new.
    let mut tx = svc.store.read(Scope::Platform).await?;
    let cursor = tx.fanout_cursor().await?;
    let behind = tx.events_after(cursor, 1).await?;
    tx.commit().await?;
    if behind.is_empty() {
        return Ok(0);
    }
    let mut tx = svc.store.write(Scope::Platform).await?;
    let Some(cursor) = tx.lock_fanout_cursor().await? else {
        tx.rollback().await?;
        return Ok(0);
    };
    let events = tx.events_after(cursor, BATCH).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        tx.rollback().await?;
        return Ok(0);
    };
    let now = svc.clock.now();
    let mut apps: HashMap<String, Vec<Application>> = HashMap::new();
    let mut deliveries = Vec::new();
    for event in &events {
        let Some(tenant) = event.tenant_id.clone() else { continue };
        if !apps.contains_key(&tenant) {
            let found = tx.webhook_apps_of_tenant(&tenant).await?;
            apps.insert(tenant.clone(), found);
        }
        for app in apps.get(&tenant).map(Vec::as_slice).unwrap_or_default() {
            for (position, m) in messages(&mut tx, app, event).await?.into_iter().enumerate() {
                deliveries.push(delivery(app, event, position, m, now));
            }
        }
    }
    tx.insert_many(&deliveries).await?;
    tx.set_fanout_cursor(last).await?;
    tx.commit().await?;
    if !deliveries.is_empty() {
        metrics::counter!("scaikey_webhook_deliveries_queued_total").increment(deliveries.len() as u64);
    }
    Ok(events.len())
}

/// Deliveries of the events from `from_seq` on to one app (replay).
pub async fn replay(tx: &mut Tx, app: &Application, from_seq: i64, now: Timestamp) -> Result<usize, StoreError> {
    let mut after = from_seq.saturating_sub(1);
    let mut count = 0;
    loop {
        let events = tx.events_after(after, BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else { return Ok(count) };
        let mut deliveries = Vec::new();
        for event in events.iter().filter(|e| e.tenant_id == app.tenant_id) {
            for (position, m) in messages(tx, app, event).await?.into_iter().enumerate() {
                deliveries.push(delivery(app, event, position, m, now));
            }
        }
        count += deliveries.len();
        tx.insert_many(&deliveries).await?;
        after = last;
    }
}

fn delivery(app: &Application, event: &ChangeEvent, position: usize, m: Message, now: Timestamp) -> Delivery {
    let body = json!({
        "id": m.id, "type": m.kind, "tenant_id": event.tenant_id, "occurred_at": event.occurred_at,
        "seq": event.seq, "data": m.data,
    });
    Delivery {
        id: new_id("whd", now),
        tenant_id: app.tenant_id.clone().unwrap_or_default(),
        partner_id: app.partner_id.clone().unwrap_or_default(),
        app_id: app.id.clone(),
        event_id: event.id.clone(),
        event_seq: event.seq,
        event_type: m.kind,
        position: position as i64,
        resource_id: m.resource,
        body: body.to_string(),
        status: PENDING.into(),
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        last_status_code: None,
        last_error: None,
        delivered_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn text(data: &Value, key: &str) -> String {
    data.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// What `app` is sent for `event`, in order.
async fn messages(tx: &mut Tx, app: &Application, event: &ChangeEvent) -> Result<Vec<Message>, StoreError> {
    let resource = match event.kind.as_str() {
        k if k.starts_with("group.member.") => text(&event.data, "group_id"),
        _ => text(&event.data, "id"),
    };
    let as_is = |kind: &str| Message {
        id: event.id.clone(),
        kind: kind.into(),
        resource: resource.clone(),
        data: event.data.clone(),
    };
    if app.assigned_users.is_empty() && app.assigned_groups.is_empty() {
        return Ok(vec![as_is(&event.kind)]);
    }
    let mut out = Vec::new();
    match event.kind.as_str() {
        "user.created" | "user.updated" | "user.suspended" => {
            let now_in = user_in_scope(tx, app, &resource).await?;
            match (now_in, tx.webhook_scope_has(&app.id, &resource).await?) {
                (true, true) => out.push(as_is(&event.kind)),
                (true, false) => out.push(as_is("user.created")),
                (false, true) => out.push(as_is("user.deleted")),
                (false, false) => {}
            }
            tx.webhook_scope_set(&app.id, &resource, now_in).await?;
        }
        "group.created" | "group.updated" => {
            let now_in = group_in_scope(tx, app, &resource).await?;
            match (now_in, tx.webhook_scope_has(&app.id, &resource).await?) {
                (true, true) => out.push(as_is(&event.kind)),
                (true, false) => out.push(as_is("group.created")),
                (false, true) => out.push(as_is("group.deleted")),
                (false, false) => {}
            }
            tx.webhook_scope_set(&app.id, &resource, now_in).await?;
        }
        // Announced only to apps that knew the object.
        "user.deleted" | "group.deleted" if tx.webhook_scope_has(&app.id, &resource).await? => {
            out.push(as_is(&event.kind));
            tx.webhook_scope_set(&app.id, &resource, false).await?;
        }
        "group.member.added" | "group.member.removed" => {
            let member = text(&event.data, "member_id");
            let users = if member.starts_with("grp_") { tx.users_under_group(&member).await? } else { vec![member] };
            let relevant =
                group_in_scope(tx, app, &resource).await? || tx.webhook_scope_has(&app.id, &resource).await?;
            let added = event.kind == "group.member.added";
            if relevant && !added {
                out.push(as_is(&event.kind));
            }
            for user_id in users {
                let now_in = user_in_scope(tx, app, &user_id).await?;
                let had = tx.webhook_scope_has(&app.id, &user_id).await?;
                if now_in == had {
                    continue;
                }
                let data = match tx.get::<User>(&user_id).await {
                    Ok(u) => user_payload(&u),
                    Err(StoreError::NotFound) => json!({"id": user_id}),
                    Err(e) => return Err(e),
                };
                let kind = if now_in { "user.created" } else { "user.deleted" };
                out.push(Message {
                    id: format!("{}.{user_id}", event.id),
                    kind: kind.into(),
                    resource: user_id.clone(),
                    data,
                });
                tx.webhook_scope_set(&app.id, &user_id, now_in).await?;
            }
            if relevant && added {
                out.push(as_is(&event.kind));
            }
        }
        _ => {}
    }
    Ok(out)
}

async fn user_in_scope(tx: &mut Tx, app: &Application, user_id: &str) -> Result<bool, StoreError> {
    if app.assigned_users.iter().any(|u| u == user_id) {
        return Ok(true);
    }
    if app.assigned_groups.is_empty() {
        return Ok(false);
    }
    Ok(tx.transitive_groups_of_user(user_id).await?.iter().any(|g| app.assigned_groups.contains(g)))
}

async fn group_in_scope(tx: &mut Tx, app: &Application, group_id: &str) -> Result<bool, StoreError> {
    if app.assigned_groups.iter().any(|g| g == group_id) {
        return Ok(true);
    }
    if app.assigned_groups.is_empty() {
        return Ok(false);
    }
    Ok(tx.ancestor_groups(group_id).await?.iter().any(|g| app.assigned_groups.contains(g)))
}
