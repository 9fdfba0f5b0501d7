//! Applying one page of a sync run, inside the page's transaction.

use std::collections::{HashMap, HashSet};

use scaikey_connectors::directory::{DirectoryGroup, DirectoryUser, Members};

use crate::admin::AdminError;
use crate::directory::{self, Writer};
use crate::domain::group::{Group, GroupPatch, NewGroup};
use crate::domain::idp::IdentityProvider;
use crate::domain::sync_run::SyncRun;
use crate::domain::user::{User, UserAttributes, UserStatus};
use crate::federation::jit::{Applied, apply_attributes, store_error};
use crate::federation::mapping;
use crate::store::{StoreError, Tx};

/// The users a run already knows, by external id (loaded once per run, kept
/// up to date as it creates users), so a page costs one read of its users.
pub type Known = HashMap<String, String>;

/// Users created, updated or suspended as the directory describes them;
/// the page's new users are created together.
pub async fn users(
    tx: &mut Tx,
    w: &Writer<'_>,
    idp: &IdentityProvider,
    run: &mut SyncRun,
    known: &mut Known,
    page: &[DirectoryUser],
) -> Result<(), StoreError> {
    let ids: Vec<String> = page.iter().filter_map(|du| known.get(&du.identity.external_id).cloned()).collect();
    let mut existing: HashMap<String, User> =
        tx.users_by_ids(&ids).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
    let mut new_users = Vec::new();
    let mut ous: HashMap<&str, Option<String>> = HashMap::new();
    for du in page {
        let ext = &du.identity.external_id;
        let mut attrs = mapping::attributes(idp, &du.identity);
        let status = if du.disabled { UserStatus::Suspended } else { UserStatus::Active };
        attrs.status = Some(status);
        if let Some(path) = du.ou_path.as_deref() {
            let ou_id = match ous.get(path) {
                Some(id) => id.clone(),
                None => {
                    let id = match directory::ous::ensure_path(tx, w, &idp.tenant_id, path).await {
                        Ok(id) => id,
                        Err(AdminError::Invalid(_)) => {
                            run.error(ext, format!("the organizational unit {path:?} is not a valid path"));
                            None
                        }
                        Err(e) => return Err(store_error(e)),
                    };
                    ous.insert(path, id.clone());
                    id
                }
            };
            attrs.ou_id = Some(ou_id);
        }
        match known.get(ext).and_then(|id| existing.remove(id)) {
            Some(user) => {
                let suspending = status == UserStatus::Suspended && user.status != UserStatus::Suspended;
                match apply_attributes(tx, w, &user, attrs).await? {
                    Applied::Unchanged => run.counts.users.unchanged += 1,
                    Applied::Updated if suspending => run.counts.users.suspended += 1,
                    Applied::Updated => run.counts.users.updated += 1,
                    Applied::Refused(why) => {
                        run.counts.users.failed += 1;
                        run.error(ext, why);
                    }
                }
            }
            None => new_users.push((attrs, ext.clone())),
        }
    }
    if new_users.is_empty() {
        return Ok(());
    }
    let exts: Vec<String> = new_users.iter().map(|(_, ext)| ext.clone()).collect();
    let created = directory::provision::create_many_linked(tx, w, &idp.tenant_id, &idp.id, new_users)
        .await
        .map_err(store_error)?;
    for (ext, outcome) in exts.into_iter().zip(created) {
        match outcome {
            Ok(user) => {
                run.counts.users.created += 1;
                known.insert(ext, user.id);
            }
            Err(e) => {
                run.counts.users.failed += 1;
                run.error(&ext, refusal(&e));
            }
        }
    }
    Ok(())
}

