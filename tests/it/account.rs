//! The account page (`{issuer}/account`) over plain HTTP: reached through
//! the login flow, its app launcher (assigned apps with an
//! `initiate_login_uri`, their logos), a TOTP authenticator added with a
//! code from pyotp, renamed and removed (never the last one where MFA is
//! required), recovery codes regenerated, the password changed, each change
//! audited; and its defences: the CSRF token bound to the session, a fresh
//! sign-in required for changes after `REAUTH_SECONDS`, no page on the
//! platform issuer.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use scaikey::clock::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use crate::oidc_flow::{Browser, Page, hidden};
use crate::support::{Backend, TestServer};

const PASSWORD: &str = "Correct-horse-9";

fn pyotp(secret: &str, t: i64) -> String {
    let out = std::process::Command::new(crate::support::python())
        .args(["-c", "import pyotp,sys; print(pyotp.TOTP(sys.argv[1]).at(int(sys.argv[2])))", secret, &t.to_string()])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "pyotp is required (tests/peers/mfa/requirements.txt)");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn text_of(body: &str, id: &str) -> Option<String> {
    let start = body.find(&format!("id=\"{id}\""))?;
    let rest = &body[start..];
    Some(rest[rest.find('>')? + 1..].split('<').next()?.to_owned())
}

