//! SCIM 2.0 protocol types for ScaiKey (RFC 7643 / RFC 7644), without I/O.
//!
//! This crate owns the wire shapes shared by ScaiKey's SCIM server and by
//! its tests, which use it as a SCIM client: schema URNs ([`schemas`]), the
//! error schema ([`ScimError`]), list responses ([`ListResponse`]),
//! resource metadata ([`Meta`]), attribute paths ([`path`]), filters
//! ([`filter`]), PATCH parsing and application ([`patch`]),
//! `attributes`/`excludedAttributes` projection ([`projection`]) and ETags
//! ([`etag`]). serde, serde_json, thiserror and `scim_v2`'s filter grammar
//! only, so it tests in seconds and can be fuzzed
//! ([`fuzz_filter_and_patch`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod error;
pub mod etag;
pub mod filter;
mod fuzz;
mod list;
mod meta;
pub mod patch;
pub mod path;
pub mod projection;
pub mod schemas;

pub use error::{ScimError, ScimType};
pub use etag::{etag, if_match_ok};
pub use filter::{CompareOp, Filter, parse_filter};
pub use fuzz::fuzz_filter_and_patch;
pub use list::ListResponse;
pub use meta::Meta;
pub use patch::{PatchOp, PatchOpKind, PatchPath, apply_patch, parse_patch};
pub use path::AttrPath;
pub use projection::{parse_attr_list, project};

/// The media type of every SCIM request and response body (RFC 7644 §3.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
