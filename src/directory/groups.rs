//! Groups and their members. A membership change is a change of the group:
//! it moves the group's `updated_at` (its SCIM version). `set_members`
//! brings a group to exactly the wanted members in the caller's transaction,
//! so a SCIM PUT or PATCH whose third member is invalid changes nothing.

use serde_json::Map;

use crate::admin::{AdminError, must_exist, tenant_in_scope};
use crate::domain::group::{Group, GroupPatch, NewGroup};
use crate::domain::ou::OrganizationalUnit;
use crate::domain::user::User;
use crate::domain::validate::FieldError;
use crate::store::{PageRequest, Tx};

use super::Writer;
use super::events::{self, group_payload, member_payload};
use crate::domain::identifier as normalize;

async fn finish(tx: &mut Tx, g: &mut Group) -> Result<(), AdminError> {
    match normalize::group_name(&g.name) {
        Ok(n) => g.name = n,
        Err(message) => return Err(AdminError::Invalid(vec![FieldError { field: "name".into(), message }])),
    }
    g.validate()?;
    if let Some(o) = &g.ou_id {
        must_exist::<OrganizationalUnit>(tx, o, &g.tenant_id, "ou_id").await?;
    }
    Ok(())
}

pub async fn create(tx: &mut Tx, w: &Writer<'_>, input: NewGroup) -> Result<Group, AdminError> {
    let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
    let mut g = Group {
        id: w.new_id("grp"),
        tenant_id: tenant.id.clone(),
        partner_id: tenant.partner_id.clone(),
        name: input.name,
        description: input.description,
        ou_id: input.ou_id,
        created_at: w.now,
        updated_at: w.now,
        external_id: input.external_id,
    };
    finish(tx, &mut g).await?;
    tx.insert(&g).await?;
    let owner = (g.partner_id.as_str(), g.tenant_id.as_str());
    w.record(tx, "group.create", ("group", &g.id), owner, Map::new(), "group.created", group_payload(&g)).await?;
    Ok(g)
}

/// Locks the group `id`, checking `expect` (SCIM `If-Match`) against the locked row.
pub async fn lock(
    tx: &mut Tx,
    id: &str,
    expect: Option<&(dyn Fn(&Group) -> bool + Sync)>,
) -> Result<Group, AdminError> {
    let g: Group = tx.get_for_update(id).await?;
    if expect.is_some_and(|ok| !ok(&g)) {
        return Err(AdminError::Precondition);
    }
    Ok(g)
}

/// Applies `input` to a group locked with `lock`.
pub async fn update(tx: &mut Tx, w: &Writer<'_>, mut g: Group, input: GroupPatch) -> Result<Group, AdminError> {
    if let Some(n) = input.name {
        g.name = n;
    }
    if let Some(d) = input.description {
        g.description = d;
    }
    if let Some(o) = input.ou_id {
        g.ou_id = o;
    }
    if let Some(x) = input.external_id {
        g.external_id = x;
    }
    g.updated_at = w.now;
    finish(tx, &mut g).await?;
    tx.update(&g).await?;
    let owner = (g.partner_id.as_str(), g.tenant_id.as_str());
    w.record(tx, "group.update", ("group", &g.id), owner, Map::new(), "group.updated", group_payload(&g)).await?;
    Ok(g)
}

/// Deletes a group; each group it was a member of gets `group.member.removed`.
pub async fn delete(tx: &mut Tx, w: &Writer<'_>, g: Group) -> Result<(), AdminError> {
    let owner = (g.partner_id.as_str(), g.tenant_id.as_str());
    for parent in tx.groups_containing_group(&g.id).await? {
        events::emit(tx, w, owner, "group.member.removed", member_payload(&parent, &g.id)).await?;
    }
    tx.delete::<Group>(&g.id).await?;
    w.record(tx, "group.delete", ("group", &g.id), owner, Map::new(), "group.deleted", group_payload(&g)).await?;
    Ok(())
}

/// Adds one member (`usr_…` or `grp_…` of the group's tenant) to a locked group.
pub async fn add_member(tx: &mut Tx, w: &Writer<'_>, g: &mut Group, member_id: &str) -> Result<(), AdminError> {
    if member_id.starts_with("grp_") {
        must_exist::<Group>(tx, member_id, &g.tenant_id, "group_id").await?;
    } else if member_id.starts_with("usr_") {
        must_exist::<User>(tx, member_id, &g.tenant_id, "user_id").await?;
    } else {
        return Err(AdminError::field("members", &format!("{member_id:?} is not a user or group id")));
    }
    tx.add_member(g, member_id, w.now).await?;
    touch(tx, w, g).await?;
    let owner = (g.partner_id.as_str(), g.tenant_id.as_str());
    w.record(
        tx,
        "group.member.add",
        ("group", &g.id),
        owner,
        member_details(member_id),
        "group.member.added",
        member_payload(&g.id, member_id),
    )
    .await?;
    Ok(())
}

/// Removes one member from a locked group (404 when it is not a member).
pub async fn remove_member(tx: &mut Tx, w: &Writer<'_>, g: &mut Group, member_id: &str) -> Result<(), AdminError> {
    tx.remove_member(g, member_id).await?;
    touch(tx, w, g).await?;
    let owner = (g.partner_id.as_str(), g.tenant_id.as_str());
    w.record(
        tx,
        "group.member.remove",
        ("group", &g.id),
        owner,
        member_details(member_id),
        "group.member.removed",
        member_payload(&g.id, member_id),
    )
    .await?;
    Ok(())
}

/// Brings a locked group's direct members to exactly `wanted`.
pub async fn set_members(tx: &mut Tx, w: &Writer<'_>, g: &mut Group, wanted: &[String]) -> Result<(), AdminError> {
    let current = all_member_ids(tx, g).await?;
    for id in current.iter().filter(|m| !wanted.contains(m)) {
        remove_member(tx, w, g, id).await?;
    }
    let mut seen: Vec<&String> = Vec::new();
    for id in wanted.iter().filter(|m| !current.contains(m)) {
        if !seen.contains(&id) {
            seen.push(id);
            add_member(tx, w, g, id).await?;
        }
    }
    Ok(())
}

pub async fn all_member_ids(tx: &mut Tx, g: &Group) -> Result<Vec<String>, AdminError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = tx.members(g, &PageRequest { limit: 1000, after }).await?;
        out.extend(page.items.into_iter().map(|m| m.member_id));
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return Ok(out),
        }
    }
}

fn member_details(member_id: &str) -> Map<String, serde_json::Value> {
    let mut m = Map::new();
    m.insert("member_id".into(), serde_json::Value::String(member_id.to_owned()));
    m
}

async fn touch(tx: &mut Tx, w: &Writer<'_>, g: &mut Group) -> Result<(), AdminError> {
    if g.updated_at != w.now {
        g.updated_at = w.now;
        tx.update(&*g).await?;
    }
    Ok(())
}
