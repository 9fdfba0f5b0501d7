//! The `directory()` capability: pages of users and groups for a sync run.
//!
//! A run streams, in order:
//! 1. `Users` pages — every user on a full run; on a delta run those changed
//!    since the cursor's high-water mark (OpenLDAP `entryCSN`, unique and
//!    ordered to the microsecond, so a delta re-reads nothing unchanged; AD
//!    `uSNChanged`), plus a cheap id-only scan of all users;
//! 2. `Groups` pages — every group with its members resolved to external
//!    ids (users or nested groups; AD's `member;range=…` followed for groups
//!    of any size). Groups are few, so every run reads them all and the
//!    server writes only what changed;
//! 3. `Present` — the ids of every user and group upstream: what the server
//!    knows and this set lacks was deleted upstream. Every run, delta
//!    included, so deletions are never missed;
//! 4. `Done` with the new cursor, which the server commits with the last page.
//!
//! Pages are idempotent: a run that dies half-way is simply run again from
//! the old cursor and ends in the same state.

use std::collections::HashMap;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, Scope, SearchEntry};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::conn::{self, OP_TIMEOUT};
use super::entry::{self, DirectoryUser};
use super::login::LdapLogin;
use super::{Config, LdapFlavor};
use crate::ConnectorError;

/// Full: everything; delta: changes since the cursor (deletions always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Read every user.
    Full,
    /// Read users changed since the cursor.
    Delta,
}

/// A group as the directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// The external id.
    pub external_id: String,
    /// The group's name (`cn`).
    pub name: String,
    /// `description`, if any.
    pub description: Option<String>,
    /// External ids of its direct members (users and groups).
    pub members: Vec<String>,
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
    /// The run is complete; commit this cursor.
    Done {
        /// The high-water mark for the next delta run.
        cursor: Value,
    },
}

/// Directory sync from one LDAP server.
pub struct LdapDirectory {
    config: Config,
}

fn failed(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unreachable(format!("{what}: {e}"))
}

/// A paged subtree search, entry by entry.
async fn paged(
    ldap: &mut Ldap,
    config: &Config,
    base: &str,
    filter: &str,
    attrs: Vec<String>,
    mut each: impl FnMut(SearchEntry),
) -> Result<(), ConnectorError> {
    let adapters: Vec<Box<dyn Adapter<_, _>>> =
        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(config.page_size as i32))];
    let mut search = ldap
        .with_timeout(OP_TIMEOUT)
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
        .await
        .map_err(|e| failed("searching the directory", e))?;
    while let Some(entry) = search.next().await.map_err(|e| failed("reading search results", e))? {
        each(SearchEntry::construct(entry));
    }
    search.finish().await.success().map_err(|e| failed("finishing the search", e))?;
    Ok(())
}

impl LdapDirectory {
    /// Sync from `config`'s directory.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// Streams one run's pages into `out`; stops early if the receiver is gone.
    pub async fn run(&self, mode: SyncMode, cursor: Option<Value>, out: mpsc::Sender<Result<Page, ConnectorError>>) {
        if let Err(e) = self.stream(mode, cursor, &out).await {
            let _ = out.send(Err(e)).await;
        }
    }

