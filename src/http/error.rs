//! The admin API's error envelope and the mapping of `AdminError` to it:
//! `{"error": {"code", "message", "details"}, "request_id"}`. Internals are
//! logged once with the request id and never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::admin::AdminError;

use super::request_id;

/// An admin API error, ready to send.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Value::Null }
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such object"),
            AdminError::Unauthenticated => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid bearer token is required")
            }
            AdminError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            AdminError::Invalid(fields) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "the request has invalid fields")
                    .with_details(json!(fields))
            }
            AdminError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            AdminError::Limit { code, message } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            AdminError::Precondition => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the object changed since it was read",
            ),
            AdminError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred")
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        AdminError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"code": self.code, "message": self.message, "details": self.details},
            "request_id": request_id::current(),
        });
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such path")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_admin_error_has_its_status() {
        let cases = [
            (AdminError::NotFound, 404),
            (AdminError::Unauthenticated, 401),
            (AdminError::Forbidden("x"), 403),
            (AdminError::Invalid(vec![]), 422),
            (AdminError::Conflict { code: "c", message: "m" }, 409),
            (AdminError::Limit { code: "c", message: "m".into() }, 422),
            (AdminError::Internal("secret detail".into()), 500),
        ];
        for (e, status) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.status.as_u16(), status);
            assert!(!api.message.contains("secret detail"));
        }
    }
}
