//! Admin API routes. Every resource gets the same five handlers from one
//! generic implementation, registered together with its OpenAPI operations
//! (`openapi::Registry`) so the document cannot drift from the router.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::admin::{self, AdminError, Ctx, Listed, Resource};
use crate::domain::agent::McpAgent;
use crate::domain::application::Application;
use crate::domain::audit::AuditEvent;
use crate::domain::consent::Consent;
use crate::domain::group::{Group, NewMember};
use crate::domain::idp::IdentityProvider;
use crate::domain::ou::OrganizationalUnit;
use crate::domain::partner::Partner;
use crate::domain::role::RoleAssignment;
use crate::domain::scim_token::ScimToken;
use crate::domain::signing_key::SigningKey;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::store::{Page, PageRequest};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::openapi::Registry;
use super::request_id;

/// Every admin resource, registered once for both the router and the OpenAPI document.
pub fn register(reg: &mut Registry) {
    reg.crud::<Partner>(true);
    reg.crud::<Tenant>(true);
    reg.crud::<User>(true);
    reg.crud::<Group>(true);
    reg.crud::<OrganizationalUnit>(true);
    reg.crud::<Application>(true);
    reg.crud::<IdentityProvider>(true);
    reg.crud::<McpAgent>(true);
    reg.crud::<RoleAssignment>(false);
    reg.crud::<Consent>(false);
    reg.crud::<ScimToken>(false);
    reg.read_only::<SigningKey>();
    reg.read_only::<AuditEvent>();
    reg.read_only::<crate::domain::sync_run::SyncRun>();
    reg.read_only::<crate::domain::webhook::Delivery>();
    reg.extra_admin_operations();
}

pub fn routes() -> Router<AppState> {
    let mut reg = Registry::default();
    register(&mut reg);
    reg.router
        .route("/groups/{id}/members", get(list_members).post(add_member))
        .route("/groups/{id}/members/{member_id}", axum::routing::delete(remove_member))
        .route("/applications/{id}/secret", post(rotate_secret))
        .route("/identity-providers/{id}/test", post(test_idp))
        .route("/identity-providers/{id}/sync", post(start_sync))
        .route("/signing-keys/rotate", post(rotate_keys))
        .route("/users/{id}/factors", get(list_factors).delete(reset_factors))
        .route("/applications/{id}/webhook-secret", post(rotate_webhook_secret))
        .route("/applications/{id}/webhooks/replay", post(replay_webhooks))
        .route("/webhook-deliveries/{id}/attempts", get(delivery_attempts))
        .route("/webhook-deliveries/{id}/redeliver", post(redeliver))
}

/// A JSON body in the admin envelope's terms: wrong media type → 415,
/// malformed or mistyped JSON (unknown fields included) → 400 with the
/// parser's explanation, over the size limit → 413.
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned> AdminJson<T> {
    fn parse(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.media_type",
                "send the body as application/json",
            ));
        }
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "request.malformed", "the body is not valid JSON for this request")
                .with_details(json!({"reason": e.to_string()}))
        })
    }
}

impl<T: DeserializeOwned + Send> axum::extract::FromRequest<AppState> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", "the request body is too large")
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "request.unreadable", "the request body could not be read")
            }
        })?;
        Self::parse(&headers, &body).map(AdminJson)
    }
}

fn ctx<'a>(svc: &'a AppState, caller: &'a Caller, request_id: &'a str) -> Ctx<'a> {
    Ctx { svc, principal: &caller.0, request_id, now: svc.clock.now() }
}

/// `?limit=` (1–200, default 50) and `?cursor=` (opaque).
pub fn page_request(query: &[(String, String)]) -> Result<PageRequest, ApiError> {
    let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
    let limit = match get("limit") {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => return Err(AdminError::field("limit", "must be 1 to 200").into()),
        },
    };
    let after = match get("cursor") {
        None | Some("") => None,
        Some(c) => {
            let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| AdminError::field("cursor", "is not a valid cursor"))?;
            Some(String::from_utf8(bytes).map_err(|_| AdminError::field("cursor", "is not a valid cursor"))?)
        }
    };
    Ok(PageRequest { limit, after })
}

