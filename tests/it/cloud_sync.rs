//! Directory sync from the cloud directories, against local servers that
//! speak their wire formats (tests/it/fake_graph.rs, fake_google.rs):
//! Entra ID through Graph delta queries (paging, delta links, `@removed`,
//! `members@delta` split over pages, `429 Retry-After` honoured, `410 Gone`
//! → a full resync) and Google Workspace through the Admin SDK Directory
//! API (the RFC 7523 JWT bearer grant, paging, `suspended`, `orgUnitPath`
//! → OUs, nested groups, deletions by a full scan, rate-limit backoff).

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::directory_ad::members_of;
use crate::directory_sync::{REDIRECT_URI, group_named, sign_in, sync, user_named};
use crate::fake_google::{ADMIN, FakeGoogle};
use crate::fake_graph::FakeGraph;
use crate::support::TestServer;

const TID: &str = "0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0";

fn oid(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Every member id of a group.
async fn members(s: &TestServer, group_id: &str) -> HashSet<String> {
    members_of(s, group_id).await.into_iter().collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The first retry after a throttled answer came no sooner than Retry-After (1 s).
fn waited(throttled_at: &[std::time::Instant], calls: &[(std::time::Instant, String)]) {
    let t = throttled_at.first().expect("the fake throttled a call");
    let next = calls.iter().map(|(at, _)| *at).find(|at| at > t).expect("a retry followed");
    assert!(next.duration_since(*t) >= Duration::from_secs(1), "retried after {:?}", next.duration_since(*t));
}

async fn entra_graph_delta_sync(s: TestServer) {
    let graph = FakeGraph::start(TID).await;
    let (all, eng, temp) = (
        "a11a11a1-0000-4000-8000-000000000001",
        "e0e0e0e0-0000-4000-8000-000000000002",
        "7e307e30-0000-4000-8000-000000000003",
    );
    {
        let mut d = graph.dir.lock().unwrap();
        for i in 1..=8 {
            d.put_user(
                &oid(i),
                json!({"userPrincipalName": format!("user{i}@contoso.test"), "mail": format!("user{i}@contoso.test"),
                       "givenName": "User", "surname": format!("N{i}"), "displayName": format!("User {i}"),
                       "jobTitle": "Engineer", "department": "R&D", "accountEnabled": i != 8}),
            );
        }
        d.put_group(all, "All Staff");
        d.put_group(eng, "Engineering");
        d.put_group(temp, "Temp");
        for i in 1..=7 {
            d.add_member(all, "user", &oid(i));
        }
        d.add_member(all, "group", eng);
        d.add_member(eng, "user", &oid(1));
        d.add_member(eng, "user", &oid(2));
        // A device is no ScaiKey user.
        d.add_member(eng, "device", "d0d0d0d0-0000-4000-8000-000000000009");
        d.throttle = 1;
    }
    let (_, tenant) = s.partner_and_tenant("contoso").await;
    let tid = id(&tenant);
    let idp = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tid, "type": "entra", "name": "Contoso Entra ID", "config": {
                "tenant": TID, "client_id": graph.client_id, "client_secret": graph.client_secret,
                "login_base_url": graph.base, "graph_base_url": graph.base}}),
        )
        .await;
    let idp_id = id(&idp);

    let run = sync(&s, &idp_id, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["users"]["created"], 8, "{run}");
    assert_eq!(run["counts"]["groups"]["created"], 3, "{run}");
    {
        let d = graph.dir.lock().unwrap();
        waited(&d.throttled_at, &d.calls);
    }
    let user1 = user_named(&s, &tid, "user1@contoso.test").await;
    assert_eq!(user1["identities"][0]["external_id"], format!("{TID}/{}", oid(1)), "the Entra login's id: tid/oid");
    assert_eq!(user1["title"], "Engineer");
    assert_eq!(user_named(&s, &tid, "user8@contoso.test").await["status"], "suspended", "accountEnabled false");
    let all_staff = group_named(&s, &tid, "All Staff").await;
    let engineering = group_named(&s, &tid, "Engineering").await;
    // All Staff's members came over three pages; Engineering is nested in it.
    let m = members(&s, &id(&all_staff)).await;
    assert_eq!(m.len(), 8, "{m:?}");
    assert!(m.contains(&id(&engineering)));
    assert_eq!(members(&s, &id(&engineering)).await.len(), 2, "the device is left out");

    // Tokens carry synced memberships: user5 (given a local password here)
    // is in All Staff now, and not after the delta removes them.
    let user5 = user_named(&s, &tid, "user5@contoso.test").await;
    let (status, body) =
        s.admin(Method::PATCH, &format!("/users/{}", id(&user5)), Some(json!({"password": "Local-pass-5!x"}))).await;
    assert!(status.is_success(), "{body}");
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "Intranet",
                 "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT_URI],
                 "allowed_scopes": ["openid", "profile", "email", "groups"]}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/contoso", s.base);
    let claims = sign_in(&s, &issuer, &app, "user5@contoso.test", "Local-pass-5!x").await.expect("user5 signs in");
    assert!(claims["groups"].as_array().unwrap().contains(&all_staff["id"]), "{claims}");

    // Changes upstream; the delta reads only them.
    {
        let mut d = graph.dir.lock().unwrap();
        d.patch_user(&oid(1), json!({"jobTitle": "Principal Engineer"}));
        d.patch_user(&oid(2), json!({"accountEnabled": false}));
        d.remove_user(&oid(3), "deleted");
        d.remove_user(&oid(4), "changed");
        d.put_user(
            &oid(9),
            json!({"userPrincipalName": "user9@contoso.test", "displayName": "User 9", "accountEnabled": true}),
        );
        d.add_member(eng, "user", &oid(9));
        d.remove_member(all, "user", &oid(5));
        d.delete_group(temp);
    }
    let delta = sync(&s, &idp_id, "delta").await;
    assert_eq!(delta["status"], "succeeded", "{delta}");
    assert_eq!(delta["mode"], "delta");
    let users = &delta["counts"]["users"];
    assert_eq!((users["created"].as_u64(), users["updated"].as_u64()), (Some(1), Some(1)), "{delta}");
    assert_eq!(users["suspended"], 3, "disabled, deleted, soft-deleted: {delta}");
    assert_eq!(users["unchanged"], 0, "only changes are read: {delta}");
    assert_eq!(delta["counts"]["groups"]["deleted"], 1, "{delta}");
    assert_eq!(user_named(&s, &tid, "user1@contoso.test").await["title"], "Principal Engineer");
    for n in [2, 3, 4] {
        assert_eq!(user_named(&s, &tid, &format!("user{n}@contoso.test")).await["status"], "suspended", "user{n}");
    }
    let user9 = user_named(&s, &tid, "user9@contoso.test").await;
    let eng_members = members(&s, &id(&engineering)).await;
    assert!(eng_members.contains(&id(&user9)) && eng_members.contains(&id(&user1)), "{eng_members:?}");
    let all_members = members(&s, &id(&all_staff)).await;
    let gone: Vec<String> = [3, 4, 5].iter().map(|n| format!("user{n}@contoso.test")).collect();
    for name in &gone {
        assert!(!all_members.contains(&id(&user_named(&s, &tid, name).await)), "{name} left All Staff");
    }
    assert!(all_members.contains(&id(&engineering)), "the nested group stays");
    let claims = sign_in(&s, &issuer, &app, "user5@contoso.test", "Local-pass-5!x").await.expect("user5 signs in");
    assert!(!claims["groups"].as_array().unwrap().contains(&all_staff["id"]), "the next token follows: {claims}");
    let (_, groups) = s.admin(Method::GET, &format!("/groups?tenant_id={tid}"), None).await;
    assert!(!groups["data"].as_array().unwrap().iter().any(|g| g["name"] == "Temp"), "{groups}");

    // Graph forgets the delta links (410 Gone): the next run reads in full
    // and still finds what was deleted meanwhile.
    {
        let mut d = graph.dir.lock().unwrap();
        d.expire_delta_links();
        d.remove_user(&oid(6), "deleted");
    }
    let resync = sync(&s, &idp_id, "delta").await;
    assert_eq!(resync["status"], "succeeded", "{resync}");
    assert_eq!(resync["counts"]["users"]["suspended"], 1, "{resync}");
    assert_eq!(user_named(&s, &tid, "user6@contoso.test").await["status"], "suspended");
    let after = sync(&s, &idp_id, "delta").await;
    assert_eq!(after["counts"]["users"]["unchanged"], 0, "the new delta links work: {after}");
}

