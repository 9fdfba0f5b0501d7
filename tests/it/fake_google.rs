//! A local Google Workspace for directory-sync tests (nobody can reach
//! Google's from here), speaking the Admin SDK Directory API's documented
//! wire format: the service-account token endpoint (RFC 7523 JWT bearer
//! grant; the assertion's RS256 signature checked with the service
//! account's public key, and its `iss`, `sub`, `aud`, `scope`, `exp`),
//! `users`, `groups` and `groups/{id}/members` listings with `maxResults`,
//! `pageToken` / `nextPageToken`, and `403 userRateLimitExceeded` on demand.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub const CLIENT_EMAIL: &str = "scaikey-sync@example-project.iam.gserviceaccount.com";
pub const ADMIN: &str = "admin@example.test";

#[derive(Default)]
pub struct Workspace {
    pub users: BTreeMap<String, Value>,
    /// id → (group JSON, members as (type, id))
    pub groups: BTreeMap<String, (Value, Vec<(String, String)>)>,
    pub page_size: usize,
    /// How many of the next directory calls answer 403 userRateLimitExceeded.
    pub throttle: u32,
    pub throttled_at: Vec<Instant>,
    pub calls: Vec<(Instant, String)>,
    tokens: HashSet<String>,
}

#[derive(Clone)]
struct Shared {
    ws: Arc<Mutex<Workspace>>,
    public_key: Arc<Vec<u8>>,
    token_uri: String,
}

pub struct FakeGoogle {
    pub base: String,
    pub token_uri: String,
    pub ws: Arc<Mutex<Workspace>>,
    /// The key file Google would issue for the service account.
    pub key_file: Value,
}

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let token_uri = format!("{base}/token");
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = key.as_der().unwrap();
        let pem_body = STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = pem_body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
        let key_file = json!({
            "type": "service_account", "project_id": "example-project", "private_key_id": "k1",
            "private_key": pem, "client_email": CLIENT_EMAIL, "client_id": "1234567890",
            "token_uri": token_uri,
        });
        let ws = Arc::new(Mutex::new(Workspace { page_size: 2, ..Default::default() }));
        let shared = Shared {
            ws: ws.clone(),
            public_key: Arc::new(key.public_key().as_ref().to_vec()),
            token_uri: token_uri.clone(),
        };
        let app = Router::new()
            .route("/token", post(token))
            .route("/admin/directory/v1/users", get(users))
            .route("/admin/directory/v1/groups", get(groups))
            .route("/admin/directory/v1/groups/{id}/members", get(members))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGoogle { base, token_uri, ws, key_file }
    }
}

fn invalid_grant(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": why}))).into_response()
}

async fn token(State(s): State<Shared>, Form(f): Form<BTreeMap<String, String>>) -> Response {
    if f.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "unsupported_grant_type"}))).into_response();
    }
    let Some(jwt) = f.get("assertion") else { return invalid_grant("no assertion") };
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return invalid_grant("not a JWT");
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, s.public_key.as_slice());
    if header["alg"] != "RS256" || key.verify(signed.as_bytes(), &signature).is_err() {
        return invalid_grant("Invalid JWT Signature.");
    }
    // The fake plays Google, whose clock is its own (the wall clock).
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let scope = claims["scope"].as_str().unwrap_or("");
    let ok = claims["iss"] == CLIENT_EMAIL
        && claims["sub"] == ADMIN
        && claims["aud"] == s.token_uri.as_str()
        && scope.split(' ').any(|sc| sc == "https://www.googleapis.com/auth/admin.directory.user.readonly")
        && scope.split(' ').any(|sc| sc == "https://www.googleapis.com/auth/admin.directory.group.readonly")
        && claims["exp"].as_i64().is_some_and(|e| e > now && e <= now + 3600 + 5);
    if !ok {
        return invalid_grant("the assertion's claims are wrong");
    }
    let mut ws = s.ws.lock().unwrap();
    let t = format!("ya29.fake-{}", ws.tokens.len() + 1);
    ws.tokens.insert(t.clone());
    Json(json!({"access_token": t, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

fn gate(ws: &mut Workspace, headers: &HeaderMap, what: &str) -> Option<Response> {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| ws.tokens.contains(t)) {
        return Some(
            (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}})))
                .into_response(),
        );
    }
    ws.calls.push((Instant::now(), what.into()));
    if ws.throttle > 0 {
        ws.throttle -= 1;
        ws.throttled_at.push(Instant::now());
        let body = json!({"error": {"code": 403, "message": "Quota exceeded", "status": "PERMISSION_DENIED",
            "errors": [{"reason": "userRateLimitExceeded", "domain": "usageLimits"}]}});
        return Some((StatusCode::FORBIDDEN, Json(body)).into_response());
    }
    None
}

/// One page of `items` under `field`, `pageToken` being the offset.
fn listing(kind: &str, field: &str, items: Vec<Value>, q: &BTreeMap<String, String>, size: usize) -> Response {
    let max: usize = q.get("maxResults").and_then(|m| m.parse().ok()).unwrap_or(100);
    let from: usize = q.get("pageToken").map(|t| t.parse().unwrap()).unwrap_or(0);
    let end = (from + max.min(size)).min(items.len());
    let mut body = json!({"kind": kind, "etag": "\"e\""});
    body[field] = json!(items[from.min(end)..end]);
    if end < items.len() {
        body["nextPageToken"] = json!(end.to_string());
    }
    Json(body).into_response()
}

fn customer_ok(q: &BTreeMap<String, String>) -> bool {
    q.get("customer").map(String::as_str) == Some("my_customer")
}

async fn users(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let mut ws = s.ws.lock().unwrap();
    if let Some(r) = gate(&mut ws, &headers, "users") {
        return r;
    }
    if !customer_ok(&q) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": 400, "message": "Bad Request"}})))
            .into_response();
    }
    let items = ws.users.values().cloned().collect();
    listing("admin#directory#users", "users", items, &q, ws.page_size)
}

async fn groups(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let mut ws = s.ws.lock().unwrap();
    if let Some(r) = gate(&mut ws, &headers, "groups") {
        return r;
    }
    if !customer_ok(&q) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": 400, "message": "Bad Request"}})))
            .into_response();
    }
    let items = ws.groups.values().map(|(g, _)| g.clone()).collect();
    listing("admin#directory#groups", "groups", items, &q, ws.page_size)
}

async fn members(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut ws = s.ws.lock().unwrap();
    if let Some(r) = gate(&mut ws, &headers, "members") {
        return r;
    }
    let Some((_, members)) = ws.groups.get(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "message": "Resource Not Found: groupKey"}})),
        )
            .into_response();
    };
    let items = members
        .iter()
        .map(|(kind, mid)| json!({"kind": "admin#directory#member", "id": mid, "role": "MEMBER", "type": kind, "status": "ACTIVE"}))
        .collect();
    listing("admin#directory#members", "members", items, &q, ws.page_size)
}
