//! Functional cases: CRUD of every entity, tenant isolation of every query,
//! keyset paging, time round trips, unique constraints, group nesting.

use serde_json::json;

use crate::domain::Timestamp;
use crate::domain::agent::McpAgent;
use crate::domain::application::Application;
use crate::domain::audit::{AuditEvent, ChangeEvent};
use crate::domain::group::Group;
use crate::domain::idp::IdentityProvider;
use crate::domain::ou::OrganizationalUnit;
use crate::domain::partner::Partner;
use crate::domain::role::{Role, RoleAssignment};
use crate::domain::scim_token::ScimToken;
use crate::domain::signing_key::SigningKey;
use crate::domain::tenant::Tenant;
use crate::domain::user::{User, UserIdentity, UserStatus};
use crate::ids::new_id;
use crate::store::{Arg, PageRequest, Scope, Store, StoreError};

use super::Case;
use super::fixtures::*;

macro_rules! case {
    ($name:ident) => {
        (stringify!($name), |s| Box::pin($name(s)))
    };
}

pub fn cases() -> Vec<Case> {
    vec![
        case!(crud_partner_and_tenant),
        case!(crud_user_round_trips_every_attribute),
        case!(crud_groups_members_and_nesting),
        case!(crud_organizational_units_tree),
        case!(crud_application),
        case!(crud_small_entities),
        case!(tenant_isolation_of_every_query),
        case!(keyset_paging_is_stable_under_inserts),
        case!(time_round_trips_to_the_microsecond),
        case!(unique_constraints_are_named_conflicts),
    ]
}

async fn crud_partner_and_tenant(store: Store) {
    let (p, a, _) = two_tenants(&store).await;
    let mut tx = store.write(Scope::Platform).await.unwrap();
    let mut got: Tenant = tx.get(&a.id).await.unwrap();
    assert_eq!(got.slug, a.slug);
    assert_eq!(got.settings, a.settings);
    got.name = "renamed".into();
    got.branding.primary_color = Some("#112233".into());
    tx.update(&got).await.unwrap();
    let again: Tenant = tx.get(&a.id).await.unwrap();
    assert_eq!(again.name, "renamed");
    assert_eq!(again.branding.primary_color.as_deref(), Some("#112233"));
    assert_eq!(tx.tenant_by_slug(&a.slug).await.unwrap().id, a.id);
    assert_eq!(tx.count_tenants_of_partner(&p.id).await.unwrap(), 2);
    assert_eq!(tx.limits_of_tenant(&a.id).await.unwrap(), p.limits);
    tx.delete::<Tenant>(&a.id).await.unwrap();
    assert!(matches!(tx.get::<Tenant>(&a.id).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.delete::<Tenant>(&a.id).await, Err(StoreError::NotFound)));
    // A partner with tenants cannot be deleted out from under them.
    assert!(matches!(tx.delete::<Partner>(&p.id).await, Err(StoreError::Reference)));
    tx.commit().await.unwrap();
}

async fn crud_user_round_trips_every_attribute(store: Store) {
    let (_, a, _) = two_tenants(&store).await;
    let u = user(&a, "Ada@X.test");
    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    tx.insert(&u).await.unwrap();
    let got: User = tx.get(&u.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&u).unwrap());
    assert_eq!(got.password_hash, u.password_hash);
    assert_eq!(tx.user_by_name(&a.id, "ada@x.TEST").await.unwrap().id, u.id, "user names match case-insensitively");
    let mut changed = got.clone();
    changed.status = UserStatus::Suspended;
    changed.custom_attributes.insert("k".into(), json!([1, 2]));
    tx.update(&changed).await.unwrap();
    let got: User = tx.get(&u.id).await.unwrap();
    assert_eq!(got.status, UserStatus::Suspended);
    assert_eq!(got.custom_attributes["k"], json!([1, 2]));
    tx.set_password_hash(&u.id, "$argon2id$new", now()).await.unwrap();
    assert_eq!(tx.get::<User>(&u.id).await.unwrap().password_hash.as_deref(), Some("$argon2id$new"));
    let filtered = tx
        .list::<User>(vec![("status", Arg::from("suspended"))], &PageRequest { limit: 10, after: None })
        .await
        .unwrap();
    assert_eq!(filtered.items.len(), 1);
    assert_eq!(tx.count_in_tenant("users", &a.id).await.unwrap(), 1);
    tx.delete::<User>(&u.id).await.unwrap();
    assert_eq!(tx.count::<User>(vec![]).await.unwrap(), 0);
    assert_eq!(tx.count_in_tenant("users", &a.id).await.unwrap(), 0);
    tx.commit().await.unwrap();
}

