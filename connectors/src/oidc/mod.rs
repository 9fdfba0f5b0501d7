//! Generic OpenID Connect upstream (Keycloak, Okta, Auth0, …): login by
//! authorization code + PKCE against the upstream's discovery document.
//! No directory sync. This step holds the validated configuration only.

mod config;

pub use config::{Config, DEFAULT_SCOPES, TokenEndpointAuthMethod};
