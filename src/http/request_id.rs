//! `X-Request-ID`: taken from the request when it is a sane token, otherwise
//! generated; echoed on every response, attached to the tracing span, and
//! available to error bodies through a task-local.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id (empty outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// A new id: this process's random prefix (8 base-36 characters, ~41 bits,
/// so replicas and restarts do not collide) and a counter. Request ids
/// correlate logs; they are not secrets, so a request need not pay a trip to
/// the kernel's random source for one.
fn generate() -> String {
    static PREFIX: LazyLock<String> = LazyLock::new(|| crate::ids::random_base36(8));
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}{:012x}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed))
}

pub async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(generate);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req).instrument(span.clone())).await;
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), "request finished"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_acceptable_and_distinct() {
        let (a, b) = (generate(), generate());
        assert!(acceptable(&a) && acceptable(&b), "{a} {b}");
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(a[..8], b[..8], "one prefix per process");
    }
}
