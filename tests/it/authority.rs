//! Authority (SPEC §1, §2): wider admins protected on every write path,
//! user tokens bounded by their app and by consent, one verifier that
//! honours revocation, suspension and a 5 s leeway, refresh tokens that
//! follow the present, atomic lockout, password history and expiry,
//! introspection and audiences limited to the parties of a token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::oidc_flow::{Browser, Fixture, Page, hidden, pkce_pair, query_param, token};
use crate::support::TestServer;

const PASSWORD: &str = "correct horse battery staple";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn user(s: &TestServer, tenant: &Value, name: &str) -> Value {
    let slug = tenant["slug"].as_str().unwrap();
    s.create(
        "/users",
        json!({"tenant_id": tenant["id"], "user_name": format!("{name}@{slug}.test"), "email": format!("{name}@{slug}.test"),
               "password": PASSWORD}),
    )
    .await
}

async fn grant(s: &TestServer, user: &Value, role: &str, partner: Option<&Value>, tenant: Option<&Value>) -> Value {
    let mut body = json!({"user_id": user["id"], "role": role});
    if let Some(p) = partner {
        body["partner_id"] = p["id"].clone();
    }
    if let Some(t) = tenant {
        body["tenant_id"] = t["id"].clone();
    }
    s.create("/role-assignments", body).await
}

async fn scim(
    s: &TestServer,
    token: &str,
    method: Method,
    slug: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s.http.request(method, format!("{}/scim/v2/tenants/{slug}{path}", s.base)).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn replace_password() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "path": "password", "value": "an attacker's new password"}]})
}

