//! The admin API's services, free of HTTP. Every resource implements
//! `Resource`; the generic `list/get/create/update/delete` below own the steps
//! every write shares — authorization, the scoped transaction, the recorded
//! refusal — so no resource can forget one. Users, groups, memberships and
//! OUs write through `crate::directory`, which validates, audits and emits
//! their change events in the same transaction; the other resources are
//! `Simple` and the blanket impl stores and audits them.

pub mod applications;
pub mod authz;
pub mod factors;
pub mod groups;
pub mod identity_providers;
pub mod misc;
pub mod partners;
pub mod sync;
pub mod tenants;
pub mod users;
pub mod webhooks;

use std::future::Future;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::app::Services;
use crate::domain::Timestamp;
use crate::domain::audit::AuditEvent;
use crate::domain::validate::FieldError;
use crate::ids::new_id;
use crate::store::entity::Filter;
use crate::store::{Arg, Entity, Page, PageRequest, Scope, StoreError, Tx};
use authz::Principal;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("not found")]
    NotFound,
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{message}")]
    Conflict { code: &'static str, message: &'static str },
    #[error("{message}")]
    Limit { code: &'static str, message: String },
    /// The object changed since the caller read it (`If-Match`).
    #[error("the object changed since it was read")]
    Precondition,
    #[error("internal error")]
    Internal(String),
}

impl AdminError {
    pub fn field(field: &str, message: &str) -> Self {
        AdminError::Invalid(vec![FieldError { field: field.into(), message: message.into() }])
    }
}

/// Unique constraints and what they mean to an API user.
const CONFLICTS: &[(&str, &str, &str)] = &[
    ("tenants_slug_key", "tenant.slug_taken", "a tenant with this slug already exists"),
    (
        "users_tenant_id_user_name_lower_key",
        "user.user_name_taken",
        "a user with this user_name already exists in the tenant",
    ),
    ("groups_tenant_id_name_lower_key", "group.name_taken", "a group with this name already exists in the tenant"),
    ("group_members_group_id_member_id_key", "group.member_exists", "this member is already in the group"),
    ("group_members_cycle", "group.cycle", "adding this group would make a group contain itself"),
    (
        "role_assignments_user_id_role_partner_id_tenant_id_key",
        "role_assignment.exists",
        "this role assignment already exists",
    ),
    ("user_identities_idp_id_external_id_key", "identity.taken", "this external identity is linked to another user"),
    (
        "idp_domains_tenant_id_domain_key",
        "identity_provider.domain_taken",
        "a domain in domains already belongs to another identity provider of the tenant",
    ),
];

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AdminError::NotFound,
            StoreError::Conflict(name) => match CONFLICTS.iter().find(|(c, _, _)| *c == name) {
                Some((_, code, message)) => AdminError::Conflict { code, message },
                None => AdminError::Conflict { code: "conflict", message: "the object conflicts with an existing one" },
            },
            StoreError::Reference => AdminError::Conflict {
                code: "reference",
                message: "a referenced object does not exist, or the object is still in use",
            },
            other => AdminError::Internal(other.to_string()),
        }
    }
}

impl From<Vec<FieldError>> for AdminError {
    fn from(e: Vec<FieldError>) -> Self {
        AdminError::Invalid(e)
    }
}

/// One admin request: who, with which request id, at what time.
pub struct Ctx<'a> {
    pub svc: &'a Services,
    pub principal: &'a Principal,
    pub request_id: &'a str,
    pub now: Timestamp,
}

