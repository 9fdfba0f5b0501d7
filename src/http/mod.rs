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

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::header;
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use metrics::{Counter, Histogram};

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
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = method_label(req.method());
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (requests, duration) = request_metrics(method, route, response.status().as_u16());
    requests.increment(1);
    duration.record(start.elapsed().as_secs_f64());
    response
}

/// The request counter and duration histogram of one (method, route,
/// status), registered on first use and kept: the recorder would otherwise
/// build, hash and look up a labelled key with fresh label strings twice per
/// request. Routes are the router's patterns, methods `method_label`'s,
/// statuses ours: the set is bounded.
fn request_metrics(method: &'static str, route: &str, status: u16) -> (Counter, Histogram) {
    type Handles = HashMap<String, Vec<((&'static str, u16), (Counter, Histogram))>>;
    static HANDLES: LazyLock<RwLock<Handles>> = LazyLock::new(Default::default);
    let find =
        |handles: &Handles| handles.get(route)?.iter().find(|(k, _)| *k == (method, status)).map(|(_, h)| h.clone());
    if let Some(found) = HANDLES.read().ok().as_deref().and_then(find) {
        return found;
    }
    let Ok(mut handles) = HANDLES.write() else { return register(method, route, status) };
    if let Some(found) = find(&handles) {
        return found;
    }
    let made = register(method, route, status);
    handles.entry(route.to_owned()).or_default().push(((method, status), made.clone()));
    made
}

fn register(method: &'static str, route: &str, status: u16) -> (Counter, Histogram) {
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    (
        metrics::counter!("scaikey_http_requests_total", &labels),
        metrics::histogram!("scaikey_http_request_duration_seconds", &labels),
    )
}

/// The method as a metric label: the standard ones by name, any other as
/// `OTHER` — a client inventing methods must not mint new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_metric_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        let invented = Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&invented), "OTHER");
    }
}
