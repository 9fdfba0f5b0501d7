//! Queries behind SCIM lists: a compiled filter (see `scim_server::filter_sql`)
//! plus the scope predicate, an allow-listed sort column, and offset paging
//! (SCIM's `startIndex`/`count`), with the id as tie-breaker so pages are
//! stable. `totalResults` is a `COUNT(*)` of the same condition.

use crate::domain::group::Group;
use crate::store::db::{Arg, Count, IdRow};
use crate::store::{Entity, StoreError, Tx};

/// One (user, group) membership, direct or through nested groups.
#[derive(Debug, sqlx::FromRow)]
pub struct UserGroupRow {
    pub user_id: String,
    pub group_id: String,
    pub name: String,
    /// 1 when the user is a direct member.
    pub direct: i64,
}

impl Tx {
    /// The groups of each of `user_ids`, directly or through nesting, in one
    /// query (a SCIM page of users renders `groups` without a query per user).
    pub async fn groups_of_users(&mut self, user_ids: &[String]) -> Result<Vec<UserGroupRow>, StoreError> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<Arg> = user_ids.iter().map(Arg::from).collect();
        let list = crate::store::db::placeholders(1, user_ids.len());
        let scope = self.scope().predicate(Group::SCOPE, &mut args);
        let sql = format!(
            "WITH RECURSIVE m(user_id, group_id, direct) AS ( \
               SELECT member_user_id, group_id, CAST(1 AS BIGINT) FROM group_members \
               WHERE member_user_id IN ({list}) AND {scope} \
               UNION \
               SELECT m.user_id, gm.group_id, CAST(0 AS BIGINT) FROM group_members gm JOIN m ON gm.member_group_id = m.group_id) \
             SELECT m.user_id, m.group_id, g.name, MAX(m.direct) AS direct FROM m JOIN groups g ON g.id = m.group_id \
             GROUP BY m.user_id, m.group_id, g.name ORDER BY m.user_id, m.group_id"
        );
        self.fetch_all(&sql, args).await
    }

    /// Rows of `E` in scope matching `condition` (SQL over `E::TABLE`, with
    /// its values already in `args`).
    pub async fn search<E: Entity>(
        &mut self,
        condition: Option<&str>,
        mut args: Vec<Arg>,
        sort_column: &'static str,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<E>, i64), StoreError> {
        let scope = self.scope().predicate(E::SCOPE, &mut args);
        let mut clause = scope;
        if let Some(c) = condition {
            clause.push_str(&format!(" AND ({c})"));
        }
        // An unfiltered list of one tenant's users or groups is counted by
        // the tenant's counter; everything else by COUNT(*).
        let total = match (condition, self.scope().clone()) {
            (None, crate::store::Scope::Tenant(t)) if matches!(E::TABLE, "users" | "groups") => {
                self.count_in_tenant(E::TABLE, &t).await?
            }
            _ => {
                let count_sql = format!("SELECT COUNT(*) AS n FROM {} WHERE {clause}", E::TABLE);
                self.fetch_one::<Count>(&count_sql, args.clone()).await?.n
            }
        };
        if limit == 0 {
            return Ok((Vec::new(), total));
        }
        let dir = if descending { "DESC" } else { "ASC" };
        let table = E::TABLE;
        let sql = format!(
            "SELECT * FROM {table} WHERE {clause} ORDER BY {sort_column} {dir}, {table}.id {dir} LIMIT {limit} OFFSET {offset}"
        );
        Ok((self.fetch_all(&sql, args).await?, total))
    }

    /// Ids of the groups a user belongs to directly.
    pub async fn direct_groups_of_user(&mut self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let mut args = vec![Arg::from(user_id)];
        let scope = self.scope().predicate(Group::SCOPE, &mut args);
        let sql =
            format!("SELECT group_id AS id FROM group_members WHERE member_user_id = $1 AND {scope} ORDER BY group_id");
        Ok(self.fetch_all::<IdRow>(&sql, args).await?.into_iter().map(|r| r.id).collect())
    }

    /// Groups by id, within the scope.
    pub async fn groups_by_ids(&mut self, ids: &[String]) -> Result<Vec<Group>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<Arg> = ids.iter().map(Arg::from).collect();
        let list = crate::store::db::placeholders(1, ids.len());
        let scope = self.scope().predicate(Group::SCOPE, &mut args);
        let sql = format!("SELECT * FROM groups WHERE id IN ({list}) AND {scope} ORDER BY id");
        self.fetch_all(&sql, args).await
    }
}
