//! Federated sign-in through ScaiKey end to end: the npm package
//! `oidc-provider` (tests/peers/oidc-op) runs on loopback as the upstream
//! IdP three ways — plain, Entra-like (`tid`, the `{tenantid}` issuer, a
//! groups overage resolved through a Graph look-alike) and Google-like
//! (`hd`) — and `openid-client` (tests/peers/oidc-rp/federated.mjs) is the
//! downstream app. Home-realm discovery, IdP links, just-in-time
//! provisioning, linking by email (only when trusted) and the refusals are
//! checked here; the id_token checks themselves are unit-tested in
//! `scaikey-connectors` (oidc/id_token.rs, oidc/flavor.rs).
//!
//! Needs `npm ci --prefix tests/peers/oidc-op` and `--prefix tests/peers/oidc-rp`;
//! without them these tests fail, never skip.

use std::path::Path;
use std::process::Stdio;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::both;
use crate::oidc_rp::{artifact_dir, node_peer};
use crate::support::{Backend, TestServer};

const OP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/oidc-op");
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const ENTRA_TENANT: &str = "6f1c2a9e-0b7d-4e51-9a43-2d8c5b7e1f00";
const OTHER_TENANT: &str = "0a0a0a0a-1111-2222-3333-444444444444";

/// One oidc-provider process; it exits when this is dropped (stdin closes).
pub(crate) struct Upstream {
    _child: tokio::process::Child,
    base: String,
    pub(crate) issuer: String,
}

pub(crate) async fn upstream(config: Value) -> Upstream {
    assert!(
        Path::new(OP_DIR).join("node_modules/oidc-provider/package.json").is_file(),
        "the oidc-provider peer is not installed: run `npm ci --prefix tests/peers/oidc-op`"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(Path::new(OP_DIR).join("op.mjs"))
        .arg(config.to_string())
        .current_dir(OP_DIR)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("node must be installed to run the oidc-provider peer: {e}"));
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    // Generous: node starts slowly while the rest of the suite loads both cores.
    tokio::time::timeout(std::time::Duration::from_secs(120), BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("oidc-provider did not start within 120 s")
        .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("op.mjs printed {line:?}: {e}"));
    Upstream {
        _child: child,
        base: started["base"].as_str().unwrap().to_owned(),
        issuer: started["issuer"].as_str().unwrap().to_owned(),
    }
}

impl Upstream {
    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/_stats", self.base)).await.unwrap().json().await.unwrap()
    }
}

pub(crate) struct Fed {
    pub(crate) issuer: String,
    pub(crate) tenant: Value,
    pub(crate) app: Value,
}

async fn fed_fixture(s: &TestServer, slug: &str) -> Fed {
    let (_, tenant) = s.partner_and_tenant(slug).await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": "Intranet",
                   "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT_URI],
                   "allowed_scopes": ["openid", "profile", "email"]}),
        )
        .await;
    Fed { issuer: format!("{}/api/v1/auth/tenants/{slug}", s.base), tenant, app }
}

/// Creates an IdP pointing nowhere yet, so its callback URL is known before
/// the upstream starts; `connect` then points it at the upstream.
async fn idp(s: &TestServer, f: &Fed, kind: &str, name: &str, extra: Value) -> (Value, String) {
    let placeholder = match kind {
        "entra" => json!({"tenant": "organizations", "allowed_tenant_ids": [ENTRA_TENANT], "client_id": "scaikey",
                          "client_secret": "upstream-secret", "login_base_url": "http://127.0.0.1:1", "graph_base_url": "http://127.0.0.1:1"}),
        "google" => json!({"client_id": "scaikey", "client_secret": "upstream-secret", "hosted_domain": "fed.test",
                           "accounts_base_url": "http://127.0.0.1:1"}),
        _ => json!({"issuer": "http://127.0.0.1:1", "client_id": "scaikey", "client_secret": "upstream-secret"}),
    };
    let mut body = json!({"tenant_id": f.tenant["id"], "type": kind, "name": name, "config": placeholder, "jit_provisioning": true});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let idp = s.create("/identity-providers", body).await;
    let callback = format!("{}/federation/{}/callback", f.issuer, idp["id"].as_str().unwrap());
    (idp, callback)
}

