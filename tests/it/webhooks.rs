//! Webhooks against a real local HTTP receiver: signatures checked with an
//! independent HMAC implementation (Python's `hmac`), the SPEC body and
//! headers, per-resource order while an earlier delivery is retried, retries
//! after a 500 and after a timeout (the clock moved, not slept), attempts
//! recorded, redelivery, replay, secret rotation (both signatures sent),
//! fan-out by assignment (users entering and leaving an app's scope), and
//! SSRF refusals (loopback by address and by name, private ranges).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use reqwest::Method;
use scaikey::clock::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use crate::support::{Backend, TestServer};

/// What the receiver got, and how it answers the next requests.
#[derive(Default)]
struct Inbox {
    received: Vec<(HeaderMap, Value)>,
    /// The bodies exactly as they arrived (what the signature covers).
    raw: Vec<String>,
    /// Statuses for the next requests (then 200); 0 means "hang past the timeout".
    script: Vec<u16>,
}

struct Receiver {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
}

async fn receive(State(inbox): State<Arc<Mutex<Inbox>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let next = {
        let mut i = inbox.lock().unwrap();
        i.received.push((headers, serde_json::from_slice(&body).unwrap()));
        i.raw.push(String::from_utf8(body.to_vec()).unwrap());
        if i.script.is_empty() { 200 } else { i.script.remove(0) }
    };
    if next == 0 {
        tokio::time::sleep(Duration::from_secs(15)).await;
        return StatusCode::OK;
    }
    StatusCode::from_u16(next).unwrap()
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/scaikey", listener.local_addr().unwrap());
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let app = Router::new().route("/hooks/scaikey", post(receive)).with_state(inbox.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inbox }
    }

    fn count(&self) -> usize {
        self.inbox.lock().unwrap().received.len()
    }

    /// Waits until `n` requests arrived; returns them all.
    async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Value)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            {
                let i = self.inbox.lock().unwrap();
                if i.received.len() >= n {
                    return i.received.clone();
                }
            }
            assert!(Instant::now() < deadline, "the receiver got {} of {n} requests", self.count());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `type`s received so far, for `resource`'s events only when given.
    fn types(&self) -> Vec<String> {
        self.inbox.lock().unwrap().received.iter().map(|(_, b)| b["type"].as_str().unwrap().to_owned()).collect()
    }
}

