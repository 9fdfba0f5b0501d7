//! Directory sync: runs that pull an IdP's users and groups through its
//! connector's `directory()` capability into the store.
//!
//! | step | where |
//! |---|---|
//! | start a run (API, CLI, schedule): one per IdP across replicas, by a fenced lease | `engine::start` |
//! | stream pages from the connector; apply each in one transaction that first checks the lease is still ours | `engine::execute` |
//! | users: create, update, suspend (disabled upstream); groups: create, update, members | `reconcile` |
//! | the present set: users gone upstream are suspended (never deleted), groups gone are removed | `reconcile::present` |
//! | the new cursor, committed with the last page | `engine::execute` |
//!
//! Every write goes through the directory write path as `Sync { idp, run }`,
//! so it is audited and emits the same events as any other change. Pages
//! are idempotent, so a run that dies half-way is run again from the old
//! cursor and ends in the same state as an uninterrupted one.

pub mod cli;
pub mod engine;
pub mod reconcile;
pub mod schedule;