impl Ctx<'_> {
    pub fn scope(&self) -> Scope {
        self.principal.authority.clone()
    }

    fn require_read(&self) -> Result<(), AdminError> {
        if self.principal.can_read { Ok(()) } else { Err(AdminError::Forbidden("the admin:read scope is required")) }
    }

    fn require_write(&self) -> Result<(), AdminError> {
        if self.principal.can_write { Ok(()) } else { Err(AdminError::Forbidden("the admin:write scope is required")) }
    }

    pub fn require_platform(&self) -> Result<(), AdminError> {
        if self.principal.is_platform() { Ok(()) } else { Err(AdminError::Forbidden("this requires super_admin")) }
    }

    pub fn new_id(&self, prefix: &str) -> String {
        new_id(prefix, self.now)
    }

    /// The directory write path's view of this request.
    pub fn writer(&self) -> crate::directory::Writer<'_> {
        crate::directory::Writer {
            actor: crate::directory::Actor::of(self.principal),
            authority: self.principal.authority.clone(),
            request_id: Some(self.request_id),
            now: self.now,
        }
    }

    /// Appends the audit event of a successful write outside the directory
    /// (whose own writes audit themselves, with their change events).
    pub async fn record(
        &self,
        tx: &mut Tx,
        action: String,
        target: (&str, &str),
        owner: (Option<&str>, Option<&str>),
    ) -> Result<(), AdminError> {
        let audit = AuditEvent {
            id: self.new_id("aud"),
            partner_id: owner.0.map(str::to_owned),
            tenant_id: owner.1.map(str::to_owned),
            actor_type: self.principal.kind.as_str().into(),
            actor_id: Some(self.principal.id.clone()),
            action,
            target_type: target.0.into(),
            target_id: Some(target.1.into()),
            outcome: "success".into(),
            details: Value::Object(Map::new()),
            request_id: Some(self.request_id.into()),
            occurred_at: self.now,
        };
        tx.append(&audit).await?;
        Ok(())
    }

    /// Records a refused mutation in its own transaction (the request's own
    /// transaction, if any, was rolled back).
    pub async fn record_failure(&self, action: String, target_type: &str, target_id: Option<&str>, reason: &str) {
        let audit = AuditEvent {
            id: self.new_id("aud"),
            partner_id: None,
            tenant_id: None,
            actor_type: self.principal.kind.as_str().into(),
            actor_id: Some(self.principal.id.clone()),
            action,
            target_type: target_type.into(),
            target_id: target_id.map(str::to_owned),
            outcome: "failure".into(),
            details: serde_json::json!({ "reason": reason }),
            request_id: Some(self.request_id.into()),
            occurred_at: self.now,
        };
        let result = async {
            let mut tx = self.svc.store.write(Scope::Platform).await?;
            tx.insert(&audit).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record a failed admin action");
        }
    }
}

/// What a create returns: the new object and fields shown only this once.
pub struct Created<R> {
    pub entity: R,
    pub once: Map<String, Value>,
}

impl<R> Created<R> {
    pub fn new(entity: R) -> Self {
        Self { entity, once: Map::new() }
    }
}

/// Readable admin resources.
pub trait Listed: Entity + Clone + 'static {
    /// The path segment under `/api/v1/admin`.
    const PATH: &'static str;
    /// The noun in audit actions and error codes (`user` → `user.create`).
    const KIND: &'static str;
    /// Query parameters that filter lists by equal column value.
    const FILTERS: &'static [&'static str] = &["tenant_id"];

    /// The condition a list query parameter adds: by default the column of
    /// the same name equal to the value; `None` for other parameters.
    fn filter(key: &str, value: &str) -> Option<Filter> {
        column_equals(Self::FILTERS, key, value)
    }

    /// What the filter `key` selects, for the OpenAPI document.
    fn filter_doc(_key: &str) -> &'static str {
        "only objects with this value"
    }

    /// The API representation (secrets already skipped by serde).
    fn view(&self, _svc: &Services) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Extra detail for `GET /{id}`.
    fn detail(&self, svc: &Services, _tx: &mut Tx) -> impl Future<Output = Result<Value, AdminError>> + Send {
        let v = self.view(svc);
        async move { Ok(v) }
    }
}

/// The filter `key` as "the column of that name equals `value`", if `key`
/// is one of `filters`.
pub fn column_equals(filters: &'static [&'static str], key: &str, value: &str) -> Option<Filter> {
    filters.iter().find(|f| **f == key).map(|col| (*col, Arg::from(value)))
}

/// Writable admin resources. Each write runs in the request's transaction
/// and records its own audit event (directory resources also their change
/// events, through `crate::directory`).
pub trait Resource: Listed {
    type Create: DeserializeOwned + Send;
    type Patch: DeserializeOwned + Send;

    fn create(
        ctx: &Ctx<'_>,
        tx: &mut Tx,
        input: Self::Create,
    ) -> impl Future<Output = Result<Created<Self>, AdminError>> + Send;

    fn update(
        ctx: &Ctx<'_>,
        tx: &mut Tx,
        id: &str,
        input: Self::Patch,
    ) -> impl Future<Output = Result<Self, AdminError>> + Send;

