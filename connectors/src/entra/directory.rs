//! Directory sync from Microsoft Graph delta queries.
//!
//! A run walks `GET /v1.0/users/delta` and then `/v1.0/groups/delta`
//! (`members@delta` on groups) page by page (`@odata.nextLink`), one request
//! at a time with Graph's `Retry-After` honoured (`Http::get_paced`), and
//! ends with the two `@odata.deltaLink`s as the cursor. The next delta run
//! starts from them and reads only what changed: `@removed` objects
//! (`changed`: left the scope or soft-deleted; `deleted`) are sent as
//! `Removed`, group members as added and removed. A full run (or a delta
//! whose link Graph no longer honours: `410 Gone`, resync required) starts
//! without a link, reads everything and sends the `Present` set.
//!
//! A group can come back on several pages of one round, each with part of
//! its members: groups are gathered over the round and sent as one page.
//! Users' external ids are `{tid}/{oid}`, as the Entra login gives them, so a
//! synced user and the same user signing in are one.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use super::{Config, EntraTenant, Graph};
use crate::ConnectorError;
use crate::directory::{self, Directory, DirectoryGroup, DirectoryUser, Members, Now, Page, PageSender, SyncMode};
use crate::login::{BoxFuture, UpstreamIdentity};

/// Graph user properties read (`$select`), with the claim each becomes.
const USER_FIELDS: &[(&str, &str)] = &[
    ("userPrincipalName", "preferred_username"),
    ("mail", "email"),
    ("givenName", "given_name"),
    ("surname", "family_name"),
    ("displayName", "name"),
    ("jobTitle", "title"),
    ("department", "department"),
    ("companyName", "company"),
    ("employeeId", "employee_id"),
    ("employeeType", "employee_type"),
    ("officeLocation", "office"),
    ("preferredLanguage", "locale"),
];

/// Pages followed at most in one round (a safety stop against a loop).
const MAX_PAGES: usize = 100_000;

/// Sync from one Entra directory.
pub struct EntraDirectory {
    graph: Arc<Graph>,
    tenant: Option<String>,
    graph_base_url: String,
}

/// Why a delta round stopped early.
enum RoundError {
    /// Graph no longer honours the delta link: start over in full.
    ResyncRequired,
    Failed(ConnectorError),
}

impl From<ConnectorError> for RoundError {
    fn from(e: ConnectorError) -> Self {
        RoundError::Failed(e)
    }
}

/// What one round of groups gathered.
#[derive(Default)]
struct Groups {
    order: Vec<String>,
    by_id: HashMap<String, DirectoryGroup>,
    removed: Vec<String>,
}

impl EntraDirectory {
    /// Sync with `graph`'s credentials from `config`'s directory.
    pub fn new(graph: Arc<Graph>, config: &Config) -> Self {
        let tenant = match &config.tenant {
            EntraTenant::Id(id) => Some(id.clone()),
            EntraTenant::Organizations | EntraTenant::Common => None,
        };
        Self { graph, tenant, graph_base_url: config.graph_base_url.clone() }
    }

