//! Three `scaikey serve` processes on one PostgreSQL behind a round-robin
//! proxy, each request going to the next replica: a login whose steps land
//! on different replicas, its code redeemed on another; an MFA enrollment
//! and sign-in, and a federated sign-in at an upstream oidc-provider, spread
//! the same way; a sync schedule fires one run; a refresh token
//! presented to all three at once has one winner; webhook events are
//! delivered once; a replica killed with SIGKILL in the middle of a stream
//! of writes loses none that was acknowledged; SIGTERM drains without a
//! failed request.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use reqwest::Method;
use scaikey::clock::Clock;
use serde_json::{Value, json};

use crate::oidc_flow::{Browser, Fixture, PASSWORD, authorize_url, pkce_pair, query_param, sign_in};
use crate::oidc_rp::node_peer;
use crate::support::fresh_postgres_url;
use crate::sync_crash::{Api, Server, serve_with};
use crate::webhooks_processes::{bootstrap, free_listen, receiver, tenant_with_webhook, wait_for};
use crate::{directory_sync, federation, mfa};

/// A round-robin HTTP proxy, as a load balancer without sticky sessions:
/// every request goes to the next replica that is in rotation — ready at
/// its last `/ready` check (every 100 ms, as a Kubernetes Service follows
/// readiness) — and a replica that refuses the connection is skipped. No
/// keep-alive to the replicas, so a closed listener is seen at once.
struct Proxy {
    replicas: Vec<String>,
    in_rotation: Vec<AtomicBool>,
    next: AtomicUsize,
    http: reqwest::Client,
    /// Which replica answered each request (and its path), in order.
    served: Mutex<Vec<(usize, String)>>,
    /// Requests a replica took and did not answer: (replica, error).
    broken: Mutex<Vec<(usize, String)>>,
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let first = proxy.next.fetch_add(1, Ordering::SeqCst);
    for attempt in 0..proxy.replicas.len() {
        let i = (first + attempt) % proxy.replicas.len();
        if !proxy.in_rotation[i].load(Ordering::SeqCst) {
            continue;
        }
        let mut upstream = proxy.http.request(parts.method.clone(), format!("http://{}{path}", proxy.replicas[i]));
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                upstream = upstream.header(name.as_str(), value.as_bytes());
            }
        }
        match upstream.body(body.clone()).send().await {
            Ok(answer) => {
                proxy.served.lock().unwrap().push((i, path.clone()));
                let mut response = Response::builder().status(answer.status().as_u16());
                for (name, value) in answer.headers() {
                    if name != "content-length" && name != "transfer-encoding" {
                        response = response.header(name.as_str(), value.as_bytes());
                    }
                }
                let bytes = answer.bytes().await.unwrap_or_default();
                return response.body(Body::from(bytes)).unwrap();
            }
            Err(e) if e.is_connect() => continue,
            Err(e) => {
                proxy.broken.lock().unwrap().push((i, e.to_string()));
                break;
            }
        }
    }
    Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::empty()).unwrap()
}