async fn connect(s: &TestServer, idp: &Value, config: Value) {
    let (status, v) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{}", idp["id"].as_str().unwrap()),
            Some(json!({"config": config})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

pub(crate) fn op_client(callback: &str, method: &str) -> Value {
    json!({"client_id": "scaikey", "client_secret": "upstream-secret", "redirect_uris": [callback],
           "token_endpoint_auth_method": method})
}

/// `username` is typed into ScaiKey's page (hrd), `login` at the upstream.
pub(crate) fn rp(f: &Fed, mode: &str, idp: &Value, username: &str, login: &str) -> Value {
    json!({"issuer": f.issuer, "client_id": f.app["client_id"], "client_secret": f.app["client_secret"],
           "redirect_uri": REDIRECT_URI, "mode": mode, "idp_id": idp["id"], "username": username,
           "upstream_login": login, "password": "any"})
}

async fn user_named(s: &TestServer, f: &Fed, name: &str) -> Option<Value> {
    let (_, list) = s.admin(Method::GET, &format!("/users?tenant_id={}", f.tenant["id"].as_str().unwrap()), None).await;
    let found = list["data"].as_array().unwrap().iter().find(|u| u["user_name"] == name)?.clone();
    let (_, detail) = s.admin(Method::GET, &format!("/users/{}", found["id"].as_str().unwrap()), None).await;
    Some(detail["data"].clone())
}

async fn plain_oidc_upstream(s: TestServer) {
    let f = fed_fixture(&s, "fedplain").await;
    let (okta, callback) = idp(&s, &f, "oidc", "Acme Okta", json!({"domains": ["fed.test"]})).await;
    let local = s
        .create(
            "/users",
            json!({"tenant_id": f.tenant["id"], "user_name": "mallory.local", "email": "mallory@fed.test",
                                 "password": "a long enough password"}),
        )
        .await;
    let op = upstream(json!({"flavor": "plain", "clients": [op_client(&callback, "client_secret_post")],
        "accounts": {
            "ada": {"email": "ada@fed.test", "email_verified": true, "preferred_username": "ada@fed.test",
                    "given_name": "Ada", "family_name": "Lovelace", "name": "Ada Lovelace"},
            "mallory": {"email": "mallory@fed.test", "email_verified": true, "preferred_username": "mallory"}},
        "authorization_response_iss": true}))
    .await;
    connect(
        &s,
        &okta,
        json!({"issuer": op.issuer, "client_id": "scaikey", "client_secret": "upstream-secret",
                              "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;

    // The admin's test button reads the upstream's discovery document.
    let (status, t) =
        s.admin(Method::POST, &format!("/identity-providers/{}/test", okta["id"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["data"]["ok"], true, "{t}");
    assert_eq!(t["data"]["found"]["issuer"], op.issuer);

    // The IdP's link on the login page; the first sign-in provisions Ada.
    let r = node_peer("federated.mjs", &rp(&f, "button", &okta, "ada", "ada")).await;
    let links = r["login_page_idp_links"].as_array().unwrap();
    assert!(links.iter().any(|l| l["id"] == okta["id"] && l["name"] == "Acme Okta"), "{r}");
    let ada = user_named(&s, &f, "ada@fed.test").await.expect("Ada is provisioned");
    assert_eq!(r["id_token_claims"]["sub"], ada["id"]);
    assert_eq!(r["id_token_claims"]["amr"], json!(["fed"]));
    assert_eq!(r["userinfo"]["email"], "ada@fed.test");
    assert_eq!(ada["given_name"], "Ada");
    assert_eq!(ada["identities"][0]["idp_id"], okta["id"]);
    assert_eq!(ada["identities"][0]["external_id"], "ada");
    assert!(ada["identities"][0]["last_login_at"].is_string(), "{ada}");
    // PKCE S256, state, nonce and the login hint went to the upstream.
    let sent = &op.stats().await["authorization_params"][0];
    assert_eq!(sent["code_challenge_method"], "S256");
    assert!(sent["nonce"].as_str().is_some_and(|n| n.len() >= 43) && sent["state"].as_str().is_some());

    // Home-realm discovery: an email of the IdP's domain goes straight to it,
    // and the returning user is found by (idp, external id): no second user.
    // Attributes are refreshed from the upstream at each sign-in.
    let ada_path = format!("/users/{}", ada["id"].as_str().unwrap());
    s.admin(Method::PATCH, &ada_path, Some(json!({"given_name": "Changed locally"}))).await;
    let r = node_peer("federated.mjs", &rp(&f, "hrd", &okta, "ada@fed.test", "ada")).await;
    assert_eq!(r["id_token_claims"]["sub"], ada["id"]);
    let (_, again) = s.admin(Method::GET, &ada_path, None).await;
    assert_eq!(again["data"]["given_name"], "Ada", "{again}");
    let (_, users) =
        s.admin(Method::GET, &format!("/users?tenant_id={}", f.tenant["id"].as_str().unwrap()), None).await;
    assert_eq!(users["data"].as_array().unwrap().len(), 2, "{users}");
    let (_, audit) = s
        .admin(
            Method::GET,
            &format!("/audit-events?tenant_id={}&action=user.create", f.tenant["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(audit["data"].as_array().unwrap().iter().any(|a| a["actor_type"] == "federation"), "{audit}");

    // An upstream email equal to a local user's is not linked unless trusted.
    let mut refused = rp(&f, "button", &okta, "mallory", "mallory");
    refused["expect_error"] = json!(true);
    let r = node_peer("federated.mjs", &refused).await;
    assert_eq!(r["error_page"]["status"], 403, "{r}");
    assert!(r["error_page"]["text"].as_str().unwrap().contains("not linked"), "{r}");
    assert!(user_named(&s, &f, "mallory.local").await.unwrap()["identities"].as_array().unwrap().is_empty());
    let (status, _) = s
        .admin(
            Method::PATCH,
            &format!("/identity-providers/{}", okta["id"].as_str().unwrap()),
            Some(json!({"trust_email_for_linking": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = node_peer("federated.mjs", &rp(&f, "button", &okta, "mallory", "mallory")).await;
    assert_eq!(r["id_token_claims"]["sub"], local["id"]);

    // A suspended user is refused.
    s.admin(Method::PATCH, &format!("/users/{}", ada["id"].as_str().unwrap()), Some(json!({"status": "suspended"})))
        .await;
    let mut suspended = rp(&f, "button", &okta, "ada", "ada");
    suspended["expect_error"] = json!(true);
    let r = node_peer("federated.mjs", &suspended).await;
    assert!(r["error_page"]["text"].as_str().unwrap().contains("suspended"), "{r}");
}
both!(plain_oidc_upstream);

async fn entra_and_google_upstreams(s: TestServer) {
    let f = fed_fixture(&s, "fedcloud").await;
    let (entra, entra_cb) = idp(&s, &f, "entra", "Contoso Entra ID", json!({"domains": ["contoso.test"]})).await;
    let groups: Vec<String> = (0..250).map(|i| format!("00000000-0000-0000-0000-{i:012}")).collect();
    let op = upstream(
        json!({"flavor": "entra", "tenant_id": ENTRA_TENANT, "clients": [op_client(&entra_cb, "client_secret_post")],
        "accounts": {"grace": {"oid": "9C7E0000-AAAA-BBBB-CCCC-000000000001", "email": "grace@contoso.test",
                               "preferred_username": "grace@contoso.test", "name": "Grace Hopper"}},
        "groups": {"grace": groups}}),
    )
    .await;
    let login_base = op.base.clone();
    connect(
        &s,
        &entra,
        json!({"tenant": "organizations", "allowed_tenant_ids": [ENTRA_TENANT], "client_id": "scaikey",
        "client_secret": "upstream-secret", "login_base_url": login_base, "graph_base_url": login_base}),
    )
    .await;

    // Home-realm discovery into a multi-tenant Entra authority: the token's
    // issuer is checked against its own tid, and 250 groups (an overage) are
    // read from Graph page by page.
    let r = node_peer("federated.mjs", &rp(&f, "hrd", &entra, "grace@contoso.test", "grace")).await;
    let grace = user_named(&s, &f, "grace@contoso.test").await.expect("Grace is provisioned");
    assert_eq!(r["id_token_claims"]["sub"], grace["id"]);
    assert_eq!(grace["identities"][0]["external_id"], format!("{ENTRA_TENANT}/9c7e0000-aaaa-bbbb-cccc-000000000001"));
    let stats = op.stats().await;
    assert!(stats["graph_requests"].as_u64().unwrap() >= 3, "{stats}");

    // A directory not in allowed_tenant_ids is refused.
    connect(
        &s,
        &entra,
        json!({"tenant": "organizations", "allowed_tenant_ids": [OTHER_TENANT], "client_id": "scaikey",
        "client_secret": "upstream-secret", "login_base_url": login_base, "graph_base_url": login_base}),
    )
    .await;
    let mut refused = rp(&f, "hrd", &entra, "grace@contoso.test", "grace");
    refused["expect_error"] = json!(true);
    let r = node_peer("federated.mjs", &refused).await;
    assert!(r["error_page"]["text"].as_str().unwrap().contains("did not work"), "{r}");

    // Google: `hd` must be the configured Workspace domain.
    let (google, google_cb) = idp(&s, &f, "google", "Fabrikam Google", json!({})).await;
    let gop = upstream(json!({"flavor": "google", "clients": [op_client(&google_cb, "client_secret_basic")],
        "accounts": {"linus": {"email": "linus@fed.test", "email_verified": true, "hd": "fed.test"},
                     "eve": {"email": "eve@evil.test", "email_verified": true, "hd": "evil.test"}},
        "authorization_response_iss": true}))
    .await;
    connect(
        &s,
        &google,
        json!({"client_id": "scaikey", "client_secret": "upstream-secret", "hosted_domain": "fed.test",
                                "accounts_base_url": gop.issuer}),
    )
    .await;
    let r = node_peer("federated.mjs", &rp(&f, "button", &google, "linus", "linus")).await;
    let linus = user_named(&s, &f, "linus@fed.test").await.expect("Linus is provisioned");
    assert_eq!(r["id_token_claims"]["sub"], linus["id"]);
    assert_eq!(gop.stats().await["authorization_params"][0]["hd"], "fed.test");
    let mut eve = rp(&f, "button", &google, "eve", "eve");
    eve["expect_error"] = json!(true);
    let r = node_peer("federated.mjs", &eve).await;
    assert!(r["error_page"]["text"].as_str().unwrap().contains("did not work"), "{r}");
    assert!(user_named(&s, &f, "eve@evil.test").await.is_none());
}
both!(entra_and_google_upstreams);

/// A callback whose state this browser's login did not send is refused.
async fn foreign_state_is_refused(s: TestServer) {
    let f = fed_fixture(&s, "fedstate").await;
    let (okta, _) = idp(&s, &f, "oidc", "Okta", json!({})).await;
    let url = format!("{}/federation/{}/callback?code=x&state=forged", f.issuer, okta["id"].as_str().unwrap());
    let r = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
both!(foreign_state_is_refused);

/// The login page with its IdP links and one federated login in headless
/// Chromium; the page is kept as `target/test-artifacts/federated-login.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_federated_login() {
    assert!(Path::new("/usr/bin/chromium").is_file(), "Debian's chromium is required: apt-get install chromium");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!("http://{}/callback", listener.local_addr().unwrap());
    let rp_app = axum::Router::new()
        .route("/callback", axum::routing::get(|| async { axum::response::Html("<p>Signed in.</p>") }));
    tokio::spawn(async move { axum::serve(listener, rp_app).await });

    let s = TestServer::start(Backend::Sqlite).await;
    let f = fed_fixture(&s, "fedbrowser").await;
    let (status, _) = s
        .admin(
            Method::PATCH,
            &format!("/applications/{}", f.app["id"].as_str().unwrap()),
            Some(json!({"redirect_uris": [redirect_uri]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (okta, callback) = idp(&s, &f, "oidc", "Sign in with Acme Okta", json!({})).await;
    idp(&s, &f, "oidc", "Sign in with Partner SSO", json!({})).await;
    let op = upstream(json!({"flavor": "plain", "clients": [op_client(&callback, "client_secret_basic")],
        "accounts": {"ada": {"email": "ada@fed.test", "email_verified": true, "name": "Ada Lovelace"}}}))
    .await;
    connect(&s, &okta, json!({"issuer": op.issuer, "client_id": "scaikey", "client_secret": "upstream-secret"})).await;
    let shot = artifact_dir().join("federated-login.png");
    let _ = std::fs::remove_file(&shot);
    let mut cfg = rp(&f, "button", &okta, "ada", "ada");
    cfg["redirect_uri"] = json!(redirect_uri);
    cfg["browser"] = json!(true);
    cfg["screenshot"] = json!(shot);
    let r = node_peer("federated.mjs", &cfg).await;
    assert!(shot.is_file(), "no screenshot at {}", shot.display());
    let ada = user_named(&s, &f, "ada@fed.test").await.expect("Ada is provisioned");
    assert_eq!(r["id_token_claims"]["sub"], ada["id"]);
    assert_eq!(r["login_page_idp_links"].as_array().unwrap().len(), 2, "{r}");
}