    async fn stream(
        &self,
        mode: SyncMode,
        cursor: Option<Value>,
        now: &Now,
        out: &PageSender,
    ) -> Result<(), ConnectorError> {
        let Some(tid) = self.tenant.as_deref() else {
            return Err(ConnectorError::Config(
                "directory sync reads one directory: set tenant to its GUID (not organizations or common)".into(),
            ));
        };
        let link = |key: &str| {
            cursor
                .as_ref()
                .and_then(|c| c.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .filter(|_| mode == SyncMode::Delta)
        };
        let (users_link, groups_link) = (link("users"), link("groups"));
        if let (Some(u), Some(g)) = (users_link, groups_link) {
            match self.round(tid, Some(u), Some(g), now, out).await {
                // Graph asked for a resync: the directory is read in full.
                Err(RoundError::ResyncRequired) => {}
                Err(RoundError::Failed(e)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
        match self.round(tid, None, None, now, out).await {
            Ok(()) => Ok(()),
            Err(RoundError::ResyncRequired) => {
                Err(ConnectorError::Unreachable("Graph answered 410 Gone to a query without a delta link".into()))
            }
            Err(RoundError::Failed(e)) => Err(e),
        }
    }

    /// One round: users, then groups, then what is gone, then the cursor.
    /// Without links it is a full round and ends with the `Present` set.
    async fn round(
        &self,
        tid: &str,
        users_link: Option<String>,
        groups_link: Option<String>,
        now: &Now,
        out: &PageSender,
    ) -> Result<(), RoundError> {
        let full = users_link.is_none();
        let select: Vec<&str> = USER_FIELDS.iter().map(|(f, _)| *f).chain(["id", "accountEnabled"]).collect();
        let first = users_link
            .unwrap_or_else(|| format!("{}/v1.0/users/delta?$select={}", self.graph_base_url, select.join(",")));
        let (mut present_users, mut removed_users) = (Vec::new(), Vec::new());
        let users_delta = self
            .walk(
                tid,
                first,
                "Graph users",
                now,
                |page| {
                    let mut batch = Vec::new();
                    for item in page {
                        let Some(oid) = item.get("id").and_then(Value::as_str) else { continue };
                        let external_id = format!("{tid}/{oid}");
                        if item.get("@removed").is_some() {
                            removed_users.push(external_id);
                            continue;
                        }
                        present_users.push(external_id.clone());
                        batch.push(user(tid, external_id, item));
                    }
                    (!batch.is_empty()).then_some(Page::Users(batch))
                },
                out,
            )
            .await?;

        let first = groups_link.unwrap_or_else(|| {
            format!("{}/v1.0/groups/delta?$select=displayName,description,members", self.graph_base_url)
        });
        let mut groups = Groups::default();
        let groups_delta = self
            .walk(
                tid,
                first,
                "Graph groups",
                now,
                |page| {
                    for item in page {
                        gather_group(tid, full, &mut groups, item);
                    }
                    None
                },
                out,
            )
            .await?;
        let present_groups = groups.order.clone();
        let batch: Vec<DirectoryGroup> = groups.order.iter().filter_map(|id| groups.by_id.remove(id)).collect();
        if !batch.is_empty() {
            directory::send(out, Page::Groups(batch)).await?;
        }
        let gone = if full {
            Page::Present { users: present_users, groups: present_groups }
        } else {
            Page::Removed { users: removed_users, groups: groups.removed }
        };
        directory::send(out, gone).await?;
        directory::send(out, Page::Done { cursor: json!({ "users": users_delta, "groups": groups_delta }) }).await?;
        Ok(())
    }

    /// Follows `@odata.nextLink` from `url` to the `@odata.deltaLink`,
    /// handing each page's `value` to `each` (whose page, if any, is sent).
    async fn walk(
        &self,
        tid: &str,
        mut url: String,
        what: &str,
        now: &Now,
        mut each: impl FnMut(&[Value]) -> Option<Page>,
        out: &PageSender,
    ) -> Result<String, RoundError> {
        let host = format!("{}/", self.graph_base_url);
        for _ in 0..MAX_PAGES {
            // The token goes to the configured Graph host only.
            if !url.starts_with(&host) {
                return Err(ConnectorError::Rejected(format!("{what}: a link to another host")).into());
            }
            let token = self.graph.token(tid, now()).await?;
            let (status, body) = self.graph.http().get_paced(&url, &token, what).await?;
            match status {
                StatusCode::OK => {}
                StatusCode::GONE => return Err(RoundError::ResyncRequired),
                other => {
                    let code = body.pointer("/error/code").and_then(Value::as_str).unwrap_or("");
                    let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).take(64).collect();
                    return Err(ConnectorError::Unreachable(format!("{what}: answered {other} {code}")).into());
                }
            }
            let items = body.get("value").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(page) = each(items) {
                directory::send(out, page).await?;
            }
            match (
                body.get("@odata.nextLink").and_then(Value::as_str),
                body.get("@odata.deltaLink").and_then(Value::as_str),
            ) {
                (Some(next), _) => url = next.to_owned(),
                (None, Some(delta)) => return Ok(delta.to_owned()),
                (None, None) => {
                    return Err(
                        ConnectorError::Unreachable(format!("{what}: a page without a next or delta link")).into()
                    );
                }
            }
        }
        Err(ConnectorError::Unreachable(format!("{what}: too many pages")).into())
    }
}

/// A Graph user as a directory user.
fn user(tid: &str, external_id: String, item: &Value) -> DirectoryUser {
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(external_id.clone()));
    claims.insert("tid".into(), Value::String(tid.to_owned()));
    if let Some(oid) = item.get("id") {
        claims.insert("oid".into(), oid.clone());
    }
    for (field, claim) in USER_FIELDS {
        if let Some(v) = item.get(*field).filter(|v| v.is_string()) {
            claims.insert((*claim).to_owned(), v.clone());
            claims.insert((*field).to_owned(), v.clone());
        }
    }
    let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
    let upn = claims.get("preferred_username").and_then(Value::as_str).unwrap_or_default().to_owned();
    DirectoryUser {
        dn: upn,
        disabled: item.get("accountEnabled") == Some(&Value::Bool(false)),
        ou_path: None,
        identity: UpstreamIdentity {
            external_id,
            claims,
            email,
            email_verified: true,
            amr: Vec::new(),
            groups: Vec::new(),
        },
    }
}

/// Adds one `groups/delta` item to the round: a removed group, or a group
/// (possibly seen before on another page) with its `members@delta`.
fn gather_group(tid: &str, full: bool, groups: &mut Groups, item: &Value) {
    let Some(id) = item.get("id").and_then(Value::as_str) else { return };
    if item.get("@removed").is_some() {
        groups.removed.push(id.to_owned());
        return;
    }
    let group = groups.by_id.entry(id.to_owned()).or_insert_with(|| {
        groups.order.push(id.to_owned());
        DirectoryGroup {
            external_id: id.to_owned(),
            name: id.to_owned(),
            description: None,
            members: if full {
                Members::All(Vec::new())
            } else {
                Members::Changed { added: Vec::new(), removed: Vec::new() }
            },
        }
    });
    if let Some(name) = item.get("displayName").and_then(Value::as_str) {
        group.name = name.to_owned();
    }
    if let Some(d) = item.get("description") {
        group.description = d.as_str().map(str::to_owned);
    }
    let members = item.get("members@delta").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for m in members {
        let Some(mid) = m.get("id").and_then(Value::as_str) else { continue };
        let external = match m.get("@odata.type").and_then(Value::as_str) {
            Some("#microsoft.graph.user") => format!("{tid}/{mid}"),
            Some("#microsoft.graph.group") => mid.to_owned(),
            // Devices, service principals, contacts: not ScaiKey users.
            _ => continue,
        };
        let left = m.get("@removed").is_some();
        match &mut group.members {
            Members::All(all) if !left => all.push(external),
            Members::All(_) => {}
            Members::Changed { added, removed } => {
                if left {
                    removed.push(external)
                } else {
                    added.push(external)
                }
            }
        }
    }
}

impl Directory for EntraDirectory {
    fn run<'a>(&'a self, mode: SyncMode, cursor: Option<Value>, now: Now, out: PageSender) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.stream(mode, cursor, &now, &out).await {
                let _ = out.send(Err(e)).await;
            }
        })
    }
}
