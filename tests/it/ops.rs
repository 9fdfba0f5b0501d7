//! Operations endpoints, request ids, metrics, and the OpenAPI drift check.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both;
use crate::support::TestServer;

async fn health_ready_metrics_and_request_ids(s: TestServer) {
    let r = s.http.get(format!("{}/health", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-request-id").is_some());
    let v: Value = s.http.get(format!("{}/ready", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["status"], "ready");
    // A sane incoming request id is kept; a hostile one is replaced.
    let r = s.http.get(format!("{}/health", s.base)).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = s.http.get(format!("{}/health", s.base)).header("x-request-id", "a b<script>").send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"], "a b<script>");
    // Unknown paths get the envelope.
    let r = s.http.get(format!("{}/nope", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("scaikey_http_requests_total"), "{metrics}");
    assert!(metrics.contains("scaikey_tokens_issued_total"), "{metrics}");
    assert!(metrics.contains("route=\"/health\""));
}
both!(health_ready_metrics_and_request_ids);

/// The served document equals the committed `openapi.json`. After an API
/// change, regenerate it with `UPDATE_OPENAPI=1 cargo test --test it openapi`.
#[tokio::test]
async fn openapi_document_matches_the_committed_copy() {
    let s = TestServer::start(crate::support::Backend::Sqlite).await;
    let served: Value =
        s.http.get(format!("{}/api/v1/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let rendered = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(path).expect("openapi.json is committed");
    assert!(committed == rendered, "openapi.json is out of date: run UPDATE_OPENAPI=1 cargo test --test it openapi");
    for p in [
        "/api/v1/admin/users",
        "/api/v1/admin/users/{id}",
        "/api/v1/admin/groups/{id}/members",
        "/api/v1/platform/oauth/token",
        "/health",
    ] {
        assert!(served["paths"].get(p).is_some(), "{p} documented");
    }
}
