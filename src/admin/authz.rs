//! Who is calling the admin API (and SCIM) and what they may touch (SPEC §1).
//!
//! An access token's authority is the intersection of what obtained it:
//!
//! | part | authority |
//! |------|-----------|
//! | the app (client_credentials or the app a user signed in to) | GLOBAL → platform, PARTNER of P → partner P, TENANT of T → tenant T |
//! | the user (user tokens only) | the widest of `super_admin` (platform), `partner_admin` of P, `tenant_admin` of T that fits inside the app's authority |
//! | the token's scopes | `admin:read` reads, `admin:write` writes (SCIM: `scim:read`, `scim:write`) |
//!
//! So a super admin who signs in through a TENANT app acts on that tenant only.
//! A SCIM token acts on its tenant. The authority becomes the store `Scope` of
//! every transaction the request opens, so objects outside it are not found
//! (404), never forbidden.
//!
//! Wider admins are protected (`covers`): changing a user's credentials,
//! identities, `user_name`, `email` or `status`, or deleting the user, needs
//! an authority that covers every role the user holds.
//!
//! | caller authority | may act on holders of |
//! |------------------|------------------------|
//! | platform | every role |
//! | partner P | `partner_admin` of P, `tenant_admin` of P's tenants |
//! | tenant T | `tenant_admin` of T |

use crate::domain::application::{AppScope, Application};
use crate::domain::role::{Role, RoleAssignment};
use crate::store::Scope;

/// A store scope together with the partner that owns it (for a tenant
/// scope), so two authorities can be intersected without a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub scope: Scope,
    partner: Option<String>,
}

impl Reach {
    pub fn of_app(app: &Application) -> Option<Reach> {
        Some(match app.scope {
            AppScope::Global => Reach { scope: Scope::Platform, partner: None },
            AppScope::Partner => {
                let p = app.partner_id.clone()?;
                Reach { scope: Scope::Partner(p.clone()), partner: Some(p) }
            }
            AppScope::Tenant => Reach { scope: Scope::Tenant(app.tenant_id.clone()?), partner: app.partner_id.clone() },
        })
    }

    pub fn of_role(r: &RoleAssignment) -> Option<Reach> {
        Some(match r.role {
            Role::SuperAdmin => Reach { scope: Scope::Platform, partner: None },
            Role::PartnerAdmin => {
                let p = r.partner_id.clone()?;
                Reach { scope: Scope::Partner(p.clone()), partner: Some(p) }
            }
            Role::TenantAdmin => Reach { scope: Scope::Tenant(r.tenant_id.clone()?), partner: r.partner_id.clone() },
        })
    }

    /// What both authorities reach, if anything.
    pub fn intersect(&self, other: &Reach) -> Option<Reach> {
        match (&self.scope, &other.scope) {
            (Scope::Platform, _) => Some(other.clone()),
            (_, Scope::Platform) => Some(self.clone()),
            (Scope::Partner(p), Scope::Partner(q)) => (p == q).then(|| self.clone()),
            (Scope::Partner(p), Scope::Tenant(_)) => (other.partner.as_ref() == Some(p)).then(|| other.clone()),
            (Scope::Tenant(_), Scope::Partner(q)) => (self.partner.as_ref() == Some(q)).then(|| self.clone()),
            (Scope::Tenant(t), Scope::Tenant(u)) => (t == u).then(|| self.clone()),
        }
    }

    fn rank(&self) -> u8 {
        match self.scope {
            Scope::Platform => 0,
            Scope::Partner(_) => 1,
            Scope::Tenant(_) => 2,
        }
    }
}