/// HMAC-SHA256 by Python's standard library, hex.
fn python_hmac(secret: &str, message: &str) -> String {
    let out = std::process::Command::new(crate::support::python())
        .args(["-c", "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())", secret, message])
        .output()
        .expect("python3 runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The `v1` signatures of a request, checked against `secrets` by Python.
fn verified_by(headers: &HeaderMap, body: &str, secrets: &[&str]) -> Vec<bool> {
    let sig = headers["x-scaikey-signature"].to_str().unwrap();
    let mut parts = sig.split(',');
    let t = parts.next().unwrap().strip_prefix("t=").unwrap();
    let v1: Vec<&str> = parts.map(|p| p.strip_prefix("v1=").unwrap()).collect();
    let message = format!("{t}.{body}");
    secrets.iter().map(|s| v1.contains(&python_hmac(s, &message).as_str())).collect()
}

async fn webhook_server(backend: Backend, clock: Arc<ManualClock>, allow_private: bool) -> TestServer {
    let s = TestServer::start_with(backend, clock, |c| c.webhooks_allow_private = allow_private).await;
    scaikey::webhooks::spawn(Arc::clone(&s.svc));
    s
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn deliveries(s: &TestServer, app_id: &str) -> Vec<Value> {
    let (_, list) = s.admin(Method::GET, &format!("/webhook-deliveries?app_id={app_id}&limit=200"), None).await;
    list["data"].as_array().unwrap_or_else(|| panic!("{list}")).clone()
}

async fn signed_ordered_retried(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = webhook_server(backend, clock.clone(), true).await;
    let r = Receiver::start().await;
    let (_, tenant) = s.partner_and_tenant("hooks").await;
    let tid = id(&tenant);
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "SERVICE", "name": "ScaiDrive", "sync_webhook_url": r.url}),
        )
        .await;
    let secret = app["sync_webhook_secret"].as_str().expect("the webhook secret is shown once").to_owned();
    let app_id = id(&app);

    let user = s.create("/users", json!({"tenant_id": tid, "user_name": "ada@hooks.test"})).await;
    let got = r.wait_for(1).await;
    let (headers, body) = &got[0];
    assert_eq!(body["type"], "user.created");
    assert_eq!(body["tenant_id"], tid);
    assert_eq!(body["data"]["id"], user["id"]);
    assert!(body["id"].as_str().unwrap().starts_with("evt_") && body["occurred_at"].is_string(), "{body}");
    assert_eq!(headers["x-scaikey-event"], "user.created");
    assert!(headers["x-scaikey-delivery"].to_str().unwrap().starts_with("whd_"));
    let raw = r.inbox.lock().unwrap().raw[0].clone();
    assert_eq!(verified_by(headers, &raw, &[&secret]), vec![true], "Python's HMAC agrees");
    assert_eq!(verified_by(headers, &raw, &["not-the-secret-at-all-000"]), vec![false]);

    // A 500 on the next update: its retry waits for the clock, and the
    // later update of the same user waits behind it.
    r.inbox.lock().unwrap().script = vec![500];
    let uid = id(&user);
    for title in ["First", "Second"] {
        let (st, b) = s.admin(Method::PATCH, &format!("/users/{uid}"), Some(json!({"title": title}))).await;
        assert!(st.is_success(), "{b}");
    }
    r.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(r.count(), 2, "the second update waits for the first: {:?}", r.types());
    clock.advance(30);
    let got = r.wait_for(4).await;
    let titles: Vec<&str> = got[1..4].iter().map(|(_, b)| b["data"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["First", "First", "Second"], "retried, then in order");

    // Every attempt is recorded.
    let list = deliveries(&s, &app_id).await;
    let first_update =
        list.iter().find(|d| d["event_type"] == "user.updated" && d["attempts"] == 2).expect("retried once");
    assert_eq!(first_update["status"], "delivered");
    let (_, attempts) = s.admin(Method::GET, &format!("/webhook-deliveries/{}/attempts", id(first_update)), None).await;
    let codes: Vec<&Value> = attempts["data"].as_array().unwrap().iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(200)], "{attempts}");

    // Redelivery sends the same body again.
    let (st, again) = s.admin(Method::POST, &format!("/webhook-deliveries/{}/redeliver", id(first_update)), None).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{again}");
    let got = r.wait_for(5).await;
    assert_eq!(got[4].1["id"], got[1].1["id"], "the same event id: receivers deduplicate by it");

    // Replay from the first event: everything again, in order.
    let from = got[0].1["seq"].as_i64().unwrap();
    let (st, replay) = s
        .admin(Method::POST, &format!("/applications/{app_id}/webhooks/replay"), Some(json!({"from_event": from})))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{replay}");
    assert_eq!(replay["data"]["queued"], 3);
    let got = r.wait_for(8).await;
    let replayed: Vec<&str> = got[5..8].iter().map(|(_, b)| b["type"].as_str().unwrap()).collect();
    assert_eq!(replayed, ["user.created", "user.updated", "user.updated"]);

    // A rotated secret: both signatures during the grace period.
    let (_, rotated) = s.admin(Method::POST, &format!("/applications/{app_id}/webhook-secret"), None).await;
    let new_secret = rotated["data"]["sync_webhook_secret"].as_str().unwrap().to_owned();
    s.admin(Method::PATCH, &format!("/users/{uid}"), Some(json!({"title": "Third"}))).await;
    let got = r.wait_for(9).await;
    let raw = r.inbox.lock().unwrap().raw[8].clone();
    assert_eq!(verified_by(&got[8].0, &raw, &[&new_secret, &secret]), vec![true, true]);

    // A receiver that does not answer in time is retried too.
    r.inbox.lock().unwrap().script = vec![0];
    s.admin(Method::PATCH, &format!("/users/{uid}"), Some(json!({"title": "Fourth"}))).await;
    r.wait_for(10).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let timed_out = deliveries(&s, &app_id)
            .await
            .into_iter()
            .any(|d| d["last_error"].as_str().is_some_and(|e| e.contains("in time")));
        if timed_out {
            break;
        }
        assert!(Instant::now() < deadline, "no timeout recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    clock.advance(30);
    let got = r.wait_for(11).await;
    assert_eq!(got[10].1["data"]["title"], "Fourth");
}

