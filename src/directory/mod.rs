//! The one write path for users, groups, memberships and OUs. Every writer —
//! the admin API, SCIM and Bulk, bootstrap, and next federation (JIT) and
//! directory sync — calls these functions on **its own transaction** with an
//! explicit `Writer`; each function validates and normalizes, enforces
//! partner limits and the wider-admin rule, writes, and appends the audit
//! record and the change events inside that transaction. Nothing else
//! writes those tables, so no writer can forget a step, and a SCIM PATCH
//! that fails half-way leaves no half-change and no half-emitted event.
//!
//! | module | writes |
//! |---|---|
//! | `users` | create, update (optionally against an expected version), delete |
//! | `groups` | create, update, delete, add/remove one member, set all members |
//! | `ous` | create, update, delete; resolve an OU by id, path or DN |
//! | `events` | the event payloads (the webhook contract) and `emit` |
//!
//! Identifiers are normalized with `domain::identifier` (PRECIS) on the way in.

pub mod events;
pub mod factors;
pub mod groups;
pub mod identities;
pub mod ous;
pub mod provision;
pub mod rekey;
pub mod users;

use serde_json::{Map, Value};

use crate::admin::AdminError;
use crate::admin::authz::{ActorKind, Principal};
use crate::domain::Timestamp;
use crate::domain::audit::AuditEvent;
use crate::ids::new_id;
use crate::store::{Scope, Tx};

/// Who makes a change; recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    App(String),
    ScimToken(String),
    Agent(String),
    /// ScaiKey itself: bootstrap, migrations, maintenance.
    System(&'static str),
    /// A directory-sync run of an identity provider.
    Sync {
        idp: String,
        run: String,
    },
    /// Just-in-time provisioning at a federated login.
    Federation {
        idp: String,
    },
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::App(_) => "application",
            Actor::ScimToken(_) => "scim_token",
            Actor::Agent(_) => "agent",
            Actor::System(_) => "system",
            Actor::Sync { .. } => "sync",
            Actor::Federation { .. } => "federation",
        }
    }

    pub fn id(&self) -> String {
        match self {
            Actor::User(id) | Actor::App(id) | Actor::ScimToken(id) | Actor::Agent(id) => id.clone(),
            Actor::System(what) => (*what).to_owned(),
            Actor::Sync { run, .. } => run.clone(),
            Actor::Federation { idp } => idp.clone(),
        }
    }

    pub fn of(p: &Principal) -> Actor {
        match p.kind {
            ActorKind::User => Actor::User(p.id.clone()),
            ActorKind::Application => Actor::App(p.id.clone()),
            ActorKind::ScimToken => Actor::ScimToken(p.id.clone()),
            ActorKind::System => Actor::System("bootstrap"),
        }
    }
}

/// The context of one change: the actor, the authority it acts with (the
/// wider-admin rule compares roles with it), the request and the time.
pub struct Writer<'a> {
    pub actor: Actor,
    pub authority: Scope,
    pub request_id: Option<&'a str>,
    pub now: Timestamp,
}

impl Writer<'_> {
    pub fn new_id(&self, prefix: &str) -> String {
        new_id(prefix, self.now)
    }

    /// Whether the actor is the user `user_id` (a user may change their own password).
    pub fn is_user(&self, user_id: &str) -> bool {
        matches!(&self.actor, Actor::User(id) if id == user_id)
    }

    /// Appends the audit record of a successful action and its change event.
    #[allow(clippy::too_many_arguments)]
    pub async fn record(
        &self,
        tx: &mut Tx,
        action: &str,
        target: (&str, &str),
        owner: (&str, &str),
        details: Map<String, Value>,
        kind: &'static str,
        data: Value,
    ) -> Result<(), AdminError> {
        let audit = self.audit_event(action, target, owner, details);
        tx.append_audit_and_event(&audit, events::change_event(self, owner, kind, data)).await?;
        Ok(())
    }

    fn audit_event(
        &self,
        action: &str,
        target: (&str, &str),
        owner: (&str, &str),
        details: Map<String, Value>,
    ) -> AuditEvent {
        AuditEvent {
            id: self.new_id("aud"),
            partner_id: Some(owner.0.to_owned()),
            tenant_id: Some(owner.1.to_owned()),
            actor_type: self.actor.kind().into(),
            actor_id: Some(self.actor.id()),
            action: action.into(),
            target_type: target.0.into(),
            target_id: Some(target.1.into()),
            outcome: "success".into(),
            details: Value::Object(details),
            request_id: self.request_id.map(str::to_owned),
            occurred_at: self.now,
        }
    }

    /// Appends a successful action to the audit log.
    pub async fn audit(
        &self,
        tx: &mut Tx,
        action: &str,
        target: (&str, &str),
        owner: (&str, &str),
        details: Map<String, Value>,
    ) -> Result<(), AdminError> {
        tx.append(&self.audit_event(action, target, owner, details)).await?;
        Ok(())
    }
}
