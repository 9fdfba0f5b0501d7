//! Users: created within the partner's `max_users_per_tenant`; passwords are
//! checked against the tenant's policy and stored only as argon2id hashes.
//! Wider admins are protected here, on the path the admin API, SCIM and Bulk
//! share: changing a user's credentials, `user_name`, `email` or `status`, or
//! deleting the user, needs an authority covering every role the user holds
//! (`authz::covers`); a user may still change their own password.

use serde_json::{Map, Value};

use crate::app::Services;
use crate::authn::password_change::{PasswordError, set_password};
use crate::domain::ou::OrganizationalUnit;
use crate::domain::tenant::Tenant;
use crate::domain::user::{User, UserAttributes, UserStatus};
use crate::domain::validate::FieldError;
use crate::store::Tx;

use super::authz::covers;
use super::{
    Action, AdminError, Created, Ctx, Listed, Resource, check_limit, lock_tenant, must_exist, tenant_in_scope,
};

impl Listed for User {
    const PATH: &'static str = "users";
    const KIND: &'static str = "user";
    const FILTERS: &'static [&'static str] = &["tenant_id", "status", "user_name", "email"];

    async fn detail(&self, svc: &Services, tx: &mut Tx) -> Result<Value, AdminError> {
        let mut v = self.view(svc);
        let identities = tx.identities_of(&self.id).await?;
        if let Value::Object(m) = &mut v {
            m.insert("identities".into(), serde_json::to_value(identities).unwrap_or(Value::Array(vec![])));
        }
        Ok(v)
    }
}

/// Checks references and the password policy, then hashes the password.
async fn finish(
    ctx: &Ctx<'_>,
    tx: &mut Tx,
    tenant: &Tenant,
    user: &mut User,
    password: Option<String>,
) -> Result<(), AdminError> {
    user.validate()?;
    if let Some(m) = &user.manager_id {
        must_exist::<User>(tx, m, &tenant.id, "manager_id").await?;
    }
    if let Some(o) = &user.ou_id {
        must_exist::<OrganizationalUnit>(tx, o, &tenant.id, "ou_id").await?;
    }
    if let Some(pw) = password {
        match set_password(tx, &tenant.settings.password_policy, user, pw, ctx.now).await {
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

/// Refuses (403) when `user` holds a role the caller's authority does not cover.
async fn guard_wider_admin(ctx: &Ctx<'_>, tx: &mut Tx, user: &User) -> Result<(), AdminError> {
    let roles = tx.all_roles_of_user(&user.id).await?;
    if roles.iter().all(|r| covers(&ctx.principal.authority, r)) {
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

impl Resource for User {
    type Create = UserAttributes;
    type Patch = UserAttributes;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, mut input: UserAttributes) -> Result<Created<Self>, AdminError> {
        let tenant_id = input.tenant_id.take().ok_or_else(|| AdminError::field("tenant_id", "is required"))?;
        tenant_in_scope(tx, &tenant_id).await?;
        let tenant = lock_tenant(tx, &tenant_id).await?;
        let Some(user_name) = input.user_name.clone() else {
            return Err(AdminError::field("user_name", "is required"));
        };
        let mut user = User {
            id: ctx.new_id("usr"),
            tenant_id: tenant.id.clone(),
            partner_id: tenant.partner_id.clone(),
            user_name,
            external_id: None,
            sam_account_name: None,
            email: None,
            email_verified: false,
            emails: vec![],
            given_name: None,
            family_name: None,
            display_name: None,
            title: None,
            department: None,
            company: None,
            employee_id: None,
            employee_type: None,
            manager_id: None,
            office: None,
            phone_numbers: vec![],
            addresses: vec![],
            locale: None,
            timezone: None,
            status: UserStatus::Active,
            ou_id: None,
            custom_attributes: Map::new(),
            password_hash: None,
            password_changed_at: None,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        user.apply(&input);
        finish(ctx, tx, &tenant, &mut user, input.password.take()).await?;
        let limits = tx.limits_of_tenant(&tenant.id).await?;
        let count = tx.count_in_tenant("users", &tenant.id).await?;
        check_limit(count, limits.max_users_per_tenant, "partner.max_users_per_tenant", "users per tenant")?;
        Ok(Created::new(user))
    }

    async fn apply(ctx: &Ctx<'_>, tx: &mut Tx, mut user: User, mut input: UserAttributes) -> Result<Self, AdminError> {
        if input.tenant_id.take().is_some() {
            return Err(AdminError::field("tenant_id", "cannot be changed"));
        }
        let tenant: Tenant = tx.get(&user.tenant_id).await?;
        let before = user.clone();
        user.apply(&input);
        user.updated_at = ctx.now;
        let own_password_only = ctx.principal.is_self(&user.id) && !touches_protected(&before, &user, false);
        if touches_protected(&before, &user, input.password.is_some()) && !own_password_only {
            guard_wider_admin(ctx, tx, &before).await?;
        }
        finish(ctx, tx, &tenant, &mut user, input.password.take()).await?;
        Ok(user)
    }

    async fn before_delete(ctx: &Ctx<'_>, tx: &mut Tx, current: &Self) -> Result<(), AdminError> {
        guard_wider_admin(ctx, tx, current).await
    }

    fn change_event(
        action: Action,
        before: Option<&Self>,
        after: &Self,
        view: &Value,
    ) -> Option<(&'static str, Value)> {
        let kind = match action {
            Action::Create => "user.created",
            Action::Delete => "user.deleted",
            Action::Update
                if after.status == UserStatus::Suspended
                    && before.is_some_and(|b| b.status != UserStatus::Suspended) =>
            {
                "user.suspended"
            }
            Action::Update => "user.updated",
        };
        Some((kind, view.clone()))
    }
}
