//! Directory sync from LDAP: the `directory()` capability of `ldap` IdPs.
//!
//! A run streams, in order:
//! 1. `Users` pages — every user on a full run; on a delta run those changed
//!    since the cursor's high-water mark (OpenLDAP `entryCSN`, unique and
//!    ordered to the microsecond, so a delta re-reads nothing unchanged; AD
//!    `uSNChanged`, bounded by the `highestCommittedUSN` read at the start);
//! 2. `Groups` — every group on a full run, changed ones on a delta, with
//!    members resolved to external ids (users or nested groups; on AD by
//!    the GUIDs of the extended DN control, `member;range=…` followed for
//!    groups of any size). One page: nesting needs every group to exist;
//! 3. what is gone upstream, so deletions are never missed, delta included:
//!    `Present` — the ids of every user and group (full runs; OpenLDAP
//!    deltas by a cheap id-only scan) — or `Removed` — on AD deltas, the
//!    users and groups deleted (tombstones) or moved out of scope since the
//!    mark (`ad.rs`), so an AD delta costs what changed;
//! 4. `Done` with the new cursor, which the server commits with the last page.
//!
//! Pages are idempotent: a run that dies half-way is simply run again from
//! the old cursor and ends in the same state.

use std::collections::{HashMap, HashSet};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Ldap, Scope, SearchEntry};
use serde_json::{Value, json};

use super::ad;
use super::conn::{self, OP_TIMEOUT};
use super::entry;
use super::login::LdapLogin;
use super::{Config, LdapFlavor};
use crate::ConnectorError;
use crate::directory::{self, Directory, DirectoryGroup, Members, Now, Page, PageSender, SyncMode};
use crate::login::BoxFuture;

/// Directory sync from one LDAP server.
pub struct LdapDirectory {
    config: Config,
}

fn failed(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unreachable(format!("{what}: {e}"))
}

