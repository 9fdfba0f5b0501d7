//! The HTTP surface (axum). Handlers are thin: authorize, parse, call a
//! service, map the result. Middleware, outermost first: request id (and the
//! tracing span that carries it), metrics, security headers, body limit.

pub mod account;
pub mod admin;
pub mod auth;
pub mod client_ip;
pub mod device;
pub mod error;
pub mod federation;
pub mod issuer;
pub mod oauth;
pub mod oidc;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod request_id;
pub mod scim;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::app::Services;

pub type AppState = Arc<Services>;

/// Largest request body any endpoint reads (SCIM Bulk will set its own).
pub const BODY_LIMIT: usize = 1024 * 1024;

pub fn router(svc: AppState) -> Router {
    // Metrics recorded before the recorder exists are lost: install it first.
    crate::telemetry::prometheus();
    Router::new()
        .merge(ops::routes())
        .merge(oauth::routes())
        .merge(oidc::routes())
        .merge(account::routes())
        .merge(device::routes())
        .merge(federation::routes())
        .merge(scim::routes())
        .nest("/api/v1/admin", admin::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(track_metrics))
        .layer(middleware::from_fn(request_id::request_id))
        .with_state(svc)
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("scaikey_http_requests_total", &labels).increment(1);
    metrics::histogram!("scaikey_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
