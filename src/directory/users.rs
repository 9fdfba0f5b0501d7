//! Users: created within the partner's `max_users_per_tenant`, identifiers
//! normalized (`normalize`), passwords set under the tenant's policy
//! (`authn::password_change`). Wider admins are protected here, whoever
//! writes: changing a user's credentials, `user_name`, `email` or `status`,
//! or deleting the user, needs an authority covering every role the user
//! holds (`admin::authz::covers`); a user may still change their own password.

use serde_json::Map;

use crate::admin::authz::covers;
use crate::admin::{AdminError, check_limit, must_exist, tenant_in_scope};
use crate::authn::password_change::{PasswordError, set_password};
use crate::domain::ou::OrganizationalUnit;
use crate::domain::tenant::Tenant;
use crate::domain::user::{User, UserAttributes, UserStatus};
use crate::domain::validate::FieldError;
use crate::store::{PageRequest, Tx};

use super::Writer;
use super::events::{self, user_payload};
use crate::domain::identifier as normalize;

/// Refuses (403) when `user` holds a role the writer's authority does not cover.
pub(super) async fn guard_wider_admin(tx: &mut Tx, w: &Writer<'_>, user: &User) -> Result<(), AdminError> {
    let roles = tx.all_roles_of_user(&user.id).await?;
    if roles.iter().all(|r| covers(&w.authority, r)) {
        return Ok(());
    }
    Err(AdminError::Forbidden("this user holds an admin role wider than your authority"))
}

/// Whether a change touches what the wider-admin rule protects.
fn touches_protected(before: &User, after: &User, password: bool) -> bool {
    password
        || before.user_name != after.user_name
        || before.email != after.email
        || before.emails != after.emails
        || before.status != after.status
}

/// Normalizes identifiers, validates, checks references and sets the password.
async fn finish(
    tx: &mut Tx,
    w: &Writer<'_>,
    tenant: &Tenant,
    user: &mut User,
    password: Option<String>,
) -> Result<(), AdminError> {
    normalize_and_validate(user)?;
    if let Some(m) = &user.manager_id {
        must_exist::<User>(tx, m, &tenant.id, "manager_id").await?;
    }
    if let Some(o) = &user.ou_id {
        must_exist::<OrganizationalUnit>(tx, o, &tenant.id, "ou_id").await?;
    }
    if let Some(pw) = password {
        match set_password(tx, &tenant.settings.password_policy, user, pw, w.now).await {
            Ok(()) => {}
            Err(PasswordError::Store(e)) => return Err(e.into()),
            Err(PasswordError::Hash) => return Err(AdminError::Internal("password hashing failed".into())),
            Err(e) => {
                let errors =
                    e.messages().into_iter().map(|message| FieldError { field: "password".into(), message }).collect();
                return Err(AdminError::Invalid(errors));
            }
        }
    }
    Ok(())
}

/// The checks without I/O: identifiers normalized, then the user validated.
pub(super) fn normalize_and_validate(user: &mut User) -> Result<(), AdminError> {
    let mut problems = Vec::new();
    match normalize::username(&user.user_name) {
        Ok(n) => user.user_name = n,
        Err(message) => problems.push(FieldError { field: "user_name".into(), message }),
    }
    for (i, e) in user.emails.iter_mut().enumerate() {
        match normalize::username(&e.value) {
            Ok(n) => e.value = n,
            Err(message) => problems.push(FieldError { field: format!("emails[{i}].value"), message }),
        }
    }
    if let Some(email) = &user.email {
        match normalize::username(email) {
            Ok(n) => user.email = Some(n),
            Err(message) => problems.push(FieldError { field: "email".into(), message }),
        }
    }
    if !problems.is_empty() {
        return Err(AdminError::Invalid(problems));
    }
    user.validate()?;
    Ok(())
}

pub async fn create(tx: &mut Tx, w: &Writer<'_>, input: UserAttributes) -> Result<User, AdminError> {
    create_linked(tx, w, input, None).await
}

