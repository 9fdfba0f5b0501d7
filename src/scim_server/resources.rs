//! SCIM writes, one trait implemented by Users and Groups so the HTTP
//! handlers and Bulk are written once per verb. Every write is one
//! transaction through `crate::directory`: the row is locked, `If-Match` is
//! checked against the locked row (two writers holding the same version
//! cannot both win), the change and its members, audit record and events
//! commit together or not at all. Refusals are audited like the admin API's.
//!
//! | operation | behaviour |
//! |---|---|
//! | POST | full resource; `userName` / `displayName` unique → 409 `uniqueness`; `Location` = `meta.location` |
//! | PUT | full replace; read-only attributes ignored; `If-Match` → 412 |
//! | PATCH | rendered resource + RFC 7644 §3.5.2 operations → full replace |
//! | DELETE | removes the resource |

use std::future::Future;

use scaikey_scim::{ScimError, etag, patch};
use serde_json::{Map, Value};

use crate::admin::{self, AdminError};
use crate::directory::{self, ous};
use crate::domain::group::{Group, GroupPatch, NewGroup};
use crate::domain::user::{User, UserAttributes};
use crate::store::Tx;

use super::filter_sql::ResourceKind;
use super::service::{self, ScimCtx, render_group, render_user, store_error};
use super::{groups, scim_error, users};

/// Attributes a client cannot write (RFC 7643 `mutability: readOnly`).
const READ_ONLY: &[&str] = &["id", "meta", "groups", "schemas"];

/// A rendered resource and its version.
pub type Rendered = (Map<String, Value>, String);
type Out<T> = Result<T, ScimError>;

/// A SCIM resource type: its endpoint and its five operations.
pub trait ScimResource: Send + Sync + 'static {
    /// The path segment (`Users`, `Groups`).
    const ENDPOINT: &'static str;
    const KIND: ResourceKind;
    /// Whether PATCH answers 204 with the new version in `ETag` (Entra
    /// expects it for groups) rather than 200 with the resource.
    const PATCH_NO_CONTENT: bool;

    fn get(c: &ScimCtx<'_>, id: &str) -> impl Future<Output = Out<Rendered>> + Send;
    fn create(c: &ScimCtx<'_>, body: &Value) -> impl Future<Output = Out<Rendered>> + Send;
    fn replace(
        c: &ScimCtx<'_>,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> impl Future<Output = Out<Rendered>> + Send;
    fn patch(
        c: &ScimCtx<'_>,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> impl Future<Output = Out<Rendered>> + Send;
    fn delete(c: &ScimCtx<'_>, id: &str, if_match: Option<&str>) -> impl Future<Output = Out<()>> + Send;
}

pub struct Users;
pub struct Groups;

fn body_object(body: &Value) -> Out<&Map<String, Value>> {
    body.as_object().ok_or_else(|| ScimError::invalid_syntax("the body must be a JSON object"))
}

async fn write_tx(c: &ScimCtx<'_>) -> Out<Tx> {
    if !c.admin.principal.can_write {
        return Err(ScimError::new(403, "the scim:write scope is required"));
    }
    c.admin.svc.store.write(c.admin.scope()).await.map_err(store_error)
}

/// Runs one write in its own transaction; a refusal rolls everything back
/// and is recorded in the audit log.
async fn in_tx<T, F>(c: &ScimCtx<'_>, action: &str, kind: &str, id: Option<&str>, f: F) -> Out<T>
where
    F: for<'t> AsyncFnOnce(&'t mut Tx) -> Result<T, Failure>,
{
    let r = async {
        let mut tx = write_tx(c).await.map_err(Failure::Scim)?;
        let out = f(&mut tx).await?;
        tx.commit().await.map_err(|e| Failure::Admin(e.into()))?;
        Ok(out)
    }
    .await;
    match r {
        Ok(v) => Ok(v),
        Err(Failure::Admin(e)) => {
            admin::record_refusal(&c.admin, action, kind, id, &e).await;
            Err(scim_error(e))
        }
        Err(Failure::Scim(e)) => Err(e),
    }
}

/// Why a write failed: a refusal of the directory (audited) or a SCIM
/// protocol error of the request itself.
enum Failure {
    Admin(AdminError),
    Scim(ScimError),
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        Failure::Admin(e)
    }
}

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Self {
        Failure::Scim(e)
    }
}

/// `organizationalUnit` may name an OU by id, path or DN: resolved in the tenant.
async fn resolve_ou(tx: &mut Tx, c: &ScimCtx<'_>, attrs: &mut UserAttributes) -> Result<(), AdminError> {
    if let Some(Some(value)) = &attrs.ou_id {
        attrs.ou_id = Some(Some(ous::resolve(tx, &c.tenant_id, value).await?));
    }
    Ok(())
}

fn user_version_is(if_match: Option<&str>) -> impl Fn(&User) -> bool + Sync + '_ {
    move |u| etag::if_match_ok(if_match, &users::version(u))
}

fn group_version_is(if_match: Option<&str>) -> impl Fn(&Group) -> bool + Sync + '_ {
    move |g| etag::if_match_ok(if_match, &groups::version(g))
}

