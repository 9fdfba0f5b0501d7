//! The one write path (`src/directory`): SCIM writes that are atomic and
//! checked against the locked row, the change-event log in commit order
//! with cascade events, normalized identifiers, and the SCIM defects real
//! provisioning clients found (Location, locale, NULL logic in filters, OU
//! names and DNs).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::scim::{Scim, setup};
use crate::support::TestServer;
use scaikey::domain::audit::ChangeEvent;
use scaikey::store::Scope;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const AD: &str = "urn:scailabs:params:scim:schemas:extension:ad:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

impl Scim<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let a = self.send(Method::POST, path, Some(body), None).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body
    }

    async fn filter(&self, f: &str) -> Vec<String> {
        let q = url::form_urlencoded::Serializer::new(String::new()).append_pair("filter", f).finish();
        let a = self.send(Method::GET, &format!("/Users?{q}&count=200"), None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{f}: {}", a.body);
        let mut names: Vec<String> = a.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }
}

/// Every event of a tenant, in `seq` order.
async fn events(s: &TestServer, tenant: &Value) -> Vec<ChangeEvent> {
    let mut tx = s.svc.store.read(Scope::Tenant(tenant["id"].as_str().unwrap().to_owned())).await.unwrap();
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |e: &ChangeEvent| e.seq);
        let page = tx.events_after(after, 1000).await.unwrap();
        if page.is_empty() {
            break;
        }
        out.extend(page);
    }
    tx.commit().await.unwrap();
    out
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "active": true})
}

async fn scim_writes_are_atomic(s: TestServer) {
    let (scim, tenant) = setup(&s, "atomic").await;
    let a = scim.post("/Users", user("a@atomic.test")).await;
    let b = scim.post("/Users", user("b@atomic.test")).await;
    let g = scim
        .post("/Groups", json!({"schemas": [GROUP], "displayName": "staff", "members": [{"value": a["id"]}]}))
        .await;
    let gid = g["id"].as_str().unwrap();
    let before_group = scim.send(Method::GET, &format!("/Groups/{gid}"), None, None).await.body;
    let before_events = events(&s, &tenant).await.len();
    // The third member is invalid: nothing of the PATCH may remain.
    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "renamed"},
        {"op": "add", "path": "members", "value": [{"value": b["id"]}, {"value": "usr_doesnotexist0000000000"}]},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", a["id"].as_str().unwrap())}]});
    let r = scim.send(Method::PATCH, &format!("/Groups/{gid}"), Some(patch), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let after_group = scim.send(Method::GET, &format!("/Groups/{gid}"), None, None).await.body;
    assert_eq!(after_group, before_group, "the group and its members are exactly as before");
    assert_eq!(events(&s, &tenant).await.len(), before_events, "and no event was emitted");

    // Two PUTs holding the same version: one wins, the other gets 412.
    let version = before_group["meta"]["version"].as_str().unwrap().to_owned();
    let put = |name: &str| json!({"schemas": [GROUP], "displayName": name, "members": [{"value": b["id"]}]});
    let path = format!("/Groups/{gid}");
    let (x, y) = tokio::join!(
        scim.send(Method::PUT, &path, Some(put("first")), Some(&version)),
        scim.send(Method::PUT, &path, Some(put("second")), Some(&version)),
    );
    let mut statuses = vec![x.status, y.status];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::PRECONDITION_FAILED], "{} {}", x.body, y.body);
    // Users too.
    let uv = a["meta"]["version"].as_str().unwrap().to_owned();
    let upath = format!("/Users/{}", a["id"].as_str().unwrap());
    let (x, y) = tokio::join!(
        scim.send(
            Method::PUT,
            &upath,
            Some(json!({"schemas": [USER], "userName": "a@atomic.test", "title": "x"})),
            Some(&uv)
        ),
        scim.send(
            Method::PUT,
            &upath,
            Some(json!({"schemas": [USER], "userName": "a@atomic.test", "title": "y"})),
            Some(&uv)
        ),
    );
    let mut statuses = vec![x.status, y.status];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::PRECONDITION_FAILED], "{} {}", x.body, y.body);
}
both!(scim_writes_are_atomic);

