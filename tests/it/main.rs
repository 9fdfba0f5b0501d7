//! ScaiKey's integration tests: one binary, each test starting an in-process
//! server on 127.0.0.1:0 against a fresh database. `both!` runs a scenario on
//! SQLite and on the local PostgreSQL (which must be up: the PostgreSQL
//! variants fail, never skip, when it is down).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

mod account;
mod admin_authz;
mod admin_input;
mod admin_resources;
mod authority;
mod caches;
mod cloud_sync;
mod device_flow;
mod directory;
mod directory_ad;
mod directory_sync;
mod fake_google;
mod fake_graph;
mod federation;
mod federation_saml;
mod mfa;
mod native_apps;
mod oauth_client_credentials;
mod oidc_flow;
mod oidc_rp;
mod ops;
mod passkeys;
mod registration;
mod replicas;
mod reseal;
mod scim;
mod scim_tester;
mod sync_crash;
mod token_exchange;
mod webhooks;
mod webhooks_processes;
