//! The validation error of a connector config: every bad field at once.
//!
//! Messages describe the problem, never the submitted value, so a secret
//! pasted into the wrong field cannot leak through an error response or log.

use serde::Serialize;

/// One problem with one top-level config key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The config key, such as `issuer` (`config` when the whole value is wrong).
    pub field: String,
    /// What is wrong with it, in plain words.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// All the problems found in one connector config (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("invalid identity provider config: {}", join(.fields))]
pub struct ConfigError {
    /// Every problem found, in the order found.
    pub fields: Vec<FieldError>,
}

impl ConfigError {
    /// Whether `field` has at least one problem.
    pub fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.field == field)
    }
}

/// Why a connector could not complete a step with its upstream.
///
/// Messages say what went wrong in terms an admin can act on, and never
/// carry secrets, tokens or the upstream's raw response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The upstream could not be reached or answered something unusable.
    #[error("the identity provider could not be reached or answered badly: {0}")]
    Unreachable(String),
    /// The upstream answered, but its answer is not to be believed (a token
    /// check failed).
    #[error("the identity provider's answer was rejected: {0}")]
    Rejected(String),
    /// The upstream refused with an OAuth error (`invalid_grant`, …).
    #[error("the identity provider refused: {error}")]
    Refused {
        /// The OAuth `error` code.
        error: String,
    },
    /// The stored configuration cannot be used.
    #[error("the identity provider's configuration is unusable: {0}")]
    Config(String),
}

fn join(fields: &[FieldError]) -> String {
    fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_field() {
        let err = ConfigError {
            fields: vec![
                FieldError::new("issuer", "is required"),
                FieldError::new("scopes", "must contain \"openid\""),
            ],
        };
        assert_eq!(
            err.to_string(),
            "invalid identity provider config: issuer: is required; scopes: must contain \"openid\""
        );
        assert!(err.has("scopes"));
        assert!(!err.has("client_id"));
    }
}