async fn events_come_in_commit_order_with_cascades(s: TestServer) {
    let (scim, tenant) = setup(&s, "ordered").await;
    // Writers commit concurrently while a reader follows the log by seq:
    // what it has seen is always a gap-free prefix, so nothing is missed.
    let writers = (0..12).map(|i| {
        let http = s.http.clone();
        let url = format!("{}/Users", scim.base);
        let token = scim.token.clone();
        tokio::spawn(async move {
            let body = json!({"schemas": [USER], "userName": format!("w{i}@ordered.test")});
            let r = http
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        })
    });
    let writers: Vec<_> = writers.collect();
    let (mut last, mut mine) = (0i64, 0usize);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while mine < 12 {
        assert!(std::time::Instant::now() < deadline, "events did not arrive");
        let mut tx = s.svc.store.read(Scope::Platform).await.unwrap();
        for e in tx.events_after(last, 1000).await.unwrap() {
            assert_eq!(e.seq, last + 1, "a reader never sees a later event before an earlier one commits");
            last = e.seq;
            if e.tenant_id.as_deref() == tenant["id"].as_str() {
                mine += 1;
            }
        }
        tx.commit().await.unwrap();
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let all = events(&s, &tenant).await;
    assert_eq!(all.len(), 12, "every event seen once");
    let mut tx = s.svc.store.read(Scope::Platform).await.unwrap();
    let everything = tx.events_after(0, 1000).await.unwrap();
    tx.commit().await.unwrap();
    let seqs: Vec<i64> = everything.iter().map(|e| e.seq).collect();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "sequence numbers have no gaps");

    // Deleting a user who is in two groups emits two group.member.removed.
    let u = scim.post("/Users", user("leaver@ordered.test")).await;
    for name in ["one", "two"] {
        scim.post("/Groups", json!({"schemas": [GROUP], "displayName": name, "members": [{"value": u["id"]}]})).await;
    }
    let mark = events(&s, &tenant).await.last().unwrap().seq;
    let r = scim.send(Method::DELETE, &format!("/Users/{}", u["id"].as_str().unwrap()), None, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let tail: Vec<ChangeEvent> = events(&s, &tenant).await.into_iter().filter(|e| e.seq > mark).collect();
    let kinds: Vec<&str> = tail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["group.member.removed", "group.member.removed", "user.deleted"], "{tail:?}");
    assert!(tail.iter().all(|e| e.version == 1));
    assert_eq!(tail[0].data["member_id"], u["id"]);
    assert_eq!(tail[2].data["user_name"], "leaver@ordered.test");
    assert!(tail[2].data.get("password_hash").is_none(), "payloads carry no secrets");

    // Deleting a tenant emits user.deleted for each of its users.
    let (_, doomed) = s.partner_and_tenant("doomed").await;
    for n in ["x", "y"] {
        s.create("/users", json!({"tenant_id": doomed["id"], "user_name": format!("{n}@doomed.test")})).await;
    }
    let (status, _) = s.admin(Method::DELETE, &format!("/tenants/{}", doomed["id"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut tx = s.svc.store.read(Scope::Platform).await.unwrap();
    let gone: Vec<ChangeEvent> = tx
        .events_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.tenant_id == doomed["id"].as_str().map(str::to_owned) && e.kind == "user.deleted")
        .collect();
    tx.commit().await.unwrap();
    assert_eq!(gone.len(), 2);
}
both!(events_come_in_commit_order_with_cascades);

async fn lookalike_names_are_one_name(s: TestServer) {
    let (scim, tenant) = setup(&s, "lookalike").await;
    scim.post("/Users", user("probe@lookalike.test")).await;
    // Fullwidth is the same name: a duplicate, on SCIM and on the admin API.
    let r = scim.send(Method::POST, "/Users", Some(user("ｐｒｏｂｅ@lookalike.test")), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["scimType"], "uniqueness");
    let (status, v) = s
        .admin(Method::POST, "/users", Some(json!({"tenant_id": tenant["id"], "user_name": "PROBE@lookalike.test"})))
        .await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("user.user_name_taken")), "{v}");
    let (status, _) = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"tenant_id": tenant["id"], "user_name": "ｐｒｏｂｅ@lookalike.test"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A zero-width space or a bidi override is refused, field by field.
    let r = scim.send(Method::POST, "/Users", Some(user("pro\u{200b}be@lookalike.test")), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    let (status, v) = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"tenant_id": tenant["id"], "user_name": "pro\u{200b}be@lookalike.test"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["details"][0]["field"], "user_name");
    let (status, v) = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"tenant_id": tenant["id"], "user_name": "eve@lookalike.test",
                                                   "email": "eve\u{202e}@lookalike.test"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Fullwidth input is stored folded, and a user signs in with either form.
    let r = scim.post("/Users", user("ｗｉｄｅ@lookalike.test")).await;
    assert_eq!(r["userName"], "wide@lookalike.test");
    let filtered = scim.filter("userName eq \"ＰＲＯＢＥ@lookalike.test\"").await;
    assert_eq!(filtered, ["probe@lookalike.test"]);
    // Group names too.
    let g = json!({"schemas": [GROUP], "displayName": "Domain Admins"});
    scim.post("/Groups", g).await;
    let r = scim
        .send(Method::POST, "/Groups", Some(json!({"schemas": [GROUP], "displayName": "ＤＯＭＡＩＮ  admins"})), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
}
both!(lookalike_names_are_one_name);

async fn provisioning_clients_get_what_rfc_7644_promises(s: TestServer) {
    let (scim, tenant) = setup(&s, "clients").await;
    // POST: Location equals meta.location.
    let r = scim.send(Method::POST, "/Users", Some(user("loc@clients.test")), None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.location.as_deref(), r.body["meta"]["location"].as_str(), "{:?}", r.location);
    assert!(r.location.is_some());
    let g = scim.send(Method::POST, "/Groups", Some(json!({"schemas": [GROUP], "displayName": "located"})), None).await;
    assert_eq!(g.location.as_deref(), g.body["meta"]["location"].as_str());
    // Okta's PUT keeps locale and externalId, apart from preferredLanguage.
    let id = r.body["id"].as_str().unwrap();
    let put = json!({"schemas": [USER], "userName": "loc@clients.test", "externalId": "okta-42",
                     "locale": "en-US", "preferredLanguage": "nl", "active": true});
    let a = scim.send(Method::PUT, &format!("/Users/{id}"), Some(put), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let got = scim.send(Method::GET, &format!("/Users/{id}"), None, None).await.body;
    assert_eq!((got["locale"].as_str(), got["preferredLanguage"].as_str()), (Some("en-US"), Some("nl")), "{got}");
    assert_eq!(got["externalId"], "okta-42");

    // Filters are two-valued: an absent attribute equals nothing.
    for (name, title) in
        [("sam@clients.test", Some("Engineer")), ("sue@clients.test", Some("Manager")), ("sid@clients.test", None)]
    {
        let mut u = user(name);
        if let Some(t) = title {
            u["title"] = json!(t);
        }
        scim.post("/Users", u).await;
    }
    assert_eq!(
        scim.filter("userName sw \"s\" and not (title eq \"Engineer\")").await,
        ["sid@clients.test", "sue@clients.test"]
    );
    assert_eq!(
        scim.filter("userName sw \"s\" and title ne \"Engineer\"").await,
        ["sid@clients.test", "sue@clients.test"]
    );
    assert_eq!(scim.filter("userName sw \"s\" and not (title pr)").await, ["sid@clients.test"]);
    assert_eq!(
        scim.filter("userName sw \"s\" and not (title gt \"F\")").await,
        ["sam@clients.test", "sid@clients.test"]
    );
    assert_eq!(
        scim.filter("userName sw \"s\" and not (emails[type eq \"work\"])").await,
        ["sam@clients.test", "sid@clients.test", "sue@clients.test"]
    );

    // In lists, groups come like any other attribute.
    let member = scim.post("/Users", user("member@clients.test")).await;
    scim.post("/Groups", json!({"schemas": [GROUP], "displayName": "crew", "members": [{"value": member["id"]}]}))
        .await;
    let a = scim.send(Method::GET, "/Users?filter=userName%20eq%20%22member@clients.test%22", None, None).await;
    assert_eq!(a.body["Resources"][0]["groups"][0]["display"], "crew", "{}", a.body);

    // organizationalUnit by id, path or DN; anything else is invalidValue.
    let eu = s.create("/organizational-units", json!({"tenant_id": tenant["id"], "name": "EU"})).await;
    let sales = s
        .create("/organizational-units", json!({"tenant_id": tenant["id"], "name": "Sales", "parent_id": eu["id"]}))
        .await;
    for (i, form) in ["EU/Sales", "OU=Sales,OU=EU,DC=clients,DC=test", sales["id"].as_str().unwrap()].iter().enumerate()
    {
        let mut u = user(&format!("ou{i}@clients.test"));
        u[AD] = json!({"organizationalUnit": form});
        let created = scim.post("/Users", u).await;
        assert_eq!(created[AD]["organizationalUnit"], sales["id"], "{form}");
    }
    let mut u = user("lost@clients.test");
    u[AD] = json!({"organizationalUnit": "EU/Nowhere"});
    let r = scim.send(Method::POST, "/Users", Some(u), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidValue");
    assert!(r.body["detail"].as_str().unwrap().contains("path"), "{}", r.body);
}
both!(provisioning_clients_get_what_rfc_7644_promises);
