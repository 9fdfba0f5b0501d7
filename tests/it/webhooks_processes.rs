//! Webhooks across real `scaikey serve` processes: a kill -9 with
//! deliveries pending, then a restart, loses no event (each is delivered at
//! least once); two processes on one PostgreSQL deliver each event once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fresh_postgres_url;
use crate::sync_crash::{Api, serve_with};

/// Deliveries received, by event id.
pub(crate) type Seen = Arc<Mutex<HashMap<String, usize>>>;

/// A receiver taking `delay_ms` per request (a slow one lets a backlog build).
pub(crate) async fn receiver(delay_ms: u64) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let receive = move |State(seen): State<Seen>, body: Bytes| async move {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        *seen.lock().unwrap().entry(v["id"].as_str().unwrap().to_owned()).or_default() += 1;
        StatusCode::NO_CONTENT
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().route("/hook", post(receive)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

pub(crate) fn bootstrap(dir: &std::path::Path, database_url: Option<&str>) -> Value {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scaikey"));
    command.args(["bootstrap", "--json"]).env("SCAIKEY_DATA_DIR", dir).env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn free_listen() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("127.0.0.1:{port}")
}

/// A tenant with an app whose webhook goes to `url`; returns the tenant id.
pub(crate) async fn tenant_with_webhook(api: &Api, slug: &str, url: &str) -> String {
    let (_, partner) = api.call(Method::POST, "/partners", Some(json!({"name": format!("{slug} MSP")}))).await;
    let (_, tenant) = api
        .call(Method::POST, "/tenants", Some(json!({"partner_id": partner["data"]["id"], "slug": slug, "name": slug})))
        .await;
    let tid = tenant["data"]["id"].as_str().unwrap().to_owned();
    let (status, app) = api
        .call(
            Method::POST,
            "/applications",
            Some(json!({"tenant_id": tid, "scope": "TENANT", "type": "SERVICE", "name": "Drive", "sync_webhook_url": url})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    tid
}

/// Creates `n` users; returns the ids.
async fn create_users(api: &Api, tid: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (status, u) = api
            .call(
                Method::POST,
                "/users",
                Some(json!({"tenant_id": tid, "user_name": format!("{prefix}{i}@hooks.test")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{u}");
        ids.push(u["data"]["id"].as_str().unwrap().to_owned());
    }
    ids
}

pub(crate) async fn wait_for(seen: &Seen, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while seen.lock().unwrap().len() < n {
        assert!(Instant::now() < deadline, "{} of {n} events delivered", seen.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ENV: [(&str, &str); 2] = [("SCAIKEY_WEBHOOKS_ALLOW_PRIVATE", "true"), ("SCAIKEY_WEBHOOKS_LEASE_SECONDS", "11")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_with_deliveries_pending_loses_no_event() {
    // 1.5 s a request, 32 at a time: delivering all 300 takes at least 14 s,
    // far longer than creating them, so some are still pending at the kill.
    let (url, seen) = receiver(1500).await;
    let dir = std::env::temp_dir().join(format!("scaikey-hooks-{}", scaikey::ids::random_base36(8)));
    let boot = bootstrap(&dir, None);
    let listen = free_listen();
    let mut server = serve_with(&dir, &listen, &ENV).await;
    let api = Api::bootstrap_app(&format!("http://{listen}"), &boot).await;
    let tid = tenant_with_webhook(&api, "killco", &url).await;
    create_users(&api, &tid, "u", 300).await;
    wait_for(&seen, 10, 30).await;
    server.child.start_kill().unwrap(); // SIGKILL, deliveries pending
    server.child.wait().await.unwrap();
    let before = seen.lock().unwrap().len();
    assert!(before < 300, "everything was delivered before the kill ({before})");

    let _server = serve_with(&dir, &listen, &ENV).await;
    // Claims of the dead process come back after their 11 s lease.
    wait_for(&seen, 300, 90).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_deliver_each_event_once() {
    let (url, seen) = receiver(20).await;
    let database_url = fresh_postgres_url().await;
    let dir = std::env::temp_dir().join(format!("scaikey-hooks-{}", scaikey::ids::random_base36(8)));
    let boot = bootstrap(&dir, Some(&database_url));
    let env: Vec<(&str, &str)> = ENV.iter().copied().chain([("DATABASE_URL", database_url.as_str())]).collect();
    let (a, b) = (free_listen(), free_listen());
    let _first = serve_with(&dir, &a, &env).await;
    let _second = serve_with(&dir, &b, &env).await;
    let api_a = Api::bootstrap_app(&format!("http://{a}"), &boot).await;
    let api_b = Api::bootstrap_app(&format!("http://{b}"), &boot).await;
    let tid = tenant_with_webhook(&api_a, "twoco", &url).await;
    let (x, y) = tokio::join!(create_users(&api_a, &tid, "a", 150), create_users(&api_b, &tid, "b", 150));
    assert_eq!(x.len() + y.len(), 300);
    wait_for(&seen, 300, 60).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = seen.lock().unwrap();
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert_eq!(seen.len(), 300);
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM while deliveries are being sent: each one in flight is answered
/// (not cut off), the process exits cleanly well within the claim's lease,
/// and it leaves no lease and no claimed delivery behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_deliveries_in_flight_and_releases_leases() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let counts: Arc<(AtomicUsize, AtomicUsize)> = Arc::default();
    let receive = move |State(c): State<Arc<(AtomicUsize, AtomicUsize)>>| async move {
        c.0.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        c.1.fetch_add(1, Ordering::SeqCst);
        StatusCode::NO_CONTENT
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().route("/hook", post(receive)).with_state(counts.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = std::env::temp_dir().join(format!("scaikey-term-{}", scaikey::ids::random_base36(8)));
    let boot = bootstrap(&dir, None);
    let listen = free_listen();
    let mut server = serve_with(&dir, &listen, &ENV).await;
    let api = Api::bootstrap_app(&format!("http://{listen}"), &boot).await;
    let tid = tenant_with_webhook(&api, "termco", &url).await;
    create_users(&api, &tid, "t", 3).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while counts.0.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no delivery started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = server.child.id().unwrap().to_string();
    let signalled = Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(20), server.child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "a clean exit: {status}");
    assert!(signalled.elapsed() < Duration::from_secs(10), "well within the 11 s claim lease");
    let (started, answered) = (counts.0.load(Ordering::SeqCst), counts.1.load(Ordering::SeqCst));
    assert_eq!(started, answered, "every delivery in flight was waited for");

    let store =
        scaikey::store::Store::connect(&format!("sqlite://{}", dir.join("scaikey.db").display())).await.unwrap();
    let mut tx = store.read(scaikey::store::Scope::Platform).await.unwrap();
    let leases: scaikey::store::db::Count = tx.fetch_one("SELECT COUNT(*) AS n FROM leases", vec![]).await.unwrap();
    assert_eq!(leases.n, 0, "the stopped process holds no lease");
    let sending: scaikey::store::db::Count =
        tx.fetch_one("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'sending'", vec![]).await.unwrap();
    assert_eq!(sending.n, 0, "no delivery is left claimed");
    tx.commit().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
