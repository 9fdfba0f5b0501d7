//! One file per aggregate: its `Entity` mapping and the queries that are
//! more than plain CRUD (membership closure, lookups by secret hash, leases).

pub mod applications;
pub mod device;
pub mod events;
pub mod factors;
pub mod groups;
pub mod identity_providers;
pub mod leases;
pub mod misc;
pub mod oidc;
pub mod partners;
pub mod replicas;
pub mod saml;
pub mod scim;
pub mod sync;
pub mod users;
pub mod webhooks;

pub use users::PasswordHistoryRow;