    fn delete(ctx: &Ctx<'_>, tx: &mut Tx, id: &str) -> impl Future<Output = Result<(), AdminError>> + Send;
}

/// Resources outside the directory (partners, tenants, applications, …):
/// they build and patch the object; the blanket `Resource` impl stores it
/// and audits the write.
pub trait Simple: Listed {
    type Create: DeserializeOwned + Send;
    type Patch: DeserializeOwned + Send;

    /// Builds and validates the new object; checks references and limits in `tx`.
    fn build(
        ctx: &Ctx<'_>,
        tx: &mut Tx,
        input: Self::Create,
    ) -> impl Future<Output = Result<Created<Self>, AdminError>> + Send;

    /// Applies a patch to the locked current row and validates the result.
    fn apply(
        ctx: &Ctx<'_>,
        tx: &mut Tx,
        current: Self,
        input: Self::Patch,
    ) -> impl Future<Output = Result<Self, AdminError>> + Send;

    /// Keeps rows derived from the object in step once it is stored (an
    /// IdP's home-realm domains); a conflict there fails the write.
    fn after_write(
        _ctx: &Ctx<'_>,
        _tx: &mut Tx,
        _stored: &Self,
    ) -> impl Future<Output = Result<(), AdminError>> + Send {
        async { Ok(()) }
    }

    /// Checks before delete (e.g. a partner must have no tenants left).
    fn before_delete(
        _ctx: &Ctx<'_>,
        _tx: &mut Tx,
        _current: &Self,
    ) -> impl Future<Output = Result<(), AdminError>> + Send {
        async { Ok(()) }
    }
}

impl<T: Simple> Resource for T {
    type Create = T::Create;
    type Patch = T::Patch;

    async fn create(ctx: &Ctx<'_>, tx: &mut Tx, input: T::Create) -> Result<Created<T>, AdminError> {
        let created = T::build(ctx, tx, input).await?;
        let e = &created.entity;
        tx.insert(e).await?;
        T::after_write(ctx, tx, e).await?;
        ctx.record(tx, format!("{}.create", T::KIND), (T::KIND, e.id()), e.owner()).await?;
        Ok(created)
    }

    async fn update(ctx: &Ctx<'_>, tx: &mut Tx, id: &str, input: T::Patch) -> Result<T, AdminError> {
        let before = tx.get_for_update::<T>(id).await?;
        let after = T::apply(ctx, tx, before, input).await?;
        tx.update(&after).await?;
        T::after_write(ctx, tx, &after).await?;
        ctx.record(tx, format!("{}.update", T::KIND), (T::KIND, after.id()), after.owner()).await?;
        Ok(after)
    }

    async fn delete(ctx: &Ctx<'_>, tx: &mut Tx, id: &str) -> Result<(), AdminError> {
        let current = tx.get_for_update::<T>(id).await?;
        T::before_delete(ctx, tx, &current).await?;
        tx.delete::<T>(id).await?;
        ctx.record(tx, format!("{}.delete", T::KIND), (T::KIND, current.id()), current.owner()).await?;
        Ok(())
    }
}

pub async fn list<R: Listed>(
    ctx: &Ctx<'_>,
    query: &[(String, String)],
    page: PageRequest,
) -> Result<Page<Value>, AdminError> {
    ctx.require_read()?;
    let mut filters: Vec<Filter> = Vec::new();
    for (k, v) in query {
        filters.extend(R::filter(k, v));
    }
    let mut tx = ctx.svc.store.read(ctx.scope()).await?;
    let page = tx.list::<R>(filters, &page).await?;
    tx.commit().await?;
    Ok(Page { items: page.items.iter().map(|e| e.view(ctx.svc)).collect(), next_cursor: page.next_cursor })
}

pub async fn get<R: Listed>(ctx: &Ctx<'_>, id: &str) -> Result<Value, AdminError> {
    ctx.require_read()?;
    let mut tx = ctx.svc.store.read(ctx.scope()).await?;
    let entity = tx.get::<R>(id).await?;
    let v = entity.detail(ctx.svc, &mut tx).await?;
    tx.commit().await?;
    Ok(v)
}

/// Runs a write and, when it is refused, records the refusal in the audit log.
pub async fn audited<T>(
    ctx: &Ctx<'_>,
    action: String,
    kind: &str,
    id: Option<&str>,
    r: Result<T, AdminError>,
) -> Result<T, AdminError> {
    if let Err(e) = &r {
        record_refusal(ctx, &action, kind, id, e).await;
    }
    r
}

/// Records a refused write (not an internal failure) in the audit log.
pub async fn record_refusal(ctx: &Ctx<'_>, action: &str, kind: &str, id: Option<&str>, e: &AdminError) {
    if !matches!(e, AdminError::Internal(_)) {
        ctx.record_failure(action.to_owned(), kind, id, &e.to_string()).await;
    }
}

pub async fn create<R: Resource>(ctx: &Ctx<'_>, input: R::Create) -> Result<Value, AdminError> {
    let action = format!("{}.create", R::KIND);
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let created = R::create(ctx, &mut tx, input).await?;
        tx.commit().await?;
        let mut view = created.entity.view(ctx.svc);
        if let Value::Object(m) = &mut view {
            m.extend(created.once);
        }
        Ok(view)
    }
    .await;
    audited(ctx, action, R::KIND, None, r).await
}

