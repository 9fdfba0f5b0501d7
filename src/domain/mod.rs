//! The admin model of SPEC §1 as plain data, with the validation rules that
//! belong to the data itself (slug shape, URL and e-mail syntax, app type ×
//! scope). No I/O here: services load, validate and store.

pub mod agent;
pub mod application;
pub mod audit;
pub mod consent;
pub mod factor;
pub mod group;
pub mod identifier;
pub mod idp;
pub mod oidc;
pub mod ou;
pub mod partner;
pub mod redirect;
pub mod role;
pub mod scim_token;
pub mod settings;
pub mod signing_key;
pub mod sync_run;
pub mod tenant;
mod time;
pub mod user;
pub mod validate;
pub mod webhook;

pub use time::Timestamp;
