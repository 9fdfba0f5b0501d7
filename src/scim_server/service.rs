//! SCIM operations on Users and Groups. Reads go straight to the store with
//! filters compiled to SQL; writes go through the admin services.
//!
//! | operation | behaviour |
//! |---|---|
//! | list / `.search` | filter → SQL, `sortBy`/`sortOrder`, `startIndex`/`count` (≤ 200), `totalResults` |
//! | POST | full resource; `userName` / `displayName` unique → 409 `uniqueness` |
//! | PUT | full replace; read-only attributes ignored; `If-Match` → 412 |
//! | PATCH | rendered resource + RFC 7644 §3.5.2 operations → full replace |
//! | DELETE | removes the resource |

use scaikey_scim::ScimError;
use scaikey_scim::filter::parse_filter;
use scaikey_scim::path::AttrPath;
use scaikey_scim::schemas::LIST_RESPONSE;
use scaikey_scim::{etag, patch, projection};
use serde_json::{Map, Value, json};

use crate::admin::{self, Ctx};
use crate::domain::group::{Group, GroupPatch, Member, NewGroup, NewMember};
use crate::domain::user::{User, UserAttributes};
use crate::store::{PageRequest, StoreError, Tx};

use super::filter_sql::{self, ResourceKind};
use super::users::GroupRef;
use super::{groups, scim_error, users};

pub const MAX_COUNT: usize = 200;
const ALWAYS: &[&str] = &["id", "schemas", "meta"];
const READ_ONLY: &[&str] = &["id", "meta", "groups", "schemas"];

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

async fn user_groups(tx: &mut Tx, user_id: &str) -> Result<Vec<GroupRef>, StoreError> {
    let direct = tx.direct_groups_of_user(user_id).await?;
    let all = tx.transitive_groups_of_user(user_id).await?;
    let found = tx.groups_by_ids(&all).await?;
    Ok(found.into_iter().map(|g| GroupRef { direct: direct.contains(&g.id), id: g.id, name: g.name }).collect())
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
            let mut out = Vec::with_capacity(rows.len());
            for u in &rows {
                // `groups` costs a query per user: in lists only when asked for.
                let gs =
                    if wants(q, "groups") { user_groups(&mut tx, &u.id).await.map_err(store_err)? } else { Vec::new() };
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
    let gs = user_groups(&mut tx, &u.id).await.map_err(store_err)?;
    tx.commit().await.map_err(store_err)?;
    Ok((users::render(&u, &gs, &c.base), users::version(&u)))
}

pub async fn get_group(c: &ScimCtx<'_>, id: &str) -> Result<(Map<String, Value>, String), ScimError> {
    let mut tx = read_tx(c).await?;
    let g: Group = tx.get(id).await.map_err(store_err)?;
    let ms = all_members(&mut tx, &g).await.map_err(store_err)?;
    tx.commit().await.map_err(store_err)?;
    Ok((groups::render(&g, &ms, &c.base), groups::version(&g)))
}

fn require_write(c: &ScimCtx<'_>) -> Result<(), ScimError> {
    if c.admin.principal.can_write { Ok(()) } else { Err(ScimError::new(403, "the scim:write scope is required")) }
}

fn check_version(if_match: Option<&str>, current: &str) -> Result<(), ScimError> {
    if etag::if_match_ok(if_match, current) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed("the resource changed since it was read (If-Match)"))
    }
}

fn body_object(body: &Value) -> Result<&Map<String, Value>, ScimError> {
    body.as_object().ok_or_else(|| ScimError::invalid_syntax("the body must be a JSON object"))
}

pub async fn create_user(c: &ScimCtx<'_>, body: &Value) -> Result<(Map<String, Value>, String), ScimError> {
    require_write(c)?;
    let mut attrs: UserAttributes = users::parse(body_object(body)?)?;
    attrs.tenant_id = Some(c.tenant_id.clone());
    let v = admin::create::<User>(&c.admin, attrs).await.map_err(scim_error)?;
    let id = v.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    get_user(c, &id).await
}

