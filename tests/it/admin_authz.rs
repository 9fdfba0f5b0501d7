//! Authorization of the admin API: tenant, partner and platform authority,
//! read versus write scopes, app scope rules and partner limits.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::support::TestServer;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn tenant_admin_sees_only_its_tenant(s: TestServer) {
    let (_, a) = s.partner_and_tenant("alpha").await;
    let (_, b) = s.partner_and_tenant("beta").await;
    let ua = s.create("/users", json!({"tenant_id": id(&a), "user_name": "a@alpha.test"})).await;
    let ub = s.create("/users", json!({"tenant_id": id(&b), "user_name": "b@beta.test"})).await;
    let gb = s.create("/groups", json!({"tenant_id": id(&b), "name": "beta-group"})).await;
    let token = s.tenant_app_token(&a, &["admin:read", "admin:write"]).await;

    // Another tenant's objects are 404, never 403, for every verb.
    for path in [format!("/users/{}", id(&ub)), format!("/tenants/{}", id(&b)), format!("/groups/{}", id(&gb))] {
        let (status, v) = s.call(&token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {v}");
        assert_eq!(v["error"]["code"], "not_found");
        let (status, _) = s.call(&token, Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {path}");
    }
    let (status, _) = s.call(&token, Method::PATCH, &format!("/users/{}", id(&ub)), Some(json!({"title": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = s
        .call(&token, Method::POST, "/users", Some(json!({"tenant_id": id(&b), "user_name": "planted@beta.test"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, _) =
        s.call(&token, Method::POST, &format!("/groups/{}/members", id(&gb)), Some(json!({"user_id": id(&ua)}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Lists hold only its own tenant, even when asked for another.
    let (_, v) = s.call(&token, Method::GET, "/users", None).await;
    assert_eq!(v["data"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![id(&ua)]);
    let (_, v) = s.call(&token, Method::GET, &format!("/users?tenant_id={}", id(&b)), None).await;
    assert!(v["data"].as_array().unwrap().is_empty());
    let (_, v) = s.call(&token, Method::GET, "/tenants", None).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    // It may run its own tenant but not create or delete tenants.
    let (status, _) =
        s.call(&token, Method::PATCH, &format!("/tenants/{}", id(&a)), Some(json!({"name": "Alpha Inc"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.call(&token, Method::POST, "/tenants", Some(json!({"slug": "gamma", "name": "g"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.call(&token, Method::DELETE, &format!("/tenants/{}", id(&a)), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // GLOBAL and PARTNER apps are beyond a tenant's authority.
    let (status, _) = s
        .call(&token, Method::POST, "/applications", Some(json!({"scope": "GLOBAL", "type": "SERVICE", "name": "g"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .call(
            &token,
            Method::POST,
            "/applications",
            Some(json!({"scope": "PARTNER", "partner_id": a["partner_id"], "type": "SERVICE", "name": "p"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .call(&token, Method::POST, "/role-assignments", Some(json!({"user_id": id(&ua), "role": "super_admin"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.call(&token, Method::POST, "/partners", Some(json!({"name": "x"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The refused writes are in the audit log.
    let (_, v) = s.admin(Method::GET, "/audit-events?outcome=failure", None).await;
    assert!(v["data"].as_array().unwrap().len() >= 4, "{v}");
}
both!(tenant_admin_sees_only_its_tenant);

async fn read_scope_cannot_write_and_tokens_are_checked(s: TestServer) {
    let (_, a) = s.partner_and_tenant("readonly").await;
    let token = s.tenant_app_token(&a, &["admin:read"]).await;
    let (status, _) = s.call(&token, Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) =
        s.call(&token, Method::POST, "/users", Some(json!({"tenant_id": id(&a), "user_name": "x@r.test"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "forbidden");
    // A token without admin scopes has no authority at all.
    let none = s.tenant_app_token(&a, &["api:read"]).await;
    let (status, _) = s.call(&none, Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Missing, garbage and tampered tokens are 401 with WWW-Authenticate.
    let r = s.http.get(format!("{}/api/v1/admin/users", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (status, _) = s.call("not.a.token", Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut parts: Vec<String> = s.admin_token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let (status, _) = s.call(&parts.join("."), Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A deleted app's tokens stop working at once.
    let app_list = s.admin(Method::GET, &format!("/applications?tenant_id={}", id(&a)), None).await.1;
    for app in app_list["data"].as_array().unwrap() {
        s.admin(Method::DELETE, &format!("/applications/{}", id(app)), None).await;
    }
    let (status, _) = s.call(&token, Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the verifier refuses tokens of deleted apps");
}
both!(read_scope_cannot_write_and_tokens_are_checked);

async fn partner_admin_and_limits(s: TestServer) {
    let partner = s
        .create("/partners", json!({"name": "Small MSP", "limits": {"max_tenants": 1, "max_users_per_tenant": 2, "max_applications_per_tenant": 1}}))
        .await;
    let papp = s
        .create("/applications", json!({"scope": "PARTNER", "partner_id": id(&partner), "type": "SERVICE", "name": "msp", "allowed_scopes": ["admin:read", "admin:write"]}))
        .await;
    let t1 = s.create("/tenants", json!({"partner_id": id(&partner), "slug": "msp-one", "name": "one"})).await;
    // PARTNER apps use the issuer of any of their partner's tenants.
    let token = s
        .client_token(
            &format!("{}/api/v1/auth/tenants/msp-one", s.base),
            papp["client_id"].as_str().unwrap(),
            papp["client_secret"].as_str().unwrap(),
            None,
        )
        .await;
    let (status, v) = s.call(&token, Method::POST, "/tenants", Some(json!({"slug": "msp-two", "name": "two"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "partner.max_tenants");
    for i in 0..2 {
        let (status, v) = s
            .call(
                &token,
                Method::POST,
                "/users",
                Some(json!({"tenant_id": id(&t1), "user_name": format!("u{i}@msp.test")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    let (status, v) =
        s.call(&token, Method::POST, "/users", Some(json!({"tenant_id": id(&t1), "user_name": "u3@msp.test"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["code"], "partner.max_users_per_tenant");
    let app = json!({"tenant_id": id(&t1), "scope": "TENANT", "type": "SERVICE", "name": "a"});
    let (status, _) = s.call(&token, Method::POST, "/applications", Some(app.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, v) = s.call(&token, Method::POST, "/applications", Some(app)).await;
    assert_eq!(v["error"]["code"], "partner.max_applications_per_tenant", "{status} {v}");
    // A partner admin cannot change its own limits or see other partners.
    let (status, _) = s
        .call(
            &token,
            Method::PATCH,
            &format!("/partners/{}", id(&partner)),
            Some(json!({"limits": {"max_tenants": 100}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, v) = s.call(&token, Method::GET, "/partners", None).await;
    assert_eq!(v["data"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![id(&partner)]);
    let (_, other) = s.partner_and_tenant("elsewhere").await;
    let (status, _) = s.call(&token, Method::GET, &format!("/partners/{}", id(&other)), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A PARTNER app is not served by another partner's tenant issuer.
    let r = s
        .http
        .post(format!("{}/api/v1/auth/tenants/elsewhere/oauth/token", s.base))
        .basic_auth(papp["client_id"].as_str().unwrap(), Some(papp["client_secret"].as_str().unwrap()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
both!(partner_admin_and_limits);
