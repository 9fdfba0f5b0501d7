//! Generic OpenID Connect upstream (Keycloak, Okta, Auth0, …): login by
//! authorization code + PKCE against the upstream's discovery document.
//! No directory sync.

mod client;
mod config;
mod flavor;
mod id_token;

pub use client::{Client, OidcLogin};
pub use config::{Config, DEFAULT_SCOPES, TokenEndpointAuthMethod};
pub use flavor::Flavor;
