//! NATIVE apps (RFC 8252): private-use schemes and loopback IP redirects
//! registered, `localhost` by name and bare custom schemes refused, a
//! loopback redirect matching whatever port the app asks for at
//! authorization (and the code exchanged on it), everything else exact.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc_flow::{Browser, hidden, pkce_pair, query_param};
use crate::support::{Backend, TestServer};

/// Signs in through the hosted page; returns where the browser is sent back.
async fn authorize(issuer: &str, client_id: &str, redirect_uri: &str, challenge: &str) -> Result<String, String> {
    let mut b = Browser::new();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let r = b.get(&format!("{issuer}/oauth/authorize?{q}")).await;
    let Some(login) = r.location.filter(|_| r.status == StatusCode::SEE_OTHER) else { return Err(r.body) };
    let mut page = b.get(&login).await;
    for field in [("username", "ada@native.test"), ("password", "Correct-horse-9")] {
        let form = [
            ("request", hidden(&page.body, "request").unwrap()),
            ("csrf_token", hidden(&page.body, "csrf_token").unwrap()),
            (field.0, field.1.to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        page = b.post(&format!("{issuer}/login"), &form).await;
    }
    page.location.filter(|_| page.status == StatusCode::SEE_OTHER).ok_or(page.body)
}

async fn native_redirects(s: TestServer) {
    let (_, tenant) = s.partner_and_tenant("native").await;
    let tid = tenant["id"].as_str().unwrap();
    s.create("/users", json!({"tenant_id": tid, "user_name": "ada@native.test", "password": "Correct-horse-9"})).await;
    let app = |uris: Value| {
        json!({"tenant_id": tid, "scope": "TENANT", "type": "NATIVE", "name": "Drive desktop",
                                   "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": uris,
                                   "allowed_scopes": ["openid"]})
    };
    for (uris, why) in [
        (json!(["http://localhost/callback"]), "localhost"),
        (json!(["myapp:/callback"]), "reverse domain"),
        (json!(["http://drive.example.com/callback"]), "https"),
    ] {
        let (status, body) = s.admin(Method::POST, "/applications", Some(app(uris))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains(why), "{body}");
    }
    let native =
        s.create("/applications", app(json!(["com.example.drive:/oauth/callback", "http://127.0.0.1/callback"]))).await;
    let client_id = native["client_id"].as_str().unwrap();
    let issuer = format!("{}/api/v1/auth/tenants/native", s.base);

    // A loopback redirect on the port the app listens on, and the code exchanged there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let loopback = format!("http://127.0.0.1:{port}/callback");
    let (verifier, challenge) = pkce_pair();
    let back = authorize(&issuer, client_id, &loopback, &challenge).await.unwrap();
    assert!(back.starts_with(&format!("{loopback}?code=")), "{back}");
    let tokens: Value = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &query_param(&back, "code").unwrap()),
            ("redirect_uri", &loopback),
            ("client_id", client_id),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");

    // The private-use scheme, exactly.
    let (_, challenge) = pkce_pair();
    let back = authorize(&issuer, client_id, "com.example.drive:/oauth/callback", &challenge).await.unwrap();
    assert!(back.starts_with("com.example.drive:/oauth/callback?code="), "{back}");

    // Anything else is refused before a login page: another path, another
    // loopback address, a scheme path that differs.
    for bad in [
        format!("http://127.0.0.1:{port}/elsewhere"),
        format!("http://[::1]:{port}/callback"),
        "com.example.drive:/oauth/callback2".to_owned(),
    ] {
        let err = authorize(&issuer, client_id, &bad, &challenge).await.unwrap_err();
        assert!(err.contains("not registered"), "{bad}: {err}");
    }
    // A WEB app's redirect stays exact, ports included.
    let web = s
        .create(
            "/applications",
            json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "Wiki",
                   "grant_types": ["authorization_code"], "redirect_uris": ["http://127.0.0.1/cb"], "allowed_scopes": ["openid"]}),
        )
        .await;
    let err =
        authorize(&issuer, web["client_id"].as_str().unwrap(), &format!("http://127.0.0.1:{port}/cb"), &challenge)
            .await
            .unwrap_err();
    assert!(err.contains("not registered"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_app_redirects() {
    native_redirects(TestServer::start(Backend::Sqlite).await).await;
}
