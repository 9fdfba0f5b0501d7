//! RFC 8628 device authorization over plain HTTP: codes issued to a NATIVE
//! app, `authorization_pending` then `slow_down` when polled too fast (the
//! clock moved, not slept), the device page (code typed or prefilled, a
//! sign-in through the login flow, the app named on the approval), tokens
//! for the approving user once, `access_denied`, `expired_token`, a browser
//! already signed in going straight to the approval, user-code guessing
//! throttled, and discovery advertising the endpoint. openid-client and
//! Chromium drive the same flow in `device_browser`.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use scaikey::clock::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use crate::oidc_flow::{Browser, Page, hidden};
use crate::support::{Backend, TestServer};

const PASSWORD: &str = "Correct-horse-9";

struct Fixture {
    s: TestServer,
    clock: Arc<ManualClock>,
    issuer: String,
    app: Value,
}

async fn fixture(backend: Backend) -> Fixture {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = TestServer::start_with(backend, clock.clone(), |_| {}).await;
    let (_, tenant) = s.partner_and_tenant("tv").await;
    let tid = tenant["id"].as_str().unwrap();
    let (status, _) =
        s.admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": "off"}}))).await;
    assert!(status.is_success());
    s.create("/users", json!({"tenant_id": tid, "user_name": "ada@tv.test", "password": PASSWORD})).await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "NATIVE", "name": "Living-room TV",
                   "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
                   "redirect_uris": ["http://127.0.0.1/cb"], "allowed_scopes": ["openid", "profile", "offline_access"]}),
        )
        .await;
    Fixture { issuer: format!("{}/api/v1/auth/tenants/tv", s.base), s, clock, app }
}