/// Fans out every event so far, so the scope of each step is read before the next.
async fn flush(s: &TestServer) {
    while scaikey::webhooks::fanout::run_once(&s.svc).await.unwrap() > 0 {}
}

async fn fan_out_by_assignment(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = webhook_server(backend, clock, true).await;
    let r = Receiver::start().await;
    let (_, tenant) = s.partner_and_tenant("scoped").await;
    let tid = id(&tenant);
    let staff = s.create("/groups", json!({"tenant_id": tid, "name": "Staff"})).await;
    let team = s.create("/groups", json!({"tenant_id": tid, "name": "Team"})).await;
    let outsider = s.create("/users", json!({"tenant_id": tid, "user_name": "out@scoped.test"})).await;
    // What happened before the app existed is fanned out before it does.
    flush(&s).await;
    s.create(
        "/applications",
        json!({"tenant_id": tid, "scope": "TENANT", "type": "SERVICE", "name": "ScaiVault",
               "sync_webhook_url": r.url, "assigned_groups": [staff["id"]]}),
    )
    .await;
    let ada = s.create("/users", json!({"tenant_id": tid, "user_name": "ada@scoped.test"})).await;
    s.admin(Method::PATCH, &format!("/users/{}", id(&outsider)), Some(json!({"title": "Elsewhere"}))).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(r.count(), 0, "users outside the app's groups are not sent: {:?}", r.types());

    // Ada joins Staff: the app hears of Ada, then of the membership.
    s.admin(Method::POST, &format!("/groups/{}/members", id(&staff)), Some(json!({"user_id": ada["id"]}))).await;
    let got = r.wait_for(2).await;
    assert_eq!(r.types(), ["user.created", "group.member.added"]);
    assert_eq!(got[0].1["data"]["id"], ada["id"]);
    s.admin(Method::PATCH, &format!("/users/{}", id(&ada)), Some(json!({"title": "Engineer"}))).await;
    r.wait_for(3).await;
    // Nested: Team inside Staff brings Team's members in.
    let bob = s.create("/users", json!({"tenant_id": tid, "user_name": "bob@scoped.test"})).await;
    s.admin(Method::POST, &format!("/groups/{}/members", id(&team)), Some(json!({"user_id": bob["id"]}))).await;
    flush(&s).await;
    s.admin(Method::POST, &format!("/groups/{}/members", id(&staff)), Some(json!({"group_id": team["id"]}))).await;
    let got = r.wait_for(5).await;
    assert_eq!(&r.types()[3..5], ["user.created", "group.member.added"]);
    assert_eq!(got[3].1["data"]["id"], bob["id"]);
    // Ada leaves: the membership, then Ada is gone for this app.
    s.admin(Method::DELETE, &format!("/groups/{}/members/{}", id(&staff), id(&ada)), None).await;
    flush(&s).await;
    r.wait_for(7).await;
    assert_eq!(&r.types()[5..7], ["group.member.removed", "user.deleted"]);
    s.admin(Method::PATCH, &format!("/users/{}", id(&ada)), Some(json!({"title": "Gone"}))).await;
    flush(&s).await;
    // Bob is deleted: the app knew Bob, so it hears of it.
    s.admin(Method::DELETE, &format!("/users/{}", id(&bob)), None).await;
    r.wait_for(9).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let types = r.types();
    assert_eq!(&types[7..], ["group.member.removed", "user.deleted"], "{types:?}");
    let last = r.inbox.lock().unwrap().received.last().unwrap().1.clone();
    assert_eq!(last["data"]["id"], bob["id"]);
    assert!(!types[7..].iter().any(|t| t == "user.updated"), "Ada's later change is not sent: {types:?}");
}