async fn crud_groups_members_and_nesting(store: Store) {
    let (_, a, _) = two_tenants(&store).await;
    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    let u = user(&a, "u1");
    let (g1, g2, g3) = (group(&a, "one"), group(&a, "two"), group(&a, "three"));
    tx.insert(&u).await.unwrap();
    for g in [&g1, &g2, &g3] {
        tx.insert(g).await.unwrap();
    }
    // u ∈ g1 ⊂ g2 ⊂ g3
    tx.add_member(&g1, &u.id, now()).await.unwrap();
    tx.add_member(&g2, &g1.id, now()).await.unwrap();
    tx.add_member(&g3, &g2.id, now()).await.unwrap();
    let mut expected = vec![g1.id.clone(), g2.id.clone(), g3.id.clone()];
    expected.sort();
    assert_eq!(tx.transitive_groups_of_user(&u.id).await.unwrap(), expected);
    assert!(tx.group_contains_group(&g3.id, &g1.id).await.unwrap());
    // Closing the loop g1 ⊃ g3 is refused, as is a group in itself.
    assert!(tx.add_member(&g1, &g3.id, now()).await.unwrap_err().is_conflict_on("group_members_cycle"));
    assert!(tx.add_member(&g1, &g1.id, now()).await.unwrap_err().is_conflict_on("group_members_cycle"));
    let members = tx.members(&g2, &PageRequest { limit: 10, after: None }).await.unwrap();
    assert_eq!(members.items.len(), 1);
    assert_eq!(members.items[0].kind, "group");
    tx.remove_member(&g2, &g1.id).await.unwrap();
    assert_eq!(tx.transitive_groups_of_user(&u.id).await.unwrap(), vec![g1.id.clone()]);
    assert!(matches!(tx.remove_member(&g2, &g1.id).await, Err(StoreError::NotFound)));
    // Deleting a group removes its memberships.
    tx.delete::<Group>(&g1.id).await.unwrap();
    assert!(tx.transitive_groups_of_user(&u.id).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    // A duplicate membership is a named conflict (it aborts the transaction on PostgreSQL).
    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    tx.add_member(&g2, &u.id, now()).await.unwrap();
    assert!(tx.add_member(&g2, &u.id, now()).await.unwrap_err().is_conflict_on("group_members_group_id_member_id_key"));
    tx.rollback().await.unwrap();
}

async fn crud_organizational_units_tree(store: Store) {
    let (_, a, _) = two_tenants(&store).await;
    let ou = |parent: Option<&str>, name: &str| OrganizationalUnit {
        id: new_id("ou", now()),
        tenant_id: a.id.clone(),
        partner_id: a.partner_id.clone(),
        parent_id: parent.map(str::to_owned),
        name: name.into(),
        description: None,
        created_at: now(),
        updated_at: now(),
    };
    let root = ou(None, "root");
    let mid = ou(Some(&root.id), "mid");
    let leaf = ou(Some(&mid.id), "leaf");
    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    for o in [&root, &mid, &leaf] {
        tx.insert(o).await.unwrap();
    }
    assert!(tx.ou_is_ancestor_or_self(&root.id, &leaf.id).await.unwrap());
    assert!(tx.ou_is_ancestor_or_self(&leaf.id, &leaf.id).await.unwrap());
    assert!(!tx.ou_is_ancestor_or_self(&leaf.id, &root.id).await.unwrap());
    let mut u = user(&a, "in-ou");
    u.ou_id = Some(leaf.id.clone());
    tx.insert(&u).await.unwrap();
    // A unit with children cannot be deleted.
    assert!(matches!(tx.delete::<OrganizationalUnit>(&mid.id).await, Err(StoreError::Reference)));
    tx.commit().await.unwrap();
}

async fn crud_application(store: Store) {
    let (_, a, _) = two_tenants(&store).await;
    let app = app(&a);
    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    tx.insert(&app).await.unwrap();
    let got: Application = tx.get(&app.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&app).unwrap());
    assert_eq!(got.client_secret_hash, app.client_secret_hash);
    assert_eq!(tx.app_by_client_id(&app.client_id).await.unwrap().id, app.id);
    let mut changed = got;
    changed.redirect_uris.push("https://wiki.test/cb2".into());
    tx.update(&changed).await.unwrap();
    assert_eq!(tx.get::<Application>(&app.id).await.unwrap().redirect_uris.len(), 2);
    assert_eq!(tx.count_in_tenant("applications", &a.id).await.unwrap(), 1);
    let mut other = super::fixtures::app(&a);
    other.client_id = crate::ids::new_client_id();
    tx.insert(&other).await.unwrap();
    assert_eq!(tx.count_in_tenant("applications", &a.id).await.unwrap(), 2, "the trigger counts inserts");
    tx.delete::<Application>(&other.id).await.unwrap();
    assert_eq!(tx.count_in_tenant("applications", &a.id).await.unwrap(), 1, "and deletes");
    tx.delete::<Application>(&app.id).await.unwrap();
    tx.commit().await.unwrap();
}

