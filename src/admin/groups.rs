//! Groups, their members, and organizational units in the admin API: reads
//! here, writes through `crate::directory`.

use serde_json::{Value, json};

use crate::directory;
use crate::domain::group::{Group, GroupPatch, Member, NewGroup, NewMember};
use crate::domain::ou::{NewOrganizationalUnit, OrganizationalUnit, OrganizationalUnitPatch};
use crate::store::{Page, PageRequest, Tx};

use super::{AdminError, Created, Ctx, Listed, Resource};

impl Listed for Group {
    const PATH: &'static str = "groups";
    const KIND: &'static str = "group";
    const FILTERS: &'static [&'static str] = &["tenant_id", "ou_id"];
}

impl Resource for Group {
    type Create = NewGroup;
    type Patch = GroupPatch;

    async fn create(ctx: &Ctx<'_>, tx: &mut Tx, input: NewGroup) -> Result<Created<Self>, AdminError> {
        Ok(Created::new(directory::groups::create(tx, &ctx.writer(), input).await?))
    }

    async fn update(ctx: &Ctx<'_>, tx: &mut Tx, id: &str, input: GroupPatch) -> Result<Self, AdminError> {
        let g = directory::groups::lock(tx, id, None).await?;
        directory::groups::update(tx, &ctx.writer(), g, input).await
    }

    async fn delete(ctx: &Ctx<'_>, tx: &mut Tx, id: &str) -> Result<(), AdminError> {
        let g = directory::groups::lock(tx, id, None).await?;
        directory::groups::delete(tx, &ctx.writer(), g).await
    }
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
        let member_id = match (input.user_id, input.group_id) {
            (Some(u), None) => u,
            (None, Some(g)) => g,
            _ => return Err(AdminError::field("user_id", "give exactly one of user_id and group_id")),
        };
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let mut group = directory::groups::lock(&mut tx, group_id, None).await?;
        directory::groups::add_member(&mut tx, &ctx.writer(), &mut group, &member_id).await?;
        tx.commit().await?;
        let kind = if member_id.starts_with("grp_") { "group" } else { "user" };
        Ok(json!({"group_id": group.id, "member_id": member_id, "type": kind}))
    }
    .await;
    super::audited(ctx, action, "group", Some(group_id), r).await
}

pub async fn remove_member(ctx: &Ctx<'_>, group_id: &str, member_id: &str) -> Result<(), AdminError> {
    let action = "group.member.remove".to_owned();
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let mut group = directory::groups::lock(&mut tx, group_id, None).await?;
        directory::groups::remove_member(&mut tx, &ctx.writer(), &mut group, member_id).await?;
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

    async fn create(ctx: &Ctx<'_>, tx: &mut Tx, input: NewOrganizationalUnit) -> Result<Created<Self>, AdminError> {
        Ok(Created::new(directory::ous::create(tx, &ctx.writer(), input).await?))
    }

    async fn update(ctx: &Ctx<'_>, tx: &mut Tx, id: &str, input: OrganizationalUnitPatch) -> Result<Self, AdminError> {
        directory::ous::update(tx, &ctx.writer(), id, input).await
    }

    async fn delete(ctx: &Ctx<'_>, tx: &mut Tx, id: &str) -> Result<(), AdminError> {
        directory::ous::delete(tx, &ctx.writer(), id).await
    }
}
