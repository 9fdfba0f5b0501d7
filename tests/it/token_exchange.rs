//! RFC 8693 token exchange: a web app trades its user's token for one aimed
//! at a worker (openid-client drives it), the worker trades that one on to
//! a storage service (`act` nested: worker, then web), and the worker's
//! cached token is still accepted hours later within its lifetime; refused
//! without `token_exchange_allowed`, for a token the caller was never given,
//! beyond the subject's scopes, for another tenant's app, with a forged or
//! client-only subject token, or for an unsupported token type.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use scaikey::clock::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use crate::oidc_flow::{Browser, query_param};
use crate::support::{Backend, TestServer};

const PASSWORD: &str = "Correct-horse-9";
const TE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn app(s: &TestServer, tid: &str, name: &str, extra: Value) -> Value {
    let mut body = json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": name,
        "grant_types": ["authorization_code", "client_credentials", TE], "redirect_uris": [format!("https://{name}.ex.test/cb")],
        "allowed_scopes": ["openid", "profile", "files:read", "files:write"]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    s.create("/applications", body).await
}

async fn exchange(s: &TestServer, issuer: &str, caller: &Value, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut all = vec![("grant_type", TE)];
    all.extend_from_slice(form);
    let r = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(caller["client_id"].as_str().unwrap(), caller["client_secret"].as_str())
        .form(&all)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Ada's access token for `web` through the code flow.
async fn user_token(s: &TestServer, issuer: &str, web: &Value, scope: &str) -> String {
    user_token_of(s, issuer, web, scope, "ada@ex.test").await
}

async fn user_token_of(s: &TestServer, issuer: &str, web: &Value, scope: &str, username: &str) -> String {
    let mut b = Browser::new();
    let (verifier, challenge) = crate::oidc_flow::pkce_pair();
    let redirect = web["redirect_uris"][0].as_str().unwrap();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", web["client_id"].as_str().unwrap()),
            ("redirect_uri", redirect),
            ("scope", scope),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let r = b.get(&format!("{issuer}/oauth/authorize?{q}")).await;
    let mut page = b.get(&r.location.unwrap()).await;
    for (k, v) in [("username", username), ("password", PASSWORD)] {
        let req = crate::oidc_flow::hidden(&page.body, "request").unwrap();
        let csrf = crate::oidc_flow::hidden(&page.body, "csrf_token").unwrap();
        page = b.post(&format!("{issuer}/login"), &[("request", &req), ("csrf_token", &csrf), (k, v)]).await;
    }
    let code = query_param(page.location.as_deref().unwrap_or_else(|| panic!("{}", page.body)), "code").unwrap();
    let r = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(web["client_id"].as_str().unwrap(), web["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    let tokens: Value = r.json().await.unwrap();
    tokens["access_token"].as_str().unwrap_or_else(|| panic!("{tokens}")).to_owned()
}

async fn token_exchange(backend: Backend) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let s = TestServer::start_with(backend, clock.clone(), |_| {}).await;
    let (_, tenant) = s.partner_and_tenant("ex").await;
    let tid = tenant["id"].as_str().unwrap();
    s.admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": "off"}}))).await;
    let user = s.create("/users", json!({"tenant_id": tid, "user_name": "ada@ex.test", "password": PASSWORD})).await;
    let web = app(&s, tid, "web", json!({})).await;
    let worker = app(&s, tid, "worker", json!({"token_exchange_allowed": true, "token_lifetime": 36000})).await;
    let storage =
        app(&s, tid, "storage", json!({"token_exchange_allowed": true, "allowed_scopes": ["files:read"]})).await;
    let closed = app(&s, tid, "closed", json!({})).await;
    let (_, other) = s.partner_and_tenant("other").await;
    let foreign = app(&s, other["id"].as_str().unwrap(), "foreign", json!({"token_exchange_allowed": true})).await;
    let plain = s.create("/applications", json!({"tenant_id": tid, "scope": "TENANT", "type": "WEB", "name": "plain",
        "grant_types": ["authorization_code"], "redirect_uris": ["https://plain.ex.test/cb"], "allowed_scopes": ["openid"]})).await;
    let issuer = format!("{}/api/v1/auth/tenants/ex", s.base);
    let subject = user_token(&s, &issuer, &web, "openid profile files:read files:write").await;

    // The web app exchanges its user's token for the worker (openid-client).
    let cfg = json!({"issuer": issuer, "client_id": web["client_id"], "client_secret": web["client_secret"],
        "redirect_uri": "https://unused.test/cb", "username": "unused", "password": "unused",
        "subject_token": subject, "audience": worker["client_id"], "scope": "files:read files:write"});
    let r = crate::oidc_rp::node_peer("exchange.mjs", &cfg).await;
    assert_eq!(r["issued_token_type"], AT, "{r}");
    assert_eq!(r["token_type"].as_str().map(str::to_lowercase).as_deref(), Some("bearer"));
    let t1 = &r["claims"];
    assert_eq!(t1["sub"], user["id"]);
    assert_eq!(t1["aud"], worker["client_id"]);
    assert_eq!(t1["client_id"], web["client_id"]);
    assert_eq!(t1["act"], json!({"sub": web["client_id"]}));
    assert_eq!(t1["scope"], "files:read files:write");
    assert_eq!(t1["amr"], json!(["pwd"]));
    let t1_token = r["access_token"].as_str().unwrap().to_owned();

    // The worker trades it on to storage: scope cut to what storage allows, act nested.
    let (status, t2) = exchange(
        &s,
        &issuer,
        &worker,
        &[
            ("subject_token", &t1_token),
            ("subject_token_type", AT),
            ("audience", storage["client_id"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    let c2 = claims(t2["access_token"].as_str().unwrap());
    assert_eq!(c2["sub"], user["id"]);
    assert_eq!(c2["aud"], storage["client_id"]);
    assert_eq!(c2["scope"], "files:read");
    assert_eq!(c2["act"], json!({"sub": worker["client_id"], "act": {"sub": web["client_id"]}}), "{c2}");
    assert!(t2.get("refresh_token").is_none() && t2.get("id_token").is_none());

    // An actor token names the actor instead of the caller.
    let actor = s
        .client_token(&issuer, worker["client_id"].as_str().unwrap(), worker["client_secret"].as_str().unwrap(), None)
        .await;
    let (status, t3) = exchange(
        &s,
        &issuer,
        &worker,
        &[
            ("subject_token", &t1_token),
            ("subject_token_type", AT),
            ("audience", storage["client_id"].as_str().unwrap()),
            ("actor_token", &actor),
            ("actor_token_type", AT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t3}");
    assert_eq!(claims(t3["access_token"].as_str().unwrap())["act"]["sub"], worker["client_id"]);

    // The worker caches its token and uses it hours later, within its own
    // lifetime (the worker's, not the subject token's): storage still accepts it.
    assert_eq!(t2["expires_in"], 36000);
    clock.advance(3 * 3600);
    let r = s
        .http
        .post(format!("{issuer}/oauth/introspect"))
        .basic_auth(storage["client_id"].as_str().unwrap(), storage["client_secret"].as_str())
        .form(&[("token", t2["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let seen: Value = r.json().await.unwrap();
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], user["id"]);

    // Refusals.
    let storage_id = storage["client_id"].as_str().unwrap();
    let refused = |form: Vec<(&'static str, String)>, caller: Value, expected: &'static str| {
        let (s, issuer) = (&s, issuer.clone());
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = exchange(s, &issuer, &caller, &form).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(expected)), "{body}");
        }
    };
    let fresh = user_token(&s, &issuer, &web, "openid files:read").await;
    // The target does not accept exchanged tokens.
    refused(
        vec![
            ("subject_token", fresh.clone()),
            ("subject_token_type", AT.into()),
            ("audience", closed["client_id"].as_str().unwrap().into()),
        ],
        web.clone(),
        "invalid_target",
    )
    .await;
    // No audience, two audiences, an unknown one.
    refused(vec![("subject_token", fresh.clone()), ("subject_token_type", AT.into())], web.clone(), "invalid_target")
        .await;
    refused(
        vec![("subject_token", fresh.clone()), ("subject_token_type", AT.into()), ("audience", "nope".into())],
        web.clone(),
        "invalid_target",
    )
    .await;
    // A scope the subject token never had.
    refused(
        vec![
            ("subject_token", fresh.clone()),
            ("subject_token_type", AT.into()),
            ("audience", storage_id.into()),
            ("scope", "files:write".into()),
        ],
        web.clone(),
        "invalid_scope",
    )
    .await;
    // Storage was never given this token: it cannot exchange it.
    let storage_caller = storage.clone();
    refused(
        vec![
            ("subject_token", fresh.clone()),
            ("subject_token_type", AT.into()),
            ("audience", worker["client_id"].as_str().unwrap().into()),
        ],
        storage_caller,
        "invalid_grant",
    )
    .await;
    // A forged token, a client's own token, an unsupported type, a refresh-token request type.
    // The payload changed (another user), the signature kept.
    let parts: Vec<&str> = fresh.split('.').collect();
    let mut payload = claims(&fresh);
    payload["sub"] = json!("usr_someoneelse00000000000000");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload.to_string()),
        parts[2]
    );
    refused(
        vec![("subject_token", forged), ("subject_token_type", AT.into()), ("audience", storage_id.into())],
        web.clone(),
        "invalid_grant",
    )
    .await;
    let own =
        s.client_token(&issuer, web["client_id"].as_str().unwrap(), web["client_secret"].as_str().unwrap(), None).await;
    refused(
        vec![("subject_token", own), ("subject_token_type", AT.into()), ("audience", storage_id.into())],
        web.clone(),
        "invalid_grant",
    )
    .await;
    refused(
        vec![
            ("subject_token", fresh.clone()),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2".into()),
            ("audience", storage_id.into()),
        ],
        web.clone(),
        "invalid_request",
    )
    .await;
    refused(
        vec![
            ("subject_token", fresh.clone()),
            ("subject_token_type", AT.into()),
            ("audience", storage_id.into()),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token".into()),
        ],
        web.clone(),
        "invalid_request",
    )
    .await;

    // An app of another tenant cannot be the target.
    refused(
        vec![
            ("subject_token", fresh.clone()),
            ("subject_token_type", AT.into()),
            ("audience", foreign["client_id"].as_str().unwrap().into()),
        ],
        web.clone(),
        "invalid_target",
    )
    .await;

    // A client without the grant registered.
    let (status, body) = exchange(
        &s,
        &issuer,
        &plain,
        &[("subject_token", &fresh), ("subject_token_type", AT), ("audience", storage_id)],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{body}");

    // Discovery advertises the grant.
    let d: Value =
        s.http.get(format!("{issuer}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert!(d["grant_types_supported"].as_array().unwrap().contains(&json!(TE)));
}

/// An MCP agent acting for its owner: it signs in with its own secret,
/// exchanges the owner's token (given to its application) for a target, and
/// gets `sub` = the owner, `act.sub` = the agent, its own scope and lifetime
/// caps; never for another user, never wider; suspended, its tokens stop.
async fn mcp_agent(s: TestServer) {
    let (_, tenant) = s.partner_and_tenant("ex").await;
    let tid = tenant["id"].as_str().unwrap();
    s.admin(Method::PATCH, &format!("/tenants/{tid}"), Some(json!({"settings": {"mfa_policy": "off"}}))).await;
    let ada = s.create("/users", json!({"tenant_id": tid, "user_name": "ada@ex.test", "password": PASSWORD})).await;
    s.create("/users", json!({"tenant_id": tid, "user_name": "bob@ex.test", "password": PASSWORD})).await;
    let client = app(&s, tid, "mcpclient", json!({})).await;
    let storage = app(&s, tid, "storage", json!({"token_exchange_allowed": true})).await;
    let issuer = format!("{}/api/v1/auth/tenants/ex", s.base);
    let (status, agent) = s
        .admin(
            Method::POST,
            "/mcp-agents",
            Some(json!({"tenant_id": tid, "name": "Research assistant",
            "user_id": ada["id"], "application_id": client["id"], "allowed_scopes": ["openid", "files:read"],
            "max_token_lifetime": 600})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let agent = agent["data"].clone();
    let agent_id = agent["id"].as_str().unwrap();
    assert!(agent_id.starts_with("agt_"));
    let secret = agent["client_secret"].as_str().unwrap_or_else(|| panic!("the secret is shown once: {agent}"));
    let creds = json!({"client_id": agent_id, "client_secret": secret});

    let owner = user_token(&s, &issuer, &client, "openid files:read files:write").await;
    let storage_id = storage["client_id"].as_str().unwrap();
    let form = |subject: &str| -> Vec<(&'static str, String)> {
        vec![
            ("subject_token", subject.to_owned()),
            ("subject_token_type", AT.into()),
            ("audience", storage_id.to_owned()),
        ]
    };
    let call = |creds: Value, form: Vec<(&'static str, String)>| {
        let (s, issuer) = (&s, issuer.clone());
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            exchange(s, &issuer, &creds, &form).await
        }
    };
    let (status, t) = call(creds.clone(), form(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], ada["id"]);
    assert_eq!(c["act"], json!({"sub": agent_id}));
    assert_eq!(c["scope"], "openid files:read", "files:write cut: not among the agent's scopes");
    assert_eq!(c["client_id"], client["client_id"]);
    assert_eq!(t["expires_in"], 600, "the agent's lifetime cap");
    let introspect = |token: String| {
        let (s, issuer, storage) = (&s, issuer.clone(), storage.clone());
        async move {
            let r = s
                .http
                .post(format!("{issuer}/oauth/introspect"))
                .basic_auth(storage["client_id"].as_str().unwrap(), storage["client_secret"].as_str())
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["active"].clone()
        }
    };
    let agent_token = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(agent_token.clone()).await, true);

    // Never wider than the agent may, never for another user, only by exchange, only with its secret.
    let mut wider = form(&owner);
    wider.push(("scope", "files:write".into()));
    assert_eq!(call(creds.clone(), wider).await.1["error"], "invalid_scope");
    let bob = user_token_of(&s, &issuer, &client, "openid files:read", "bob@ex.test").await;
    assert_eq!(call(creds.clone(), form(&bob)).await.1["error"], "invalid_grant");
    let (status, body) = call(creds.clone(), vec![("grant_type_override", String::new())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let r = s
        .http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(agent_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    let (status, body) = call(json!({"client_id": agent_id, "client_secret": "ska_wrong"}), form(&owner)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));

    // Suspended: its tokens stop working at once, and it gets no new ones.
    let (status, _) =
        s.admin(Method::PATCH, &format!("/mcp-agents/{agent_id}"), Some(json!({"status": "suspended"}))).await;
    assert!(status.is_success());
    assert_eq!(introspect(agent_token).await, false, "the agent's token is revoked with it");
    assert_eq!(call(creds.clone(), form(&owner)).await.0, StatusCode::UNAUTHORIZED);
    let (_, audit) = s.admin(Method::GET, &format!("/audit-events?target_id={agent_id}"), None).await;
    assert!(!audit["data"].as_array().unwrap().is_empty(), "agent changes are audited: {audit}");
}
crate::both!(mcp_agent);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchange_sqlite() {
    token_exchange(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchange_postgres() {
    token_exchange(Backend::Postgres).await;
}