pub async fn replace_user(
    c: &ScimCtx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<(Map<String, Value>, String), ScimError> {
    require_write(c)?;
    let (_, version) = get_user(c, id).await?;
    check_version(if_match, &version)?;
    let attrs = users::parse(body_object(body)?)?;
    admin::update::<User>(&c.admin, id, attrs).await.map_err(scim_error)?;
    get_user(c, id).await
}

pub async fn patch_user(
    c: &ScimCtx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<(Map<String, Value>, String), ScimError> {
    require_write(c)?;
    let ops = patch::parse_patch(body)?;
    // `active` is required: it can be replaced, never unassigned.
    let removes_active = ops.iter().any(|o| {
        o.op == patch::PatchOpKind::Remove
            && o.path.as_ref().is_some_and(|p| p.attr.attr.eq_ignore_ascii_case("active"))
    });
    if removes_active {
        return Err(ScimError::mutability("active is required and cannot be removed"));
    }
    let (mut current, version) = get_user(c, id).await?;
    check_version(if_match, &version)?;
    patch::apply_patch(&mut current, &ops, READ_ONLY)?;
    let attrs = users::parse(&current)?;
    admin::update::<User>(&c.admin, id, attrs).await.map_err(scim_error)?;
    get_user(c, id).await
}

pub async fn delete_user(c: &ScimCtx<'_>, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
    require_write(c)?;
    if if_match.is_some() {
        let (_, version) = get_user(c, id).await?;
        check_version(if_match, &version)?;
    }
    admin::delete::<User>(&c.admin, id).await.map_err(scim_error)
}

/// Brings a group's members to exactly `wanted`, through the audited services.
async fn sync_members(c: &ScimCtx<'_>, group_id: &str, wanted: &[String]) -> Result<(), ScimError> {
    let current: Vec<String> = {
        let mut tx = read_tx(c).await?;
        let g: Group = tx.get(group_id).await.map_err(store_err)?;
        let ms = all_members(&mut tx, &g).await.map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        ms.into_iter().map(|m| m.member_id).collect()
    };
    for id in current.iter().filter(|m| !wanted.contains(m)) {
        admin::groups::remove_member(&c.admin, group_id, id).await.map_err(scim_error)?;
    }
    for id in wanted.iter().filter(|m| !current.contains(m)) {
        let input = if id.starts_with("grp_") {
            NewMember { user_id: None, group_id: Some(id.clone()) }
        } else {
            NewMember { user_id: Some(id.clone()), group_id: None }
        };
        admin::groups::add_member(&c.admin, group_id, input).await.map_err(scim_error)?;
    }
    Ok(())
}

pub async fn create_group(c: &ScimCtx<'_>, body: &Value) -> Result<(Map<String, Value>, String), ScimError> {
    require_write(c)?;
    let input = groups::parse(body_object(body)?)?;
    let new = NewGroup {
        tenant_id: c.tenant_id.clone(),
        external_id: input.external_id,
        name: input.display_name,
        description: None,
        ou_id: None,
    };
    let v = admin::create::<Group>(&c.admin, new).await.map_err(scim_error)?;
    let id = v.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(members) = input.members {
        sync_members(c, &id, &members).await?;
    }
    get_group(c, &id).await
}

async fn write_group(
    c: &ScimCtx<'_>,
    id: &str,
    input: groups::GroupInput,
    members: Option<Vec<String>>,
) -> Result<(), ScimError> {
    let patch = GroupPatch {
        name: Some(input.display_name),
        external_id: Some(input.external_id),
        description: None,
        ou_id: None,
    };
    admin::update::<Group>(&c.admin, id, patch).await.map_err(scim_error)?;
    if let Some(m) = members {
        sync_members(c, id, &m).await?;
    }
    Ok(())
}

pub async fn replace_group(
    c: &ScimCtx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<(Map<String, Value>, String), ScimError> {
    require_write(c)?;
    let (_, version) = get_group(c, id).await?;
    check_version(if_match, &version)?;
    let input = groups::parse(body_object(body)?)?;
    // PUT replaces everything: no members in the body means no members.
    let members = Some(input.members.clone().unwrap_or_default());
    write_group(c, id, input, members).await?;
    get_group(c, id).await
}

pub async fn patch_group(
    c: &ScimCtx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<(Map<String, Value>, String), ScimError> {
    require_write(c)?;
    let ops = patch::parse_patch(body)?;
    let (mut current, version) = get_group(c, id).await?;
    check_version(if_match, &version)?;
    patch::apply_patch(&mut current, &ops, READ_ONLY)?;
    let input = groups::parse(&current)?;
    let members = Some(input.members.clone().unwrap_or_default());
    write_group(c, id, input, members).await?;
    get_group(c, id).await
}

pub async fn delete_group(c: &ScimCtx<'_>, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
    require_write(c)?;
    if if_match.is_some() {
        let (_, version) = get_group(c, id).await?;
        check_version(if_match, &version)?;
    }
    admin::delete::<Group>(&c.admin, id).await.map_err(scim_error)
}
