//! Groups, their members and organizational units. Transitive membership and
//! cycle checks are recursive CTEs: the database walks the graph, and `UNION`
//! (not `UNION ALL`) keeps the walk finite whatever the data holds.

use crate::domain::Timestamp;
use crate::domain::group::{Group, Member};
use crate::domain::ou::OrganizationalUnit;
use crate::store::db::{Arg, Count, IdRow};
use crate::store::{Entity, Page, PageRequest, ScopeCols, StoreError, Tx};

impl Entity for Group {
    const TABLE: &'static str = "groups";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "name" => (&self.name).into(),
        "name_lower" => crate::domain::identifier::group_name_key(&self.name).into(),
        "description" => (&self.description).into(),
        "ou_id" => (&self.ou_id).into(),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
        "external_id" => (&self.external_id).into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

impl Entity for OrganizationalUnit {
    const TABLE: &'static str = "organizational_units";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "parent_id" => (&self.parent_id).into(),
        "name" => (&self.name).into(),
        "description" => (&self.description).into(),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}

const MEMBER_COLUMNS: &str = "group_id, member_id, \
     CASE WHEN member_user_id IS NULL THEN 'group' ELSE 'user' END AS member_type, created_at";

impl Tx {
    /// Adds `member_id` (a `usr_` or `grp_` id of the same tenant) to `group`.
    /// Nested groups are refused when they would close a cycle.
    pub async fn add_member(&mut self, group: &Group, member_id: &str, now: Timestamp) -> Result<(), StoreError> {
        let is_group = member_id.starts_with("grp_");
        if is_group {
            // Serialize nested-group changes per tenant so two concurrent
            // additions cannot each miss the other's edge and form a cycle.
            let lock = self.dialect().for_update();
            let sql = format!("SELECT id FROM tenants WHERE id = $1{lock}");
            self.fetch_one::<IdRow>(&sql, vec![(&group.tenant_id).into()]).await?;
            if member_id == group.id || self.group_contains_group(member_id, &group.id).await? {
                return Err(StoreError::Conflict("group_members_cycle".into()));
            }
        }
        let (user_col, group_col): (Option<&str>, Option<&str>) =
            if is_group { (None, Some(member_id)) } else { (Some(member_id), None) };
        let sql = "INSERT INTO group_members (tenant_id, partner_id, group_id, member_id, member_user_id, \
                   member_group_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        self.execute(
            sql,
            vec![
                (&group.tenant_id).into(),
                (&group.partner_id).into(),
                (&group.id).into(),
                member_id.into(),
                Arg::Text(user_col.map(str::to_owned)),
                Arg::Text(group_col.map(str::to_owned)),
                now.into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn remove_member(&mut self, group: &Group, member_id: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM group_members WHERE group_id = $1 AND tenant_id = $2 AND member_id = $3";
        match self.execute(sql, vec![(&group.id).into(), (&group.tenant_id).into(), member_id.into()]).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Groups that have `group_id` as a direct member.
    pub async fn groups_containing_group(&mut self, group_id: &str) -> Result<Vec<String>, StoreError> {
        let mut args = vec![Arg::from(group_id)];
        let scope = self.scope().predicate(Group::SCOPE, &mut args);
        let sql = format!(
            "SELECT group_id AS id FROM group_members WHERE member_group_id = $1 AND {scope} ORDER BY group_id"
        );
        Ok(self.fetch_all::<IdRow>(&sql, args).await?.into_iter().map(|r| r.id).collect())
    }

    /// The child OU of `parent` (a root OU when `None`) named `name`, case-insensitively.
    pub async fn ou_child_by_name(
        &mut self,
        tenant_id: &str,
        parent: Option<&str>,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut args = vec![Arg::from(tenant_id), Arg::from(name.to_lowercase())];
        let parent_cond = match parent {
            Some(p) => {
                args.push(Arg::from(p));
                "parent_id = $3".to_owned()
            }
            None => "parent_id IS NULL".to_owned(),
        };
        let scope = self.scope().predicate(OrganizationalUnit::SCOPE, &mut args);
        let sql = format!(
            "SELECT id FROM organizational_units WHERE tenant_id = $1 AND lower(name) = $2 AND {parent_cond} \
             AND {scope} ORDER BY id LIMIT 1"
        );
        Ok(self.fetch_optional::<IdRow>(&sql, args).await?.map(|r| r.id))
    }

    /// Direct members of a group, in member-id order.
    pub async fn members(&mut self, group: &Group, page: &PageRequest) -> Result<Page<Member>, StoreError> {
        let limit = page.limit.clamp(1, 1000);
        let mut args = vec![Arg::from(&group.id), Arg::from(&group.tenant_id)];
        let mut sql = format!("SELECT {MEMBER_COLUMNS} FROM group_members WHERE group_id = $1 AND tenant_id = $2");
        if let Some(after) = &page.after {
            args.push(after.into());
            sql.push_str(" AND member_id > $3");
        }
        sql.push_str(&format!(" ORDER BY member_id LIMIT {}", limit + 1));
        let mut items: Vec<Member> = self.fetch_all(&sql, args).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|m| m.member_id.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Whether `outer` contains `inner`, directly or through nested groups.
    pub async fn group_contains_group(&mut self, outer: &str, inner: &str) -> Result<bool, StoreError> {
        let sql = "WITH RECURSIVE d(id) AS ( \
                     SELECT member_group_id FROM group_members WHERE group_id = $1 AND member_group_id IS NOT NULL \
                     UNION \
                     SELECT gm.member_group_id FROM group_members gm JOIN d ON gm.group_id = d.id \
                     WHERE gm.member_group_id IS NOT NULL) \
                   SELECT COUNT(*) AS n FROM d WHERE id = $2";
        Ok(self.fetch_one::<Count>(sql, vec![outer.into(), inner.into()]).await?.n > 0)
    }

    /// Every group a user belongs to, directly or through nesting, in the
    /// user's tenant (the scope predicate keeps it there).
    pub async fn transitive_groups_of_user(&mut self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(ScopeCols::TENANT_OWNED, &mut args);
        let sql = format!(
            "WITH RECURSIVE g(id) AS ( \
               SELECT group_id FROM group_members WHERE member_user_id = $1 AND {scope} \
               UNION \
               SELECT gm.group_id FROM group_members gm JOIN g ON gm.member_group_id = g.id) \
             SELECT id FROM g ORDER BY id"
        );
        Ok(self.fetch_all::<IdRow>(&sql, args).await?.into_iter().map(|r| r.id).collect())
    }

    /// Whether `ancestor` is `ou` itself or above it in the OU tree.
    pub async fn ou_is_ancestor_or_self(&mut self, ancestor: &str, ou: &str) -> Result<bool, StoreError> {
        let sql = "WITH RECURSIVE up(id, parent_id) AS ( \
                     SELECT id, parent_id FROM organizational_units WHERE id = $1 \
                     UNION \
                     SELECT o.id, o.parent_id FROM organizational_units o JOIN up ON o.id = up.parent_id) \
                   SELECT COUNT(*) AS n FROM up WHERE id = $2";
        Ok(self.fetch_one::<Count>(sql, vec![ou.into(), ancestor.into()]).await?.n > 0)
    }
}