/// Keeps `in_rotation` following each replica's `/ready`.
async fn check_readiness(proxy: Arc<Proxy>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    loop {
        for (i, replica) in proxy.replicas.iter().enumerate() {
            let ready = http.get(format!("http://{replica}/ready")).send().await.is_ok_and(|r| r.status().is_success());
            proxy.in_rotation[i].store(ready, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Cluster {
    base: String,
    proxy: Arc<Proxy>,
    replicas: Vec<Server>,
    api: Api,
    _dir: std::path::PathBuf,
}

impl Cluster {
    async fn start(extra_env: &[(&str, &str)]) -> Cluster {
        let database_url = fresh_postgres_url().await;
        let dir = std::env::temp_dir().join(format!("scaikey-replicas-{}", scaikey::ids::random_base36(8)));
        let boot = bootstrap(&dir, Some(&database_url));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let listens: Vec<String> = (0..3).map(|_| free_listen()).collect();
        let proxy = Arc::new(Proxy {
            replicas: listens.clone(),
            in_rotation: listens.iter().map(|_| AtomicBool::new(true)).collect(),
            next: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            served: Mutex::default(),
            broken: Mutex::default(),
        });
        let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut env: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", database_url.as_str()),
            ("SCAIKEY_SHUTDOWN_GRACE_SECONDS", "1"),
            ("SCAIKEY_PUBLIC_URL", base.as_str()),
            ("SCAIKEY_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ];
        env.extend_from_slice(extra_env);
        let mut replicas = Vec::new();
        for listen in &listens {
            replicas.push(serve_with(&dir, listen, &env).await);
        }
        tokio::spawn(check_readiness(proxy.clone()));
        let api = Api::bootstrap_app(&base, &boot).await;
        Cluster { base, proxy, replicas, api, _dir: dir }
    }

    fn served_since(&self, from: usize) -> Vec<usize> {
        self.proxy.served.lock().unwrap()[from..].iter().map(|(i, _)| *i).collect()
    }

    /// The replica that answered the first request since `from` whose path
    /// contains `part`.
    fn replica_for(&self, from: usize, part: &str) -> usize {
        let served = self.proxy.served.lock().unwrap();
        served[from..].iter().find(|(_, p)| p.contains(part)).unwrap_or_else(|| panic!("no {part}: {served:?}")).0
    }

    /// Every replica answered some request since `from`.
    fn all_replicas_since(&self, from: usize) -> bool {
        let mut used = self.served_since(from);
        used.sort();
        used.dedup();
        used == [0, 1, 2]
    }

    /// A tenant with `settings` under a partner of its own.
    async fn tenant(&self, slug: &str, settings: Value) -> Value {
        let partner = self.create("/partners", json!({"name": format!("{slug} MSP")})).await;
        self.create("/tenants", json!({"partner_id": partner["id"], "slug": slug, "name": slug, "settings": settings}))
            .await
    }

    fn served_count(&self) -> usize {
        self.proxy.served.lock().unwrap().len()
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.api.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
        v["data"].clone()
    }

    /// A tenant with a WEB app and a user who signs in with a password.
    async fn fixture(&self, slug: &str) -> Fixture {
        let tenant = self.tenant(slug, json!({})).await;
        let user = self
            .create(
                "/users",
                json!({"tenant_id": tenant["id"], "user_name": format!("ada@{slug}.test"), "password": PASSWORD}),
            )
            .await;
        let web = self
            .create(
                "/applications",
                json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": "Wiki",
                       "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://wiki.test/cb"],
                       "allowed_scopes": ["openid", "profile", "offline_access"]}),
            )
            .await;
        let issuer = format!("{}/api/v1/auth/tenants/{slug}", self.base);
        Fixture { issuer, tenant, user, web, spa: Value::Null }
    }

    async fn token(&self, f: &Fixture, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/oauth/token", f.issuer))
            .basic_auth(f.web["client_id"].as_str().unwrap(), f.web["client_secret"].as_str())
            .form(form)
            .send()
            .await
            .unwrap();
        (StatusCode::from_u16(r.status().as_u16()).unwrap(), r.json().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_across_three_replicas_and_one_refresh_winner() {
    let (hook_url, seen) = receiver(0).await;
    let c = Cluster::start(&[]).await;
    let f = c.fixture("spread").await;

    // The login: authorize, page, identifier, password — each on the next replica.
    let (verifier, challenge) = pkce_pair();
    let from = c.served_count();
    let mut b = Browser::new();
    let done =
        sign_in(&mut b, &f, &authorize_url(&f, &f.web, Some(&challenge), &[]), "ada@spread.test", PASSWORD).await;
    assert_eq!(done.status, reqwest::StatusCode::SEE_OTHER, "{}", done.body);
    let code = query_param(&done.location.unwrap(), "code").expect("a code");
    let login_steps = c.served_since(from);
    assert_eq!(login_steps.len(), 4);
    let mut replicas_used = login_steps.clone();
    replicas_used.sort();
    replicas_used.dedup();
    assert_eq!(replicas_used, vec![0, 1, 2], "the steps landed on every replica: {login_steps:?}");

    // The code on yet another replica.
    let redirect = f.web["redirect_uris"][0].as_str().unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", redirect),
        ("code_verifier", &verifier),
    ];
    let (status, tokens) = c.token(&f, &form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // One refresh token presented at once, one request per replica: one winner.
    let race = (0..3).map(|_| {
        let refresh = refresh.clone();
        let f = &f;
        let c = &c;
        async move { c.token(f, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await }
    });
    let from = c.served_count();
    let outcomes = futures_util::future::join_all(race).await;
    let mut replicas_used = c.served_since(from);
    replicas_used.sort();
    assert_eq!(replicas_used, vec![0, 1, 2]);
    let winners: Vec<_> = outcomes.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_grant");
    }
    // Reuse revoked the family: the winner's new token is dead too (RFC 9700 4.14.2).
    let next = winners[0].1["refresh_token"].as_str().unwrap();
    let (status, _) = c.token(&f, &[("grant_type", "refresh_token"), ("refresh_token", next)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Webhooks: changes made through every replica, each event delivered once.
    let tid = tenant_with_webhook(&c.api, "hooked", &hook_url).await;
    for i in 0..30 {
        c.create("/users", json!({"tenant_id": tid, "user_name": format!("u{i}@hooked.test")})).await;
    }
    wait_for(&seen, 30, 60).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 30);
    assert!(seen.values().all(|n| *n == 1), "delivered more than once: {seen:?}");
}

/// MFA across replicas: TOTP enrollment (codes from PyPI's pyotp) and a
/// second sign-in, each form on the next replica, and a code used on one
/// replica refused as a replay on another. Then a federated sign-in at an
/// upstream oidc-provider driven by openid-client: the login page, the
/// upstream's callback and the token request each land on another replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_and_federated_logins_across_replicas() {
    let c = Cluster::start(&[]).await;
    let tenant = c.tenant("mfarep", json!({"mfa_policy": "required"})).await;
    c.create("/users", json!({"tenant_id": tenant["id"], "user_name": "ada@mfarep.test", "password": mfa::PASSWORD}))
        .await;
    let app = c
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": "Wiki",
                   "grant_types": ["authorization_code"], "redirect_uris": [mfa::REDIRECT_URI], "allowed_scopes": ["openid"]}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/mfarep", c.base);
    let http = reqwest::Client::new();
    // The replicas are processes on the system clock.
    let now = || scaikey::clock::SystemClock.now().unix_seconds();

    let from = c.served_count();
    let mut login = mfa::Login::start(&http, &issuer, &app, "ada@mfarep.test").await;
    assert_eq!(mfa::step(&login.page), "enroll_totp", "{}", login.page.body);
    let secret = mfa::element(&login.page.body, "totp-secret").unwrap();
    login.submit(&[("code", &mfa::pyotp(&secret, now()))]).await;
    assert_eq!(mfa::step(&login.page), "recovery_codes", "{}", login.page.body);
    login.submit(&[]).await;
    assert_eq!(login.claims().await["amr"], json!(["pwd", "otp", "mfa"]));
    assert!(c.all_replicas_since(from), "{:?}", c.served_since(from));

    // The next step's code (within the ±1 window) signs in once; the same
    // code, given again on whichever replica takes the form, is a replay.
    let code = mfa::pyotp(&secret, now() + 30);
    let mut login = mfa::Login::start(&http, &issuer, &app, "ada@mfarep.test").await;
    assert_eq!(mfa::step(&login.page), "mfa", "{}", login.page.body);
    let from = c.served_count();
    login.submit(&[("code", &code)]).await;
    let accepted_on = c.served_since(from)[0];
    assert_eq!(login.claims().await["amr"], json!(["pwd", "otp", "mfa"]));
    let mut login = mfa::Login::start(&http, &issuer, &app, "ada@mfarep.test").await;
    while c.proxy.next.load(Ordering::SeqCst) % 3 == accepted_on {
        reqwest::get(format!("{}/health", c.base)).await.unwrap();
    }
    let from = c.served_count();
    login.submit(&[("code", &code)]).await;
    assert_ne!(c.served_since(from)[0], accepted_on, "the replay reached another replica");
    assert!(login.page.body.contains("already used"), "replay refused: {}", login.page.body);

    // Federation: an IdP whose callback URL is known before the upstream starts.
    let tenant = c.tenant("fedrep", json!({})).await;
    let app = c
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": "Intranet",
                   "grant_types": ["authorization_code"], "redirect_uris": [federation::REDIRECT_URI],
                   "allowed_scopes": ["openid", "profile", "email"]}),
        )
        .await;
    let f = federation::Fed { issuer: format!("{}/api/v1/auth/tenants/fedrep", c.base), tenant, app };
    let placeholder =
        json!({"issuer": "http://127.0.0.1:1", "client_id": "scaikey", "client_secret": "upstream-secret"});
    let idp = c
        .create(
            "/identity-providers",
            json!({"tenant_id": f.tenant["id"], "type": "oidc", "name": "Upstream", "config": placeholder,
                   "jit_provisioning": true}),
        )
        .await;
    let callback = format!("{}/federation/{}/callback", f.issuer, idp["id"].as_str().unwrap());
    let op = federation::upstream(json!({"flavor": "plain", "clients": [federation::op_client(&callback, "client_secret_post")],
        "accounts": {"ada": {"email": "ada@fedrep.test", "email_verified": true, "preferred_username": "ada@fedrep.test"}},
        "authorization_response_iss": true}))
    .await;
    let config = json!({"issuer": op.issuer, "client_id": "scaikey", "client_secret": "upstream-secret",
                        "token_endpoint_auth_method": "client_secret_post"});
    let path = format!("/identity-providers/{}", idp["id"].as_str().unwrap());
    let (status, v) = c.api.call(Method::PATCH, &path, Some(json!({ "config": config }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let from = c.served_count();
    let r = node_peer("federated.mjs", &federation::rp(&f, "button", &idp, "ada", "ada")).await;
    assert_eq!(r["id_token_claims"]["amr"], json!(["fed"]), "{r}");
    assert_eq!(r["userinfo"]["email"], "ada@fedrep.test");
    let (page, started, callback, token) = (
        c.replica_for(from, "/login?"),
        c.replica_for(from, "/login/idp/"),
        c.replica_for(from, "/federation/"),
        c.replica_for(from, "/oauth/token"),
    );
    assert!(page != started && started != callback && callback != token, "{:?}", c.served_since(from));
}

/// A sync schedule fires once across the three replicas, each ticking on
/// its own every 15 s: the schedule's one firing in the coming minute is
/// 25 s away (every replica has seen the schedule before it), and 20 s
/// after it — every replica has ticked since — exactly one run exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_sync_runs_once_across_replicas() {
    let slapd = directory_sync::Slapd::start(5, 1);
    let c = Cluster::start(&[]).await;
    let tenant = c.tenant("cronrep", json!({})).await;
    // The replicas are processes on the system clock.
    let now = || scaikey::clock::SystemClock.now().unix_seconds();
    let firing = now() + 25;
    let idp = c
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "ldap", "name": "Scheduled", "config": slapd.idp_config(),
                   "sync_schedule": format!("{} * * * * *", firing % 60)}),
        )
        .await;
    tokio::time::sleep(Duration::from_secs((firing + 20 - now()).max(0).unsigned_abs())).await;
    let path = format!("/sync-runs?idp_id={}", idp["id"].as_str().unwrap());
    let runs = loop {
        let (status, runs) = c.api.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{runs}");
        let runs = runs["data"].as_array().unwrap().clone();
        if runs.iter().all(|r| r["status"] == "succeeded" || r["status"] == "failed") {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(runs.len(), 1, "one firing, one run: {runs:?}");
    assert_eq!(runs[0]["status"], "succeeded", "{runs:?}");
    let started: scaikey::domain::Timestamp = serde_json::from_value(runs[0]["started_at"].clone()).unwrap();
    assert!(started.unix_seconds() >= firing, "started at the firing, not before: {runs:?}");
}

/// Admin writes stream through the proxy from 4 clients while one replica
/// is killed with SIGKILL and another is stopped with SIGTERM. The killed
/// replica's requests in flight fail (never acknowledged); every
/// acknowledged creation exists afterwards; while the SIGTERM'd replica
/// drains, no request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_write_and_sigterm_drains() {
    let mut c = Cluster::start(&[]).await;
    let partner = c.create("/partners", json!({"name": "Kill MSP"})).await;
    let tenant = c.create("/tenants", json!({"partner_id": partner["id"], "slug": "killed", "name": "killed"})).await;
    let tid = tenant["id"].as_str().unwrap().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, acknowledged, failed) = (stop.clone(), acknowledged.clone(), failed.clone());
            let (http, base, token, tid) = (c.api.http.clone(), c.base.clone(), c.api.token.clone(), tid.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let body = json!({"tenant_id": tid, "user_name": format!("w{w}-{i}@killed.test")});
                    let r =
                        http.post(format!("{base}/api/v1/admin/users")).bearer_auth(&token).json(&body).send().await;
                    match r {
                        Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                            let v: Value = r.json().await.unwrap();
                            acknowledged.lock().unwrap().push(v["data"]["id"].as_str().unwrap().to_owned());
                        }
                        other => {
                            let why = match other {
                                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                                Err(e) => e.to_string(),
                            };
                            eprintln!("write {w}-{i} not acknowledged: {why}");
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    let count = |a: &Arc<Mutex<Vec<String>>>| a.lock().unwrap().len();
    while count(&acknowledged) < 40 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL replica 0 mid-stream.
    c.replicas[0].child.start_kill().unwrap();
    c.replicas[0].child.wait().await.unwrap();
    let at_kill = count(&acknowledged);
    while count(&acknowledged) < at_kill + 40 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGTERM replica 1 mid-stream.
    let pid = c.replicas[1].child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // Not ready at once, but still serving through the grace period.
    let replica = &c.proxy.replicas[1];
    let mut ready = 200;
    for _ in 0..50 {
        ready = reqwest::get(format!("http://{replica}/ready")).await.unwrap().status().as_u16();
        if ready == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ready, 503, "/ready of a stopping replica");
    assert!(reqwest::get(format!("http://{replica}/health")).await.unwrap().status().is_success());
    let status = tokio::time::timeout(Duration::from_secs(30), c.replicas[1].child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "a clean exit after draining: {status}");
    let at_term = count(&acknowledged);
    while count(&acknowledged) < at_term + 40 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    // Only the killed replica broke requests; the one stopped with SIGTERM
    // answered every request it took, and so did the other.
    let broken = c.proxy.broken.lock().unwrap().clone();
    assert!(broken.iter().all(|(replica, _)| *replica == 0), "{broken:?}");
    assert_eq!(failed.load(Ordering::SeqCst), broken.len(), "every failed write was one the killed replica took");

    // Every acknowledged creation is there (read through the last replica).
    let listed: std::collections::HashSet<String> = c
        .api
        .all(&format!("/users?tenant_id={tid}"))
        .await
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let acknowledged = acknowledged.lock().unwrap();
    let lost: Vec<_> = acknowledged.iter().filter(|id| !listed.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(acknowledged.len() >= 120);
}
