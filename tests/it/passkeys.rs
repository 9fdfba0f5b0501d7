//! Passkeys end to end in headless Chromium with its virtual authenticator
//! (tests/peers/oidc-rp/passkey.mjs): registered on the account page
//! (reached through the login flow; a screenshot of it kept at
//! `target/test-artifacts/account.png`), then used as the second factor
//! after a password and alone (passwordless, discoverable credential), with
//! the `amr` of each ID token checked by openid-client's redemption; and a
//! cloned authenticator (a copy of the credential whose signature counter
//! stayed behind) refused, the passkey then removed.
//!
//! WebAuthn needs a domain as relying party id, so this server's public URL
//! is `http://localhost:<port>` (a secure context for Chromium).

use std::path::Path;

use reqwest::Method;
use serde_json::json;

use crate::oidc_rp::{artifact_dir, node_peer};
use crate::support::{Backend, TestServer};

const PASSWORD: &str = "a long enough password";

async fn passkeys(backend: Backend) {
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "Debian's chromium is required: apt-get install --no-install-recommends chromium"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!("http://{}/callback", listener.local_addr().unwrap());
    let rp = axum::Router::new().route(
        "/callback",
        axum::routing::get(|| async { axum::response::Html("<!doctype html><title>RP</title><p>Signed in.</p>") }),
    );
    tokio::spawn(async move { axum::serve(listener, rp).await });

    let s = TestServer::start_with(backend, std::sync::Arc::new(scaikey::clock::SystemClock), |c| {
        let port = c.listen.rsplit(':').next().unwrap().to_owned();
        c.public_url = Some(format!("http://localhost:{port}"));
    })
    .await;
    let (_, tenant) = s.partner_and_tenant("keys").await;
    let tid = tenant["id"].as_str().unwrap();
    let (status, t) =
        s.admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": "optional"}}))).await;
    assert!(status.is_success(), "{t}");
    let user = s
        .create(
            "/users",
            json!({"tenant_id": tid, "user_name": "ada@keys.test", "display_name": "Ada", "password": PASSWORD}),
        )
        .await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "Wiki",
                   "grant_types": ["authorization_code"], "redirect_uris": [redirect_uri],
                   "allowed_scopes": ["openid", "profile"], "initiate_login_uri": "https://wiki.keys.test/login"}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/keys", s.base.replace("127.0.0.1", "localhost"));
    let shot =
        artifact_dir().join(format!("account-{}.png", if backend == Backend::Sqlite { "sqlite" } else { "postgres" }));
    let _ = std::fs::remove_file(&shot);
    let mut cfg = json!({
        "issuer": issuer, "client_id": app["client_id"], "client_secret": app["client_secret"],
        "redirect_uri": redirect_uri, "username": "ada@keys.test", "password": PASSWORD, "screenshot": shot,
    });
    let r = node_peer("passkey.mjs", &cfg).await;
    println!("account page screenshot: {}", shot.display());

    assert_eq!(r["account_notice"], "Passkey added.", "{r}");
    assert_eq!(r["factors"], json!(["passkey"]));
    assert_eq!(r["recovery_codes_shown"], 10, "the first factor comes with recovery codes, shown once");
    assert_eq!(r["registered_resident"], true, "a discoverable credential");
    let second = &r["second_factor"];
    assert_eq!(second["sub"], user["id"]);
    assert_eq!(second["amr"], json!(["pwd", "hwk", "mfa"]), "{second}");
    assert_eq!(second["acr"], "2");
    let alone = &r["passwordless"];
    assert_eq!(alone["sub"], user["id"]);
    assert_eq!(alone["amr"], json!(["hwk", "mfa"]), "{alone}");
    assert_eq!(r["autofill"]["sub"], user["id"], "passkey autofill on the identifier field");
    assert_eq!(r["autofill"]["amr"], json!(["hwk", "mfa"]));
    assert_eq!(r["console_errors"], json!([]), "the pages log no errors (CSP, script)");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "the screenshot is a real PNG");

    // The passkey is listed (no key material) and its use recorded.
    let (_, factors) = s.admin(Method::GET, &format!("/users/{}/factors", user["id"].as_str().unwrap()), None).await;
    let list = factors["data"]["factors"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{factors}");
    assert_eq!(list[0]["kind"], "passkey");
    assert!(list[0]["last_used_at"].is_string());
    assert!(list[0].get("passkey").is_none() && list[0].get("credential_id").is_none());
    let (_, audit) = s.admin(Method::GET, "/audit-events?action=user.factor.enroll", None).await;
    assert!(audit["data"].as_array().unwrap().iter().any(|a| a["target_id"] == user["id"]), "{audit}");

    // A copy of the credential taken at registration: its signature counter
    // stayed behind the one the server saw last, so it is refused...
    assert!(r["current"]["signCount"].as_u64().unwrap() > r["registered"]["signCount"].as_u64().unwrap(), "{r}");
    cfg["mode"] = json!("cloned");
    cfg["credential"] = r["registered"].clone();
    let stale = node_peer("passkey.mjs", &cfg).await;
    assert!(stale["url"].as_str().unwrap().starts_with(&format!("{issuer}/login")), "{stale}");
    assert!(stale["error"].as_str().is_some_and(|e| e.contains("could not be verified")), "{stale}");
    // ...and the passkey is removed (audited), so the copy cannot retry
    // until its counter passes the original's: not even the original works now.
    let (_, factors) = s.admin(Method::GET, &format!("/users/{}/factors", user["id"].as_str().unwrap()), None).await;
    assert_eq!(factors["data"]["factors"], json!([]), "{factors}");
    let (_, audit) = s.admin(Method::GET, "/audit-events?action=user.factor.remove", None).await;
    let removal = audit["data"].as_array().unwrap().iter().find(|a| a["target_id"] == user["id"]).cloned();
    assert!(removal.is_some_and(|a| a.to_string().contains("cloned")), "{audit}");
    cfg["credential"] = r["current"].clone();
    let current = node_peer("passkey.mjs", &cfg).await;
    assert!(current["url"].as_str().unwrap().starts_with(&format!("{issuer}/login")), "{current}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_in_chromium_sqlite() {
    passkeys(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_in_chromium_postgres() {
    passkeys(Backend::Postgres).await;
}
