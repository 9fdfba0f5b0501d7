//! Microsoft Entra ID upstream: OIDC login against
//! `{login_base_url}/{tenant}/v2.0` with the issuer checked per `tid` and an
//! allow-list of Entra tenants; directory sync through Microsoft Graph
//! `users/delta` and `groups/delta`.

mod config;
mod directory;
mod graph;

pub use config::{Config, DEFAULT_GRAPH_BASE_URL, DEFAULT_LOGIN_BASE_URL, EntraTenant};
pub use directory::EntraDirectory;
pub use graph::Graph;
