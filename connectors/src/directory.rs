//! The `directory()` capability: one sync run as a stream of pages that the
//! server reconciles into the store, each in its own transaction.
//!
//! A run streams, in order: `Users` pages; `Groups` (one page, since nested
//! groups need every group to exist first); what is gone upstream —
//! `Present` (every id there, so the server suspends and removes what it
//! knows and this set lacks) or `Removed` (the ids deleted or moved out of
//! scope since the cursor); then `Done` with the cursor the server commits
//! with the last page. Pages are idempotent: a run that dies half-way is run
//! again from the old cursor and ends in the same state.
//!
//! Connectors: `ldap` (AD and OpenLDAP), `entra` (Graph delta queries) and
//! `google` (Admin SDK Directory).

use serde_json::Value;
use tokio::sync::mpsc;

use crate::ConnectorError;
use crate::login::{BoxFuture, UpstreamIdentity};

/// Full: everything; delta: changes since the cursor (deletions always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Read every user and group, and compare every id with the store.
    Full,
    /// Read what changed since the cursor.
    Delta,
}

/// A user as the directory describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The user's name in the directory: an LDAP DN (it moves on rename;
    /// the external id does not), a UPN or an email.
    pub dn: String,
    /// Disabled or suspended in the directory.
    pub disabled: bool,
    /// The organizational unit path (`/Sales/EMEA`), where the directory has one.
    pub ou_path: Option<String>,
    /// The identity (external id, claims) the IdP's attribute mapping reads.
    pub identity: UpstreamIdentity,
}

/// A group's members, as external ids of users and nested groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// Every direct member.
    All(Vec<String>),
    /// Members added and removed since the cursor (Graph delta queries).
    Changed {
        /// Members that joined.
        added: Vec<String>,
        /// Members that left.
        removed: Vec<String>,
    },
}

/// A group as the directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// The external id.
    pub external_id: String,
    /// The group's name.
    pub name: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// Its direct members.
    pub members: Members,
}

/// One step of a sync run.
#[derive(Debug, Clone)]
pub enum Page {
    /// Users to create or update.
    Users(Vec<DirectoryUser>),
    /// Groups to create or update, with their direct members.
    Groups(Vec<DirectoryGroup>),
    /// Every user and group id upstream.
    Present {
        /// User external ids.
        users: Vec<String>,
        /// Group external ids.
        groups: Vec<String>,
    },
    /// Users and groups deleted upstream or moved out of scope.
    Removed {
        /// User external ids.
        users: Vec<String>,
        /// Group external ids.
        groups: Vec<String>,
    },
    /// The run is complete; commit this cursor.
    Done {
        /// The high-water mark (or delta links) for the next delta run.
        cursor: Value,
    },
}

/// Where a run sends its pages (an error ends the run).
pub type PageSender = mpsc::Sender<Result<Page, ConnectorError>>;

/// The server's clock (seconds since the epoch), for token lifetimes and
/// JWT assertions: time is injected, never read from the system here.
pub type Now = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

/// Sends `page`, or fails when the server stopped listening.
pub async fn send(out: &PageSender, page: Page) -> Result<(), ConnectorError> {
    out.send(Ok(page)).await.map_err(|_| ConnectorError::Unreachable("the run was stopped".into()))
}

/// A directory that can be synced.
pub trait Directory: Send + Sync {
    /// Streams one run's pages into `out` from `cursor` (the last run's
    /// `Done` cursor); an error is sent as the last item.
    fn run<'a>(&'a self, mode: SyncMode, cursor: Option<Value>, now: Now, out: PageSender) -> BoxFuture<'a, ()>;
}
