//! RFC 6749 §5.2 errors. `invalid_client` is 401 with `WWW-Authenticate`;
//! descriptions are short and never say which part of a credential was wrong.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { error, description: description.into() }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub fn invalid_client() -> Self {
        Self::new("invalid_client", "client authentication failed")
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new("unauthorized_client", d)
    }
    pub fn unsupported_grant_type() -> Self {
        Self::new("unsupported_grant_type", "the grant type is not supported")
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", d)
    }
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new("invalid_target", d)
    }
    pub fn server_error() -> Self {
        Self::new("server_error", "the server could not complete the request")
    }

    pub fn status(&self) -> u16 {
        match self.error {
            "invalid_client" => 401,
            "server_error" => 500,
            "temporarily_unavailable" => 503,
            _ => 400,
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error in the OAuth endpoint");
        OAuthError::server_error()
    }
}
