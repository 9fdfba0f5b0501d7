//! SCIM 2.0 protocol types for ScaiKey (RFC 7643 / RFC 7644), without I/O.
//!
//! This crate owns the wire shapes shared by ScaiKey's SCIM server and by
//! its tests, which use it as a SCIM client: schema URNs ([`schemas`]), the
//! error schema ([`ScimError`]), list responses ([`ListResponse`]) and
//! resource metadata ([`Meta`]). Filters, PATCH paths, projection, Bulk
//! ordering and ETags build on these in later steps. serde and thiserror
//! only, so it tests in seconds and can be fuzzed.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod error;
mod list;
mod meta;
pub mod schemas;

pub use error::{ScimError, ScimType};
pub use list::ListResponse;
pub use meta::Meta;

/// The media type of every SCIM request and response body (RFC 7644 §3.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