/// Signs in to the account page through the login flow: the page.
async fn sign_in(b: &mut Browser, issuer: &str, username: &str, password: &str) -> Page {
    let r = b.get(&format!("{issuer}/account")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let login = r.location.unwrap();
    assert!(login.starts_with(&format!("{issuer}/login?request=")), "{login}");
    let mut page = b.get(&login).await;
    for (field, value) in [("username", username), ("password", password), ("skip", "1")] {
        if field == "skip" && !page.body.contains("name=\"skip\"") {
            break; // the tenant's optional MFA offers an enrollment: not now
        }
        let form = [
            ("request", hidden(&page.body, "request").unwrap()),
            ("csrf_token", hidden(&page.body, "csrf_token").unwrap()),
            (field, value.to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        page = b.post(&format!("{issuer}/login"), &form).await;
    }
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some(format!("{issuer}/account").as_str()));
    b.get(&format!("{issuer}/account")).await
}

/// Posts an account action with the page's CSRF token.
async fn act(b: &mut Browser, issuer: &str, page: &Page, fields: &[(&str, &str)]) -> Page {
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post(&format!("{issuer}/account"), &form).await
}

fn factor_ids(body: &str) -> Vec<String> {
    body.split("name=\"factor_id\" value=\"").skip(1).map(|r| r.split('"').next().unwrap().to_owned()).collect()
}

async fn audited(s: &TestServer, action: &str, user_id: &str) -> bool {
    let (_, audit) = s.admin(Method::GET, &format!("/audit-events?action={action}"), None).await;
    audit["data"].as_array().unwrap().iter().any(|a| a["target_id"] == user_id)
}

async fn account_page(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = TestServer::start_with(backend, clock.clone(), |_| {}).await;
    let (_, tenant) = s.partner_and_tenant("acct").await;
    let tid = tenant["id"].as_str().unwrap();
    let user = s
        .create(
            "/users",
            json!({"tenant_id": tid, "user_name": "ada@acct.test", "display_name": "Ada L", "password": PASSWORD}),
        )
        .await;
    let uid = user["id"].as_str().unwrap();
    let other = s.create("/users", json!({"tenant_id": tid, "user_name": "bob@acct.test", "password": PASSWORD})).await;
    let app = |name: &str, extra: Value| {
        let mut body = json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": name,
            "redirect_uris": ["https://x.acct.test/cb"], "allowed_scopes": ["openid"]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    s.create(
        "/applications",
        app(
            "Wiki",
            json!({"initiate_login_uri": "https://wiki.acct.test/start",
        "logo_uri": "https://wiki.acct.test/logo.png"}),
        ),
    )
    .await;
    s.create(
        "/applications",
        app(
            "Payroll",
            json!({"initiate_login_uri": "https://pay.acct.test/start",
        "assigned_users": [other["id"]]}),
        ),
    )
    .await;
    s.create("/applications", app("No launcher", json!({}))).await;
    let (status, bad) =
        s.admin(Method::POST, "/applications", Some(app("Bad", json!({"logo_uri": "javascript:alert(1)"})))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let issuer = format!("{}/api/v1/auth/tenants/acct", s.base);

    let mut b = Browser::new();
    let page = sign_in(&mut b, &issuer, "ada@acct.test", PASSWORD).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Ada L</h1>"), "{}", page.body);
    // The launcher: the app open to the tenant, with its logo and iss; not the one assigned to Bob.
    let iss = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>();
    let launch = format!("href=\"https:&#x2f;&#x2f;wiki.acct.test&#x2f;start?iss={iss}\"");
    assert!(page.body.contains(&launch), "{launch} in {}", page.body);
    assert!(page.body.contains("Wiki") && page.body.contains("logo.png"), "{}", page.body);
    assert!(!page.body.contains("Payroll") && !page.body.contains("No launcher"), "{}", page.body);

    // A TOTP authenticator: QR code and key, confirmed by a code (pyotp), with recovery codes.
    let now = || clock.now().unix_seconds();
    let page = act(&mut b, &issuer, &page, &[("action", "totp_start")]).await;
    assert!(page.body.contains("data:image&#x2f;svg+xml;base64,"), "{}", page.body);
    let secret = text_of(&page.body, "totp-secret").unwrap();
    let page = act(&mut b, &issuer, &page, &[("action", "totp_confirm"), ("code", "000000")]).await;
    assert!(page.body.contains("The code is incorrect."), "a wrong first code: {}", page.body);
    let page = act(&mut b, &issuer, &page, &[("action", "totp_confirm"), ("code", &pyotp(&secret, now()))]).await;
    assert!(page.body.contains("Authenticator app added."), "{}", page.body);
    assert_eq!(page.body.matches("<li><code>").count(), 10, "recovery codes shown once with the first factor");
    assert!(audited(&s, "user.factor.enroll", uid).await);
    let ids = factor_ids(&page.body);
    assert_eq!(ids.len(), 2, "rename and remove forms of one factor");

    // Renamed; a name of control characters refused.
    let page =
        act(&mut b, &issuer, &page, &[("action", "rename_factor"), ("factor_id", &ids[0]), ("name", "Phone")]).await;
    assert!(page.body.contains("Renamed.") && page.body.contains("value=\"Phone\""), "{}", page.body);
    let page =
        act(&mut b, &issuer, &page, &[("action", "rename_factor"), ("factor_id", &ids[0]), ("name", "\u{7}")]).await;
    assert!(page.body.contains("Not changed"), "{}", page.body);

    // Recovery codes regenerated: ten new ones, the old count reset.
    let page = act(&mut b, &issuer, &page, &[("action", "regenerate_codes")]).await;
    assert_eq!(page.body.matches("<li><code>").count(), 10);
    assert!(audited(&s, "user.recovery_codes.regenerate", uid).await);

    // Password: the current one is required, the two new ones must agree, then it changes.
    let page = act(
        &mut b,
        &issuer,
        &page,
        &[
            ("action", "change_password"),
            ("current_password", "wrong"),
            ("new_password", "Another-horse-7"),
            ("confirm_password", "Another-horse-7"),
        ],
    )
    .await;
    assert!(page.body.contains("The current password is incorrect."), "{}", page.body);
    let page = act(
        &mut b,
        &issuer,
        &page,
        &[
            ("action", "change_password"),
            ("current_password", PASSWORD),
            ("new_password", "Another-horse-7"),
            ("confirm_password", "Another-horse-8"),
        ],
    )
    .await;
    assert!(page.body.contains("differ"), "{}", page.body);
    let page = act(
        &mut b,
        &issuer,
        &page,
        &[
            ("action", "change_password"),
            ("current_password", PASSWORD),
            ("new_password", "Another-horse-7"),
            ("confirm_password", "Another-horse-7"),
        ],
    )
    .await;
    assert!(page.body.contains("Password changed."), "{}", page.body);

    // Where MFA is required the last factor stays; with it optional it goes.
    let (status, _) =
        s.admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": "required"}}))).await;
    assert!(status.is_success());
    let page = act(&mut b, &issuer, &page, &[("action", "remove_factor"), ("factor_id", &ids[0])]).await;
    assert!(page.body.contains("requires a second factor"), "{}", page.body);
    let (status, _) =
        s.admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": "optional"}}))).await;
    assert!(status.is_success());
    let page = act(&mut b, &issuer, &page, &[("action", "remove_factor"), ("factor_id", &ids[0])]).await;
    assert!(page.body.contains("Removed.") && factor_ids(&page.body).is_empty(), "{}", page.body);
    assert!(audited(&s, "user.factor.remove", uid).await);

    // Another user's factor cannot be removed from this session.
    let mut bob = Browser::new();
    let bob_page = sign_in(&mut bob, &issuer, "bob@acct.test", PASSWORD).await;
    let bob_page = act(&mut bob, &issuer, &bob_page, &[("action", "totp_start")]).await;
    let bob_secret = text_of(&bob_page.body, "totp-secret").unwrap();
    clock.advance(30);
    let bob_page =
        act(&mut bob, &issuer, &bob_page, &[("action", "totp_confirm"), ("code", &pyotp(&bob_secret, now()))]).await;
    let bob_factor = factor_ids(&bob_page.body).remove(0);
    let page = act(&mut b, &issuer, &page, &[("action", "remove_factor"), ("factor_id", &bob_factor)]).await;
    assert!(page.body.contains("That no longer exists."), "{}", page.body);
    let (_, factors) = s.admin(Method::GET, &format!("/users/{}/factors", other["id"].as_str().unwrap()), None).await;
    assert_eq!(factors["data"]["factors"].as_array().unwrap().len(), 1);

    // CSRF: missing, or the token of Bob's session, refused.
    let r = b.post(&format!("{issuer}/account"), &[("action", "regenerate_codes")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let bob_csrf = hidden(&bob_page.body, "csrf_token").unwrap();
    let r = b.post(&format!("{issuer}/account"), &[("action", "regenerate_codes"), ("csrf_token", &bob_csrf)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // After REAUTH_SECONDS the page still shows, but a change asks for a fresh sign-in.
    clock.advance(scaikey::account::REAUTH_SECONDS + 1);
    let page = b.get(&format!("{issuer}/account")).await;
    assert_eq!(page.status, StatusCode::OK);
    let r = act(&mut b, &issuer, &page, &[("action", "regenerate_codes")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location.unwrap().starts_with(&format!("{issuer}/login?request=")));

    // No account page on the platform issuer; a signed-out browser is sent to sign in.
    let r = Browser::new().get(&format!("{}/api/v1/platform/account", s.base)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = Browser::new().post(&format!("{issuer}/account"), &[("action", "regenerate_codes")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_page_sqlite() {
    account_page(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_page_postgres() {
    account_page(Backend::Postgres).await;
}