pub async fn update<R: Resource>(ctx: &Ctx<'_>, id: &str, input: R::Patch) -> Result<Value, AdminError> {
    let action = format!("{}.update", R::KIND);
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let after = R::update(ctx, &mut tx, id, input).await?;
        tx.commit().await?;
        Ok(after.view(ctx.svc))
    }
    .await;
    audited(ctx, action, R::KIND, Some(id), r).await
}

pub async fn delete<R: Resource>(ctx: &Ctx<'_>, id: &str) -> Result<(), AdminError> {
    let action = format!("{}.delete", R::KIND);
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        R::delete(ctx, &mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    audited(ctx, action, R::KIND, Some(id), r).await
}

/// The tenant a tenant-owned object is created in, which must be inside the
/// caller's authority (else 404, like any other object outside it).
pub async fn tenant_in_scope(tx: &mut Tx, tenant_id: &str) -> Result<crate::domain::tenant::Tenant, AdminError> {
    if !crate::ids::has_prefix(tenant_id, "tnt") {
        return Err(AdminError::field("tenant_id", "must be a tnt_ id"));
    }
    match tx.get::<crate::domain::tenant::Tenant>(tenant_id).await {
        Ok(t) => Ok(t),
        Err(StoreError::NotFound) => Err(AdminError::field("tenant_id", "no such tenant")),
        Err(e) => Err(e.into()),
    }
}

/// Like `tenant_in_scope`, in one query with the lock: the tenant a new object
/// goes into, locked so concurrent creates cannot both pass a limit check.
pub async fn lock_tenant_in_scope(tx: &mut Tx, tenant_id: &str) -> Result<crate::domain::tenant::Tenant, AdminError> {
    if !crate::ids::has_prefix(tenant_id, "tnt") {
        return Err(AdminError::field("tenant_id", "must be a tnt_ id"));
    }
    match tx.get_for_update::<crate::domain::tenant::Tenant>(tenant_id).await {
        Ok(t) => Ok(t),
        Err(StoreError::NotFound) => Err(AdminError::field("tenant_id", "no such tenant")),
        Err(e) => Err(e.into()),
    }
}

/// Fails with a clear 4xx when `count` already reached the partner's `max`.
pub fn check_limit(count: i64, max: i64, code: &'static str, what: &str) -> Result<(), AdminError> {
    if count >= max {
        return Err(AdminError::Limit { code, message: format!("the partner's limit of {max} {what} is reached") });
    }
    Ok(())
}

/// Whether `id` (of entity `E`) exists within the transaction's scope and, when
/// given, in `tenant_id`; reported against `field` otherwise.
pub async fn must_exist<E: Entity + HasTenant>(
    tx: &mut Tx,
    id: &str,
    tenant_id: &str,
    field: &str,
) -> Result<E, AdminError> {
    match tx.get::<E>(id).await {
        Ok(e) if e.tenant() == Some(tenant_id) => Ok(e),
        Ok(_) | Err(StoreError::NotFound) => Err(AdminError::field(field, "no such object in this tenant")),
        Err(e) => Err(e.into()),
    }
}

pub trait HasTenant {
    fn tenant(&self) -> Option<&str>;
}
impl<E: Entity> HasTenant for E {
    fn tenant(&self) -> Option<&str> {
        self.owner().1
    }
}
