//! The OAuth 2.0 / OpenID Connect provider: issuers, the token endpoint and
//! its grants, discovery. Free of HTTP; `http::oauth` maps requests in.

pub mod authorize;
pub mod bearer;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod issue;
pub mod issuer;
pub mod logout;
pub mod pkce;
pub mod registration;
pub mod revoke;
pub mod tokens;
pub mod user_claims;
pub mod userinfo;
pub mod verifier;

pub use error::OAuthError;
pub use issuer::Issuer;