impl Fixture {
    async fn start(&self) -> Value {
        let r = self
            .s
            .http
            .post(format!("{}/oauth/device_authorization", self.issuer))
            .form(&[("client_id", self.app["client_id"].as_str().unwrap()), ("scope", "openid profile offline_access")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn poll(&self, device: &Value) -> (StatusCode, Value) {
        let r = self
            .s
            .http
            .post(format!("{}/oauth/token", self.issuer))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", self.app["client_id"].as_str().unwrap()),
                ("device_code", device["device_code"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }
}

async fn submit(b: &mut Browser, issuer: &str, page: &Page, fields: &[(&str, &str)]) -> Page {
    let req = hidden(&page.body, "request").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let mut form = vec![("request", req.as_str()), ("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post(&format!("{issuer}/login"), &form).await
}

/// Types `code` on the device page: the page it leads to.
async fn enter(b: &mut Browser, issuer: &str, code: &str) -> Page {
    let r = b.post(&format!("{issuer}/device"), &[("user_code", code)]).await;
    match r.location {
        Some(l) => b.get(&l).await,
        None => r,
    }
}

async fn device_flow(backend: Backend) {
    let f = fixture(backend).await;
    let (s, issuer) = (&f.s, f.issuer.as_str());
    let (_, discovery) = (
        StatusCode::OK,
        s.http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    );
    assert_eq!(discovery["device_authorization_endpoint"], format!("{issuer}/oauth/device_authorization"));
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:ietf:params:oauth:grant-type:device_code"))
    );

    let device = f.start().await;
    let code = device["user_code"].as_str().unwrap();
    assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "{device}");
    assert_eq!(device["verification_uri"], format!("{issuer}/device"));
    assert_eq!(device["interval"], 5);
    assert_eq!(device["expires_in"], 600);

    // Polling: pending, then too fast.
    assert_eq!(f.poll(&device).await.1["error"], "authorization_pending");
    assert_eq!(f.poll(&device).await.1["error"], "slow_down");
    f.clock.advance(11);
    assert_eq!(f.poll(&device).await.1["error"], "authorization_pending");

    // The page prefilled from verification_uri_complete; a wrong code; the right one, in lower case.
    let mut b = Browser::new();
    let page = b.get(device["verification_uri_complete"].as_str().unwrap()).await;
    assert!(page.body.contains(&format!("value=\"{code}\"")), "{}", page.body);
    let page = enter(&mut b, issuer, "BBBB-BBBB").await;
    assert!(page.body.contains("That code is not valid"), "{}", page.body);
    let page = enter(&mut b, issuer, &code.to_lowercase()).await;
    assert!(page.body.contains("name=\"username\""), "a sign-in first: {}", page.body);
    let page = submit(&mut b, issuer, &page, &[("username", "ada@tv.test")]).await;
    let page = submit(&mut b, issuer, &page, &[("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = b.get(page.location.as_deref().unwrap()).await;
    assert!(page.body.contains("<strong id=\"device-app\">Living-room TV</strong>"), "{}", page.body);
    let done = submit(&mut b, issuer, &page, &[("decision", "allow")]).await;
    assert!(done.body.contains("Device connected"), "{}", done.body);

    // The device's next poll (after the interval, raised to 10 s) gets the user's tokens, once.
    f.clock.advance(11);
    let (status, tokens) = f.poll(&device).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["refresh_token"].is_string() && tokens["id_token"].is_string(), "{tokens}");
    let (status, again) = f.poll(&device).await;
    assert_eq!((status, again["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    // This browser is signed in: a second device goes straight to the approval; denied.
    let second = f.start().await;
    let page = enter(&mut b, issuer, second["user_code"].as_str().unwrap()).await;
    assert!(page.body.contains("device-app"), "{}", page.body);
    let done = submit(&mut b, issuer, &page, &[("decision", "deny")]).await;
    assert!(done.body.contains("denied"), "{}", done.body);
    f.clock.advance(11);
    assert_eq!(f.poll(&second).await.1["error"], "access_denied");

    // A code not approved within ten minutes expires, also on the page.
    let third = f.start().await;
    f.clock.advance(601);
    assert_eq!(f.poll(&third).await.1["error"], "expired_token");
    let page = enter(&mut Browser::new(), issuer, third["user_code"].as_str().unwrap()).await;
    assert!(page.body.contains("That code is not valid"));

    // A confidential SERVICE app cannot start the flow; an app without the grant neither.
    let r = s
        .http
        .post(format!("{issuer}/oauth/device_authorization"))
        .form(&[("client_id", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Guessing user codes is throttled per address.
    let mut guesser = Browser::new();
    let mut limited = false;
    for _ in 0..40 {
        let r = guesser.post(&format!("{issuer}/device"), &[("user_code", "BCDF-GHJK")]).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "code guessing is rate-limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_sqlite() {
    device_flow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_postgres() {
    device_flow(Backend::Postgres).await;
}

/// openid-client starts the flow and polls; Chromium signs in on the device page and approves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_with_openid_client_and_chromium() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "Debian's chromium is required: apt-get install --no-install-recommends chromium"
    );
    let s = TestServer::start(Backend::Sqlite).await;
    let (_, tenant) = s.partner_and_tenant("den").await;
    let tid = tenant["id"].as_str().unwrap();
    let user = s.create("/users", json!({"tenant_id": tid, "user_name": "ada@den.test", "password": PASSWORD})).await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "NATIVE", "name": "Den Console",
                   "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
                   "redirect_uris": ["http://127.0.0.1/cb"], "allowed_scopes": ["openid", "profile"]}),
        )
        .await;
    let shot = crate::oidc_rp::artifact_dir().join("device.png");
    let cfg = json!({"issuer": format!("{}/api/v1/auth/tenants/den", s.base), "client_id": app["client_id"],
        "redirect_uri": "http://127.0.0.1/unused", "username": "ada@den.test", "password": PASSWORD, "screenshot": shot});
    let r = crate::oidc_rp::node_peer("device.mjs", &cfg).await;
    assert_eq!(r["prefilled"], r["user_code"], "{r}");
    assert_eq!(r["app_name"], "Den Console");
    assert_eq!(r["done"], "Device connected");
    assert_eq!(r["claims"]["sub"], user["id"]);
    assert_eq!(r["claims"]["aud"], app["client_id"]);
    assert_eq!(r["claims"]["amr"], json!(["pwd"]));
    assert_eq!(r["console_errors"], json!([]));
}
