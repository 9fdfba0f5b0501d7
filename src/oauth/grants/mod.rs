//! Grants: one file each, implementing `Grant`. A grant declares its type,
//! the app types that may use it and its scope policy, and does only what is
//! unique to it; `endpoint.rs` owns every shared step.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;
pub mod token_exchange;

use std::future::Future;
use std::pin::Pin;

use crate::app::Services;
use crate::domain::Timestamp;
use crate::domain::application::{AppType, Application};

use super::tokens::TokenResponse;
use super::{Issuer, OAuthError};

/// What the endpoint hands a grant after the shared steps.
pub struct GrantRequest<'a> {
    pub svc: &'a Services,
    pub issuer: &'a Issuer,
    pub app: &'a Application,
    /// Requested scopes already cut to the app's `allowed_scopes`.
    pub scopes: Vec<String>,
    pub form: &'a [(String, String)],
    pub now: Timestamp,
}

impl GrantRequest<'_> {
    /// A form parameter that may appear at most once (RFC 6749 §3.2).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

pub type GrantFuture<'a> = Pin<Box<dyn Future<Output = Result<TokenResponse, OAuthError>> + Send + 'a>>;

pub trait Grant: Send + Sync {
    fn grant_type(&self) -> &'static str;
    /// Application types that may use this grant (else `unauthorized_client`).
    fn app_types(&self) -> &'static [AppType];
    /// Scopes granted when the request names none.
    fn default_scopes(&self, app: &Application) -> Vec<String>;
    /// Whether the endpoint trims the request's `scope` for this grant; grants
    /// whose scope was fixed earlier (by the code or refresh token) check it themselves.
    fn uses_request_scope(&self) -> bool {
        true
    }
    fn issue<'a>(&'a self, req: GrantRequest<'a>) -> GrantFuture<'a>;
}

/// Every grant the token endpoint knows.
pub fn registry() -> &'static [&'static dyn Grant] {
    &[
        &authorization_code::AuthorizationCodeGrant,
        &refresh_token::RefreshTokenGrant,
        &client_credentials::ClientCredentials,
        &device_code::DeviceCodeGrant,
        &token_exchange::TokenExchange,
    ]
}
