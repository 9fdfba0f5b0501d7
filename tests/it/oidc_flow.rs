//! The authorization code flow driven over HTTP by a minimal cookie-keeping
//! browser, and every refusal it must make: redirect_uri exactness, PKCE,
//! code and refresh reuse, forged bearer tokens, CSRF, lockout, suspension
//! and tenant boundaries.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode, redirect};
use serde_json::{Value, json};

use crate::both;
use crate::support::TestServer;

/// A browser: no automatic redirects, a cookie jar.
pub struct Browser {
    http: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap(),
            cookies: HashMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let r = req.header("cookie", self.cookie_header()).send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = r.status();
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        Page { status, location, body: r.text().await.unwrap() }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let req = self.http.get(url);
        self.send(req).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(url).form(form);
        self.send(req).await
    }
}

/// The value of a hidden input in a page.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn pkce_pair() -> (String, String) {
    let verifier = format!("v{}", scaikey::ids::random_base36(60));
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs_digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn aws_lc_rs_digest(b: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref().to_vec()
}

pub struct Fixture {
    pub issuer: String,
    pub tenant: Value,
    pub user: Value,
    pub web: Value,
    pub spa: Value,
}

pub const PASSWORD: &str = "correct horse battery staple";

pub async fn fixture(s: &TestServer, slug: &str) -> Fixture {
    let (_, tenant) = s.partner_and_tenant(slug).await;
    s.admin(
        Method::PATCH,
        &format!("/tenants/{}", tenant["id"].as_str().unwrap()),
        Some(json!({"settings": {"lockout": {"threshold": 3, "duration": 300}}})),
    )
    .await;
    let user = s
        .create(
            "/users",
            json!({"tenant_id": tenant["id"], "user_name": format!("ada@{slug}.test"), "email": format!("ada@{slug}.test"),
                   "given_name": "Ada", "family_name": "Lovelace", "password": PASSWORD}),
        )
        .await;
    let group = s.create("/groups", json!({"tenant_id": tenant["id"], "name": "staff"})).await;
    s.create(&format!("/groups/{}/members", group["id"].as_str().unwrap()), json!({"user_id": user["id"]})).await;
    let web = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": "Wiki",
                   "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://wiki.test/cb"],
                   "logout_uris": ["https://wiki.test/bye"], "allowed_origins": ["https://wiki.test"],
                   "allowed_scopes": ["openid", "profile", "email", "groups", "offline_access"]}),
        )
        .await;
    let spa = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SPA", "name": "Board",
                   "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://board.test/cb"],
                   "allowed_scopes": ["openid", "profile", "offline_access"]}),
        )
        .await;
    Fixture { issuer: format!("{}/api/v1/auth/tenants/{slug}", s.base), tenant, user, web, spa }
}

pub fn authorize_url(f: &Fixture, app: &Value, challenge: Option<&str>, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", app["client_id"].as_str().unwrap()),
        ("redirect_uri", app["redirect_uris"][0].as_str().unwrap()),
        ("scope", "openid profile email groups offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
    ];
    if let Some(c) = challenge {
        pairs.push(("code_challenge", c));
        pairs.push(("code_challenge_method", "S256"));
    }
    pairs.extend_from_slice(extra);
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{}/oauth/authorize?{q}", f.issuer)
}

/// Follows authorize to the login page and signs in; returns the final redirect.
pub async fn sign_in(b: &mut Browser, f: &Fixture, authorize: &str, username: &str, password: &str) -> Page {
    let r = b.get(authorize).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let login = r.location.unwrap();
    assert!(login.starts_with(&format!("{}/login?request=", f.issuer)), "{login}");
    let page = b.get(&login).await;
    assert_eq!(page.status, StatusCode::OK);
    let action = format!("{}/login", f.issuer);
    let (req, csrf) = (hidden(&page.body, "request").unwrap(), hidden(&page.body, "csrf_token").unwrap());
    let page = b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("username", username)]).await;
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("password", password)]).await
}

