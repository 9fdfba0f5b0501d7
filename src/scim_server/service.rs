//! SCIM reads of Users and Groups: lists with filters compiled to SQL,
//! single resources, and the rendering both reads and writes share (a
//! user's `groups`, a group's `members`, read in the caller's transaction).
//! Writes are in `resources`.
//!
//! | operation | behaviour |
//! |---|---|
//! | list / `.search` | filter → SQL, `sortBy`/`sortOrder`, `startIndex`/`count` (≤ 200), `totalResults`; users' `groups` in one query per page |

use std::collections::HashMap;

use scaikey_scim::ScimError;
use scaikey_scim::filter::parse_filter;
use scaikey_scim::path::AttrPath;
use scaikey_scim::projection;
use scaikey_scim::schemas::LIST_RESPONSE;
use serde_json::{Map, Value, json};

use crate::admin::Ctx;
use crate::domain::group::{Group, Member};
use crate::domain::user::User;
use crate::store::{PageRequest, StoreError, Tx};

use super::filter_sql::{self, ResourceKind};
use super::users::GroupRef;
use super::{groups, scim_error, users};

pub const MAX_COUNT: usize = 200;
const ALWAYS: &[&str] = &["id", "schemas", "meta"];

/// A SCIM request's context: the admin context of the caller and the tenant.
pub struct ScimCtx<'a> {
    pub admin: Ctx<'a>,
    pub tenant_id: String,
    /// `{base}/scim/v2/tenants/{slug}`
    pub base: String,
}

fn store_err(e: StoreError) -> ScimError {
    scim_error(e.into())
}

/// `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`, `attributes`, `excludedAttributes`.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: usize,
    pub count: usize,
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl ListQuery {
    /// From query parameters or a `.search` body's members (integers may come as strings).
    pub fn from_pairs(get: &dyn Fn(&str) -> Option<String>) -> Result<ListQuery, ScimError> {
        let int = |k: &str| -> Result<Option<i64>, ScimError> {
            match get(k) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| ScimError::invalid_value(format!("{k} must be an integer"))),
            }
        };
        let start_index = int("startIndex")?.unwrap_or(1).max(1) as usize;
        let count = int("count")?.unwrap_or(100).clamp(0, MAX_COUNT as i64) as usize;
        let descending = match get("sortOrder").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(_) => return Err(ScimError::invalid_value("sortOrder must be ascending or descending")),
        };
        let attributes = get("attributes").map(|a| projection::parse_attr_list(&a)).transpose()?.unwrap_or_default();
        let excluded =
            get("excludedAttributes").map(|a| projection::parse_attr_list(&a)).transpose()?.unwrap_or_default();
        Ok(ListQuery {
            filter: get("filter").filter(|f| !f.trim().is_empty()),
            sort_by: get("sortBy"),
            descending,
            start_index,
            count,
            attributes,
            excluded,
        })
    }
}

fn project(m: Map<String, Value>, q: &ListQuery) -> Value {
    if q.attributes.is_empty() && q.excluded.is_empty() {
        return Value::Object(m);
    }
    Value::Object(projection::project(&m, &q.attributes, &q.excluded, ALWAYS))
}

fn wants(q: &ListQuery, attr: &str) -> bool {
    q.attributes.iter().any(|a| a.attr.eq_ignore_ascii_case(attr))
}

fn list_response(resources: Vec<Value>, total: i64, start: usize) -> Value {
    json!({"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start, "itemsPerPage": resources.len(), "Resources": resources})
}

/// The `groups` of each of `users`, in one query.
async fn groups_of(tx: &mut Tx, users: &[User]) -> Result<HashMap<String, Vec<GroupRef>>, StoreError> {
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let mut out: HashMap<String, Vec<GroupRef>> = HashMap::new();
    for row in tx.groups_of_users(&ids).await? {
        out.entry(row.user_id).or_default().push(GroupRef { id: row.group_id, name: row.name, direct: row.direct > 0 });
    }
    Ok(out)
}

/// A user as SCIM renders it, with its version, read in `tx`.
pub async fn render_user(tx: &mut Tx, c: &ScimCtx<'_>, u: &User) -> Result<(Map<String, Value>, String), ScimError> {
    let mut groups = groups_of(tx, std::slice::from_ref(u)).await.map_err(store_err)?;
    let gs = groups.remove(&u.id).unwrap_or_default();
    Ok((users::render(u, &gs, &c.base), users::version(u)))
}

/// A group as SCIM renders it, with its version, read in `tx`.
pub async fn render_group(tx: &mut Tx, c: &ScimCtx<'_>, g: &Group) -> Result<(Map<String, Value>, String), ScimError> {
    let ms = all_members(tx, g).await.map_err(store_err)?;
    Ok((groups::render(g, &ms, &c.base), groups::version(g)))
}

async fn all_members(tx: &mut Tx, g: &Group) -> Result<Vec<Member>, StoreError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = tx.members(g, &PageRequest { limit: 1000, after }).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return Ok(out),
        }
    }
}

