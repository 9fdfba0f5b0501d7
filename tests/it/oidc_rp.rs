//! The OIDC provider driven by a certified relying party: `openid-client` v6
//! (npm, unmodified) for a confidential WEB app and a public SPA, through
//! the hosted login, code + PKCE, ID token validation, userinfo, refresh
//! rotation with reuse detection, introspection, revocation and
//! RP-initiated logout; and one login in headless Chromium with a
//! screenshot kept at `target/test-artifacts/login.png`.
//!
//! The peers live in `tests/peers/oidc-rp` and need `npm ci --prefix
//! tests/peers/oidc-rp` (and Debian's `chromium` for the browser test);
//! without them these tests fail, never skip.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::both;
use crate::support::{Backend, TestServer};

const PEER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/oidc-rp");
const PASSWORD: &str = "a long enough password";
const REDIRECT_URI: &str = "https://rp.example.test/callback";
const LOGOUT_URI: &str = "https://rp.example.test/signed-out";

/// Runs `node tests/peers/oidc-rp/<script> '<config>'` and returns its JSON.
pub async fn node_peer(script: &str, config: &Value) -> Value {
    let dir = Path::new(PEER_DIR);
    assert!(
        dir.join("node_modules/openid-client/package.json").is_file()
            && dir.join("node_modules/playwright-core/package.json").is_file(),
        "the openid-client peer is not installed: run `npm ci --prefix tests/peers/oidc-rp`"
    );
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join(script)).arg(config.to_string()).current_dir(dir).kill_on_drop(true);
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("node {script} did not finish within 120 s"))
        .unwrap_or_else(|e| {
            panic!(
                "node must be installed to run the openid-client peer ({e}); then `npm ci --prefix tests/peers/oidc-rp`"
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node {script} failed ({}):\n{stderr}\n{stdout}", out.status);
    // Shown by the test harness when an assertion below fails.
    println!("node {script}:\n{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("node {script} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

struct Fixture {
    issuer: String,
    tenant: Value,
    user: Value,
}

async fn fixture(s: &TestServer, slug: &str) -> Fixture {
    let (_, tenant) = s.partner_and_tenant(slug).await;
    let user = s
        .create(
            "/users",
            json!({"tenant_id": tenant["id"], "user_name": format!("ada@{slug}.test"), "email": format!("ada@{slug}.test"),
                   "given_name": "Ada", "family_name": "Lovelace", "password": PASSWORD}),
        )
        .await;
    Fixture { issuer: format!("{}/api/v1/auth/tenants/{slug}", s.base), tenant, user }
}

async fn app(s: &TestServer, f: &Fixture, app_type: &str, name: &str, extra: Value) -> Value {
    let mut body = json!({"tenant_id": f.tenant["id"], "scope": "TENANT", "type": app_type, "name": name,
        "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": [REDIRECT_URI],
        "logout_uris": [LOGOUT_URI], "allowed_scopes": ["openid", "profile", "email", "groups", "offline_access"]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    s.create("/applications", body).await
}

fn rp_config(f: &Fixture, app: &Value) -> Value {
    json!({
        "issuer": f.issuer,
        "client_id": app["client_id"],
        "client_secret": app.get("client_secret").cloned().unwrap_or(Value::Null),
        "redirect_uri": REDIRECT_URI,
        "post_logout_redirect_uri": LOGOUT_URI,
        "username": f.user["user_name"],
        "password": PASSWORD,
    })
}

/// Everything `rp.mjs` reports, checked the same way for every client type.
/// `foreign_introspector`: introspection ran as another client of the tenant,
/// which neither obtained the token nor is in its `aud`, so sees nothing.
fn assert_rp_flow(r: &Value, f: &Fixture, client_id: &str, alg: &str, foreign_introspector: bool) {
    let issuer = f.issuer.as_str();
    let user_id = f.user["id"].as_str().unwrap();
    let tenant_id = f.tenant["id"].as_str().unwrap();
    assert_eq!(r["discovery"]["issuer"], issuer);
    assert_eq!(r["discovery"]["end_session_endpoint"], format!("{issuer}/oauth/logout"));

    // Hosted login.
    let login = &r["login"];
    assert!(login["login_page"].as_str().unwrap().starts_with(&format!("{issuer}/login?request=lrq_")), "{login}");
    let cookie = &login["login_cookie"];
    assert_eq!(cookie["httponly"], true, "{cookie}");
    assert_eq!(cookie["samesite"], "Lax", "{cookie}");
    assert_eq!(cookie["path"], format!("/api/v1/auth/tenants/{}", f.tenant["slug"].as_str().unwrap()));
    assert_eq!(login["csrf_rotated"], true);
    assert_eq!(login["wrong_password_error"], "The username or password is incorrect.");
    assert_eq!(login["session_cookies"], json!([format!("sk_sid_{tenant_id}")]));

    // Tokens and the ID token as openid-client validated it.
    let t = &r["tokens"];
    assert_eq!(t["token_type"], "bearer", "openid-client lower-cases token_type");
    assert_eq!(t["has_refresh_token"], true);
    assert_eq!(t["id_token_header"]["alg"], alg);
    assert_eq!(t["access_token_header"]["typ"], "at+jwt");
    assert_eq!(t["access_token_claims"]["sub"], user_id);
    assert_eq!(t["access_token_claims"]["client_id"], client_id);
    let id = &r["id_token"];
    assert_eq!(id["iss"], issuer);
    assert_eq!(id["sub"], user_id);
    assert_eq!(id["aud"], client_id);
    assert!(id["nonce"].is_string() && id["sid"].is_string() && id["auth_time"].is_i64(), "{id}");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["at_hash_valid"], true);

    // userinfo.
    let ui = &r["userinfo"];
    assert_eq!(ui["sub"], user_id);
    assert_eq!(ui["email"], f.user["email"]);
    assert_eq!(ui["given_name"], "Ada");
    assert_eq!(ui["family_name"], "Lovelace");

    // Refresh rotation and reuse detection.
    let rf = &r["refresh"];
    assert_eq!(rf["rotated"], true, "{rf}");
    assert_eq!(rf["new_access_token_differs"], true);
    assert_eq!(rf["reuse_old"]["error"], "invalid_grant", "{rf}");
    assert_eq!(rf["newest_after_reuse"]["error"], "invalid_grant", "the whole family is revoked: {rf}");
    assert_eq!(rf["family_access_token_after_reuse"]["active"], false, "{rf}");

    // SSO: the second authorization skipped the login page.
    assert_eq!(r["sso"], json!({"same_sub": true, "same_sid": true, "same_auth_time": true}));

    // Introspection and revocation.
    let ins = &r["introspection"];
    if foreign_introspector {
        assert_eq!(ins["before"], json!({"active": false}), "{ins}");
        assert_eq!(ins["refresh_before"], json!({"active": false}), "{ins}");
    } else {
        assert_eq!(ins["before"]["active"], true, "{ins}");
        assert_eq!(ins["before"]["sub"], user_id);
        assert_eq!(ins["before"]["client_id"], client_id);
        assert_eq!(ins["refresh_before"]["active"], true);
        assert_eq!(ins["refresh_before"]["token_type"], "refresh_token");
    }
    assert_eq!(ins["after_revocation"], json!({"active": false}));
    assert_eq!(r["revocation"]["userinfo_after"]["error"], "invalid_token", "{}", r["revocation"]);
    assert_eq!(r["revocation"]["unknown_token_ok"], true);
    assert_eq!(r["code_replay"]["error"], "invalid_grant", "{}", r["code_replay"]);
    assert_eq!(r["code_replay"]["refresh_after"]["active"], false, "a replayed code revokes what it issued");

    // RP-initiated logout.
    let lo = &r["logout"];
    assert_eq!(lo["status"], 303);
    assert_eq!(lo["to_post_logout_redirect_uri"], true, "{lo}");
    assert_eq!(lo["state"], lo["expected_state"], "{lo}");
    assert_eq!(lo["session_cookie_cleared"], true, "{lo}");
    assert_eq!(lo["authorize_after"]["to_login_page"], true, "after logout a login is needed again: {lo}");
    assert_eq!(lo["unregistered_uri"]["status"], 400, "{lo}");
}

async fn openid_client_web_app(s: TestServer) {
    let f = fixture(&s, "acme").await;
    let web = app(&s, &f, "WEB", "portal", json!({})).await;
    let r = node_peer("rp.mjs", &rp_config(&f, &web)).await;
    assert_eq!(r["client_type"], "confidential");
    assert_eq!(r["introspection"]["by"], "self");
    assert_rp_flow(&r, &f, web["client_id"].as_str().unwrap(), "RS256", false);
}
both!(openid_client_web_app);

/// A PARTNER app is served by every tenant issuer of its partner: a user of
/// one of those tenants signs in through it like through a TENANT app.
async fn openid_client_partner_web_app(s: TestServer) {
    let f = fixture(&s, "msp-client").await;
    let web = s
        .create(
            "/applications",
            json!({"scope": "PARTNER", "partner_id": f.tenant["partner_id"], "type": "WEB", "name": "msp portal",
                   "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": [REDIRECT_URI],
                   "logout_uris": [LOGOUT_URI], "allowed_scopes": ["openid", "profile", "email", "groups", "offline_access"]}),
        )
        .await;
    let r = node_peer("rp.mjs", &rp_config(&f, &web)).await;
    assert_eq!(r["client_type"], "confidential");
    assert_rp_flow(&r, &f, web["client_id"].as_str().unwrap(), "RS256", false);
}
both!(openid_client_partner_web_app);

async fn openid_client_spa(s: TestServer) {
    let f = fixture(&s, "spa").await;
    let spa = app(&s, &f, "SPA", "dashboard", json!({"token_signing_alg": "ES256"})).await;
    assert!(spa.get("client_secret").is_none_or(Value::is_null), "an SPA has no secret: {spa}");
    // Introspection needs a confidential client: a second app of the tenant,
    // which is neither the token's client nor its audience, so sees nothing.
    let backend = app(&s, &f, "WEB", "dashboard backend", json!({})).await;
    let mut cfg = rp_config(&f, &spa);
    cfg["id_token_alg"] = json!("ES256");
    cfg["introspector"] = json!({"client_id": backend["client_id"], "client_secret": backend["client_secret"]});
    let r = node_peer("rp.mjs", &cfg).await;
    assert_eq!(r["client_type"], "public");
    assert_eq!(r["introspection"]["by"], "introspector");
    // RFC 6749 §5.2: invalid_client as 401 with a Basic challenge.
    assert_eq!(r["revocation"]["public_introspection"]["status"], 401, "{}", r["revocation"]);
    assert_rp_flow(&r, &f, spa["client_id"].as_str().unwrap(), "ES256", true);
}
both!(openid_client_spa);

/// client_secret_post and EdDSA ID tokens, on SQLite only (the storage path is the one above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_secret_post_and_eddsa() {
    let s = TestServer::start(Backend::Sqlite).await;
    let f = fixture(&s, "post").await;
    let web = app(&s, &f, "WEB", "portal", json!({"token_signing_alg": "EdDSA"})).await;
    let mut cfg = rp_config(&f, &web);
    cfg["auth_method"] = json!("client_secret_post");
    cfg["id_token_alg"] = json!("EdDSA");
    let r = node_peer("rp.mjs", &cfg).await;
    assert_rp_flow(&r, &f, web["client_id"].as_str().unwrap(), "EdDSA", false);
}

pub fn artifact_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One real login in headless Chromium; the password step is kept as a screenshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_login_end_to_end() {
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "Debian's chromium is required: apt-get install --no-install-recommends chromium"
    );
    // The client's redirect_uri, served on loopback so the browser can land
    // there (Playwright cannot intercept the target of a redirect).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!("http://{}/callback", listener.local_addr().unwrap());
    let rp = axum::Router::new().route(
        "/callback",
        axum::routing::get(|| async { axum::response::Html("<!doctype html><title>RP</title><p>Signed in.</p>") }),
    );
    tokio::spawn(async move { axum::serve(listener, rp).await });

    let s = TestServer::start(Backend::Sqlite).await;
    let f = fixture(&s, "browser").await;
    let web = app(&s, &f, "WEB", "Acme Portal", json!({"redirect_uris": [redirect_uri]})).await;
    let shot = artifact_dir().join("login.png");
    let _ = std::fs::remove_file(&shot);
    let mut cfg = rp_config(&f, &web);
    cfg["redirect_uri"] = json!(redirect_uri);
    cfg["screenshot"] = json!(shot);
    let r = node_peer("browser.mjs", &cfg).await;
    println!("login screenshot: {}", shot.display());

    assert_eq!(r["heading"], "Sign in to Acme Portal");
    assert_eq!(r["password_step_shows_user"], f.user["user_name"]);
    let callback = r["callback"].as_str().unwrap();
    assert!(callback.starts_with(&format!("{redirect_uri}?code=")), "{callback}");
    assert_eq!(r["callback_page"], "Signed in.");
    assert_eq!(r["id_token"]["sub"], f.user["id"]);
    assert_eq!(r["id_token"]["aud"], web["client_id"]);
    assert_eq!(r["userinfo"]["email"], f.user["email"]);
    assert_eq!(
        r["console_errors"],
        json!([]),
        "the login pages log no errors (e.g. CSP violations): {}",
        r["failed_responses"]
    );
    let cookies = r["cookies"].as_array().unwrap();
    let sid = cookies.iter().find(|c| c["name"] == format!("sk_sid_{}", f.tenant["id"].as_str().unwrap()));
    assert!(sid.is_some_and(|c| c["httpOnly"] == true && c["sameSite"] == "Lax"), "{cookies:?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "the screenshot is a real PNG");
}