impl ScimResource for Users {
    const ENDPOINT: &'static str = "Users";
    const KIND: ResourceKind = ResourceKind::User;
    const PATCH_NO_CONTENT: bool = false;

    async fn get(c: &ScimCtx<'_>, id: &str) -> Out<Rendered> {
        service::get_user(c, id).await
    }

    async fn create(c: &ScimCtx<'_>, body: &Value) -> Out<Rendered> {
        let mut attrs = users::parse(body_object(body)?)?;
        attrs.tenant_id = Some(c.tenant_id.clone());
        in_tx(c, "user.create", "user", None, async |tx: &mut Tx| {
            resolve_ou(tx, c, &mut attrs).await?;
            let u = directory::users::create(tx, &c.admin.writer(), attrs).await?;
            // A new user is in no group yet: nothing to read back.
            Ok((users::render(&u, &[], &c.base), users::version(&u)))
        })
        .await
    }

    async fn replace(c: &ScimCtx<'_>, id: &str, body: &Value, if_match: Option<&str>) -> Out<Rendered> {
        let mut attrs = users::parse(body_object(body)?)?;
        let expect = user_version_is(if_match);
        in_tx(c, "user.update", "user", Some(id), async |tx: &mut Tx| {
            resolve_ou(tx, c, &mut attrs).await?;
            let u = directory::users::update(tx, &c.admin.writer(), id, attrs, Some(&expect)).await?;
            Ok(render_user(tx, c, &u).await?)
        })
        .await
    }

    async fn patch(c: &ScimCtx<'_>, id: &str, body: &Value, if_match: Option<&str>) -> Out<Rendered> {
        let ops = patch::parse_patch(body)?;
        // `active` is required: it can be replaced, never unassigned.
        let removes_active = ops.iter().any(|o| {
            o.op == patch::PatchOpKind::Remove
                && o.path.as_ref().is_some_and(|p| p.attr.attr.eq_ignore_ascii_case("active"))
        });
        if removes_active {
            return Err(ScimError::mutability("active is required and cannot be removed"));
        }
        in_tx(c, "user.update", "user", Some(id), async |tx: &mut Tx| {
            let current: User = tx.get_for_update(id).await.map_err(AdminError::from)?;
            if !etag::if_match_ok(if_match, &users::version(&current)) {
                return Err(AdminError::Precondition.into());
            }
            let (mut rendered, _) = render_user(tx, c, &current).await?;
            patch::apply_patch(&mut rendered, &ops, READ_ONLY)?;
            let mut attrs = users::parse(&rendered)?;
            resolve_ou(tx, c, &mut attrs).await?;
            let u = directory::users::update(tx, &c.admin.writer(), id, attrs, None).await?;
            Ok(render_user(tx, c, &u).await?)
        })
        .await
    }

