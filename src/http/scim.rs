//! SCIM routes: `{base}/scim/v2/tenants/{slug}/…`. Requests may be
//! `application/scim+json`, `application/json` or `text/json`; answers are
//! `application/scim+json`, errors in the RFC 7644 §3.12 schema.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use scaikey_scim::{CONTENT_TYPE, ScimError};
use serde_json::{Map, Value};

use crate::admin::Ctx;
use crate::scim_server::auth::{self, ScimAuthError, ScimCaller};
use crate::scim_server::filter_sql::ResourceKind;
use crate::scim_server::resources::{Groups, ScimResource, Users};
use crate::scim_server::service::{self, ListQuery, ScimCtx};
use crate::scim_server::{bulk, discovery};

use super::{AppState, request_id};

const PREFIX: &str = "/scim/v2/tenants/{slug}";

pub fn routes() -> Router<AppState> {
    let r = resource_routes::<Groups>(resource_routes::<Users>(Router::new()));
    r.route(&format!("{PREFIX}/Bulk"), post(bulk_h))
        .route(&format!("{PREFIX}/ServiceProviderConfig"), get(spc))
        .route(&format!("{PREFIX}/ResourceTypes"), get(resource_types))
        .route(&format!("{PREFIX}/ResourceTypes/{{id}}"), get(resource_type))
        .route(&format!("{PREFIX}/Schemas"), get(schemas))
        .route(&format!("{PREFIX}/Schemas/{{id}}"), get(schema))
        .route(&format!("{PREFIX}/.search"), post(root_search))
        .route(&format!("{PREFIX}/{{*rest}}"), axum::routing::any(unknown_endpoint))
}

/// The seven routes of a resource type, one generic handler per verb.
fn resource_routes<R: ScimResource>(r: Router<AppState>) -> Router<AppState> {
    let base = format!("{PREFIX}/{}", R::ENDPOINT);
    r.route(&base, get(list::<R>).post(create::<R>)).route(&format!("{base}/.search"), post(search::<R>)).route(
        &format!("{base}/{{id}}"),
        get(get_one::<R>).put(replace::<R>).patch(patch_one::<R>).delete(delete_one::<R>),
    )
}

/// Searching across resource types at the root (RFC 7644 §3.4.3) is not
/// offered: 501, as §3.12 prescribes for unsupported operations.
async fn root_search() -> Response {
    error_response(ScimError::new(
        501,
        "search across resource types is not supported; use /Users/.search or /Groups/.search",
    ))
}

async fn unknown_endpoint() -> Response {
    error_response(ScimError::not_found("no such SCIM endpoint"))
}

pub struct ScimResponse(Response);

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        self.0
    }
}

fn json_response(status: StatusCode, body: &Value, etag: Option<&str>) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(&scaikey_scim::etag::etag(e)).ok()) {
        h.insert(header::ETAG, v);
    }
    r
}

fn error_response(e: ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::to_value(&e).unwrap_or(Value::Null);
    let mut r = json_response(status, &body, None);
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

async fn caller(svc: &AppState, slug: &str, headers: &HeaderMap) -> Result<ScimCaller, Response> {
    let authz = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    auth::authenticate(svc, slug, authz).await.map_err(|e| {
        error_response(match e {
            ScimAuthError::Unauthenticated | ScimAuthError::UnknownTenant => {
                ScimError::new(401, "a valid bearer token for this tenant is required")
            }
            ScimAuthError::Forbidden => ScimError::new(403, "the token does not grant SCIM access to this tenant"),
            ScimAuthError::Server => ScimError::new(500, "an internal error occurred"),
        })
    })
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ScimError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match ct.as_deref() {
        Some("application/scim+json" | "application/json" | "text/json") => {}
        _ => return Err(ScimError::new(415, "send application/scim+json or application/json")),
    }
    serde_json::from_slice(body).map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

macro_rules! with_ctx {
    ($svc:expr, $slug:expr, $headers:expr, |$c:ident| $body:expr) => {{
        let who = match caller(&$svc, &$slug, &$headers).await {
            Ok(w) => w,
            Err(r) => return r,
        };
        let rid = request_id::current();
        let $c = ScimCtx {
            admin: Ctx { svc: &$svc, principal: &who.principal, request_id: &rid, now: $svc.clock.now() },
            tenant_id: who.tenant.id.clone(),
            base: format!("{}/scim/v2/tenants/{}", $svc.base_url(), who.tenant.slug),
        };
        $body
    }};
}

fn query_of(pairs: &[(String, String)]) -> Result<ListQuery, ScimError> {
    ListQuery::from_pairs(&|k: &str| pairs.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone()))
}

fn search_query(body: &Value) -> Result<ListQuery, ScimError> {
    let obj = body.as_object().cloned().unwrap_or_default();
    ListQuery::from_pairs(&|k: &str| match obj.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Array(a)) => Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        _ => None,
    })
}