/// A paged subtree search, entry by entry, with `controls` on every page.
pub(super) async fn paged(
    ldap: &mut Ldap,
    config: &Config,
    base: &str,
    filter: &str,
    attrs: Vec<String>,
    controls: Vec<RawControl>,
    mut each: impl FnMut(SearchEntry),
) -> Result<(), ConnectorError> {
    let adapters: Vec<Box<dyn Adapter<_, _>>> =
        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(config.page_size as i32))];
    let mut search = ldap
        .with_controls(controls)
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

    async fn stream(&self, mode: SyncMode, cursor: Option<Value>, out: &PageSender) -> Result<(), ConnectorError> {
        let c = &self.config;
        let ad = c.flavor == LdapFlavor::ActiveDirectory;
        let mut ldap = conn::service(c).await?;
        let send = |page: Page| directory::send(out, page);

        // AD: the USN at the start bounds this run; later changes go to the next.
        let root = if ad { Some(ad::root_dse(&mut ldap).await?) } else { None };
        let mark_key = if ad { "usn" } else { "csn" };
        let since = cursor.as_ref().and_then(|v| v.get(mark_key)).and_then(Value::as_str).map(str::to_owned);
        let delta = mode == SyncMode::Delta && since.is_some();
        // Changed strictly after the mark: the entry that set it was applied.
        let changed_after = |filter: &str| match &since {
            Some(mark) if ad => format!("(&{filter}(uSNChanged>={}))", mark.parse::<u64>().unwrap_or(0) + 1),
            Some(mark) => format!("(&{filter}(!(entryCSN<={mark})))"),
            None => filter.to_owned(),
        };

        // Users. `ids_by_dn` resolves OpenLDAP's member DNs; AD names members by GUID.
        let mut ids_by_dn: HashMap<String, String> = HashMap::new();
        let mut present_users = Vec::new();
        let mut in_scope: HashSet<String> = HashSet::new();
        let mut newest_stamp: Option<String> = None;
        if delta && !ad {
            paged(&mut ldap, c, &c.user_base_dn, &c.user_filter, vec![c.user_id_attribute.clone()], vec![], |e| {
                if let Some(id) = entry::external_id(c, &e) {
                    ids_by_dn.insert(e.dn.to_ascii_lowercase(), id.clone());
                    present_users.push(id);
                }
            })
            .await?;
        }
        let filter = if delta { changed_after(&c.user_filter) } else { c.user_filter.clone() };
        let mut entries = Vec::new();
        paged(&mut ldap, c, &c.user_base_dn, &filter, LdapLogin::user_attributes(c), vec![], |e| entries.push(e))
            .await?;
        let mut batch = Vec::new();
        for e in entries {
            track_stamp(&mut newest_stamp, &e);
            let Some(u) = entry::user(c, &e) else { continue };
            in_scope.insert(u.identity.external_id.clone());
            if !delta {
                ids_by_dn.insert(u.dn.to_ascii_lowercase(), u.identity.external_id.clone());
                present_users.push(u.identity.external_id.clone());
            }
            batch.push(u);
            if batch.len() >= c.page_size as usize {
                send(Page::Users(std::mem::take(&mut batch))).await?;
            }
        }
        if !batch.is_empty() {
            send(Page::Users(batch)).await?;
        }

        // Groups changed since the mark (a membership change moves the
        // group's entryCSN / uSNChanged too), or all on a full run.
        let (present_groups, changed_groups) = match &c.group_base_dn {
            Some(base) => {
                let filter = delta.then(|| changed_after(&c.group_filter));
                self.groups(&mut ldap, base, filter.as_deref(), &mut ids_by_dn, &mut newest_stamp, &send).await?
            }
            None => (Vec::new(), HashSet::new()),
        };

        match (&root, delta) {
            (Some(root), true) => {
                let from = since.as_deref().and_then(|m| m.parse::<u64>().ok()).unwrap_or(0) + 1;
                let (mut users, mut groups) = (Vec::new(), Vec::new());
                for ch in ad::changed_in_domain(&mut ldap, c, root, from).await? {
                    let read = if ch.group { &changed_groups } else { &in_scope };
                    // Changed after the run began: the next delta reads it in full.
                    if ch.usn > root.highest_usn || (!ch.deleted && read.contains(&ch.external_id)) {
                        continue;
                    }
                    if ch.group {
                        groups.push(ch.external_id);
                    } else {
                        users.push(ch.external_id);
                    }
                }
                send(Page::Removed { users, groups }).await?;
            }
            _ => send(Page::Present { users: present_users, groups: present_groups }).await?,
        }
        let _ = ldap.unbind().await;
        let mark = match &root {
            Some(root) => Some(root.highest_usn.to_string()),
            None => newest_stamp.or(since),
        };
        send(Page::Done { cursor: json!({ mark_key: mark }) }).await?;
        Ok(())
    }

    /// Reads the groups (all, or those matching `changed`), resolves their
    /// members to external ids and sends them in one page. Returns every
    /// group's id (after an id-only scan on an OpenLDAP delta; none on an AD
    /// delta, whose removals come from `ad.rs`) and the ids of those read.
    async fn groups<F, Fut>(
        &self,
        ldap: &mut Ldap,
        base: &str,
        changed: Option<&str>,
        ids_by_dn: &mut HashMap<String, String>,
        newest_stamp: &mut Option<String>,
        send: &F,
    ) -> Result<(Vec<String>, HashSet<String>), ConnectorError>
    where
        F: Fn(Page) -> Fut,
        Fut: std::future::Future<Output = Result<(), ConnectorError>>,
    {
        let c = &self.config;
        let ad = c.flavor == LdapFlavor::ActiveDirectory;
        let member_attr = c.group_member_attribute.clone();
        // AD: members by GUID, asked for in slices from the start.
        let (controls, first_members) =
            if ad { (vec![ad::extended_dn()], ad::first_range(&member_attr)) } else { (vec![], member_attr.clone()) };
        let attrs =
            vec![c.user_id_attribute.clone(), "cn".into(), "description".into(), "entryCSN".into(), first_members];
        let mut all_ids = Vec::new();
        if changed.is_some() && !ad {
            paged(ldap, c, base, &c.group_filter, vec![c.user_id_attribute.clone()], vec![], |e| {
                if let Some(id) = entry::external_id(c, &e) {
                    ids_by_dn.insert(e.dn.to_ascii_lowercase(), id.clone());
                    all_ids.push(id);
                }
            })
            .await?;
        }
        let mut raw = Vec::new();
        let filter = changed.unwrap_or(&c.group_filter);
        paged(ldap, c, base, filter, attrs, controls.clone(), |e| raw.push(e)).await?;
        if changed.is_none() {
            for e in &raw {
                if let Some(id) = entry::external_id(c, e) {
                    ids_by_dn.insert(ad::plain_dn(&e.dn).to_ascii_lowercase(), id.clone());
                    all_ids.push(id);
                }
            }
        }
        let mut groups = Vec::new();
        let mut read = HashSet::new();
        for e in raw {
            track_stamp(newest_stamp, &e);
            let Some(external_id) = entry::external_id(c, &e) else { continue };
            let values = ad::ranged_values(ldap, &e, &member_attr, &controls).await?;
            let members: Vec<String> = values
                .iter()
                .filter_map(|v| if ad { ad::guid_of(v) } else { ids_by_dn.get(&v.to_ascii_lowercase()).cloned() })
                .collect();
            let text = |n: &str| e.attrs.get(n).and_then(|v| v.first()).cloned();
            read.insert(external_id.clone());
            groups.push(DirectoryGroup {
                external_id,
                name: text("cn").unwrap_or_else(|| ad::plain_dn(&e.dn).to_owned()),
                description: text("description"),
                members: Members::All(members),
            });
        }
        if !groups.is_empty() {
            send(Page::Groups(groups)).await?;
        }
        Ok((all_ids, read))
    }
}

/// Keeps the newest `entryCSN` seen (a CSN's text sorts in time order).
fn track_stamp(newest: &mut Option<String>, e: &SearchEntry) {
    if let Some(stamp) = e.attrs.get("entryCSN").and_then(|v| v.first())
        && newest.as_ref().is_none_or(|n| stamp > n)
    {
        *newest = Some(stamp.clone());
    }
}

impl Directory for LdapDirectory {
    fn run<'a>(&'a self, mode: SyncMode, cursor: Option<Value>, _now: Now, out: PageSender) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.stream(mode, cursor, &out).await {
                let _ = out.send(Err(e)).await;
            }
        })
    }
}