    async fn stream(
        &self,
        mode: SyncMode,
        cursor: Option<Value>,
        out: &mpsc::Sender<Result<Page, ConnectorError>>,
    ) -> Result<(), ConnectorError> {
        let c = &self.config;
        let ad = c.flavor == LdapFlavor::ActiveDirectory;
        let mut ldap = conn::service(c).await?;
        let send = |page: Page| async move {
            out.send(Ok(page)).await.map_err(|_| ConnectorError::Unreachable("the run was stopped".into()))
        };

        // AD: the USN at the start bounds this run; later changes go to the next.
        let start_usn = if ad { highest_usn(&mut ldap).await? } else { None };
        let mark_key = if ad { "usn" } else { "csn" };
        let since = cursor.as_ref().and_then(|v| v.get(mark_key)).and_then(Value::as_str).map(str::to_owned);
        let delta_filter = match (mode, &since) {
            (SyncMode::Delta, Some(mark)) if ad => {
                let next = mark.parse::<u64>().unwrap_or(0) + 1;
                Some(format!("(&{}(uSNChanged>={next}))", c.user_filter))
            }
            // Strictly after the mark: the entry that set it was applied.
            (SyncMode::Delta, Some(mark)) => Some(format!("(&{}(!(entryCSN<={mark})))", c.user_filter)),
            _ => None,
        };

        // Every user's DN and id: the present set, and member resolution.
        let mut ids_by_dn: HashMap<String, String> = HashMap::new();
        let mut present_users = Vec::new();
        let mut newest_stamp: Option<String> = None;
        let mut batch = Vec::new();
        if let Some(filter) = &delta_filter {
            paged(&mut ldap, c, &c.user_base_dn, &c.user_filter, vec![c.user_id_attribute.clone()], |e| {
                if let Some(id) = entry::external_id(c, &e) {
                    ids_by_dn.insert(e.dn.to_ascii_lowercase(), id.clone());
                    present_users.push(id);
                }
            })
            .await?;
            let mut changed = Vec::new();
            paged(&mut ldap, c, &c.user_base_dn, filter, LdapLogin::user_attributes(c), |e| changed.push(e)).await?;
            for e in changed {
                track_stamp(&mut newest_stamp, &e);
                if let Some(u) = entry::user(c, &e) {
                    batch.push(u);
                }
                if batch.len() >= c.page_size as usize {
                    send(Page::Users(std::mem::take(&mut batch))).await?;
                }
            }
        } else {
            let mut all = Vec::new();
            paged(&mut ldap, c, &c.user_base_dn, &c.user_filter, LdapLogin::user_attributes(c), |e| all.push(e))
                .await?;
            for e in all {
                track_stamp(&mut newest_stamp, &e);
                if let Some(u) = entry::user(c, &e) {
                    ids_by_dn.insert(u.dn.to_ascii_lowercase(), u.identity.external_id.clone());
                    present_users.push(u.identity.external_id.clone());
                    batch.push(u);
                }
                if batch.len() >= c.page_size as usize {
                    send(Page::Users(std::mem::take(&mut batch))).await?;
                }
            }
        }
        if !batch.is_empty() {
            send(Page::Users(batch)).await?;
        }

        // Groups changed since the mark (the same mark: a membership change
        // moves the group's entryCSN / uSNChanged too), or all on a full run.
        let group_delta = match (&delta_filter, &since) {
            (Some(_), Some(mark)) if ad => {
                Some(format!("(&{}(uSNChanged>={}))", c.group_filter, mark.parse::<u64>().unwrap_or(0) + 1))
            }
            (Some(_), Some(mark)) => Some(format!("(&{}(!(entryCSN<={mark})))", c.group_filter)),
            _ => None,
        };
        let present_groups = match &c.group_base_dn {
            Some(base) => {
                self.groups(&mut ldap, base, group_delta.as_deref(), &mut ids_by_dn, &mut newest_stamp, &send).await?
            }
            None => Vec::new(),
        };
        let _ = ldap.unbind().await;
        send(Page::Present { users: present_users, groups: present_groups }).await?;
        let mark = if ad { start_usn } else { newest_stamp.or(since) };
        send(Page::Done { cursor: json!({ mark_key: mark }) }).await?;
        Ok(())
    }