/// A refused user's reason, for the run's per-object errors.
fn refusal(e: &AdminError) -> String {
    match e {
        AdminError::Invalid(fields) => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

/// Groups created or updated, then every group's direct members set (users
/// and nested groups), once all the page's groups exist. What is stored is
/// read in two queries; only groups that differ are locked and written.
pub async fn groups(
    tx: &mut Tx,
    w: &Writer<'_>,
    idp: &IdentityProvider,
    run: &mut SyncRun,
    known: &Known,
    page: &[DirectoryGroup],
) -> Result<(), StoreError> {
    let stored: HashMap<String, crate::store::repos::sync::LinkedGroup> =
        tx.linked_groups_full(&idp.id).await?.into_iter().map(|g| (g.external_id.clone(), g)).collect();
    let mut ids: HashMap<&str, String> = HashMap::new();
    let mut changed: HashSet<String> = HashSet::new();
    let mut created: HashSet<String> = HashSet::new();
    for dg in page {
        let ext = dg.external_id.as_str();
        match stored.get(ext) {
            Some(g) => {
                if g.name != dg.name || g.description != dg.description {
                    let current: Group = tx.get_for_update(&g.id).await?;
                    let patch = GroupPatch {
                        name: Some(dg.name.clone()),
                        external_id: None,
                        description: Some(dg.description.clone()),
                        ou_id: None,
                    };
                    match directory::groups::update(tx, w, current, patch).await {
                        Ok(_) => {
                            changed.insert(g.id.clone());
                        }
                        Err(AdminError::Invalid(_)) => {
                            run.counts.groups.failed += 1;
                            run.error(ext, "the group's new name is invalid or taken");
                            continue;
                        }
                        Err(e) => return Err(store_error(e)),
                    }
                }
                ids.insert(ext, g.id.clone());
            }
            None => {
                if tx.group_by_name(&idp.tenant_id, &dg.name).await?.is_some() {
                    run.counts.groups.failed += 1;
                    run.error(
                        ext,
                        format!("a group named {:?} already exists and is not linked to this directory", dg.name),
                    );
                    continue;
                }
                let input = NewGroup {
                    tenant_id: idp.tenant_id.clone(),
                    external_id: None,
                    name: dg.name.clone(),
                    description: dg.description.clone(),
                    ou_id: None,
                };
                let g = match directory::groups::create(tx, w, input).await {
                    Ok(g) => g,
                    Err(AdminError::Invalid(fields)) => {
                        run.counts.groups.failed += 1;
                        run.error(ext, fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "));
                        continue;
                    }
                    Err(e) => return Err(store_error(e)),
                };
                tx.link_group(&g.id, &g.tenant_id, &idp.id, ext).await?;
                run.counts.groups.created += 1;
                created.insert(g.id.clone());
                ids.insert(ext, g.id);
            }
        }
    }
    // Nested groups resolve against every group of this IdP, not only this page's.
    let mut group_ids: HashMap<&str, &String> = stored.iter().map(|(ext, g)| (ext.as_str(), &g.id)).collect();
    group_ids.extend(ids.iter().map(|(ext, id)| (*ext, id)));
    let mut members = tx.linked_group_members(&idp.id).await?;
    for dg in page {
        let Some(id) = ids.get(dg.external_id.as_str()) else { continue };
        let resolve = |exts: &[String]| -> Vec<String> {
            exts.iter().filter_map(|m| known.get(m).or_else(|| group_ids.get(m.as_str()).copied()).cloned()).collect()
        };
        let current = members.remove(id).unwrap_or_default();
        let wanted: Vec<String> = match &dg.members {
            Members::All(all) => resolve(all),
            Members::Changed { added, removed } => {
                let removed: HashSet<String> = resolve(removed).into_iter().collect();
                let mut wanted: Vec<String> = current.iter().filter(|m| !removed.contains(*m)).cloned().collect();
                for m in resolve(added) {
                    if !wanted.contains(&m) {
                        wanted.push(m);
                    }
                }
                wanted
            }
        };
        let (now_set, want_set): (HashSet<&String>, HashSet<&String>) =
            (current.iter().collect(), wanted.iter().collect());
        if now_set != want_set {
            let mut g: Group = tx.get_for_update(id).await?;
            match directory::groups::set_members(tx, w, &mut g, &wanted).await {
                Ok(()) => {
                    changed.insert(id.clone());
                }
                Err(AdminError::Conflict { message, .. }) => {
                    run.counts.groups.failed += 1;
                    run.error(&dg.external_id, message);
                    return Err(StoreError::Database(sqlx::Error::Protocol(message.into())));
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        if created.contains(id) {
            continue;
        }
        if changed.contains(id) {
            run.counts.groups.updated += 1;
        } else {
            run.counts.groups.unchanged += 1;
        }
    }
    Ok(())
}

/// What the directory no longer has.
pub enum Gone {
    /// Everything but these external ids (a full list of what is there).
    AllBut { users: Vec<String>, groups: Vec<String> },
    /// These external ids (deleted or moved out of scope since the mark).
    These { users: Vec<String>, groups: Vec<String> },
}

/// Everyone the store knows from this IdP but the directory no longer has:
/// users are suspended (never deleted) and leave the directory's groups,
/// groups are removed. An empty directory while users are known is
/// refused: a wrong base DN must not suspend everyone.
pub async fn gone(
    tx: &mut Tx,
    w: &Writer<'_>,
    idp: &IdentityProvider,
    run: &mut SyncRun,
    known: &Known,
    gone: Gone,
) -> Result<Result<(), String>, StoreError> {
    let linked = tx.linked_groups(&idp.id).await?;
    // (external id, id) of the users and groups that are gone.
    type Pairs<'a> = Vec<(&'a String, &'a String)>;
    let (users, groups): (Pairs, Pairs) = match &gone {
        Gone::AllBut { users, groups } => {
            if users.is_empty() && !known.is_empty() {
                return Ok(Err(
                    "the directory returned no users; nobody was suspended (check user_base_dn and user_filter)".into(),
                ));
            }
            let users: HashSet<&str> = users.iter().map(String::as_str).collect();
            let groups: HashSet<&str> = groups.iter().map(String::as_str).collect();
            (
                known.iter().filter(|(ext, _)| !users.contains(ext.as_str())).collect(),
                linked.iter().filter(|(ext, _)| !groups.contains(ext.as_str())).map(|(e, i)| (e, i)).collect(),
            )
        }
        Gone::These { users, groups } => {
            let groups: HashSet<&str> = groups.iter().map(String::as_str).collect();
            (
                users.iter().filter_map(|ext| known.get_key_value(ext)).collect(),
                linked.iter().filter(|(ext, _)| groups.contains(ext.as_str())).map(|(e, i)| (e, i)).collect(),
            )
        }
    };
    let ext_of: HashMap<&String, &String> = users.iter().map(|(ext, id)| (*id, *ext)).collect();
    let gone_ids: Vec<String> = users.iter().map(|(_, id)| (*id).clone()).collect();
    for user in tx.users_by_ids(&gone_ids).await? {
        if user.status == UserStatus::Suspended {
            continue;
        }
        let ext = ext_of.get(&user.id).map(|e| e.as_str()).unwrap_or_default();
        let change = UserAttributes { status: Some(UserStatus::Suspended), ..Default::default() };
        match directory::users::update(tx, w, &user.id, change, None).await {
            Ok(_) => run.counts.users.suspended += 1,
            Err(e @ (AdminError::Forbidden(_) | AdminError::Invalid(_))) => {
                run.counts.users.failed += 1;
                run.error(ext, e.to_string());
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    // Gone users leave the directory's groups too: AD removes a deleted
    // user from its groups without marking the groups changed.
    let gone_set: HashSet<&String> = gone_ids.iter().collect();
    let members = if gone_set.is_empty() { HashMap::new() } else { tx.linked_group_members(&idp.id).await? };
    for (group_id, members) in members {
        let leaving: Vec<&String> = members.iter().filter(|m| gone_set.contains(m)).collect();
        if leaving.is_empty() {
            continue;
        }
        let mut g: Group = tx.get_for_update(&group_id).await?;
        for member in leaving {
            directory::groups::remove_member(tx, w, &mut g, member).await.map_err(store_error)?;
        }
        run.counts.groups.updated += 1;
    }
    for (_, group_id) in groups {
        let g: Group = tx.get_for_update(group_id).await?;
        directory::groups::delete(tx, w, g).await.map_err(store_error)?;
        run.counts.groups.deleted += 1;
    }
    Ok(Ok(()))
}