/// Creates a user already linked to `identity` (IdP id, external id): one
/// audit record and one `user.created` event describe both (sync and
/// just-in-time provisioning create thousands this way).
pub async fn create_linked(
    tx: &mut Tx,
    w: &Writer<'_>,
    mut input: UserAttributes,
    identity: Option<(&str, &str)>,
) -> Result<User, AdminError> {
    let tenant_id = input.tenant_id.take().ok_or_else(|| AdminError::field("tenant_id", "is required"))?;
    let tenant = tenant_in_scope(tx, &tenant_id).await?;
    let Some(user_name) = input.user_name.clone() else {
        return Err(AdminError::field("user_name", "is required"));
    };
    let mut user = User::new(w.new_id("usr"), &tenant, user_name, w.now);
    user.apply(&input);
    finish(tx, w, &tenant, &mut user, input.password.take()).await?;
    // The insert's counter trigger locks the tenant row until commit, so the
    // count read after it includes every concurrent create that committed
    // first: checked here, the limit holds without locking the tenant for
    // the whole request.
    tx.insert(&user).await?;
    let (count, limits) = tx.users_and_limits(&tenant.id).await?;
    check_limit(count - 1, limits.max_users_per_tenant, "partner.max_users_per_tenant", "users per tenant")?;
    let mut details = Map::new();
    if let Some((idp_id, external_id)) = identity {
        super::identities::insert(tx, w, &user, idp_id, external_id, false).await?;
        details.insert("idp_id".into(), idp_id.into());
        details.insert("external_id".into(), external_id.into());
    }
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    w.record(tx, "user.create", ("user", &user.id), owner, details, "user.created", user_payload(&user)).await?;
    Ok(user)
}

/// Applies `input` to the locked user `id`. `expect` (SCIM `If-Match`) is
/// checked against the locked row, so two writers holding the same version
/// cannot both win.
pub async fn update(
    tx: &mut Tx,
    w: &Writer<'_>,
    id: &str,
    mut input: UserAttributes,
    expect: Option<&(dyn Fn(&User) -> bool + Sync)>,
) -> Result<User, AdminError> {
    if input.tenant_id.take().is_some() {
        return Err(AdminError::field("tenant_id", "cannot be changed"));
    }
    let before: User = tx.get_for_update(id).await?;
    if expect.is_some_and(|ok| !ok(&before)) {
        return Err(AdminError::Precondition);
    }
    let tenant: Tenant = tx.get(&before.tenant_id).await?;
    let mut user = before.clone();
    user.apply(&input);
    user.updated_at = w.now;
    let password = input.password.take();
    let own_password_only = w.is_user(&user.id) && !touches_protected(&before, &user, false);
    if touches_protected(&before, &user, password.is_some()) && !own_password_only {
        guard_wider_admin(tx, w, &before).await?;
    }
    finish(tx, w, &tenant, &mut user, password).await?;
    tx.update(&user).await?;
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    let kind = if user.status == UserStatus::Suspended && before.status != UserStatus::Suspended {
        "user.suspended"
    } else {
        "user.updated"
    };
    w.record(tx, "user.update", ("user", &user.id), owner, Map::new(), kind, user_payload(&user)).await?;
    Ok(user)
}

/// Deletes a user; each group it leaves gets `group.member.removed`.
pub async fn delete(
    tx: &mut Tx,
    w: &Writer<'_>,
    id: &str,
    expect: Option<&(dyn Fn(&User) -> bool + Sync)>,
) -> Result<(), AdminError> {
    let user: User = tx.get_for_update(id).await?;
    if expect.is_some_and(|ok| !ok(&user)) {
        return Err(AdminError::Precondition);
    }
    guard_wider_admin(tx, w, &user).await?;
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    for group_id in tx.direct_groups_of_user(&user.id).await? {
        events::emit(tx, w, owner, "group.member.removed", events::member_payload(&group_id, &user.id)).await?;
    }
    tx.delete::<User>(id).await?;
    w.record(tx, "user.delete", ("user", &user.id), owner, Map::new(), "user.deleted", user_payload(&user)).await?;
    Ok(())
}

/// Before a tenant is deleted: refuses when one of its users holds a role the
/// writer's authority does not cover, else emits `user.deleted` for each user
/// (the rows go with the tenant by cascade).
pub async fn delete_all_of_tenant(tx: &mut Tx, w: &Writer<'_>, tenant: &Tenant) -> Result<(), AdminError> {
    let roles = tx.roles_of_tenant_users(&tenant.id).await?;
    if !roles.iter().all(|r| covers(&w.authority, r)) {
        return Err(AdminError::Forbidden("a user of this tenant holds an admin role wider than your authority"));
    }
    let owner = (tenant.partner_id.as_str(), tenant.id.as_str());
    let mut after = None;
    loop {
        let page = tx
            .list::<User>(vec![("tenant_id", crate::store::Arg::from(&tenant.id))], &PageRequest { limit: 1000, after })
            .await?;
        for u in &page.items {
            events::emit(tx, w, owner, "user.deleted", user_payload(u)).await?;
        }
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return Ok(()),
        }
    }
}
