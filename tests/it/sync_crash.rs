//! A kill -9 of the server in the middle of a directory sync, then a
//! restart: the run that takes over (once the dead run's lease lapses) ends
//! in the same users, statuses, attributes, groups and memberships as an
//! uninterrupted run — no loss, no duplicate. The server is the real
//! `scaikey` binary on its own SQLite database.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::directory_sync::{Slapd, sync};
use crate::support::{Backend, TestServer};

/// The admin API of a server, by base URL and token.
pub struct Api {
    pub http: Client,
    pub base: String,
    pub token: String,
}

impl Api {
    /// The admin API of the server at `base`, as the bootstrap app `boot`.
    pub async fn bootstrap_app(base: &str, boot: &Value) -> Api {
        let http = Client::new();
        let r: Value = http
            .post(format!("{base}/api/v1/platform/oauth/token"))
            .basic_auth(boot["client_id"].as_str().unwrap(), boot["client_secret"].as_str())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Api { http, base: base.to_owned(), token: r["access_token"].as_str().unwrap().to_owned() }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}/api/v1/admin{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    pub async fn all(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let (status, page) = self.call(Method::GET, &format!("{path}{sep}limit=200{cursor}"), None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            out.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return out,
            }
        }
    }

    /// Users and groups of the tenant as comparable data (ids differ between servers).
    async fn snapshot(&self, tenant_id: &str) -> BTreeMap<String, Value> {
        let users = self.all(&format!("/users?tenant_id={tenant_id}")).await;
        let groups = self.all(&format!("/groups?tenant_id={tenant_id}")).await;
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for u in &users {
            names.insert(u["id"].as_str().unwrap().into(), u["user_name"].as_str().unwrap().into());
            out.insert(
                format!("user {}", u["user_name"].as_str().unwrap()),
                json!([u["status"], u["email"], u["given_name"], u["family_name"], u["title"]]),
            );
        }
        for g in &groups {
            names.insert(g["id"].as_str().unwrap().into(), format!("group {}", g["name"].as_str().unwrap()));
        }
        for g in &groups {
            let members = self.all(&format!("/groups/{}/members", g["id"].as_str().unwrap())).await;
            let mut m: Vec<String> = members
                .iter()
                .map(|x| names.get(x["member_id"].as_str().unwrap()).cloned().unwrap_or_default())
                .collect();
            m.sort();
            out.insert(format!("group {}", g["name"].as_str().unwrap()), json!(m));
        }
        out
    }
}

/// `scaikey serve` as a child process on `dir`.
pub struct Server {
    pub child: tokio::process::Child,
}

async fn serve(dir: &std::path::Path, listen: &str) -> Server {
    serve_with(dir, listen, &[]).await
}

/// `scaikey serve` on `dir` (SQLite) unless `env` names a `DATABASE_URL`.
pub async fn serve_with(dir: &std::path::Path, listen: &str, env: &[(&str, &str)]) -> Server {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_scaikey"));
    command
        .arg("serve")
        .env("SCAIKEY_DATA_DIR", dir)
        .env("SCAIKEY_LISTEN", listen)
        .env("SCAIKEY_SYNC_LEASE_SECONDS", "5")
        .env("SCAIKEY_LOG", "warn")
        .env_remove("DATABASE_URL");
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.stdout(Stdio::null()).stderr(Stdio::inherit()).kill_on_drop(true).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while reqwest::get(format!("http://{listen}/health")).await.is_err() {
        assert!(Instant::now() < deadline, "scaikey serve did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Server { child }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_run_resumes_to_the_same_state() {
    let slapd = Slapd::start(3_000, 30);

    // The reference: an uninterrupted run on an in-process server.
    let reference = TestServer::start(Backend::Sqlite).await;
    let (_, tenant) = reference.partner_and_tenant("crashco").await;
    let idp = reference
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "ldap", "name": "LDAP", "config": slapd.idp_config()}),
        )
        .await;
    assert_eq!(sync(&reference, idp["id"].as_str().unwrap(), "full").await["status"], "succeeded");
    let api = Api { http: Client::new(), base: reference.base.clone(), token: reference.admin_token.clone() };
    let expected = api.snapshot(tenant["id"].as_str().unwrap()).await;
    assert_eq!(expected.len(), 3_000 + 31, "3,000 users and 31 groups (with members)");

    // The victim: the real binary, killed in the middle of its first run.
    let dir = std::env::temp_dir().join(format!("scaikey-crash-{}", scaikey::ids::random_base36(8)));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaikey"))
        .args(["bootstrap", "--json"])
        .env("SCAIKEY_DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let boot: Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = serve(&dir, &listen).await;
    let victim = Api::bootstrap_app(&format!("http://{listen}"), &boot).await;
    let (_, partner) = victim.call(Method::POST, "/partners", Some(json!({"name": "Crash MSP"}))).await;
    let (_, tenant2) = victim
        .call(
            Method::POST,
            "/tenants",
            Some(json!({"partner_id": partner["data"]["id"], "slug": "crashco", "name": "Crash"})),
        )
        .await;
    let tid = tenant2["data"]["id"].as_str().unwrap().to_owned();
    let (_, idp2) = victim
        .call(
            Method::POST,
            "/identity-providers",
            Some(json!({"tenant_id": tid, "type": "ldap", "name": "LDAP", "config": slapd.idp_config()})),
        )
        .await;
    let idp_id = idp2["data"]["id"].as_str().unwrap().to_owned();
    let (status, run) =
        victim.call(Method::POST, &format!("/identity-providers/{idp_id}/sync"), Some(json!({"mode": "full"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let run_id = run["data"]["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = victim.call(Method::GET, &format!("/sync-runs/{run_id}"), None).await;
        let created = r["data"]["counts"]["users"]["created"].as_u64().unwrap_or(0);
        assert_eq!(r["data"]["status"], "running", "the run ended before it could be killed: {r}");
        if created >= 500 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();

    // Restart; once the dead run's lease lapses a new run takes over.
    let _server = serve(&dir, &listen).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let run_id = loop {
        let (status, r) = victim.call(Method::POST, &format!("/identity-providers/{idp_id}/sync"), None).await;
        if status == StatusCode::ACCEPTED {
            break r["data"]["id"].as_str().unwrap().to_owned();
        }
        assert_eq!(status, StatusCode::CONFLICT, "{r}");
        assert!(Instant::now() < deadline, "the dead run's lease never lapsed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, r) = victim.call(Method::GET, &format!("/sync-runs/{run_id}"), None).await;
        if r["data"]["status"] != "running" {
            assert_eq!(r["data"]["status"], "succeeded", "{r}");
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let runs = victim.all(&format!("/sync-runs?idp_id={idp_id}")).await;
    assert!(runs.iter().all(|r| r["status"] != "running"), "the killed run is marked failed: {runs:?}");
    let got = victim.snapshot(&tid).await;
    assert_eq!(got.len(), expected.len());
    for (k, v) in &expected {
        assert_eq!(got.get(k), Some(v), "{k} differs after the crash");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