fn one(r: Result<(Map<String, Value>, String), ScimError>, status: StatusCode, q: Option<&ListQuery>) -> Response {
    match r {
        Ok((m, version)) => {
            let body = match q {
                Some(q) if !q.attributes.is_empty() || !q.excluded.is_empty() => Value::Object(
                    scaikey_scim::projection::project(&m, &q.attributes, &q.excluded, &["id", "schemas", "meta"]),
                ),
                _ => Value::Object(m),
            };
            json_response(status, &body, Some(&version))
        }
        Err(e) => error_response(e),
    }
}

async fn list_of(
    svc: AppState,
    slug: String,
    headers: HeaderMap,
    kind: ResourceKind,
    q: Result<ListQuery, ScimError>,
) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        match q {
            Ok(q) => match service::list(&c, kind, &q).await {
                Ok(v) => json_response(StatusCode::OK, &v, None),
                Err(e) => error_response(e),
            },
            Err(e) => error_response(e),
        }
    })
}

async fn list<R: ScimResource>(
    State(svc): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    list_of(svc, slug, headers, R::KIND, query_of(&q)).await
}

async fn search<R: ScimResource>(
    State(svc): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = parse_body(&headers, &body).and_then(|b| search_query(&b));
    list_of(svc, slug, headers, R::KIND, q).await
}

async fn get_one<R: ScimResource>(
    State(svc): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        match query_of(&q) {
            Ok(q) => one(R::get(&c, &id).await, StatusCode::OK, Some(&q)),
            Err(e) => error_response(e),
        }
    })
}

/// POST: 201 with the resource and `Location` equal to its `meta.location`
/// (RFC 7644 §3.1).
async fn create<R: ScimResource>(
    State(svc): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        let created = match parse_body(&headers, &body) {
            Ok(b) => R::create(&c, &b).await,
            Err(e) => Err(e),
        };
        let location = created
            .as_ref()
            .ok()
            .and_then(|(m, _)| m.get("meta")?.get("location")?.as_str())
            .and_then(|l| HeaderValue::from_str(l).ok());
        let mut r = one(created, StatusCode::CREATED, None);
        if let Some(l) = location {
            r.headers_mut().insert(header::LOCATION, l);
        }
        r
    })
}

async fn replace<R: ScimResource>(
    State(svc): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        match parse_body(&headers, &body) {
            Ok(b) => one(R::replace(&c, &id, &b, if_match(&headers).as_deref()).await, StatusCode::OK, None),
            Err(e) => error_response(e),
        }
    })
}

/// PATCH: 200 with the resource, or 204 with the new version in `ETag`
/// where the resource type says so (groups: RFC 7644 §3.5.2 allows it;
/// Entra expects it).
async fn patch_one<R: ScimResource>(
    State(svc): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        let r = match parse_body(&headers, &body) {
            Ok(b) => R::patch(&c, &id, &b, if_match(&headers).as_deref()).await,
            Err(e) => Err(e),
        };
        match r {
            Ok((_, version)) if R::PATCH_NO_CONTENT => {
                let mut r = StatusCode::NO_CONTENT.into_response();
                if let Ok(v) = HeaderValue::from_str(&scaikey_scim::etag::etag(&version)) {
                    r.headers_mut().insert(header::ETAG, v);
                }
                r
            }
            other => one(other, StatusCode::OK, None),
        }
    })
}

async fn delete_one<R: ScimResource>(
    State(svc): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        match R::delete(&c, &id, if_match(&headers).as_deref()).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => error_response(e),
        }
    })
}

async fn bulk_h(State(svc): State<AppState>, Path(slug): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        if body.len() > discovery::BULK_MAX_PAYLOAD {
            return error_response(ScimError::new(413, "the bulk request is too large"));
        }
        match parse_body(&headers, &body) {
            Ok(b) => match bulk::bulk(&c, &b).await {
                Ok(v) => json_response(StatusCode::OK, &v, None),
                Err(e) => error_response(e),
            },
            Err(e) => error_response(e),
        }
    })
}

async fn spc(State(svc): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    with_ctx!(svc, slug, headers, |c| json_response(StatusCode::OK, &discovery::service_provider_config(&c.base), None))
}

async fn resource_types(State(svc): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    with_ctx!(svc, slug, headers, |c| json_response(
        StatusCode::OK,
        &discovery::list(discovery::resource_types(&c.base)),
        None
    ))
}

async fn resource_type(
    State(svc): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        match discovery::resource_types(&c.base)
            .into_iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id.as_str()))
        {
            Some(r) => json_response(StatusCode::OK, &r, None),
            None => error_response(ScimError::not_found("no such resource type")),
        }
    })
}

async fn schemas(State(svc): State<AppState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    with_ctx!(svc, slug, headers, |c| json_response(
        StatusCode::OK,
        &discovery::list(discovery::schemas(&c.base)),
        None
    ))
}

async fn schema(State(svc): State<AppState>, Path((slug, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    with_ctx!(svc, slug, headers, |c| {
        match discovery::schemas(&c.base).into_iter().find(|r| r.get("id").and_then(Value::as_str) == Some(id.as_str()))
        {
            Some(r) => json_response(StatusCode::OK, &r, None),
            None => error_response(ScimError::not_found("no such schema")),
        }
    })
}
