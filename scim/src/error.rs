//! The SCIM error response (RFC 7644 §3.12): an HTTP status, an optional
//! `scimType` keyword and a human-readable `detail`.
//!
//! On the wire `status` is a string (`"400"`), as the RFC's examples and
//! the Entra ID / Okta clients expect; numbers are accepted when reading so
//! the type also serves as a lenient client. `detail` is shown to the
//! client: never put internal errors in it.

use crate::schemas;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `scimType` keywords of RFC 7644 §3.12, table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    /// The filter syntax was invalid or the filter is not supported.
    InvalidFilter,
    /// The query would return more results than the server allows.
    TooMany,
    /// A value is already in use or reserved (returned with 409).
    Uniqueness,
    /// The change would modify an immutable or read-only attribute.
    Mutability,
    /// The request body was not valid SCIM.
    InvalidSyntax,
    /// The PATCH `path` was invalid or unsupported.
    InvalidPath,
    /// The PATCH `path` matched nothing it could apply to.
    NoTarget,
    /// A value was missing, of the wrong type or otherwise invalid.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request carried sensitive data where it may not (e.g. a URL query).
    Sensitive,
}

impl ScimType {
    /// The wire keyword, e.g. `invalidFilter`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
        }
    }

    /// The HTTP status this keyword goes with: 409 for `uniqueness`, 400
    /// for the rest (RFC 7644 §3.12).
    pub fn status(&self) -> u16 {
        match self {
            Self::Uniqueness => 409,
            _ => 400,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "Wire", try_from = "Wire")]
#[error("SCIM error {status}{}: {detail}", scim_type.map(|t| format!(" ({t})")).unwrap_or_default())]
pub struct ScimError {
    /// The HTTP status code.
    pub status: u16,
    /// The detail keyword, for 400 and 409 responses.
    pub scim_type: Option<ScimType>,
    /// A human-readable explanation for the client.
    pub detail: String,
}

impl ScimError {
    /// An error with `status` and no `scimType`.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self { status, scim_type: None, detail: detail.into() }
    }

    /// An error with a `scimType`, at that keyword's status.
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self { status: scim_type.status(), scim_type: Some(scim_type), detail: detail.into() }
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidSyntax, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidPath, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::NoTarget, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Mutability, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Uniqueness, detail)
    }

    /// 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::TooMany, detail)
    }

    /// 404: the resource does not exist (or belongs to another tenant).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, detail)
    }

    /// 412: `If-Match` did not match the resource's current version.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, detail)
    }
}

/// The JSON shape of an error (RFC 7644 §3.12).
#[derive(Serialize, Deserialize)]
struct Wire {
    schemas: Vec<String>,
    status: Status,
    #[serde(rename = "scimType", default, skip_serializing_if = "Option::is_none")]
    scim_type: Option<ScimType>,
    #[serde(default)]
    detail: String,
}

/// `status` is a string per the RFC; some servers send a number.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Status {
    Text(String),
    Number(u16),
}

impl From<ScimError> for Wire {
    fn from(e: ScimError) -> Self {
        Self {
            schemas: vec![schemas::ERROR.to_owned()],
            status: Status::Text(e.status.to_string()),
            scim_type: e.scim_type,
            detail: e.detail,
        }
    }
}

impl TryFrom<Wire> for ScimError {
    type Error = String;

    fn try_from(w: Wire) -> Result<Self, Self::Error> {
        let status = match w.status {
            Status::Number(n) => n,
            Status::Text(s) => s.trim().parse().map_err(|_| "status must be an HTTP status code".to_owned())?,
        };
        if !(100..=599).contains(&status) {
            return Err("status must be an HTTP status code".to_owned());
        }
        Ok(Self { status, scim_type: w.scim_type, detail: w.detail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_to_the_rfc_shape() {
        let e = ScimError::invalid_filter("Unsupported operator 'xx'");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "Unsupported operator 'xx'"
            })
        );
        let e = ScimError::not_found("Resource 2819c223 not found");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"schemas": [schemas::ERROR], "status": "404", "detail": "Resource 2819c223 not found"})
        );
    }

    #[test]
    fn every_scim_type_keyword() {
        let all = [
            (ScimType::InvalidFilter, "invalidFilter"),
            (ScimType::TooMany, "tooMany"),
            (ScimType::Uniqueness, "uniqueness"),
            (ScimType::Mutability, "mutability"),
            (ScimType::InvalidSyntax, "invalidSyntax"),
            (ScimType::InvalidPath, "invalidPath"),
            (ScimType::NoTarget, "noTarget"),
            (ScimType::InvalidValue, "invalidValue"),
            (ScimType::InvalidVers, "invalidVers"),
            (ScimType::Sensitive, "sensitive"),
        ];
        for (t, name) in all {
            assert_eq!(t.as_str(), name);
            assert_eq!(serde_json::to_value(t).unwrap(), name);
            assert_eq!(serde_json::from_value::<ScimType>(json!(name)).unwrap(), t);
        }
        assert_eq!(ScimError::uniqueness("taken").status, 409);
        assert_eq!(ScimError::no_target("x").status, 400);
    }

    #[test]
    fn reads_string_or_number_status() {
        let e: ScimError = serde_json::from_value(json!({
            "schemas": [schemas::ERROR], "status": "409", "scimType": "uniqueness", "detail": "userName taken"
        }))
        .unwrap();
        assert_eq!(e, ScimError::uniqueness("userName taken"));
        let e: ScimError = serde_json::from_value(json!({"schemas": [schemas::ERROR], "status": 412})).unwrap();
        assert_eq!(e.status, 412);
        assert!(serde_json::from_value::<ScimError>(json!({"schemas": [], "status": "oops"})).is_err());
        assert!(serde_json::from_value::<ScimError>(json!({"schemas": [], "status": 99})).is_err());
    }

    #[test]
    fn round_trips_and_displays() {
        let e = ScimError::mutability("id is read-only");
        let back: ScimError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.to_string(), "SCIM error 400 (mutability): id is read-only");
        assert_eq!(ScimError::new(500, "boom").to_string(), "SCIM error 500: boom");
    }
}