async fn private_destinations_are_refused(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = webhook_server(backend, clock, false).await;
    let r = Receiver::start().await;
    let (_, tenant) = s.partner_and_tenant("ssrf").await;
    let tid = id(&tenant);
    let port = r.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    let mut apps = Vec::new();
    for (name, url) in [
        ("by address", r.url.clone()),
        ("by name", format!("http://localhost:{port}/hooks/scaikey")),
        ("metadata", "https://169.254.169.254/latest".to_owned()),
    ] {
        let app = s
            .create(
                "/applications",
                json!({"tenant_id": tid, "scope": "TENANT", "type": "SERVICE", "name": name, "sync_webhook_url": url}),
            )
            .await;
        apps.push(id(&app));
    }
    s.create("/users", json!({"tenant_id": tid, "user_name": "eve@ssrf.test"})).await;
    for app_id in &apps {
        let deadline = Instant::now() + Duration::from_secs(20);
        let attempt = loop {
            let list = deliveries(&s, app_id).await;
            if let Some(d) = list.iter().find(|d| d["attempts"].as_i64().unwrap_or(0) > 0 && d["status"] != "sending") {
                let (_, a) = s.admin(Method::GET, &format!("/webhook-deliveries/{}/attempts", id(d)), None).await;
                if let Some(first) = a["data"].as_array().and_then(|a| a.first()).cloned() {
                    break first;
                }
            }
            assert!(Instant::now() < deadline, "no attempt for {app_id}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(attempt["outcome"], "refused", "{attempt}");
        assert!(attempt["error"].as_str().unwrap().contains("not a public address"), "{attempt}");
    }
    assert_eq!(r.count(), 0, "nothing reached the loopback receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_sqlite() {
    signed_ordered_retried(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_postgres() {
    signed_ordered_retried(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_scope_sqlite() {
    fan_out_by_assignment(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_scope_postgres() {
    fan_out_by_assignment(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_ssrf_sqlite() {
    private_destinations_are_refused(Backend::Sqlite).await;
}

/// Retention: audit records past their days go, and change events only once
/// the webhook fan-out has passed them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_audit_and_fanned_out_events() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (_, tenant) = s.partner_and_tenant("retain").await;
    s.create("/users", json!({"tenant_id": tenant["id"], "user_name": "old@retain.test"})).await;
    let later = SystemClock.now().plus_seconds(60);
    let count = |table: &'static str| {
        let svc = s.svc.clone();
        async move {
            let mut tx = svc.store.read(scaikey::store::Scope::Platform).await.unwrap();
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            let n = tx.fetch_one::<scaikey::store::db::Count>(&sql, vec![]).await.unwrap().n;
            tx.commit().await.unwrap();
            n
        }
    };
    let purge = || async {
        let mut tx = s.svc.store.write(scaikey::store::Scope::Platform).await.unwrap();
        tx.purge_logs(later, later).await.unwrap();
        tx.commit().await.unwrap();
    };
    assert!(count("audit_events").await > 0 && count("events").await > 0);
    purge().await;
    assert_eq!(count("audit_events").await, 0);
    assert!(count("events").await > 0, "not yet fanned out: kept");
    while scaikey::webhooks::fanout::run_once(&s.svc).await.unwrap() > 0 {}
    purge().await;
    assert_eq!(count("events").await, 0);
}
