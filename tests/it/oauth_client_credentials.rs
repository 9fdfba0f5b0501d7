//! client_credentials on both issuers, checked with an independent library
//! (PyJWT) against the published JWKS, and every refusal the grant has.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::support::TestServer;

fn pyjwt(token: &str, jwks: &str, issuer: &str, audience: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/verify_jwt.py");
    let out = std::process::Command::new(crate::support::python())
        .args([script, token, jwks, issuer, audience])
        .output()
        .expect("the venv's python3 runs (bash tests/prepare.sh installs PyJWT)");
    assert!(out.status.success(), "PyJWT refused the token: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn platform_token_verifies_with_pyjwt(s: TestServer) {
    let issuer = format!("{}/api/v1/platform", s.base);
    let v = pyjwt(&s.admin_token, &format!("{}/.well-known/jwks.json", s.base), &issuer, &s.client_id);
    assert_eq!(v["header"]["typ"], "at+jwt");
    assert_eq!(v["header"]["alg"], "RS256");
    let c = &v["claims"];
    assert_eq!(c["iss"], issuer);
    assert_eq!(c["sub"], s.client_id.as_str());
    assert_eq!(c["client_id"], s.client_id.as_str());
    assert_eq!(c["scope"], "admin:read admin:write");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
    // The issuer's own JWKS path serves the same keys.
    let again = pyjwt(&s.admin_token, &format!("{issuer}/oauth/jwks"), &issuer, &s.client_id);
    assert_eq!(again["claims"], v["claims"]);
}
both!(platform_token_verifies_with_pyjwt);

async fn tenant_issuer_tokens_carry_tenant_claims_and_chosen_alg(s: TestServer) {
    let (partner, tenant) = s.partner_and_tenant("acme").await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SERVICE", "name": "reports",
                   "allowed_scopes": ["api:read", "api:write"], "token_signing_alg": "ES256", "token_lifetime": 600}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/acme", s.base);
    let (id, secret) = (app["client_id"].as_str().unwrap(), app["client_secret"].as_str().unwrap());
    let token = s.client_token(&issuer, id, secret, Some("api:read unknown:scope")).await;
    let v = pyjwt(&token, &format!("{issuer}/oauth/jwks"), &issuer, id);
    assert_eq!(v["header"]["alg"], "ES256");
    let c = &v["claims"];
    assert_eq!(c["tenant_id"], tenant["id"]);
    assert_eq!(c["partner_id"], partner["id"]);
    assert_eq!(c["scope"], "api:read", "requested scopes are cut to allowed_scopes");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);

    // audience names another registered app of the same issuer.
    let target = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SERVICE", "name": "api"}),
        )
        .await;
    let r = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("audience", target["client_id"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let aud = pyjwt(
        body["access_token"].as_str().unwrap(),
        &format!("{issuer}/oauth/jwks"),
        &issuer,
        target["client_id"].as_str().unwrap(),
    );
    assert_eq!(aud["claims"]["aud"], target["client_id"]);
    let r = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("audience", "not-an-app")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_target");
}
both!(tenant_issuer_tokens_carry_tenant_claims_and_chosen_alg);

async fn token_endpoint_refusals(s: TestServer) {
    let (_, tenant) = s.partner_and_tenant("refusals").await;
    let platform = format!("{}/api/v1/platform/oauth/token", s.base);
    let tenant_ep = format!("{}/api/v1/auth/tenants/refusals/oauth/token", s.base);

    // Wrong secret: 401 invalid_client with WWW-Authenticate, no-store.
    let r = s
        .http
        .post(&platform)
        .basic_auth(&s.client_id, Some("sks_wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("www-authenticate").is_some());
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // Unknown client: the same answer.
    let r = s
        .http
        .post(&platform)
        .basic_auth("nobody", Some("x"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // client_secret_post works too.
    let r = s
        .http
        .post(&platform)
        .form(&[("grant_type", "client_credentials"), ("client_id", &s.client_id), ("client_secret", &s.client_secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Both methods at once are refused.
    let r = s
        .http
        .post(&platform)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[("grant_type", "client_credentials"), ("client_secret", &s.client_secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // A GLOBAL app is not served by a tenant issuer.
    let r = s
        .http
        .post(&tenant_ep)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Unsupported grant and missing grant_type.
    let r = s
        .http
        .post(&platform)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
    let r = s
        .http
        .post(&platform)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[("scope", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // Repeated parameters and JSON bodies are refused.
    let r = s
        .http
        .post(&platform)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let r = s
        .http
        .post(&platform)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // A scope the app does not have.
    let r = s
        .http
        .post(&platform)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "scim:write")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");

    // A public (SPA) app has no secret and may not use client_credentials.
    let spa = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SPA", "name": "spa",
                   "redirect_uris": ["https://spa.refusals.test/cb"]}),
        )
        .await;
    assert!(spa.get("client_secret").is_none());
    let r = s
        .http
        .post(&tenant_ep)
        .form(&[("grant_type", "client_credentials"), ("client_id", spa["client_id"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    // Creating a public app with client_credentials is refused up front.
    let (status, body) = s
        .admin(
            Method::POST,
            "/applications",
            Some(json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "NATIVE", "name": "cli",
                        "grant_types": ["client_credentials"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A WEB app that did not register client_credentials may not use it.
    let web = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "WEB", "name": "wiki",
                   "redirect_uris": ["https://wiki.refusals.test/cb"]}),
        )
        .await;
    let r = s
        .http
        .post(&tenant_ep)
        .basic_auth(web["client_id"].as_str().unwrap(), Some(web["client_secret"].as_str().unwrap()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    // An unknown tenant issuer.
    let r = s
        .http
        .post(format!("{}/api/v1/auth/tenants/nope/oauth/token", s.base))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
both!(token_endpoint_refusals);

async fn rotated_secret_replaces_the_old_one(s: TestServer) {
    let (_, tenant) = s.partner_and_tenant("rotate").await;
    let app = s
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SERVICE", "name": "svc"}),
        )
        .await;
    let issuer = format!("{}/api/v1/auth/tenants/rotate", s.base);
    let id = app["client_id"].as_str().unwrap();
    let (status, rotated) =
        s.admin(Method::POST, &format!("/applications/{}/secret", app["id"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["data"]["client_secret"].as_str().unwrap();
    s.client_token(&issuer, id, new_secret, None).await;
    let r = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(id, Some(app["client_secret"].as_str().unwrap()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
both!(rotated_secret_replaces_the_old_one);

async fn discovery_documents_for_both_issuers(s: TestServer) {
    s.partner_and_tenant("disco").await;
    for issuer in [format!("{}/api/v1/platform", s.base), format!("{}/api/v1/auth/tenants/disco", s.base)] {
        for doc in ["openid-configuration", "oauth-authorization-server"] {
            let v: Value =
                s.http.get(format!("{issuer}/.well-known/{doc}")).send().await.unwrap().json().await.unwrap();
            assert_eq!(v["issuer"], issuer.as_str());
            assert_eq!(v["token_endpoint"], format!("{issuer}/oauth/token"));
            assert_eq!(v["jwks_uri"], format!("{issuer}/oauth/jwks"));
            assert!(v["grant_types_supported"].as_array().unwrap().contains(&json!("client_credentials")));
        }
    }
    let jwks: Value =
        s.http.get(format!("{}/.well-known/jwks.json", s.base)).send().await.unwrap().json().await.unwrap();
    let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} published");
    }
    assert!(jwks["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()), "no private parts");
    let r = s
        .http
        .get(format!("{}/api/v1/auth/tenants/nope/.well-known/openid-configuration", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
both!(discovery_documents_for_both_issuers);
