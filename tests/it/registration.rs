//! Dynamic client registration (RFC 7591) by the tenant's
//! `client_registration`: off (no endpoint, none in discovery), `public`
//! (public clients only, admin scopes dropped, bad redirects refused in the
//! RFC's error format, the new client signing a user in at once) and
//! `initial_access_token` (an admin:write token of the tenant required;
//! confidential clients get a secret). Registrations are audited with the
//! registration as actor.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestServer;

async fn register(s: &TestServer, issuer: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut req = s.http.post(format!("{issuer}/oauth/register")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn discovery(s: &TestServer, issuer: &str) -> Value {
    s.http.get(format!("{issuer}/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap()
}

async fn set_mode(s: &TestServer, tenant: &Value, mode: &str) {
    let (status, body) = s
        .admin(
            Method::PATCH,
            &format!("/tenants/{}", tenant["id"].as_str().unwrap()),
            Some(json!({"settings": {"client_registration": mode}})),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

async fn registration(s: TestServer) {
    let (_, tenant) = s.partner_and_tenant("mcp").await;
    let issuer = format!("{}/api/v1/auth/tenants/mcp", s.base);
    let native = json!({"client_name": "Claude Desktop", "redirect_uris": ["http://127.0.0.1/callback"],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile admin:write offline_access"});

    // Off by default: no endpoint, nothing advertised.
    assert!(discovery(&s, &issuer).await.get("registration_endpoint").is_none());
    let (status, body) = register(&s, &issuer, None, native.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Public: advertised; a public client registers, without admin scopes.
    set_mode(&s, &tenant, "public").await;
    assert_eq!(discovery(&s, &issuer).await["registration_endpoint"], format!("{issuer}/oauth/register"));
    let (status, client) = register(&s, &issuer, None, native.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    assert!(client["client_id"].is_string() && client.get("client_secret").is_none(), "{client}");
    assert_eq!(client["scope"], "openid profile offline_access");
    assert_eq!(client["application_type"], "native");
    assert_eq!(client["token_endpoint_auth_method"], "none");
    // ...which is a TENANT app that can start a sign-in on a loopback port of its choosing (RFC 8252).
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://127.0.0.1:53127/callback"),
            ("scope", "openid"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{issuer}/oauth/authorize?{q}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(&format!("{issuer}/login?request=")));
    let (_, apps) =
        s.admin(Method::GET, &format!("/applications?tenant_id={}", tenant["id"].as_str().unwrap()), None).await;
    let listed =
        apps["data"].as_array().unwrap().iter().find(|a| a["client_id"] == client["client_id"]).cloned().unwrap();
    assert_eq!((listed["scope"].as_str(), listed["type"].as_str()), (Some("TENANT"), Some("NATIVE")));
    let (_, audit) = s.admin(Method::GET, "/audit-events?action=application.create", None).await;
    let record = audit["data"].as_array().unwrap().iter().find(|a| a["target_id"] == listed["id"]).cloned().unwrap();
    assert_eq!(
        (record["actor_type"].as_str(), record["actor_id"].as_str()),
        (Some("system"), Some("client-registration"))
    );

    // Public mode refuses a confidential client; bad metadata in RFC 7591's words.
    let (status, body) = register(&s, &issuer, None, json!({"redirect_uris": ["https://app.mcp.test/cb"]})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{body}");
    let (status, body) = register(
        &s,
        &issuer,
        None,
        json!({"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")), "{body}");
    let (status, body) = register(&s, &issuer, None, json!({"token_endpoint_auth_method": "none"})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")), "{body}");
    let (status, body) = register(&s, &issuer, None,
        json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{body}");
    let r = s.http.post(format!("{issuer}/oauth/register")).body("not json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // With an initial access token: required, then confidential clients too.
    set_mode(&s, &tenant, "initial_access_token").await;
    let (status, body) = register(&s, &issuer, None, native.clone()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{body}");
    let weak = s.tenant_app_token(&tenant, &["admin:read"]).await;
    assert_eq!(register(&s, &issuer, Some(&weak), native.clone()).await.0, StatusCode::UNAUTHORIZED);
    let token = s.tenant_app_token(&tenant, &["admin:write"]).await;
    let (status, web) = register(
        &s,
        &issuer,
        Some(&token),
        json!({"client_name": "Portal", "redirect_uris": ["https://portal.mcp.test/cb"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    assert!(web["client_secret"].as_str().is_some_and(|s| s.starts_with("sks_")), "{web}");
    assert_eq!(web["client_secret_expires_at"], 0);
    // Another tenant's admin token is not an initial access token here.
    let (_, other) = s.partner_and_tenant("other").await;
    let foreign = s.tenant_app_token(&other, &["admin:write"]).await;
    assert_eq!(register(&s, &issuer, Some(&foreign), native).await.0, StatusCode::UNAUTHORIZED);
}
crate::both!(registration);