async fn wider_admins_are_protected(s: TestServer) {
    let (partner, t) = s.partner_and_tenant("guarded").await;
    let slug = "guarded";
    let sa = user(&s, &t, "root").await;
    let pa = user(&s, &t, "msp").await;
    let ta = user(&s, &t, "boss").await;
    let plain = user(&s, &t, "plain").await;
    grant(&s, &sa, "super_admin", None, None).await;
    let pa_role = grant(&s, &pa, "partner_admin", Some(&partner), None).await;
    grant(&s, &ta, "tenant_admin", None, Some(&t)).await;

    // A tenant admin (an app of the tenant) cannot touch the partner or super admin.
    let tenant_admin = s.tenant_app_token(&t, &["admin:read", "admin:write"]).await;
    for wider in [&sa, &pa] {
        let path = format!("/users/{}", id(wider));
        for body in [
            json!({"password": "an attacker's new password"}),
            json!({"status": "suspended"}),
            json!({"email": "attacker@evil.test"}),
            json!({"user_name": "renamed@guarded.test"}),
        ] {
            let (status, v) = s.call(&tenant_admin, Method::PATCH, &path, Some(body.clone())).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "PATCH {path} {body}: {v}");
            assert_eq!(v["error"]["code"], "forbidden", "{v}");
        }
        let (status, _) = s.call(&tenant_admin, Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "DELETE {path}");
        // What the rule does not protect stays editable.
        let (status, v) = s.call(&tenant_admin, Method::PATCH, &path, Some(json!({"title": "Boss"}))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    // The same actions on a plain user and on a tenant admin of the tenant succeed.
    for ok in [&plain, &ta] {
        let path = format!("/users/{}", id(ok));
        let (status, v) =
            s.call(&tenant_admin, Method::PATCH, &path, Some(json!({"password": "a brand new long password"}))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    // The partner admin's role survived the refused delete.
    let (status, _) = s.admin(Method::GET, &format!("/role-assignments/{}", id(&pa_role)), None).await;
    assert_eq!(status, StatusCode::OK);
    // Refusals are audited.
    let (_, v) = s.admin(Method::GET, &format!("/audit-events?outcome=failure&target_id={}", id(&pa)), None).await;
    let audited = v["data"].as_array().unwrap();
    assert!(audited.iter().any(|e| e["action"] == "user.delete" && e["target_id"] == pa["id"]), "{v}");

    // A SCIM token of the tenant (PATCH, PUT, DELETE, Bulk): same rule.
    let sct = s.create("/scim-tokens", json!({"tenant_id": t["id"], "name": "entra"})).await;
    let scim_token = sct["token"].as_str().unwrap();
    let (status, v) =
        scim(&s, scim_token, Method::PATCH, slug, &format!("/Users/{}", id(&pa)), Some(replace_password())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{v}");
    let put = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "taken@guarded.test", "active": true});
    let (status, v) = scim(&s, scim_token, Method::PUT, slug, &format!("/Users/{}", id(&sa)), Some(put.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, _) = scim(&s, scim_token, Method::DELETE, slug, &format!("/Users/{}", id(&sa)), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let bulk = |target: &Value| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "PATCH", "path": format!("/Users/{}", id(target)), "data": replace_password()},
            {"method": "DELETE", "path": format!("/Users/{}", id(target))}]})
    };
    let (status, v) = scim(&s, scim_token, Method::POST, slug, "/Bulk", Some(bulk(&pa))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let statuses: Vec<&str> =
        v["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["403", "403"], "{v}");
    let (status, v) = scim(&s, scim_token, Method::POST, slug, "/Bulk", Some(bulk(&plain))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let statuses: Vec<&str> =
        v["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["200", "204"], "{v}");
    let (status, _) = s.admin(Method::GET, &format!("/users/{}", id(&pa)), None).await;
    assert_eq!(status, StatusCode::OK, "the partner admin still exists");

    // A partner admin (a PARTNER app) reaches partner admins but not a super admin.
    let papp = s
        .create(
            "/applications",
            json!({"scope": "PARTNER", "partner_id": partner["id"], "type": "SERVICE", "name": "msp automation",
                   "allowed_scopes": ["admin:read", "admin:write"]}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/{slug}", s.base);
    let partner_admin = s
        .client_token(&issuer, papp["client_id"].as_str().unwrap(), papp["client_secret"].as_str().unwrap(), None)
        .await;
    let body = json!({"password": "yet another long password"});
    let (status, _) = s.call(&partner_admin, Method::PATCH, &format!("/users/{}", id(&sa)), Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = s.call(&partner_admin, Method::PATCH, &format!("/users/{}", id(&pa)), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}
both!(wider_admins_are_protected);

/// `{issuer}/oauth/authorize` for `app` with `scope`, PKCE and extra pairs.
fn authorize(f: &Fixture, app: &Value, scope: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", app["client_id"].as_str().unwrap()),
        ("redirect_uri", app["redirect_uris"][0].as_str().unwrap()),
        ("scope", scope),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{}/oauth/authorize?{q}", f.issuer)
}

/// Identifier and password on the login page the authorize redirect led to.
async fn login(b: &mut Browser, f: &Fixture, first: Page, username: &str, password: &str) -> Page {
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let page = b.get(&first.location.unwrap()).await;
    let action = format!("{}/login", f.issuer);
    let req = hidden(&page.body, "request").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("username", username)]).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("password", password)]).await
}

/// Follows a redirect to the consent step and answers it.
async fn consent(b: &mut Browser, f: &Fixture, to_consent: Page, decision: &str) -> Page {
    assert_eq!(to_consent.status, StatusCode::SEE_OTHER, "{}", to_consent.body);
    let location = to_consent.location.unwrap();
    assert!(location.starts_with(&format!("{}/login?request=", f.issuer)), "consent expected: {location}");
    let page = b.get(&location).await;
    assert!(page.body.contains("admin:write") && page.body.contains("value=\"allow\""), "{}", page.body);
    let req = hidden(&page.body, "request").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    b.post(&format!("{}/login", f.issuer), &[("request", &req), ("csrf_token", &csrf), ("decision", decision)]).await
}

async fn exchange(s: &TestServer, f: &Fixture, app: &Value, done: &Page, verifier: &str) -> Value {
    let location = done.location.clone().unwrap();
    let code = query_param(&location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let redirect = app["redirect_uris"][0].as_str().unwrap();
    let (status, v) = token(
        s,
        f,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

async fn userinfo(s: &TestServer, f: &Fixture, token: &str) -> StatusCode {
    s.http.get(format!("{}/oauth/userinfo", f.issuer)).bearer_auth(token).send().await.unwrap().status()
}

async fn admin_app(s: &TestServer, tenant: &Value, name: &str) -> Value {
    s.create(
        "/applications",
        json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": name,
               "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": [format!("https://{name}.test/cb")],
               "allowed_scopes": ["openid", "admin:read", "admin:write", "scim:read"]}),
    )
    .await
}

async fn user_tokens_are_bounded_by_app_and_consent(s: TestServer) {
    let (_, t) = s.partner_and_tenant("bounded").await;
    let (_, other) = s.partner_and_tenant("elsewhere").await;
    let stranger = user(&s, &other, "someone").await;
    let root = user(&s, &t, "root").await;
    grant(&s, &root, "super_admin", None, None).await;
    let f = Fixture {
        issuer: format!("{}/api/v1/auth/tenants/bounded", s.base),
        tenant: t.clone(),
        user: root.clone(),
        web: Value::Null,
        spa: Value::Null,
    };
    let console = admin_app(&s, &t, "console").await;
    let scope = "openid admin:read admin:write scim:read";
    let (verifier, challenge) = pkce_pair();
    let mut b = Browser::new();

    // The password step leads to the consent page, which names the app and scopes.
    let first = b.get(&authorize(&f, &console, scope, &challenge, &[])).await;
    let to_consent = login(&mut b, &f, first, "root@bounded.test", PASSWORD).await;
    let done = consent(&mut b, &f, to_consent, "allow").await;
    let tokens = exchange(&s, &f, &console, &done, &verifier).await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();

    // A super admin through a TENANT app acts on that tenant only.
    let (status, _) = s.call(&at, Method::GET, &format!("/users/{}", id(&stranger)), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.call(&at, Method::GET, &format!("/tenants/{}", id(&other)), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = s.call(&at, Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    let (status, _) = s.call(&at, Method::POST, "/partners", Some(json!({"name": "x"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // With consent remembered, prompt=none works; a second app without it gets consent_required.
    let (_, challenge2) = pkce_pair();
    let r = b.get(&authorize(&f, &console, scope, &challenge2, &[("prompt", "none")])).await;
    let location = r.location.unwrap();
    assert!(query_param(&location, "code").is_some(), "{location}");
    let shadow = admin_app(&s, &t, "shadow").await;
    let r = b.get(&authorize(&f, &shadow, scope, &challenge2, &[("prompt", "none")])).await;
    assert_eq!(query_param(&r.location.unwrap(), "error").as_deref(), Some("consent_required"));
    // Denying consent answers access_denied.
    let r = b.get(&authorize(&f, &shadow, scope, &challenge2, &[])).await;
    let denied = consent(&mut b, &f, r, "deny").await;
    assert_eq!(query_param(&denied.location.unwrap(), "error").as_deref(), Some("access_denied"));
    // An admin revokes the consent: prompt=none needs it again.
    let (_, v) = s.admin(Method::GET, &format!("/consents?user_id={}", id(&root)), None).await;
    let given = v["data"].as_array().unwrap();
    assert_eq!(given.len(), 1, "{v}");
    let (status, _) = s.admin(Method::DELETE, &format!("/consents/{}", id(&given[0])), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let r = b.get(&authorize(&f, &console, scope, &challenge2, &[("prompt", "none")])).await;
    assert_eq!(query_param(&r.location.unwrap(), "error").as_deref(), Some("consent_required"));

    // A revoked token: 401 at the admin API, SCIM and userinfo.
    assert_eq!(userinfo(&s, &f, &at).await, StatusCode::OK);
    let (status, _) = scim(&s, &at, Method::GET, "bounded", "/Users", None).await;
    assert_eq!(status, StatusCode::OK);
    let r = s
        .http
        .post(format!("{}/oauth/revoke", f.issuer))
        .basic_auth(console["client_id"].as_str().unwrap(), Some(console["client_secret"].as_str().unwrap()))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = s.call(&at, Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(scim(&s, &at, Method::GET, "bounded", "/Users", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(userinfo(&s, &f, &at).await, StatusCode::UNAUTHORIZED);

    // A suspended admin's token: 401 everywhere too.
    let boss = user(&s, &t, "boss").await;
    grant(&s, &boss, "tenant_admin", None, Some(&t)).await;
    let mut b2 = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let first = b2.get(&authorize(&f, &console, scope, &challenge, &[])).await;
    let to_consent = login(&mut b2, &f, first, "boss@bounded.test", PASSWORD).await;
    let done = consent(&mut b2, &f, to_consent, "allow").await;
    let tokens = exchange(&s, &f, &console, &done, &verifier).await;
    let boss_at = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, _) = s.call(&boss_at, Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::OK);
    // A tenant admin's user token cannot touch the super admin, but manages plain users.
    let plain = user(&s, &t, "plain").await;
    let body = json!({"password": "an attacker's new password"});
    let (status, v) = s.call(&boss_at, Method::PATCH, &format!("/users/{}", id(&root)), Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, _) = s.call(&boss_at, Method::DELETE, &format!("/users/{}", id(&root)), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = s.call(&boss_at, Method::PATCH, &format!("/users/{}", id(&plain)), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) =
        s.admin(Method::PATCH, &format!("/users/{}", id(&boss)), Some(json!({"status": "suspended"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.call(&boss_at, Method::GET, "/users", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(scim(&s, &boss_at, Method::GET, "bounded", "/Users", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(userinfo(&s, &f, &boss_at).await, StatusCode::UNAUTHORIZED);
}
both!(user_tokens_are_bounded_by_app_and_consent);

/// The admin token re-signed by the server's own key with other times.
fn resigned(s: &TestServer, exp_offset: i64) -> String {
    use base64::Engine;
    let part = s.admin_token.split('.').nth(1).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    let now = s.svc.clock.now().unix_seconds();
    claims["exp"] = json!(now + exp_offset);
    claims["iat"] = json!(now - 600);
    claims["nbf"] = json!(now - 600);
    claims["jti"] = json!(scaikey::ids::random_base36(24));
    let signer = s.svc.keys.signer(scaikey::domain::application::SigningAlg::RS256).unwrap();
    signer.sign_jwt("at+jwt", &claims).unwrap()
}

async fn expiry_leeway_is_five_seconds_at_most(s: TestServer) {
    let (status, v) = s.call(&resigned(&s, -6), Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "6 s past exp: {v}");
    let (status, v) = s.call(&resigned(&s, 30), Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::OK, "a fresh token signed the same way works: {v}");
    // A deleted application's tokens stop working at once.
    let (_, t) = s.partner_and_tenant("gone").await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": t["id"], "scope": "TENANT", "type": "SERVICE", "name": "temp",
                                        "allowed_scopes": ["admin:read"]}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/gone", s.base);
    let at =
        s.client_token(&issuer, app["client_id"].as_str().unwrap(), app["client_secret"].as_str().unwrap(), None).await;
    assert_eq!(s.call(&at, Method::GET, "/users", None).await.0, StatusCode::OK);
    assert_eq!(s.admin(Method::DELETE, &format!("/applications/{}", id(&app)), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(&at, Method::GET, "/users", None).await.0, StatusCode::UNAUTHORIZED);
    // Keys may not sign before every replica reloaded them.
    let (status, v) = s.admin(Method::POST, "/signing-keys/rotate", Some(json!({"activate_in": 0}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Only super admins mark apps first-party.
    let tenant_admin = s.tenant_app_token(&t, &["admin:write"]).await;
    let (status, v) = s
        .call(
            &tenant_admin,
            Method::POST,
            "/applications",
            Some(
                json!({"tenant_id": t["id"], "scope": "TENANT", "type": "SERVICE", "name": "fp", "first_party": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}
both!(expiry_leeway_is_five_seconds_at_most);

async fn web_fixture(s: &TestServer, slug: &str, extra: Value) -> Fixture {
    let f = crate::oidc_flow::fixture(s, slug).await;
    if extra.is_object() {
        let (status, v) = s.admin(Method::PATCH, &format!("/applications/{}", id(&f.web)), Some(extra)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    f
}

async fn code_tokens(s: &TestServer, f: &Fixture, b: &mut Browser, scope: &str) -> Value {
    let (verifier, challenge) = pkce_pair();
    let first = b.get(&authorize(f, &f.web, scope, &challenge, &[])).await;
    let done = match first.location.as_deref() {
        Some(l) if l.contains("code=") => first,
        _ => login(b, f, first, f.user["user_name"].as_str().unwrap(), crate::oidc_flow::PASSWORD).await,
    };
    exchange(s, f, &f.web, &done, &verifier).await
}

async fn refresh(s: &TestServer, f: &Fixture, rt: &str) -> (StatusCode, Value) {
    token(s, f, &f.web, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

async fn refresh_tokens_follow_the_present(s: TestServer) {
    let f = web_fixture(&s, "present", Value::Null).await;
    let other = user(&s, &f.tenant, "other").await;
    let mut b = Browser::new();
    let t = code_tokens(&s, &f, &mut b, "openid profile email groups").await;
    // Scopes the app lost are cut at the next refresh.
    let (status, _) = s
        .admin(
            Method::PATCH,
            &format!("/applications/{}", id(&f.web)),
            Some(json!({"allowed_scopes": ["openid", "profile", "offline_access"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = refresh(&s, &f, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["scope"], "openid profile", "{v}");
    // A user taken out of the app's assignments gets invalid_grant.
    let (status, _) = s
        .admin(Method::PATCH, &format!("/applications/{}", id(&f.web)), Some(json!({"assigned_users": [other["id"]]})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = refresh(&s, &f, v["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"], "invalid_grant");
    let (status, _) =
        s.admin(Method::PATCH, &format!("/applications/{}", id(&f.web)), Some(json!({"assigned_users": []}))).await;
    assert_eq!(status, StatusCode::OK);

    // RP-initiated logout revokes the session's refresh tokens, offline_access ones excepted.
    let mut b = Browser::new();
    let online = code_tokens(&s, &f, &mut b, "openid profile").await;
    let offline = code_tokens(&s, &f, &mut b, "openid offline_access").await;
    let r = b.get(&format!("{}/oauth/logout", f.issuer)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (status, v) = refresh(&s, &f, online["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{v}");
    assert_eq!(userinfo(&s, &f, online["access_token"].as_str().unwrap()).await, StatusCode::UNAUTHORIZED);
    let (status, v) = refresh(&s, &f, offline["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "offline_access outlives the session: {v}");
}
both!(refresh_tokens_follow_the_present);

async fn parallel_wrong_passwords_lock_at_the_threshold(s: TestServer) {
    let f = crate::oidc_flow::fixture(&s, "parallel").await; // lockout threshold 3
    let (_, challenge) = pkce_pair();
    let url = authorize(&f, &f.web, "openid", &challenge, &[]);
    let action = format!("{}/login", f.issuer);
    // Twenty browsers reach the password step, then all submit at once.
    let mut ready = Vec::new();
    for _ in 0..20 {
        let mut b = Browser::new();
        let r = b.get(&url).await;
        let page = b.get(&r.location.unwrap()).await;
        let req = hidden(&page.body, "request").unwrap();
        let csrf = hidden(&page.body, "csrf_token").unwrap();
        let page =
            b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("username", "ada@parallel.test")]).await;
        ready.push((b, req, hidden(&page.body, "csrf_token").unwrap()));
    }
    let attempts = ready.into_iter().map(|(mut b, req, csrf)| {
        let action = action.clone();
        tokio::spawn(async move {
            b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("password", "wrong password!!")]).await.status
        })
    });
    for a in futures_util::future::join_all(attempts).await {
        assert_eq!(a.unwrap(), StatusCode::OK);
    }
    let mut tx = s.svc.store.read(scaikey::store::Scope::Platform).await.unwrap();
    let (failures, locked_until) = tx.lockout_state(f.user["id"].as_str().unwrap()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(locked_until.is_some(), "locked after parallel failures");
    assert_eq!(failures, 0, "failures while locked are not counted");
    // Even the right password is refused while locked.
    let mut b = Browser::new();
    let first = b.get(&url).await;
    let r = login(&mut b, &f, first, "ada@parallel.test", crate::oidc_flow::PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "locked: no redirect");
}
both!(parallel_wrong_passwords_lock_at_the_threshold);

async fn password_history_and_expiry(s: TestServer) {
    let f = crate::oidc_flow::fixture(&s, "aging").await;
    let policy = json!({"settings": {"password_policy": {"min_length": 12, "history": 2, "max_age_days": 30}}});
    let (status, v) = s.admin(Method::PATCH, &format!("/tenants/{}", id(&f.tenant)), Some(policy)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let path = format!("/users/{}", id(&f.user));
    // The current password and the one before it may not come back.
    let (status, v) = s.admin(Method::PATCH, &path, Some(json!({"password": crate::oidc_flow::PASSWORD}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["details"][0]["field"], "password");
    let second = "a second long password";
    assert_eq!(s.admin(Method::PATCH, &path, Some(json!({"password": second}))).await.0, StatusCode::OK);
    let (status, _) = s.admin(Method::PATCH, &path, Some(json!({"password": crate::oidc_flow::PASSWORD}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // An expired password must be changed on a page of the login flow.
    let mut tx = s.svc.store.write(scaikey::store::Scope::Platform).await.unwrap();
    let long_ago = s.svc.clock.now().plus_seconds(-31 * 86_400);
    let args = vec![scaikey::store::Arg::from(f.user["id"].as_str().unwrap()), scaikey::store::Arg::from(long_ago)];
    tx.execute("UPDATE users SET password_changed_at = $2 WHERE id = $1", args).await.unwrap();
    tx.commit().await.unwrap();
    let (verifier, challenge) = pkce_pair();
    let mut b = Browser::new();
    let first = b.get(&authorize(&f, &f.web, "openid", &challenge, &[])).await;
    let page = login(&mut b, &f, first, "ada@aging.test", second).await;
    assert!(page.body.contains("name=\"new_password\""), "{}", page.body);
    let action = format!("{}/login", f.issuer);
    let req = hidden(&page.body, "request").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = b
        .post(
            &action,
            &[("request", &req), ("csrf_token", &csrf), ("new_password", second), ("confirm_password", second)],
        )
        .await;
    assert!(page.body.contains("not used before"), "{}", page.body);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let third = "a third long password";
    let done = b
        .post(
            &action,
            &[("request", &req), ("csrf_token", &csrf), ("new_password", third), ("confirm_password", third)],
        )
        .await;
    exchange(&s, &f, &f.web, &done, &verifier).await;
    let mut b = Browser::new();
    let (_, challenge) = pkce_pair();
    let first = b.get(&authorize(&f, &f.web, "openid", &challenge, &[])).await;
    let r = login(&mut b, &f, first, "ada@aging.test", third).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the new password works and is not expired");
}
both!(password_history_and_expiry);

async fn introspection_and_audiences_stay_with_their_parties(s: TestServer) {
    let f = crate::oidc_flow::fixture(&s, "parties").await;
    let mut b = Browser::new();
    let t = code_tokens(&s, &f, &mut b, "openid").await;
    let at = t["access_token"].as_str().unwrap();
    let nosy = s
        .create(
            "/applications",
            json!({"tenant_id": f.tenant["id"], "scope": "TENANT", "type": "SERVICE", "name": "nosy"}),
        )
        .await;
    let introspect = |app: &Value, token: &str| {
        let req = s
            .http
            .post(format!("{}/oauth/introspect", f.issuer))
            .basic_auth(app["client_id"].as_str().unwrap(), Some(app["client_secret"].as_str().unwrap()))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(introspect(&f.web, at).await["active"], true);
    assert_eq!(introspect(&nosy, at).await, json!({"active": false}));
    assert_eq!(introspect(&nosy, t["refresh_token"].as_str().unwrap()).await, json!({"active": false}));

    // Audiences: the own tenant's apps, or apps that accept the caller.
    let (_, other) = s.partner_and_tenant("foreign").await;
    let api = s
        .create("/applications", json!({"tenant_id": other["id"], "scope": "TENANT", "type": "SERVICE", "name": "api"}))
        .await;
    let ask = |aud: &Value| {
        let req = s
            .http
            .post(format!("{}/oauth/token", f.issuer))
            .basic_auth(nosy["client_id"].as_str().unwrap(), Some(nosy["client_secret"].as_str().unwrap()))
            .form(&[("grant_type", "client_credentials"), ("audience", aud["client_id"].as_str().unwrap())]);
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, v) = ask(&api).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_target")), "{v}");
    let (status, _) = s
        .admin(
            Method::PATCH,
            &format!("/applications/{}", id(&api)),
            Some(json!({"accept_audience_from": [nosy["client_id"]]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = ask(&api).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = ask(&f.web).await;
    assert_eq!(status, StatusCode::OK, "an app of the caller's own tenant: {v}");
    // The audience may introspect the token meant for it.
    assert_eq!(introspect(&f.web, v["access_token"].as_str().unwrap()).await["active"], true);
}
both!(introspection_and_audiences_stay_with_their_parties);

async fn partner_apps_get_cors_on_their_tenants(s: TestServer) {
    let (partner, t) = s.partner_and_tenant("corsy").await;
    s.create(
        "/applications",
        json!({"scope": "PARTNER", "partner_id": partner["id"], "type": "SPA", "name": "msp spa",
               "redirect_uris": ["https://msp.test/cb"], "allowed_origins": ["https://msp.test"],
               "allowed_scopes": ["openid"]}),
    )
    .await;
    let r = s
        .http
        .request(Method::OPTIONS, format!("{}/api/v1/auth/tenants/{}/oauth/token", s.base, t["slug"].as_str().unwrap()))
        .header("origin", "https://msp.test")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()), Some("https://msp.test"));
}
both!(partner_apps_get_cors_on_their_tenants);

/// GLOBAL apps a super admin marks first-party skip the consent page; other
/// GLOBAL apps show it.
async fn first_party_apps_skip_consent(s: TestServer) {
    let (_, t) = s.partner_and_tenant("firstparty").await;
    let boss = user(&s, &t, "boss").await;
    grant(&s, &boss, "tenant_admin", None, Some(&t)).await;
    let global = |name: &str, first_party: bool| {
        json!({"scope": "GLOBAL", "type": "WEB", "name": name, "redirect_uris": [format!("https://{name}.test/cb")],
               "allowed_scopes": ["openid", "admin:read"], "first_party": first_party})
    };
    let console = s.create("/applications", global("console", true)).await;
    let other = s.create("/applications", global("other", false)).await;
    let issuer = format!("{}/api/v1/platform", s.base);
    let f =
        Fixture { issuer: issuer.clone(), tenant: t.clone(), user: boss.clone(), web: Value::Null, spa: Value::Null };
    let sign_in = async |app: &Value| {
        let (_, challenge) = pkce_pair();
        let mut b = Browser::new();
        let r = b.get(&authorize(&f, app, "openid admin:read", &challenge, &[])).await;
        let page = b.get(r.location.as_deref().unwrap()).await;
        let action = format!("{issuer}/login");
        let req = hidden(&page.body, "request").unwrap();
        let csrf = hidden(&page.body, "csrf_token").unwrap();
        let form = [
            ("request", req.as_str()),
            ("csrf_token", &csrf),
            ("tenant", "firstparty"),
            ("username", "boss@firstparty.test"),
        ];
        let page = b.post(&action, &form).await;
        let csrf = hidden(&page.body, "csrf_token").unwrap();
        b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("password", PASSWORD)]).await
    };
    let done = sign_in(&console).await;
    let location = done.location.unwrap();
    assert!(query_param(&location, "code").is_some(), "first-party: straight back with a code: {location}");
    let done = sign_in(&other).await;
    let location = done.location.unwrap();
    assert!(location.starts_with(&format!("{issuer}/login?request=")), "others ask for consent: {location}");
    // The flag is the super admin's to set, and only on GLOBAL apps.
    let (status, v) = s
        .admin(
            Method::POST,
            "/applications",
            Some(json!({"tenant_id": t["id"], "scope": "TENANT", "type": "SERVICE",
                                                          "name": "x", "first_party": true})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["details"][0]["field"], "first_party");
}
both!(first_party_apps_skip_consent);
