//! The OAuth 2.0 / OpenID Connect provider: issuers, the token endpoint and
//! its grants, discovery. Free of HTTP; `http::oauth` maps requests in.

pub mod client_auth;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod grants;
pub mod issuer;
pub mod tokens;

pub use error::OAuthError;
pub use issuer::Issuer;
