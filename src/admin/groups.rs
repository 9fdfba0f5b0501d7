//! Groups, their members, and organizational units.

use serde_json::{Value, json};

use crate::domain::group::{Group, GroupPatch, Member, NewGroup, NewMember};
use crate::domain::ou::{NewOrganizationalUnit, OrganizationalUnit, OrganizationalUnitPatch};
use crate::domain::user::User;
use crate::store::{Page, PageRequest, Tx};

use super::{Action, AdminError, Created, Ctx, Listed, Resource, must_exist, tenant_in_scope};

impl Listed for Group {
    const PATH: &'static str = "groups";
    const KIND: &'static str = "group";
    const FILTERS: &'static [&'static str] = &["tenant_id", "ou_id"];
}

impl Resource for Group {
    type Create = NewGroup;
    type Patch = GroupPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewGroup) -> Result<Created<Self>, AdminError> {
        let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
        let g = Group {
            id: ctx.new_id("grp"),
            tenant_id: tenant.id.clone(),
            partner_id: tenant.partner_id.clone(),
            name: input.name.trim().to_owned(),
            description: input.description,
            ou_id: input.ou_id,
            created_at: ctx.now,
            updated_at: ctx.now,
            external_id: input.external_id,
        };
        g.validate()?;
        if let Some(o) = &g.ou_id {
            must_exist::<OrganizationalUnit>(tx, o, &g.tenant_id, "ou_id").await?;
        }
        Ok(Created::new(g))
    }

    async fn apply(ctx: &Ctx<'_>, tx: &mut Tx, mut g: Group, input: GroupPatch) -> Result<Self, AdminError> {
        if let Some(n) = input.name {
            g.name = n.trim().to_owned();
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
        g.updated_at = ctx.now;
        g.validate()?;
        if let Some(o) = &g.ou_id {
            must_exist::<OrganizationalUnit>(tx, o, &g.tenant_id, "ou_id").await?;
        }
        Ok(g)
    }

    fn change_event(
        action: Action,
        _before: Option<&Self>,
        _after: &Self,
        view: &Value,
    ) -> Option<(&'static str, Value)> {
        let kind = match action {
            Action::Create => "group.created",
            Action::Update => "group.updated",
            Action::Delete => "group.deleted",
        };
        Some((kind, view.clone()))
    }
}

/// A membership change is a change of the group (its `lastModified` and ETag).
async fn touch(tx: &mut Tx, group: &Group, ctx: &Ctx<'_>) -> Result<(), AdminError> {
    let mut g = group.clone();
    g.updated_at = ctx.now;
    tx.update(&g).await?;
    Ok(())
}

pub async fn list_members(ctx: &Ctx<'_>, group_id: &str, page: PageRequest) -> Result<Page<Member>, AdminError> {
    ctx.require_read()?;
    let mut tx = ctx.svc.store.read(ctx.scope()).await?;
    let group: Group = tx.get(group_id).await?;
    let page = tx.members(&group, &page).await?;
    tx.commit().await?;
    Ok(page)
}

pub async fn add_member(ctx: &Ctx<'_>, group_id: &str, input: NewMember) -> Result<Value, AdminError> {
    let action = "group.member.add".to_owned();
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let group: Group = tx.get_for_update(group_id).await?;
        let (member_id, kind) = match (input.user_id, input.group_id) {
            (Some(u), None) => {
                must_exist::<User>(&mut tx, &u, &group.tenant_id, "user_id").await?;
                (u, "user")
            }
            (None, Some(g)) => {
                must_exist::<Group>(&mut tx, &g, &group.tenant_id, "group_id").await?;
                (g, "group")
            }
            _ => return Err(AdminError::field("user_id", "give exactly one of user_id and group_id")),
        };
        tx.add_member(&group, &member_id, ctx.now).await?;
        touch(&mut tx, &group, ctx).await?;
        let data = json!({"group_id": group.id, "member_id": member_id, "type": kind});
        ctx.record(
            &mut tx,
            action.clone(),
            ("group", &group.id),
            (Some(&group.partner_id), Some(&group.tenant_id)),
            Some(("group.member.added", data.clone())),
        )
        .await?;
        tx.commit().await?;
        Ok(data)
    }
    .await;
    super::audited(ctx, action, "group", Some(group_id), r).await
}

pub async fn remove_member(ctx: &Ctx<'_>, group_id: &str, member_id: &str) -> Result<(), AdminError> {
    let action = "group.member.remove".to_owned();
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let group: Group = tx.get_for_update(group_id).await?;
        tx.remove_member(&group, member_id).await?;
        touch(&mut tx, &group, ctx).await?;
        let kind = if member_id.starts_with("grp_") { "group" } else { "user" };
        let data = json!({"group_id": group.id, "member_id": member_id, "type": kind});
        ctx.record(
            &mut tx,
            action.clone(),
            ("group", &group.id),
            (Some(&group.partner_id), Some(&group.tenant_id)),
            Some(("group.member.removed", data)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    super::audited(ctx, action, "group", Some(group_id), r).await
}

impl Listed for OrganizationalUnit {
    const PATH: &'static str = "organizational-units";
    const KIND: &'static str = "organizational_unit";
    const FILTERS: &'static [&'static str] = &["tenant_id", "parent_id"];
}

impl Resource for OrganizationalUnit {
    type Create = NewOrganizationalUnit;
    type Patch = OrganizationalUnitPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewOrganizationalUnit) -> Result<Created<Self>, AdminError> {
        let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
        let ou = OrganizationalUnit {
            id: ctx.new_id("ou"),
            tenant_id: tenant.id.clone(),
            partner_id: tenant.partner_id.clone(),
            parent_id: input.parent_id,
            name: input.name.trim().to_owned(),
            description: input.description,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        ou.validate()?;
        if let Some(p) = &ou.parent_id {
            must_exist::<OrganizationalUnit>(tx, p, &ou.tenant_id, "parent_id").await?;
        }
        Ok(Created::new(ou))
    }

    async fn apply(
        ctx: &Ctx<'_>,
        tx: &mut Tx,
        mut ou: OrganizationalUnit,
        input: OrganizationalUnitPatch,
    ) -> Result<Self, AdminError> {
        if let Some(n) = input.name {
            ou.name = n.trim().to_owned();
        }
        if let Some(d) = input.description {
            ou.description = d;
        }
        if let Some(p) = input.parent_id {
            ou.parent_id = p;
        }
        ou.updated_at = ctx.now;
        ou.validate()?;
        if let Some(p) = &ou.parent_id {
            must_exist::<OrganizationalUnit>(tx, p, &ou.tenant_id, "parent_id").await?;
            // Moving an OU under itself or one of its descendants would cut
            // that branch off the tree.
            if tx.ou_is_ancestor_or_self(&ou.id, p).await? {
                return Err(AdminError::field("parent_id", "cannot be the unit itself or one of its descendants"));
            }
        }
        Ok(ou)
    }
}
