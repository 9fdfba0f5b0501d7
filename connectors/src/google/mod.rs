//! Google Workspace upstream: OIDC login with the `hd` (hosted domain)
//! claim checked; directory sync through the Admin SDK Directory API
//! (`users.list`, `groups.list`, `members.list`) as a service account with
//! domain-wide delegation. This step holds the validated configuration only.

mod config;
mod directory;

pub use config::{
    Config, DEFAULT_ACCOUNTS_BASE_URL, DEFAULT_CUSTOMER_ID, DEFAULT_DIRECTORY_BASE_URL, DEFAULT_TOKEN_URI,
    ServiceAccountKey,
};
pub use directory::GoogleDirectory;
