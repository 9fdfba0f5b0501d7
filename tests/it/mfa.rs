//! MFA in the hosted login: the tenant's `mfa_policy` (`required` enrolls
//! before any code is issued, `optional` offers a skippable enrollment),
//! TOTP codes computed by an independent implementation (PyPI `pyotp`) with
//! the clock moved rather than slept — replay within a step refused, the
//! ±1 step window, a code two steps old refused —, recovery codes working
//! once, wrong codes counted toward the lockout, `amr`/`acr` in the tokens,
//! and an admin reset (audited) forcing a new enrollment.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use scaikey::clock::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use crate::oidc_flow::{Browser, Page, hidden, pkce_pair, query_param};
use crate::support::{Backend, TestServer};

pub(crate) const REDIRECT_URI: &str = "https://wiki.mfa.test/cb";
pub(crate) const PASSWORD: &str = "Correct-horse-9";

/// pyotp's code for `secret` (base32) at unix time `t`.
pub(crate) fn pyotp(secret: &str, t: i64) -> String {
    let out = std::process::Command::new(crate::support::python())
        .args(["-c", "import pyotp,sys; print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))", secret, &t.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pyotp is required (tests/peers/mfa/requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The text of the element with `id` (`<… id="x">text<`).
pub(crate) fn element(body: &str, id: &str) -> Option<String> {
    let start = body.find(&format!("id=\"{id}\""))?;
    let rest = &body[start..];
    let open = rest.find('>')? + 1;
    Some(rest[open..].split('<').next()?.to_owned())
}

pub(crate) fn step(page: &Page) -> &'static str {
    for s in ["enroll_totp", "recovery_codes", "mfa", "password"] {
        let marker = match s {
            "enroll_totp" => "id=\"totp-secret\"",
            "recovery_codes" => "id=\"recovery-codes\"",
            "mfa" => "name=\"recovery_code\"",
            _ => "name=\"password\"",
        };
        if page.body.contains(marker) {
            return s;
        }
    }
    "other"
}

/// One hosted login driven form by form; `http` redeems the code.
pub(crate) struct Login {
    http: reqwest::Client,
    issuer: String,
    app: Value,
    b: Browser,
    pub(crate) page: Page,
    verifier: String,
}

impl Login {
    /// Authorize, name the user, give the password: the page after it.
    pub(crate) async fn start(http: &reqwest::Client, issuer: &str, app: &Value, username: &str) -> Login {
        let mut b = Browser::new();
        let (verifier, challenge) = pkce_pair();
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", app["client_id"].as_str().unwrap()),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        let r = b.get(&format!("{issuer}/oauth/authorize?{q}")).await;
        let page = b.get(&r.location.unwrap()).await;
        let mut login = Login { http: http.clone(), issuer: issuer.into(), app: app.clone(), b, page, verifier };
        login.submit(&[("username", username)]).await;
        login.submit(&[("password", PASSWORD)]).await;
        login
    }

    pub(crate) async fn submit(&mut self, fields: &[(&str, &str)]) -> &Page {
        let req = hidden(&self.page.body, "request").unwrap();
        let csrf = hidden(&self.page.body, "csrf_token").unwrap();
        let mut form = vec![("request", req.as_str()), ("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        let next = self.b.post(&format!("{}/login", self.issuer), &form).await;
        if next.status != StatusCode::SEE_OTHER {
            self.page = next;
        } else {
            self.page = Page { status: next.status, location: next.location, body: self.page.body.clone() };
        }
        &self.page
    }

    /// The ID token's claims once the flow redirected back with a code.
    pub(crate) async fn claims(&self) -> Value {
        let location = self.page.location.clone().filter(|_| self.page.status == StatusCode::SEE_OTHER);
        let code =
            query_param(&location.unwrap_or_else(|| panic!("not signed in: {}", self.page.body)), "code").unwrap();
        let r = self
            .http
            .post(format!("{}/oauth/token", self.issuer))
            .basic_auth(self.app["client_id"].as_str().unwrap(), self.app["client_secret"].as_str())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &self.verifier),
            ])
            .send()
            .await
            .unwrap();
        let tokens: Value = r.json().await.unwrap();
        let id_token = tokens["id_token"].as_str().unwrap_or_else(|| panic!("{tokens}"));
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap()
    }
}

async fn setup(s: &TestServer, slug: &str, policy: &str) -> (String, Value, String) {
    let (_, tenant) = s.partner_and_tenant(slug).await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    let (status, t) =
        s.admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": policy}}))).await;
    assert!(status.is_success(), "{t}");
    let user = s
        .create("/users", json!({"tenant_id": tid, "user_name": format!("ada@{slug}.test"), "password": PASSWORD}))
        .await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "Wiki",
                   "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT_URI], "allowed_scopes": ["openid"]}),
        )
        .await;
    (format!("{}/api/v1/auth/tenants/{slug}", s.base), app, user["id"].as_str().unwrap().to_owned())
}

async fn required_mfa(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = TestServer::start_with(backend, clock.clone(), |_| {}).await;
    let (issuer, app, user_id) = setup(&s, "mfaco", "required").await;
    let name = "ada@mfaco.test";
    let now = || clock.now().unix_seconds();

    // Required: enrollment before any code, with the QR code and the key.
    let mut login = Login::start(&s.http, &issuer, &app, name).await;
    assert_eq!(step(&login.page), "enroll_totp", "{}", login.page.body);
    assert!(
        login.page.body.contains("class=\"qr\" src=\"data:image&#x2f;svg+xml;base64,"),
        "the QR code is an SVG: {}",
        login.page.body
    );
    let secret = element(&login.page.body, "totp-secret").unwrap();
    let wrong = format!("{:06}", (pyotp(&secret, now()).parse::<u32>().unwrap() + 1) % 1_000_000);
    login.submit(&[("code", &wrong)]).await;
    assert_eq!(step(&login.page), "enroll_totp", "a wrong first code does not enroll");
    login.submit(&[("code", &pyotp(&secret, now()))]).await;
    assert_eq!(step(&login.page), "recovery_codes", "{}", login.page.body);
    let codes: Vec<String> =
        login.page.body.split("<li><code>").skip(1).map(|c| c.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    login.submit(&[]).await;
    let claims = login.claims().await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "2");

    // The code of the enrollment's step cannot be used again within it.
    let mut login = Login::start(&s.http, &issuer, &app, name).await;
    assert_eq!(step(&login.page), "mfa");
    login.submit(&[("code", &pyotp(&secret, now()))]).await;
    assert!(login.page.body.contains("already used"), "replay refused: {}", login.page.body);
    // Next step: a fresh code works.
    clock.advance(30);
    login.submit(&[("code", &pyotp(&secret, now()))]).await;
    assert_eq!(login.claims().await["amr"], json!(["pwd", "otp", "mfa"]));

    // Two steps later: a code two steps old is refused, one a step ahead accepted.
    clock.advance(60);
    let mut login = Login::start(&s.http, &issuer, &app, name).await;
    login.submit(&[("code", &pyotp(&secret, now() - 60))]).await;
    assert!(login.page.body.contains("The code is incorrect."), "{}", login.page.body);
    login.submit(&[("code", &pyotp(&secret, now() + 30))]).await;
    assert_eq!(login.claims().await["amr"], json!(["pwd", "otp", "mfa"]), "±1 step of drift");

    // A recovery code works once.
    clock.advance(90);
    let mut login = Login::start(&s.http, &issuer, &app, name).await;
    login.submit(&[("recovery_code", &codes[3].to_uppercase())]).await;
    assert_eq!(login.claims().await["amr"], json!(["pwd", "otp", "mfa"]));
    let mut login = Login::start(&s.http, &issuer, &app, name).await;
    login.submit(&[("recovery_code", &codes[3])]).await;
    assert!(login.page.body.contains("The code is incorrect."), "a used recovery code is refused");

    // Wrong codes count toward the lockout (5 by default): then even the right code fails.
    for _ in 0..5 {
        login.submit(&[("code", "000000")]).await;
    }
    clock.advance(30);
    login.submit(&[("code", &pyotp(&secret, now()))]).await;
    assert!(login.page.body.contains("The code is incorrect."), "locked: {}", login.page.body);
    let (_, t) = s.admin(Method::GET, &format!("/users/{user_id}"), None).await;
    assert!(t["data"]["id"].is_string());

    // An admin reset removes the factor (audited); the next sign-in enrolls again.
    let (_, factors) = s.admin(Method::GET, &format!("/users/{user_id}/factors"), None).await;
    assert_eq!(factors["data"]["factors"].as_array().unwrap().len(), 1, "{factors}");
    assert_eq!(factors["data"]["recovery_codes_left"], 9);
    assert!(!factors.to_string().contains(&secret), "no secret in the API");
    let (status, reset) = s.admin(Method::DELETE, &format!("/users/{user_id}/factors"), None).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let (_, audit) = s.admin(Method::GET, "/audit-events?action=user.factors.reset", None).await;
    assert!(audit["data"].as_array().unwrap().iter().any(|a| a["target_id"] == user_id.as_str()), "{audit}");
    clock.advance(3600);
    let login = Login::start(&s.http, &issuer, &app, name).await;
    assert_eq!(step(&login.page), "enroll_totp", "{}", login.page.body);
}

async fn optional_mfa(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = TestServer::start_with(backend, clock, |_| {}).await;
    let (issuer, app, _) = setup(&s, "optco", "optional").await;
    let mut login = Login::start(&s.http, &issuer, &app, "ada@optco.test").await;
    assert_eq!(step(&login.page), "enroll_totp");
    assert!(login.page.body.contains("name=\"skip\""), "optional: skippable");
    login.submit(&[("skip", "1")]).await;
    let claims = login.claims().await;
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_required_sqlite() {
    required_mfa(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_required_postgres() {
    required_mfa(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_optional_sqlite() {
    optional_mfa(Backend::Sqlite).await;
}