fn google_user(id: &str, n: u32, ou: &str, suspended: bool) -> Value {
    json!({"kind": "admin#directory#user", "id": id, "primaryEmail": format!("user{n}@example.test"),
           "name": {"givenName": "User", "familyName": format!("N{n}"), "fullName": format!("User {n}")},
           "suspended": suspended, "orgUnitPath": ou, "isAdmin": false,
           "organizations": [{"title": "Analyst", "department": "Finance", "primary": true}],
           "externalIds": [{"type": "organization", "value": format!("E{n}")}]})
}

async fn google_directory_sync(s: TestServer) {
    let google = FakeGoogle::start().await;
    {
        let mut ws = google.ws.lock().unwrap();
        for n in 1..=5 {
            let ou = if n <= 2 { "/Sales/EMEA" } else { "/" };
            ws.users.insert(format!("10{n}"), google_user(&format!("10{n}"), n, ou, n == 5));
        }
        let group = |id: &str, name: &str| json!({"kind": "admin#directory#group", "id": id, "email": format!("{id}@example.test"), "name": name, "description": format!("{name} team")});
        let members = |m: &[(&str, &str)]| m.iter().map(|(t, i)| (t.to_string(), i.to_string())).collect::<Vec<_>>();
        ws.groups.insert(
            "03eng".into(),
            (group("03eng", "Engineering"), members(&[("USER", "101"), ("USER", "102"), ("CUSTOMER", "C01")])),
        );
        ws.groups.insert("03all".into(), (group("03all", "Everyone"), members(&[("USER", "103"), ("GROUP", "03eng")])));
        ws.throttle = 1;
    }
    let (_, tenant) = s.partner_and_tenant("gws").await;
    let tid = id(&tenant);
    let idp = s
        .create(
            "/identity-providers",
            json!({"tenant_id": tid, "type": "google", "name": "Google Workspace", "config": {
                "client_id": "oidc-client", "client_secret": "oidc-secret", "hosted_domain": "example.test",
                "service_account_json": google.key_file, "admin_subject": ADMIN,
                "accounts_base_url": google.base, "directory_base_url": google.base, "token_uri": google.token_uri}}),
        )
        .await;
    let idp_id = id(&idp);
    let run = sync(&s, &idp_id, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["users"]["created"], 5, "{run}");
    assert_eq!(run["counts"]["groups"]["created"], 2, "{run}");
    {
        let ws = google.ws.lock().unwrap();
        waited(&ws.throttled_at, &ws.calls);
    }
    let user1 = user_named(&s, &tid, "user1@example.test").await;
    assert_eq!(user1["identities"][0]["external_id"], "101", "Google's login sub");
    assert_eq!((user1["title"].as_str(), user1["department"].as_str()), (Some("Analyst"), Some("Finance")));
    assert_eq!(user1["employee_id"], "E1");
    assert_eq!(user_named(&s, &tid, "user5@example.test").await["status"], "suspended");
    // orgUnitPath /Sales/EMEA: the OUs are created and the user is in EMEA.
    let (_, emea) =
        s.admin(Method::GET, &format!("/organizational-units/{}", user1["ou_id"].as_str().unwrap()), None).await;
    assert_eq!(emea["data"]["name"], "EMEA", "{emea}");
    let (_, sales) = s
        .admin(Method::GET, &format!("/organizational-units/{}", emea["data"]["parent_id"].as_str().unwrap()), None)
        .await;
    assert_eq!(sales["data"]["name"], "Sales");
    assert!(user_named(&s, &tid, "user3@example.test").await["ou_id"].is_null(), "the root is no OU");
    let (eng, everyone) = (group_named(&s, &tid, "Engineering").await, group_named(&s, &tid, "Everyone").await);
    assert_eq!(members(&s, &id(&eng)).await.len(), 2, "the CUSTOMER member is no user");
    assert!(members(&s, &id(&everyone)).await.contains(&id(&eng)), "nested");

    // Deletions are found by the full scan every run does.
    {
        let mut ws = google.ws.lock().unwrap();
        ws.users.remove("104");
        ws.users.insert("102".into(), google_user("102", 2, "/Sales/EMEA", true));
        ws.groups.remove("03all");
    }
    let again = sync(&s, &idp_id, "delta").await;
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(again["counts"]["users"]["suspended"], 2, "{again}");
    assert_eq!(again["counts"]["groups"]["deleted"], 1, "{again}");
    assert_eq!(user_named(&s, &tid, "user4@example.test").await["status"], "suspended");
    assert_eq!(user_named(&s, &tid, "user2@example.test").await["status"], "suspended");
}

both!(entra_graph_delta_sync);
both!(google_directory_sync);