/// Whether an authority covers a role: it could have granted it and could
/// remove it (SPEC §1: no caller acts on a user holding a wider role).
pub fn covers(authority: &Scope, role: &RoleAssignment) -> bool {
    match authority {
        Scope::Platform => true,
        Scope::Partner(p) => role.role != Role::SuperAdmin && role.partner_id.as_deref() == Some(p.as_str()),
        Scope::Tenant(t) => role.role == Role::TenantAdmin && role.tenant_id.as_deref() == Some(t.as_str()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Application,
    /// A tenant's SCIM bearer token (provisioning clients).
    ScimToken,
    /// ScaiKey itself (bootstrap).
    System,
}

impl ActorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Application => "application",
            ActorKind::ScimToken => "scim_token",
            ActorKind::System => "system",
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
        Some(Principal {
            kind: ActorKind::Application,
            id: app.id.clone(),
            authority: Reach::of_app(app)?.scope,
            can_read: scopes.contains(&"admin:read") || scopes.contains(&"admin:write"),
            can_write: scopes.contains(&"admin:write"),
        })
    }

    /// The authority of a user token obtained through `app`: the widest of the
    /// user's roles once cut to the app's own authority. A user whose roles
    /// all lie outside the app's reach has no admin authority through it.
    pub fn for_user(user_id: &str, roles: &[RoleAssignment], app: &Application, scopes: &[&str]) -> Option<Principal> {
        let app_reach = Reach::of_app(app)?;
        let best =
            roles.iter().filter_map(Reach::of_role).filter_map(|r| r.intersect(&app_reach)).min_by_key(Reach::rank)?;
        Some(Principal {
            kind: ActorKind::User,
            id: user_id.to_owned(),
            authority: best.scope,
            can_read: scopes.contains(&"admin:read") || scopes.contains(&"admin:write"),
            can_write: scopes.contains(&"admin:write"),
        })
    }

    pub fn is_platform(&self) -> bool {
        self.authority == Scope::Platform
    }

    /// Whether this caller is the user `user_id` acting on themself.
    pub fn is_self(&self, user_id: &str) -> bool {
        self.kind == ActorKind::User && self.id == user_id
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

    fn app(scope: AppScope, p: Option<&str>, t: Option<&str>) -> Application {
        use crate::store::conformance::fixtures;
        let mut a = fixtures::app(&fixtures::tenant(&fixtures::partner(), "x"));
        a.scope = scope;
        a.partner_id = p.map(Into::into);
        a.tenant_id = t.map(Into::into);
        a
    }

    #[test]
    fn widest_role_inside_the_app_wins_and_scopes_gate_access() {
        let global = app(AppScope::Global, None, None);
        let roles = [ra(Role::TenantAdmin, Some("prt_a"), Some("tnt_a")), ra(Role::PartnerAdmin, Some("prt_a"), None)];
        let p = Principal::for_user("usr_x", &roles, &global, &["admin:read"]).unwrap();
        assert_eq!(p.authority, Scope::Partner("prt_a".into()));
        assert!(p.can_read && !p.can_write);
        assert!(Principal::for_user("usr_x", &[], &global, &["admin:write"]).is_none());
    }

    #[test]
    fn a_super_admin_through_a_tenant_app_reaches_that_tenant_only() {
        let tenant_app = app(AppScope::Tenant, Some("prt_a"), Some("tnt_a"));
        let sa = [ra(Role::SuperAdmin, None, None)];
        let p = Principal::for_user("usr_x", &sa, &tenant_app, &["admin:write"]).unwrap();
        assert_eq!(p.authority, Scope::Tenant("tnt_a".into()));
        // A partner admin of another partner reaches nothing through it.
        let other = [ra(Role::PartnerAdmin, Some("prt_b"), None)];
        assert!(Principal::for_user("usr_x", &other, &tenant_app, &["admin:write"]).is_none());
        // A partner app cuts a super admin to the partner.
        let partner_app = app(AppScope::Partner, Some("prt_a"), None);
        let p = Principal::for_user("usr_x", &sa, &partner_app, &["admin:write"]).unwrap();
        assert_eq!(p.authority, Scope::Partner("prt_a".into()));
        let ta = [ra(Role::TenantAdmin, Some("prt_a"), Some("tnt_a"))];
        let p = Principal::for_user("usr_x", &ta, &partner_app, &["admin:write"]).unwrap();
        assert_eq!(p.authority, Scope::Tenant("tnt_a".into()));
    }

    #[test]
    fn authorities_cover_only_roles_they_could_grant() {
        let sa = ra(Role::SuperAdmin, None, None);
        let pa = ra(Role::PartnerAdmin, Some("prt_a"), None);
        let ta = ra(Role::TenantAdmin, Some("prt_a"), Some("tnt_a"));
        let tb = ra(Role::TenantAdmin, Some("prt_a"), Some("tnt_b"));
        assert!([&sa, &pa, &ta].iter().all(|r| covers(&Scope::Platform, r)));
        let partner = Scope::Partner("prt_a".into());
        assert!(!covers(&partner, &sa) && covers(&partner, &pa) && covers(&partner, &ta));
        assert!(!covers(&Scope::Partner("prt_b".into()), &pa));
        let tenant = Scope::Tenant("tnt_a".into());
        assert!(!covers(&tenant, &sa) && !covers(&tenant, &pa) && covers(&tenant, &ta) && !covers(&tenant, &tb));
    }
}