    async fn delete(c: &ScimCtx<'_>, id: &str, if_match: Option<&str>) -> Out<()> {
        let expect = user_version_is(if_match);
        in_tx(c, "user.delete", "user", Some(id), async |tx: &mut Tx| {
            Ok(directory::users::delete(tx, &c.admin.writer(), id, Some(&expect)).await?)
        })
        .await
    }
}

/// A group's new name and external id from a parsed SCIM body.
fn group_patch(input: &groups::GroupInput) -> GroupPatch {
    GroupPatch {
        name: Some(input.display_name.clone()),
        external_id: Some(input.external_id.clone()),
        description: None,
        ou_id: None,
    }
}

impl ScimResource for Groups {
    const ENDPOINT: &'static str = "Groups";
    const KIND: ResourceKind = ResourceKind::Group;
    const PATCH_NO_CONTENT: bool = true;

    async fn get(c: &ScimCtx<'_>, id: &str) -> Out<Rendered> {
        service::get_group(c, id).await
    }

    async fn create(c: &ScimCtx<'_>, body: &Value) -> Out<Rendered> {
        let input = groups::parse(body_object(body)?)?;
        in_tx(c, "group.create", "group", None, async |tx: &mut Tx| {
            let w = c.admin.writer();
            let new = NewGroup {
                tenant_id: c.tenant_id.clone(),
                external_id: input.external_id.clone(),
                name: input.display_name.clone(),
                description: None,
                ou_id: None,
            };
            let mut g = directory::groups::create(tx, &w, new).await?;
            if let Some(members) = &input.members {
                directory::groups::set_members(tx, &w, &mut g, members).await?;
            }
            Ok(render_group(tx, c, &g).await?)
        })
        .await
    }

    async fn replace(c: &ScimCtx<'_>, id: &str, body: &Value, if_match: Option<&str>) -> Out<Rendered> {
        let input = groups::parse(body_object(body)?)?;
        let expect = group_version_is(if_match);
        in_tx(c, "group.update", "group", Some(id), async |tx: &mut Tx| {
            let w = c.admin.writer();
            let g = directory::groups::lock(tx, id, Some(&expect)).await?;
            let mut g = directory::groups::update(tx, &w, g, group_patch(&input)).await?;
            // PUT replaces everything: no members in the body means no members.
            directory::groups::set_members(tx, &w, &mut g, input.members.as_deref().unwrap_or_default()).await?;
            Ok(render_group(tx, c, &g).await?)
        })
        .await
    }

    async fn patch(c: &ScimCtx<'_>, id: &str, body: &Value, if_match: Option<&str>) -> Out<Rendered> {
        let ops = patch::parse_patch(body)?;
        let expect = group_version_is(if_match);
        in_tx(c, "group.update", "group", Some(id), async |tx: &mut Tx| {
            let w = c.admin.writer();
            let g = directory::groups::lock(tx, id, Some(&expect)).await?;
            let (mut rendered, _) = render_group(tx, c, &g).await?;
            patch::apply_patch(&mut rendered, &ops, READ_ONLY)?;
            let input = groups::parse(&rendered)?;
            let mut g = directory::groups::update(tx, &w, g, group_patch(&input)).await?;
            directory::groups::set_members(tx, &w, &mut g, input.members.as_deref().unwrap_or_default()).await?;
            Ok(render_group(tx, c, &g).await?)
        })
        .await
    }

    async fn delete(c: &ScimCtx<'_>, id: &str, if_match: Option<&str>) -> Out<()> {
        let expect = group_version_is(if_match);
        in_tx(c, "group.delete", "group", Some(id), async |tx: &mut Tx| {
            let g = directory::groups::lock(tx, id, Some(&expect)).await?;
            Ok(directory::groups::delete(tx, &c.admin.writer(), g).await?)
        })
        .await
    }
}