pub fn store_error(e: StoreError) -> ScimError {
    store_err(e)
}

async fn read_tx(c: &ScimCtx<'_>) -> Result<Tx, ScimError> {
    if !c.admin.principal.can_read {
        return Err(ScimError::new(403, "the scim:read scope is required"));
    }
    c.admin.svc.store.read(c.admin.scope()).await.map_err(store_err)
}

pub async fn list(c: &ScimCtx<'_>, kind: ResourceKind, q: &ListQuery) -> Result<Value, ScimError> {
    let mut tx = read_tx(c).await?;
    let mut args = Vec::new();
    let condition = match &q.filter {
        Some(f) => Some(filter_sql::compile(&parse_filter(f)?, kind, tx.dialect(), &mut args)?),
        None => None,
    };
    let default_sort = match kind {
        ResourceKind::User => "users.id",
        ResourceKind::Group => "groups.id",
    };
    let sort = match &q.sort_by {
        Some(s) => filter_sql::sort_column(kind, s)?,
        None => default_sort,
    };
    let offset = q.start_index.saturating_sub(1);
    let resources = match kind {
        ResourceKind::User => {
            let (rows, total) = tx
                .search::<User>(condition.as_deref(), args, sort, q.descending, offset, q.count)
                .await
                .map_err(store_err)?;
            let skip_groups = q.excluded.iter().any(|a| a.attr.eq_ignore_ascii_case("groups"))
                || (!q.attributes.is_empty() && !wants(q, "groups"));
            let mut groups =
                if skip_groups { HashMap::new() } else { groups_of(&mut tx, &rows).await.map_err(store_err)? };
            let mut out = Vec::with_capacity(rows.len());
            for u in &rows {
                let gs = groups.remove(&u.id).unwrap_or_default();
                out.push(project(users::render(u, &gs, &c.base), q));
            }
            (out, total)
        }
        ResourceKind::Group => {
            let (rows, total) = tx
                .search::<Group>(condition.as_deref(), args, sort, q.descending, offset, q.count)
                .await
                .map_err(store_err)?;
            let mut out = Vec::with_capacity(rows.len());
            let skip_members = q.excluded.iter().any(|a| a.attr.eq_ignore_ascii_case("members"))
                || (!q.attributes.is_empty() && !wants(q, "members"));
            for g in &rows {
                let ms = if skip_members { Vec::new() } else { all_members(&mut tx, g).await.map_err(store_err)? };
                out.push(project(groups::render(g, &ms, &c.base), q));
            }
            (out, total)
        }
    };
    tx.commit().await.map_err(store_err)?;
    Ok(list_response(resources.0, resources.1, q.start_index))
}

/// One user, rendered, with its version.
pub async fn get_user(c: &ScimCtx<'_>, id: &str) -> Result<(Map<String, Value>, String), ScimError> {
    let mut tx = read_tx(c).await?;
    let u: User = tx.get(id).await.map_err(store_err)?;
    let out = render_user(&mut tx, c, &u).await?;
    tx.commit().await.map_err(store_err)?;
    Ok(out)
}

pub async fn get_group(c: &ScimCtx<'_>, id: &str) -> Result<(Map<String, Value>, String), ScimError> {
    let mut tx = read_tx(c).await?;
    let g: Group = tx.get(id).await.map_err(store_err)?;
    let out = render_group(&mut tx, c, &g).await?;
    tx.commit().await.map_err(store_err)?;
    Ok(out)
}
