//! Bad input to the admin API: answered in the error envelope with field
//! details, and nothing written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::support::TestServer;

async fn count(s: &TestServer, path: &str) -> usize {
    s.admin(Method::GET, path, None).await.1["data"].as_array().unwrap().len()
}

fn fields(v: &Value) -> Vec<String> {
    v["error"]["details"]
        .as_array()
        .map(|d| d.iter().map(|f| f["field"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

async fn bad_input_is_refused_with_nothing_written(s: TestServer) {
    let (_, tenant) = s.partner_and_tenant("input").await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    let tenants_before = count(&s, "/tenants").await;
    let users_before = count(&s, "/users").await;
    let url = format!("{}/api/v1/admin/tenants", s.base);

    // Malformed JSON.
    let r = s
        .http
        .post(&url)
        .bearer_auth(&s.admin_token)
        .header("content-type", "application/json")
        .body("{\"slug\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request.malformed");
    assert_eq!(v["request_id"], rid.as_str());
    // Wrong media type.
    let r = s.http.post(&url).bearer_auth(&s.admin_token).body("slug=x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Unknown fields, at the top and nested.
    let (status, v) =
        s.admin(Method::POST, "/tenants", Some(json!({"slug": "ok-slug", "name": "n", "colour": "red"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["details"]["reason"].as_str().unwrap().contains("colour"));
    let (status, _) = s
        .admin(
            Method::POST,
            "/tenants",
            Some(
                json!({"partner_id": tenant["partner_id"], "slug": "ok-slug", "name": "n", "settings": {"mfa": "on"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Oversized body.
    // The server stops reading and closes the connection after answering, so
    // send it on a client of its own: a pooled connection would be left dead.
    let big = json!({"tenant_id": tid, "user_name": "big@input.test", "display_name": "x".repeat(2 * 1024 * 1024)});
    let lone = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let r = lone
        .post(format!("{}/api/v1/admin/users", s.base))
        .bearer_auth(&s.admin_token)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request.too_large");
    // Invalid slug, colour, URL: field-level details.
    let (status, v) = s
        .admin(Method::POST, "/tenants", Some(json!({"partner_id": tenant["partner_id"], "slug": "Bad_Slug", "name": "", "branding": {"primary_color": "red", "logo_url": "ftp://x"}})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let f = fields(&v);
    for field in ["slug", "name", "branding.primary_color", "branding.logo_url"] {
        assert!(f.contains(&field.to_owned()), "{field} in {f:?}");
    }
    // Duplicate slug.
    let (status, v) = s
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({"partner_id": tenant["partner_id"], "slug": "input", "name": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "tenant.slug_taken");
    // Invalid e-mail, weak password, dangling manager.
    let (status, v) = s
        .admin(Method::POST, "/users", Some(json!({"tenant_id": tid, "user_name": "x@input.test", "email": "not-an-email", "manager_id": "usr_0000000000000000000000000"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fields(&v).contains(&"email".to_owned()), "{v}");
    let (status, v) = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"tenant_id": tid, "user_name": "y@input.test", "password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), vec!["password"]);
    let (status, v) = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"tenant_id": tid, "user_name": "z@input.test", "manager_id": "usr_0000000000000000000000000"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), vec!["manager_id"]);
    // Case-insensitive user_name uniqueness.
    s.create("/users", json!({"tenant_id": tid, "user_name": "Dup@input.test"})).await;
    let (status, v) =
        s.admin(Method::POST, "/users", Some(json!({"tenant_id": tid, "user_name": "dup@INPUT.test"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "user.user_name_taken");
    // Application URL rules: exact https redirect URIs, no fragments.
    let (status, v) = s
        .admin(
            Method::POST,
            "/applications",
            Some(json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "w",
                        "redirect_uris": ["http://wiki.input.test/cb", "https://wiki.input.test/cb#frag", "not a url"],
                        "allowed_origins": ["https://wiki.input.test/path"], "allowed_scopes": ["bad scope"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let f = fields(&v);
    for field in ["redirect_uris[0]", "redirect_uris[1]", "redirect_uris[2]", "allowed_origins[0]", "allowed_scopes[0]"]
    {
        assert!(f.contains(&field.to_owned()), "{field} in {f:?}");
    }
    // An unknown IdP type.
    let (status, v) = s
        .admin(
            Method::POST,
            "/identity-providers",
            Some(json!({"tenant_id": tid, "type": "kerberos", "name": "k", "config": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&v), vec!["type"]);

    assert_eq!(count(&s, "/tenants").await, tenants_before);
    assert_eq!(count(&s, "/users").await, users_before + 1, "only the one valid user was written");
}
both!(bad_input_is_refused_with_nothing_written);
