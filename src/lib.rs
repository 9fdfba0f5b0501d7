//! ScaiKey: a multi-tenant OAuth 2.0 / OpenID Connect provider, federation
//! broker, SCIM 2.0 server and directory-sync engine. Dependencies point one
//! way: `http → services (oauth, authn, admin, …) → store → domain`.

pub mod account;
pub mod admin;
pub mod app;
pub mod authn;
pub mod bench;
pub mod bootstrap;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod domain;
pub mod federation;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod keys;
pub mod login;
pub mod oauth;
pub mod scim_server;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod webhooks;