pub async fn token(s: &TestServer, f: &Fixture, app: &Value, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = s.http.post(format!("{}/oauth/token", f.issuer)).form(form);
    if let Some(secret) = app["client_secret"].as_str() {
        req = req.basic_auth(app["client_id"].as_str().unwrap(), Some(secret));
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn introspect(s: &TestServer, f: &Fixture, token: &str) -> Value {
    let r = s
        .http
        .post(format!("{}/oauth/introspect", f.issuer))
        .basic_auth(f.web["client_id"].as_str().unwrap(), Some(f.web["client_secret"].as_str().unwrap()))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn code_flow_end_to_end(s: TestServer) {
    let f = fixture(&s, "flow").await;
    let mut b = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let done = sign_in(&mut b, &f, &authorize_url(&f, &f.web, Some(&challenge), &[]), "ADA@flow.test", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let back = done.location.unwrap();
    assert!(back.starts_with("https://wiki.test/cb?"), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(f.issuer.as_str()));
    assert!(b.cookies.keys().any(|k| k.starts_with("sk_sid_")), "an SSO session cookie is set");
    let code = query_param(&back, "code").unwrap();
    let (status, t) = token(
        &s,
        &f,
        &f.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://wiki.test/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let at = claims(t["access_token"].as_str().unwrap());
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(at["sub"], f.user["id"]);
    assert_eq!(at["groups"].as_array().unwrap().len(), 1);
    assert_eq!(at["amr"], json!(["pwd"]));
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["aud"], f.web["client_id"]);
    assert!(id["at_hash"].is_string() && id["sid"].is_string() && id["auth_time"].is_i64());
    assert_eq!(id["email"], "ada@flow.test");

    // userinfo, GET and POST.
    let ui: Value = s
        .http
        .get(format!("{}/oauth/userinfo", f.issuer))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["sub"], f.user["id"]);
    assert_eq!(ui["given_name"], "Ada");
    let r = s
        .http
        .post(format!("{}/oauth/userinfo", f.issuer))
        .form(&[("access_token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // SSO: a second authorize completes without the login page; prompt=login forces it.
    let again = b.get(&authorize_url(&f, &f.web, Some(&challenge), &[])).await;
    assert!(again.location.as_deref().unwrap().starts_with("https://wiki.test/cb?code="));
    let forced = b.get(&authorize_url(&f, &f.web, Some(&challenge), &[("prompt", "login")])).await;
    assert!(forced.location.as_deref().unwrap().contains("/login?request="));
    let mut fresh = Browser::new();
    let none = fresh.get(&authorize_url(&f, &f.web, Some(&challenge), &[("prompt", "none")])).await;
    assert_eq!(query_param(none.location.as_deref().unwrap(), "error").as_deref(), Some("login_required"));

    // Refresh rotation and reuse detection.
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let (status, t2) = token(&s, &f, &f.web, &[("grant_type", "refresh_token"), ("refresh_token", &rt1)]).await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    let (status, e) = token(&s, &f, &f.web, &[("grant_type", "refresh_token"), ("refresh_token", &rt1)]).await;
    assert_eq!((status, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (_, e) = token(&s, &f, &f.web, &[("grant_type", "refresh_token"), ("refresh_token", &rt2)]).await;
    assert_eq!(e["error"], "invalid_grant", "the whole family is revoked after reuse");
    assert_eq!(introspect(&s, &f, t2["access_token"].as_str().unwrap()).await["active"], false);

    // Revocation then introspection.
    let code = query_param(again.location.as_deref().unwrap(), "code").unwrap();
    let (_, t3) = token(
        &s,
        &f,
        &f.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://wiki.test/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let at3 = t3["access_token"].as_str().unwrap();
    assert_eq!(introspect(&s, &f, at3).await["active"], true);
    assert_eq!(introspect(&s, &f, t3["refresh_token"].as_str().unwrap()).await["active"], true);
    let r = s
        .http
        .post(format!("{}/oauth/revoke", f.issuer))
        .basic_auth(f.web["client_id"].as_str().unwrap(), Some(f.web["client_secret"].as_str().unwrap()))
        .form(&[("token", at3)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(introspect(&s, &f, at3).await["active"], false);
    let r = s.http.get(format!("{}/oauth/userinfo", f.issuer)).bearer_auth(at3).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let r = s
        .http
        .post(format!("{}/oauth/revoke", f.issuer))
        .basic_auth(f.web["client_id"].as_str().unwrap(), Some(f.web["client_secret"].as_str().unwrap()))
        .form(&[("token", t3["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(introspect(&s, &f, t3["refresh_token"].as_str().unwrap()).await["active"], false);

    // Logout back to a registered logout URI, with state; the session ends.
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", t["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "https://wiki.test/bye"),
            ("state", "bye-1"),
        ])
        .finish();
    let out = b.get(&format!("{}/oauth/logout?{q}", f.issuer)).await;
    assert_eq!(out.location.as_deref(), Some("https://wiki.test/bye?state=bye-1"));
    assert!(!b.cookies.keys().any(|k| k.starts_with("sk_sid_")));
    let after = b.get(&authorize_url(&f, &f.web, Some(&challenge), &[])).await;
    assert!(after.location.as_deref().unwrap().contains("/login?request="), "signed out");
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", t["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "https://evil.test/bye"),
        ])
        .finish();
    let bad = b.get(&format!("{}/oauth/logout?{q}", f.issuer)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.location.is_none());
}
both!(code_flow_end_to_end);

async fn authorize_refusals(s: TestServer) {
    let f = fixture(&s, "refuse").await;
    let mut b = Browser::new();
    let (_, challenge) = pkce_pair();
    // Unknown client or non-exact redirect_uri: an error page, never a redirect.
    for redirect in [
        "https://wiki.test/cb/",
        "https://wiki.test/cb?x=1",
        "https://wiki.test/CB",
        "https://wiki.test/c",
        "https://evil.test/cb",
    ] {
        let url = authorize_url(&f, &f.web, Some(&challenge), &[]).replace(
            "https%3A%2F%2Fwiki.test%2Fcb",
            &url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
        );
        let r = b.get(&url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{redirect}");
        assert!(r.location.is_none(), "{redirect} must not redirect");
        assert!(r.body.contains("redirect_uri"));
    }
    let r = b
        .get(&format!(
            "{}/oauth/authorize?response_type=code&client_id=nope&redirect_uri=https://wiki.test/cb",
            f.issuer
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.location.is_none());
    // SPA without PKCE, and plain PKCE, are refused by redirect.
    let r = b.get(&authorize_url(&f, &f.spa, None, &[])).await;
    let loc = r.location.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(f.issuer.as_str()));
    let r = b
        .get(&authorize_url(&f, &f.spa, None, &[("code_challenge", &challenge), ("code_challenge_method", "plain")]))
        .await;
    assert_eq!(query_param(&r.location.unwrap(), "error").as_deref(), Some("invalid_request"));
    let r = b.get(&authorize_url(&f, &f.web, Some(&challenge), &[("response_type", "token")])).await;
    assert_eq!(
        query_param(&r.location.unwrap(), "error").as_deref(),
        Some("invalid_request"),
        "repeated response_type"
    );
    let r =
        b.get(&authorize_url(&f, &f.web, Some(&challenge), &[]).replace("scope=openid", "scope=admin%3Awrite+x")).await;
    assert!(r.location.is_some());
}
both!(authorize_refusals);

async fn code_and_pkce_misuse(s: TestServer) {
    let f = fixture(&s, "misuse").await;
    let (verifier, challenge) = pkce_pair();
    let mut b = Browser::new();
    let done =
        sign_in(&mut b, &f, &authorize_url(&f, &f.spa, Some(&challenge), &[]), "ada@misuse.test", PASSWORD).await;
    let code = query_param(done.location.as_deref().unwrap(), "code").unwrap();
    let cid = f.spa["client_id"].as_str().unwrap();
    let base = [("grant_type", "authorization_code"), ("client_id", cid), ("redirect_uri", "https://board.test/cb")];
    // Wrong verifier, missing verifier, other redirect_uri.
    let (_, e) = token(
        &s,
        &f,
        &f.spa,
        &[base.as_slice(), &[("code", &code), ("code_verifier", &format!("x{}", &verifier[1..]))]].concat(),
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");
    let (_, e) = token(&s, &f, &f.spa, &[base.as_slice(), &[("code", &code)]].concat()).await;
    assert_eq!(e["error"], "invalid_grant");
    let (_, e) = token(
        &s,
        &f,
        &f.spa,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", cid),
            ("redirect_uri", "https://board.test/cb2"),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");
    // The right exchange works once; a second use revokes what the first issued.
    let (status, t) =
        token(&s, &f, &f.spa, &[base.as_slice(), &[("code", &code), ("code_verifier", &verifier)]].concat()).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert!(t["refresh_token"].is_string(), "offline_access gives an SPA a refresh token");
    let (_, e) =
        token(&s, &f, &f.spa, &[base.as_slice(), &[("code", &code), ("code_verifier", &verifier)]].concat()).await;
    assert_eq!(e["error"], "invalid_grant");
    assert_eq!(introspect(&s, &f, t["access_token"].as_str().unwrap()).await["active"], false);
    let (_, e) = token(
        &s,
        &f,
        &f.spa,
        &[("grant_type", "refresh_token"), ("client_id", cid), ("refresh_token", t["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");
    // Another client cannot use the code.
    let (_, e) = token(
        &s,
        &f,
        &f.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://board.test/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");
}
both!(code_and_pkce_misuse);

async fn forged_tokens_at_userinfo(s: TestServer) {
    let f = fixture(&s, "forged").await;
    let (verifier, challenge) = pkce_pair();
    let mut b = Browser::new();
    let done =
        sign_in(&mut b, &f, &authorize_url(&f, &f.web, Some(&challenge), &[]), "ada@forged.test", PASSWORD).await;
    let code = query_param(done.location.as_deref().unwrap(), "code").unwrap();
    let (_, t) = token(
        &s,
        &f,
        &f.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://wiki.test/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let good = t["access_token"].as_str().unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let kid = header["kid"].as_str().unwrap();
    let mut expired = claims(good);
    expired["exp"] = json!(1_000_000_000);
    // HS256 keyed with the RSA public key (the classic confusion attack).
    let jwks: Value = s.http.get(format!("{}/oauth/jwks", f.issuer)).send().await.unwrap().json().await.unwrap();
    let public = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().to_string();
    let hs_input = format!("{}.{}", b64(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})), parts[1]);
    let hs_sig = {
        let key = aws_lc_rs_hmac(public.as_bytes(), hs_input.as_bytes());
        URL_SAFE_NO_PAD.encode(key)
    };
    let forged = [
        format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})), parts[1]),
        format!("{hs_input}.{hs_sig}"),
        format!("{}.{}.{}", b64(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "unknown-kid"})), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64(&expired), parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        "garbage".to_owned(),
    ];
    for token in forged {
        let r = s.http.get(format!("{}/oauth/userinfo", f.issuer)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    }
    let r = s.http.get(format!("{}/oauth/userinfo", f.issuer)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    // A client_credentials token has no openid scope.
    let r = s
        .http
        .get(format!("{}/oauth/userinfo", s.base.clone() + "/api/v1/platform"))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The genuine token still works.
    let r = s.http.get(format!("{}/oauth/userinfo", f.issuer)).bearer_auth(good).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
both!(forged_tokens_at_userinfo);

fn aws_lc_rs_hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&k, msg).as_ref().to_vec()
}

async fn login_defences(s: TestServer) {
    let f = fixture(&s, "defend").await;
    let (_, challenge) = pkce_pair();
    let action = format!("{}/login", f.issuer);
    // CSRF: a missing or wrong token is refused and nothing advances.
    let mut b = Browser::new();
    let r = b.get(&authorize_url(&f, &f.web, Some(&challenge), &[])).await;
    let page = b.get(r.location.as_deref().unwrap()).await;
    let req = hidden(&page.body, "request").unwrap();
    let r = b.post(&action, &[("request", &req), ("username", "ada@defend.test")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = b.post(&action, &[("request", &req), ("csrf_token", "forged"), ("username", "ada@defend.test")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Another browser (no sk_login cookie) cannot use the request.
    let mut other = Browser::new();
    let r = other.get(&format!("{}/login?request={req}", f.issuer)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Unknown users see the same password page and the same error.
    let done = sign_in(
        &mut Browser::new(),
        &f,
        &authorize_url(&f, &f.web, Some(&challenge), &[]),
        "nobody@defend.test",
        PASSWORD,
    )
    .await;
    assert!(done.body.contains("The username or password is incorrect."));
    // Lockout after three failures: even the right password is then refused.
    for _ in 0..3 {
        let r = sign_in(
            &mut Browser::new(),
            &f,
            &authorize_url(&f, &f.web, Some(&challenge), &[]),
            "ada@defend.test",
            "wrong password!!",
        )
        .await;
        assert!(r.body.contains("The username or password is incorrect."));
    }
    let r = sign_in(
        &mut Browser::new(),
        &f,
        &authorize_url(&f, &f.web, Some(&challenge), &[]),
        "ada@defend.test",
        PASSWORD,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "locked: no redirect");
    assert!(r.body.contains("The username or password is incorrect."));
    // After the lock expires the password works again.
    let mut tx = s.svc.store.write(scaikey::store::Scope::Platform).await.unwrap();
    tx.clear_lockout(f.user["id"].as_str().unwrap()).await.unwrap();
    tx.commit().await.unwrap();
    let r = sign_in(
        &mut Browser::new(),
        &f,
        &authorize_url(&f, &f.web, Some(&challenge), &[]),
        "ada@defend.test",
        PASSWORD,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}
both!(login_defences);

async fn suspension_and_tenant_boundaries(s: TestServer) {
    let f = fixture(&s, "home").await;
    let other = fixture(&s, "away").await;
    let (verifier, challenge) = pkce_pair();
    // A user of tenant "home" cannot sign in on tenant "away".
    let r = sign_in(
        &mut Browser::new(),
        &other,
        &authorize_url(&other, &other.web, Some(&challenge), &[]),
        "ada@home.test",
        PASSWORD,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("The username or password is incorrect."));
    // Sign in, then suspend: refresh is refused, and so is a new login.
    let done =
        sign_in(&mut Browser::new(), &f, &authorize_url(&f, &f.web, Some(&challenge), &[]), "ada@home.test", PASSWORD)
            .await;
    let code = query_param(done.location.as_deref().unwrap(), "code").unwrap();
    let (_, t) = token(
        &s,
        &f,
        &f.web,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://wiki.test/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let (status, _) = s
        .admin(
            Method::PATCH,
            &format!("/users/{}", f.user["id"].as_str().unwrap()),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, e) = token(
        &s,
        &f,
        &f.web,
        &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(e["error"], "invalid_grant");
    let r = s
        .http
        .get(format!("{}/oauth/userinfo", f.issuer))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r =
        sign_in(&mut Browser::new(), &f, &authorize_url(&f, &f.web, Some(&challenge), &[]), "ada@home.test", PASSWORD)
            .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("The username or password is incorrect."));
}
both!(suspension_and_tenant_boundaries);

async fn assignments_and_cors(s: TestServer) {
    let f = fixture(&s, "assign").await;
    let (_, challenge) = pkce_pair();
    let outsider_group = s.create("/groups", json!({"tenant_id": f.tenant["id"], "name": "outsiders"})).await;
    s.admin(
        Method::PATCH,
        &format!("/applications/{}", f.web["id"].as_str().unwrap()),
        Some(json!({"assigned_groups": [outsider_group["id"]]})),
    )
    .await;
    let r = sign_in(
        &mut Browser::new(),
        &f,
        &authorize_url(&f, &f.web, Some(&challenge), &[]),
        "ada@assign.test",
        PASSWORD,
    )
    .await;
    assert_eq!(query_param(r.location.as_deref().unwrap(), "error").as_deref(), Some("access_denied"));
    // Membership through a nested group admits the user.
    let staff = s.admin(Method::GET, &format!("/groups?tenant_id={}", f.tenant["id"].as_str().unwrap()), None).await.1
        ["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "staff")
        .unwrap()
        .clone();
    s.create(&format!("/groups/{}/members", outsider_group["id"].as_str().unwrap()), json!({"group_id": staff["id"]}))
        .await;
    let r = sign_in(
        &mut Browser::new(),
        &f,
        &authorize_url(&f, &f.web, Some(&challenge), &[]),
        "ada@assign.test",
        PASSWORD,
    )
    .await;
    assert!(query_param(r.location.as_deref().unwrap(), "code").is_some());
    // CORS: the app's origin is allowed on the token endpoint, others are not.
    let pre = s
        .http
        .request(Method::OPTIONS, format!("{}/oauth/token", f.issuer))
        .header("origin", "https://wiki.test")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.headers()["access-control-allow-origin"], "https://wiki.test");
    let pre = s
        .http
        .request(Method::OPTIONS, format!("{}/oauth/token", f.issuer))
        .header("origin", "https://evil.test")
        .send()
        .await
        .unwrap();
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    let r = s
        .http
        .post(format!("{}/oauth/token", f.issuer))
        .header("origin", "https://wiki.test")
        .basic_auth(f.web["client_id"].as_str().unwrap(), Some(f.web["client_secret"].as_str().unwrap()))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "skr_nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://wiki.test", "errors are readable by the app too");
}
both!(assignments_and_cors);

async fn platform_issuer_signs_in_users_of_any_tenant(s: TestServer) {
    let f = fixture(&s, "anyorg").await;
    let portal = s
        .create(
            "/applications",
            json!({"scope": "GLOBAL", "type": "WEB", "name": "Portal", "redirect_uris": ["https://portal.test/cb"],
                   "allowed_scopes": ["openid", "email", "offline_access"]}),
        )
        .await;
    let issuer = format!("{}/api/v1/platform", s.base);
    let platform = Fixture {
        issuer: issuer.clone(),
        tenant: Value::Null,
        user: f.user.clone(),
        web: portal.clone(),
        spa: Value::Null,
    };
    let (verifier, challenge) = pkce_pair();
    let mut b = Browser::new();
    let r = b.get(&authorize_url(&platform, &portal, Some(&challenge), &[])).await;
    let page = b.get(r.location.as_deref().unwrap()).await;
    assert!(page.body.contains("name=\"tenant\""), "the platform page asks for the organization");
    let action = format!("{issuer}/login");
    let req = hidden(&page.body, "request").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = b
        .post(
            &action,
            &[("request", &req), ("csrf_token", &csrf), ("tenant", "anyorg"), ("username", "ada@anyorg.test")],
        )
        .await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let done = b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("password", PASSWORD)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let code = query_param(done.location.as_deref().unwrap(), "code").unwrap();
    assert_eq!(query_param(done.location.as_deref().unwrap(), "iss").as_deref(), Some(issuer.as_str()));
    let (status, t) = token(
        &s,
        &platform,
        &portal,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://portal.test/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let at = claims(t["access_token"].as_str().unwrap());
    assert_eq!(at["iss"], issuer.as_str());
    assert_eq!(at["tenant_id"], f.tenant["id"]);
    let ui: Value = s
        .http
        .get(format!("{issuer}/oauth/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["sub"], f.user["id"]);
    let (status, t2) = token(
        &s,
        &platform,
        &portal,
        &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    // An unknown organization behaves like a wrong password.
    let mut b = Browser::new();
    let r = b.get(&authorize_url(&platform, &portal, Some(&challenge), &[])).await;
    let page = b.get(r.location.as_deref().unwrap()).await;
    let req = hidden(&page.body, "request").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = b
        .post(
            &action,
            &[("request", &req), ("csrf_token", &csrf), ("tenant", "no-such-org"), ("username", "ada@anyorg.test")],
        )
        .await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let r = b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("The username or password is incorrect."));
    // A TENANT app is not served by the platform issuer.
    let r = b.get(&authorize_url(&platform, &f.web, Some(&challenge), &[])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
both!(platform_issuer_signs_in_users_of_any_tenant);

/// Two submits of the same login page race (a double click, a replayed
/// form): the password is checked outside the transaction, then the login
/// request is advanced by compare-and-set, so exactly one of them signs in.
async fn one_page_signs_in_once(s: TestServer) {
    let f = fixture(&s, "doubleclick").await;
    let (_, challenge) = pkce_pair();
    let mut b = Browser::new();
    let r = b.get(&authorize_url(&f, &f.web, Some(&challenge), &[])).await;
    let page = b.get(&r.location.unwrap()).await;
    let action = format!("{}/login", f.issuer);
    let req = hidden(&page.body, "request").unwrap();
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("username", "ada@doubleclick.test")]).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let form = [("request", req.as_str()), ("csrf_token", csrf.as_str()), ("password", PASSWORD)];
    let (mut b1, mut b2) = (Browser { http: b.http.clone(), cookies: b.cookies.clone() }, b);
    let (x, y) = tokio::join!(b1.post(&action, &form), b2.post(&action, &form));
    let mut statuses = vec![x.status, y.status];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST], "{}\n{}", x.body, y.body);
    let winner = if x.status == StatusCode::SEE_OTHER { x } else { y };
    assert!(query_param(&winner.location.unwrap(), "code").is_some());
}
both!(one_page_signs_in_once);

/// Many identifier steps at once, more than the database pool has
/// connections: a step that held one connection while waiting for another
/// (the directory-IdP lookup once did) starved the pool until every waiter
/// timed out. Each must reach the password page.
async fn concurrent_sign_ins_never_starve_the_pool(s: TestServer) {
    let f = fixture(&s, "crowd").await;
    let (_, challenge) = pkce_pair();
    let url = authorize_url(&f, &f.web, Some(&challenge), &[]);
    let steps = (0..48).map(|_| {
        let (url, action) = (url.clone(), format!("{}/login", f.issuer));
        async move {
            let mut b = Browser::new();
            let r = b.get(&url).await;
            let page = b.get(&r.location.unwrap()).await;
            let (req, csrf) = (hidden(&page.body, "request").unwrap(), hidden(&page.body, "csrf_token").unwrap());
            b.post(&action, &[("request", &req), ("csrf_token", &csrf), ("username", "ada@crowd.test")]).await
        }
    });
    // Starved, the steps would wait out the pool's acquire timeout (10 s on
    // PostgreSQL, 30 s on SQLite) and fail; unstarved they take about a second.
    let pages = tokio::time::timeout(std::time::Duration::from_secs(20), futures_util::future::join_all(steps))
        .await
        .expect("identifier steps stalled: the pool is starved");
    for page in pages {
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("name=\"password\""), "{}", page.body);
    }
}
both!(concurrent_sign_ins_never_starve_the_pool);