async fn crud_small_entities(store: Store) {
    let (p, a, _) = two_tenants(&store).await;
    let u = user(&a, "owner");
    let idp = IdentityProvider {
        id: new_id("idp", now()),
        tenant_id: a.id.clone(),
        partner_id: p.id.clone(),
        kind: "oidc".into(),
        name: "Okta".into(),
        domains: vec!["x.test".into()],
        config: match json!({"issuer": "https://idp.test", "client_secret": "v1.sealed"}) {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        },
        jit_provisioning: true,
        attribute_mapping: Default::default(),
        sync_schedule: None,
        trust_email_for_linking: false,
        trust_upstream_mfa: false,
        created_at: now(),
        updated_at: now(),
    };
    let ident = UserIdentity {
        id: new_id("uid", now()),
        tenant_id: a.id.clone(),
        partner_id: p.id.clone(),
        user_id: u.id.clone(),
        idp_id: idp.id.clone(),
        external_id: "ext-1".into(),
        last_login_at: Some(now()),
        created_at: now(),
    };
    let agent = McpAgent {
        id: new_id("agt", now()),
        tenant_id: a.id.clone(),
        partner_id: p.id.clone(),
        name: "bot".into(),
        description: None,
        user_id: u.id.clone(),
        application_id: None,
        allowed_scopes: vec!["api:read".into()],
        status: "active".into(),
        created_at: now(),
        updated_at: now(),
        secret_hash: Some("sha256:x".into()),
        max_token_lifetime: 600,
    };
    let role = RoleAssignment {
        id: new_id("rol", now()),
        user_id: u.id.clone(),
        role: Role::TenantAdmin,
        partner_id: Some(p.id.clone()),
        tenant_id: Some(a.id.clone()),
        created_at: now(),
    };
    let token = ScimToken {
        id: new_id("sct", now()),
        tenant_id: a.id.clone(),
        partner_id: p.id.clone(),
        name: "Entra".into(),
        token_hash: "sha256:abc".into(),
        expires_at: Some(now().plus_seconds(60)),
        last_used_at: None,
        created_at: now(),
    };
    let audit = AuditEvent {
        id: new_id("aud", now()),
        partner_id: Some(p.id.clone()),
        tenant_id: Some(a.id.clone()),
        actor_type: "user".into(),
        actor_id: Some("usr_x".into()),
        action: "user.create".into(),
        target_type: "user".into(),
        target_id: Some(u.id.clone()),
        outcome: "success".into(),
        details: json!({}),
        request_id: Some("r1".into()),
        occurred_at: now(),
    };
    let event = ChangeEvent {
        id: new_id("evt", now()),
        seq: 0,
        version: 1,
        partner_id: Some(p.id.clone()),
        tenant_id: Some(a.id.clone()),
        kind: "user.created".into(),
        data: json!({"id": u.id}),
        occurred_at: now(),
    };
    let key = SigningKey {
        id: "kid-1".into(),
        alg: "ES256".into(),
        status: "active".into(),
        private_key_sealed: "v1.x".into(),
        public_jwk: json!({"kty": "EC"}),
        created_at: now(),
        activated_at: Some(now()),
        retired_at: None,
        expires_at: None,
    };
    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    tx.insert(&u).await.unwrap();
    tx.insert(&idp).await.unwrap();
    tx.insert(&ident).await.unwrap();
    tx.insert(&agent).await.unwrap();
    tx.insert(&role).await.unwrap();
    tx.insert(&token).await.unwrap();
    tx.append(&audit).await.unwrap();
    tx.append_event(event.clone()).await.unwrap();
    // Signing keys are platform rows: a tenant scope may not write them.
    assert!(matches!(tx.insert(&key).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();

    let mut tx = store.write(Scope::Platform).await.unwrap();
    tx.insert(&key).await.unwrap();
    assert_eq!(tx.get::<IdentityProvider>(&idp.id).await.unwrap().config, idp.config);
    assert_eq!(tx.identities_of(&u.id).await.unwrap()[0].external_id, "ext-1");
    assert_eq!(tx.get::<McpAgent>(&agent.id).await.unwrap().allowed_scopes, agent.allowed_scopes);
    assert_eq!(tx.roles_of_user(&u.id).await.unwrap()[0].role, Role::TenantAdmin);
    assert_eq!(tx.scim_token_by_hash("sha256:abc", now()).await.unwrap().id, token.id);
    assert!(
        matches!(tx.scim_token_by_hash("sha256:abc", now().plus_seconds(61)).await, Err(StoreError::NotFound)),
        "expired tokens are not found"
    );
    assert_eq!(tx.get::<AuditEvent>(&audit.id).await.unwrap().request_id.as_deref(), Some("r1"));
    assert_eq!(tx.get::<ChangeEvent>(&event.id).await.unwrap().kind, "user.created");
    assert_eq!(tx.published_keys(now()).await.unwrap().len(), 1);
    let mut expiring = key.clone();
    expiring.expires_at = Some(now());
    tx.update(&expiring).await.unwrap();
    assert!(tx.published_keys(now()).await.unwrap().is_empty(), "expired keys leave JWKS");
    // Deleting the user cascades to what only exists for the user.
    tx.delete::<User>(&u.id).await.unwrap();
    assert!(tx.identities_of(&u.id).await.unwrap().is_empty());
    assert!(tx.roles_of_user(&u.id).await.unwrap().is_empty());
    assert!(matches!(tx.get::<McpAgent>(&agent.id).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
}

/// Every query bound by the scope must not see, change or delete another
/// tenant's rows; removing the predicate from any of them fails here.
async fn tenant_isolation_of_every_query(store: Store) {
    let (p, a, b) = two_tenants(&store).await;
    let (ua, ub) = (user(&a, "same"), user(&b, "same"));
    let (ga, gb) = (group(&a, "g"), group(&b, "g"));
    let (appa, appb) = (app(&a), app(&b));
    let mut tx = store.write(Scope::Platform).await.unwrap();
    for u in [&ua, &ub] {
        tx.insert(u).await.unwrap();
    }
    for g in [&ga, &gb] {
        tx.insert(g).await.unwrap();
    }
    tx.add_member(&gb, &ub.id, now()).await.unwrap();
    tx.insert(&appa).await.unwrap();
    tx.insert(&appb).await.unwrap();
    let role_b = RoleAssignment {
        id: new_id("rol", now()),
        user_id: ub.id.clone(),
        role: Role::TenantAdmin,
        partner_id: Some(p.id.clone()),
        tenant_id: Some(b.id.clone()),
        created_at: now(),
    };
    tx.insert(&role_b).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    let page = PageRequest { limit: 100, after: None };
    // get / list / count
    assert!(matches!(tx.get::<User>(&ub.id).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.get_for_update::<User>(&ub.id).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.get::<Group>(&gb.id).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.get::<Tenant>(&b.id).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.get::<Partner>(&p.id).await, Err(StoreError::NotFound)));
    assert_eq!(
        tx.list::<User>(vec![], &page).await.unwrap().items.iter().map(|u| &u.id).collect::<Vec<_>>(),
        vec![&ua.id]
    );
    assert_eq!(tx.list::<Tenant>(vec![], &page).await.unwrap().items.len(), 1);
    assert_eq!(tx.count::<User>(vec![]).await.unwrap(), 1);
    // lookups
    assert!(matches!(tx.user_by_name(&b.id, "same").await, Err(StoreError::NotFound)));
    assert!(matches!(tx.tenant_by_slug(&b.slug).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.app_by_client_id(&appb.client_id).await, Err(StoreError::NotFound)));
    assert!(tx.transitive_groups_of_user(&ub.id).await.unwrap().is_empty());
    assert!(tx.roles_of_user(&ub.id).await.unwrap().is_empty());
    assert!(tx.identities_of(&ub.id).await.unwrap().is_empty());
    // writes
    let mut stolen = ub.clone();
    stolen.display_name = Some("pwned".into());
    assert!(matches!(tx.update(&stolen).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.set_password_hash(&ub.id, "x", now()).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.delete::<User>(&ub.id).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.delete::<Application>(&appb.id).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.insert(&user(&b, "planted")).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();

    // B's rows are untouched, and a partner scope sees both tenants.
    let mut tx = store.read(Scope::Partner(p.id.clone())).await.unwrap();
    let got: User = tx.get(&ub.id).await.unwrap();
    assert_eq!(got.display_name, None);
    assert_eq!(tx.list::<Tenant>(vec![], &page).await.unwrap().items.len(), 2);
    assert_eq!(tx.get::<Partner>(&p.id).await.unwrap().id, p.id);
    tx.commit().await.unwrap();
    let mut tx = store.read(Scope::Partner("prt_other0000000000000000000".into())).await.unwrap();
    assert!(matches!(tx.get::<User>(&ub.id).await, Err(StoreError::NotFound)));
    assert_eq!(tx.list::<Tenant>(vec![], &page).await.unwrap().items.len(), 0);
    tx.commit().await.unwrap();
}

async fn keyset_paging_is_stable_under_inserts(store: Store) {
    let (_, a, _) = two_tenants(&store).await;
    let scope = Scope::Tenant(a.id.clone());
    let mut originals = Vec::new();
    let mut tx = store.write(scope.clone()).await.unwrap();
    for i in 0..25 {
        let u = user(&a, &format!("u{i:02}"));
        tx.insert(&u).await.unwrap();
        originals.push(u.id);
    }
    tx.commit().await.unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut after = None;
    let mut n = 0;
    loop {
        let mut tx = store.read(scope.clone()).await.unwrap();
        let page = tx.list::<User>(vec![], &PageRequest { limit: 10, after: after.clone() }).await.unwrap();
        tx.commit().await.unwrap();
        seen.extend(page.items.iter().map(|u| u.id.clone()));
        // Another writer inserts between pages.
        let mut w = store.write(scope.clone()).await.unwrap();
        w.insert(&user(&a, &format!("late{n}"))).await.unwrap();
        w.commit().await.unwrap();
        n += 1;
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
        assert!(n < 20, "paging must terminate");
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no row is listed twice");
    assert_eq!(sorted, seen, "pages come in id order");
    for id in &originals {
        assert!(seen.contains(id), "no row present before paging is skipped");
    }
}

async fn time_round_trips_to_the_microsecond(store: Store) {
    let (_, a, _) = two_tenants(&store).await;
    let mut tx = store.write(Scope::Tenant(a.id.clone())).await.unwrap();
    for micros in [0i64, 1, 999_999, 1_795_000_000_123_456, 4_102_444_800_000_001, -86_400_000_000] {
        let t = Timestamp::from_unix_micros(micros).unwrap();
        let mut u = user(&a, &format!("t{micros}"));
        u.password_changed_at = Some(t);
        u.created_at = t;
        tx.insert(&u).await.unwrap();
        let got: User = tx.get(&u.id).await.unwrap();
        assert_eq!(got.created_at, t, "{micros} µs");
        assert_eq!(got.password_changed_at, Some(t));
    }
    // Comparison in SQL agrees with time order on both databases.
    let token = ScimToken {
        id: new_id("sct", now()),
        tenant_id: a.id.clone(),
        partner_id: a.partner_id.clone(),
        name: "t".into(),
        token_hash: "sha256:t".into(),
        expires_at: Some(Timestamp::from_unix_micros(1_795_000_000_000_010).unwrap()),
        last_used_at: None,
        created_at: now(),
    };
    tx.insert(&token).await.unwrap();
    assert!(
        tx.scim_token_by_hash("sha256:t", Timestamp::from_unix_micros(1_795_000_000_000_009).unwrap()).await.is_ok()
    );
    assert!(
        tx.scim_token_by_hash("sha256:t", Timestamp::from_unix_micros(1_795_000_000_000_010).unwrap()).await.is_err()
    );
    tx.commit().await.unwrap();
}

async fn unique_constraints_are_named_conflicts(store: Store) {
    let (p, a, _) = two_tenants(&store).await;
    let mut tx = store.write(Scope::Platform).await.unwrap();
    let dup = tenant(&p, &a.slug);
    assert!(tx.insert(&dup).await.unwrap_err().is_conflict_on("tenants_slug_key"));
    tx.rollback().await.unwrap();
    let mut tx = store.write(Scope::Platform).await.unwrap();
    tx.insert(&user(&a, "Grace")).await.unwrap();
    assert!(tx.insert(&user(&a, "grace")).await.unwrap_err().is_conflict_on("users_tenant_id_user_name_lower_key"));
    tx.rollback().await.unwrap();
    let mut tx = store.write(Scope::Platform).await.unwrap();
    tx.insert(&group(&a, "Ops")).await.unwrap();
    assert!(tx.insert(&group(&a, "OPS")).await.unwrap_err().is_conflict_on("groups_tenant_id_name_lower_key"));
    tx.rollback().await.unwrap();
    let mut tx = store.write(Scope::Platform).await.unwrap();
    let u = user(&a, "admin");
    tx.insert(&u).await.unwrap();
    let role = |id: &str| RoleAssignment {
        id: id.into(),
        user_id: u.id.clone(),
        role: Role::SuperAdmin,
        partner_id: None,
        tenant_id: None,
        created_at: now(),
    };
    tx.insert(&role(&new_id("rol", now()))).await.unwrap();
    let err = tx.insert(&role(&new_id("rol", now()))).await.unwrap_err();
    assert!(err.is_conflict_on("role_assignments_user_id_role_partner_id_tenant_id_key"), "{err:?}");
    tx.rollback().await.unwrap();
}
