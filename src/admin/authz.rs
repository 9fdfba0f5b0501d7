//! Who is calling the admin API and what they may touch (SPEC §1).
//!
//! | caller                               | authority           |
//! |--------------------------------------|---------------------|
//! | user with `super_admin`              | platform            |
//! | user with `partner_admin` of P       | partner P           |
//! | user with `tenant_admin` of T        | tenant T            |
//! | GLOBAL app (client_credentials)      | platform            |
//! | PARTNER app of P                     | partner P           |
//! | TENANT app of T                      | tenant T            |
//!
//! The authority becomes the store `Scope` of every transaction the request
//! opens, so objects outside it are not found (404), never forbidden. Reads
//! need `admin:read` (or `admin:write`), writes `admin:write` (else 403).

use crate::domain::application::{AppScope, Application};
use crate::domain::role::{Role, RoleAssignment};
use crate::store::Scope;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Application,
    /// A tenant's SCIM bearer token (provisioning clients).
    ScimToken,
}

impl ActorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Application => "application",
            ActorKind::ScimToken => "scim_token",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: ActorKind,
    pub id: String,
    pub authority: Scope,
    pub can_read: bool,
    pub can_write: bool,
}

impl Principal {
    /// The authority of a client_credentials token: its application's scope,
    /// limited to the admin scopes the token carries.
    pub fn for_application(app: &Application, scopes: &[&str]) -> Option<Principal> {
        let authority = match app.scope {
            AppScope::Global => Scope::Platform,
            AppScope::Partner => Scope::Partner(app.partner_id.clone()?),
            AppScope::Tenant => Scope::Tenant(app.tenant_id.clone()?),
        };
        Some(Principal {
            kind: ActorKind::Application,
            id: app.id.clone(),
            authority,
            can_read: scopes.contains(&"admin:read") || scopes.contains(&"admin:write"),
            can_write: scopes.contains(&"admin:write"),
        })
    }

    /// The authority of a user: the widest of their role assignments. A user
    /// who administers several tenants of different partners acts with the
    /// first, in id order; SPEC roles have one scope each.
    pub fn for_user(user_id: &str, roles: &[RoleAssignment], scopes: &[&str]) -> Option<Principal> {
        let rank = |r: &RoleAssignment| match r.role {
            Role::SuperAdmin => 0,
            Role::PartnerAdmin => 1,
            Role::TenantAdmin => 2,
        };
        let best = roles.iter().min_by_key(|r| rank(r))?;
        let authority = match best.role {
            Role::SuperAdmin => Scope::Platform,
            Role::PartnerAdmin => Scope::Partner(best.partner_id.clone()?),
            Role::TenantAdmin => Scope::Tenant(best.tenant_id.clone()?),
        };
        Some(Principal {
            kind: ActorKind::User,
            id: user_id.to_owned(),
            authority,
            can_read: scopes.contains(&"admin:read") || scopes.contains(&"admin:write"),
            can_write: scopes.contains(&"admin:write"),
        })
    }

    pub fn is_platform(&self) -> bool {
        self.authority == Scope::Platform
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    fn ra(role: Role, p: Option<&str>, t: Option<&str>) -> RoleAssignment {
        RoleAssignment {
            id: "rol_x".into(),
            user_id: "usr_x".into(),
            role,
            partner_id: p.map(Into::into),
            tenant_id: t.map(Into::into),
            created_at: Timestamp::EPOCH,
        }
    }

    #[test]
    fn widest_role_wins_and_scopes_gate_access() {
        let roles = [ra(Role::TenantAdmin, Some("prt_a"), Some("tnt_a")), ra(Role::PartnerAdmin, Some("prt_a"), None)];
        let p = Principal::for_user("usr_x", &roles, &["admin:read"]).unwrap();
        assert_eq!(p.authority, Scope::Partner("prt_a".into()));
        assert!(p.can_read && !p.can_write);
        assert!(Principal::for_user("usr_x", &[], &["admin:write"]).is_none());
    }
}