    /// Reads the groups (all, or those matching `changed`, after an id-only
    /// scan of all for the present set and nesting), resolves members to
    /// external ids and sends them in one page. Returns every group's id.
    async fn groups<F, Fut>(
        &self,
        ldap: &mut Ldap,
        base: &str,
        changed: Option<&str>,
        ids_by_dn: &mut HashMap<String, String>,
        newest_stamp: &mut Option<String>,
        send: &F,
    ) -> Result<Vec<String>, ConnectorError>
    where
        F: Fn(Page) -> Fut,
        Fut: std::future::Future<Output = Result<(), ConnectorError>>,
    {
        let c = &self.config;
        let member_attr = c.group_member_attribute.clone();
        let attrs = vec![
            c.user_id_attribute.clone(),
            "cn".into(),
            "description".into(),
            "entryCSN".into(),
            member_attr.clone(),
        ];
        let mut all_ids = Vec::new();
        let mut raw = Vec::new();
        if let Some(filter) = changed {
            paged(ldap, c, base, &c.group_filter, vec![c.user_id_attribute.clone()], |e| {
                if let Some(id) = entry::external_id(c, &e) {
                    ids_by_dn.insert(e.dn.to_ascii_lowercase(), id.clone());
                    all_ids.push(id);
                }
            })
            .await?;
            paged(ldap, c, base, filter, attrs, |e| raw.push(e)).await?;
        } else {
            paged(ldap, c, base, &c.group_filter, attrs, |e| raw.push(e)).await?;
            for e in &raw {
                if let Some(id) = entry::external_id(c, e) {
                    ids_by_dn.insert(e.dn.to_ascii_lowercase(), id.clone());
                    all_ids.push(id);
                }
            }
        }
        let mut groups = Vec::new();
        for e in raw {
            track_stamp(newest_stamp, &e);
            let Some(external_id) = entry::external_id(c, &e) else { continue };
            let member_dns = members(ldap, &e, &member_attr).await?;
            let members: Vec<String> =
                member_dns.iter().filter_map(|dn| ids_by_dn.get(&dn.to_ascii_lowercase()).cloned()).collect();
            let text = |n: &str| e.attrs.get(n).and_then(|v| v.first()).cloned();
            groups.push(DirectoryGroup {
                external_id,
                name: text("cn").unwrap_or_else(|| e.dn.clone()),
                description: text("description"),
                members,
            });
        }
        // One page: nested groups need every group of the page to exist first.
        if !groups.is_empty() {
            send(Page::Groups(groups)).await?;
        }
        Ok(all_ids)
    }
}

/// The group's member DNs, following AD's ranged retrieval
/// (`member;range=0-1499`, then `member;range=1500-*`, …) to the end.
async fn members(ldap: &mut Ldap, group: &SearchEntry, attr: &str) -> Result<Vec<String>, ConnectorError> {
    let mut out: Vec<String> = group.attrs.get(attr).cloned().unwrap_or_default();
    let prefix = format!("{};range=", attr.to_ascii_lowercase());
    let mut ranged = group
        .attrs
        .iter()
        .find(|(k, _)| k.to_ascii_lowercase().starts_with(&prefix))
        .map(|(k, v)| (k.clone(), v.clone()));
    while let Some((name, values)) = ranged.take() {
        out.extend(values);
        // `member;range=1500-2999` continues at 3000; `…-*` is the last slice.
        let Some(end) = name.rsplit('-').next().filter(|e| *e != "*").and_then(|e| e.parse::<u64>().ok()) else {
            break;
        };
        let next = format!("{attr};range={}-*", end + 1);
        let (entries, _) = ldap
            .with_timeout(OP_TIMEOUT)
            .search(&group.dn, Scope::Base, "(objectClass=*)", vec![next])
            .await
            .and_then(|r| r.success())
            .map_err(|e| failed("reading a large group's members", e))?;
        ranged = entries
            .into_iter()
            .next()
            .map(SearchEntry::construct)
            .and_then(|e| e.attrs.into_iter().find(|(k, _)| k.to_ascii_lowercase().starts_with(&prefix)));
    }
    Ok(out)
}

/// Keeps the newest `entryCSN` seen (a CSN's text sorts in time order).
fn track_stamp(newest: &mut Option<String>, e: &SearchEntry) {
    if let Some(stamp) = e.attrs.get("entryCSN").and_then(|v| v.first())
        && newest.as_ref().is_none_or(|n| stamp > n)
    {
        *newest = Some(stamp.clone());
    }
}

/// AD's `highestCommittedUSN` from the root DSE.
async fn highest_usn(ldap: &mut Ldap) -> Result<Option<String>, ConnectorError> {
    let (entries, _) = ldap
        .with_timeout(OP_TIMEOUT)
        .search("", Scope::Base, "(objectClass=*)", vec!["highestCommittedUSN"])
        .await
        .and_then(|r| r.success())
        .map_err(|e| failed("reading the root DSE", e))?;
    Ok(entries
        .into_iter()
        .next()
        .map(SearchEntry::construct)
        .and_then(|e| e.attrs.get("highestCommittedUSN").and_then(|v| v.first()).cloned()))
}