fn page_body<T: serde::Serialize>(page: Page<T>) -> Json<Value> {
    let cursor = page.next_cursor.map(|c| URL_SAFE_NO_PAD.encode(c));
    Json(json!({"data": page.items, "next_cursor": cursor}))
}

pub async fn list<R: Listed>(
    State(svc): State<AppState>,
    caller: Caller,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    let page = page_request(&query)?;
    Ok(page_body(admin::list::<R>(&ctx(&svc, &caller, &rid), &query, page).await?))
}

pub async fn read<R: Listed>(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::get::<R>(&ctx(&svc, &caller, &rid), &id).await?})))
}

pub async fn create<R: Resource>(
    State(svc): State<AppState>,
    caller: Caller,
    AdminJson(body): AdminJson<R::Create>,
) -> Result<Response, ApiError> {
    let rid = request_id::current();
    let v = admin::create::<R>(&ctx(&svc, &caller, &rid), body).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": v}))).into_response())
}

pub async fn update<R: Resource>(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<R::Patch>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::update::<R>(&ctx(&svc, &caller, &rid), &id, body).await?})))
}

pub async fn remove<R: Resource>(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let rid = request_id::current();
    admin::delete::<R>(&ctx(&svc, &caller, &rid), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    let page = page_request(&query)?;
    Ok(page_body(admin::groups::list_members(&ctx(&svc, &caller, &rid), &id, page).await?))
}

async fn add_member(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<NewMember>,
) -> Result<Response, ApiError> {
    let rid = request_id::current();
    let v = admin::groups::add_member(&ctx(&svc, &caller, &rid), &id, body).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": v}))).into_response())
}

async fn remove_member(
    State(svc): State<AppState>,
    caller: Caller,
    Path((id, member_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let rid = request_id::current();
    admin::groups::remove_member(&ctx(&svc, &caller, &rid), &id, &member_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_secret(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::applications::rotate_secret(&ctx(&svc, &caller, &rid), &id).await?})))
}

async fn test_idp(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::identity_providers::test(&ctx(&svc, &caller, &rid), &id).await?})))
}

async fn start_sync(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rid = request_id::current();
    // The body is optional: no body starts the default mode.
    let input: crate::domain::sync_run::StartSync =
        if body.is_empty() { Default::default() } else { AdminJson::parse(&headers, &body)? };
    let (idp, started) = admin::sync::start(&ctx(&svc, &caller, &rid), &id, input).await?;
    let run = started.run.clone();
    tokio::spawn(crate::sync::engine::execute(svc.clone(), idp, started, None));
    Ok((StatusCode::ACCEPTED, Json(json!({"data": run}))).into_response())
}

async fn rotate_keys(
    State(svc): State<AppState>,
    caller: Caller,
    AdminJson(body): AdminJson<admin::misc::RotateKeys>,
) -> Result<Response, ApiError> {
    let rid = request_id::current();
    let keys = admin::misc::rotate_keys(&ctx(&svc, &caller, &rid), body).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": keys}))).into_response())
}

async fn rotate_webhook_secret(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::webhooks::rotate_secret(&ctx(&svc, &caller, &rid), &id).await?})))
}

async fn replay_webhooks(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AdminJson(body): AdminJson<admin::webhooks::Replay>,
) -> Result<Response, ApiError> {
    let rid = request_id::current();
    let v = admin::webhooks::replay(&ctx(&svc, &caller, &rid), &id, body).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"data": v}))).into_response())
}

async fn delivery_attempts(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::webhooks::attempts(&ctx(&svc, &caller, &rid), &id).await?})))
}

async fn redeliver(State(svc): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let rid = request_id::current();
    let v = admin::webhooks::redeliver(&ctx(&svc, &caller, &rid), &id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"data": v}))).into_response())
}

async fn list_factors(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::factors::list(&ctx(&svc, &caller, &rid), &id).await?})))
}

async fn reset_factors(
    State(svc): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rid = request_id::current();
    Ok(Json(json!({"data": admin::factors::reset(&ctx(&svc, &caller, &rid), &id).await?})))
}
