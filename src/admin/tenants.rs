//! Tenants: created by super admins or the partner's admins within the
//! partner's `max_tenants`; a tenant's own admins may change its name,
//! settings and branding but not create or delete tenants.

use crate::domain::partner::Partner;
use crate::domain::tenant::{NewTenant, Tenant, TenantPatch};
use crate::store::{Scope, StoreError, Tx};

use super::{AdminError, Created, Ctx, Listed, Simple, check_limit};

impl Listed for Tenant {
    const PATH: &'static str = "tenants";
    const KIND: &'static str = "tenant";
    const FILTERS: &'static [&'static str] = &["partner_id", "slug"];
}

impl Simple for Tenant {
    type Create = NewTenant;
    type Patch = TenantPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewTenant) -> Result<Created<Self>, AdminError> {
        let partner_id = match (&ctx.principal.authority, input.partner_id) {
            (Scope::Tenant(_), _) => return Err(AdminError::Forbidden("tenant admins cannot create tenants")),
            (Scope::Partner(own), None) => own.clone(),
            (_, Some(p)) => p,
            (Scope::Platform, None) => return Err(AdminError::field("partner_id", "is required")),
        };
        // Lock the partner so concurrent creates cannot both pass the limit.
        let partner: Partner = match tx.get_for_update(&partner_id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => return Err(AdminError::field("partner_id", "no such partner")),
            Err(e) => return Err(e.into()),
        };
        let t = Tenant {
            id: ctx.new_id("tnt"),
            partner_id,
            slug: input.slug.trim().to_owned(),
            name: input.name.trim().to_owned(),
            settings: input.settings,
            branding: input.branding,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        t.validate()?;
        let count = tx.count_tenants_of_partner(&partner.id).await?;
        check_limit(count, partner.limits.max_tenants, "partner.max_tenants", "tenants")?;
        Ok(Created::new(t))
    }

    async fn apply(ctx: &Ctx<'_>, _tx: &mut Tx, mut t: Tenant, input: TenantPatch) -> Result<Self, AdminError> {
        if let Some(n) = input.name {
            t.name = n.trim().to_owned();
        }
        if let Some(s) = input.settings {
            t.settings = s;
        }
        if let Some(b) = input.branding {
            t.branding = b;
        }
        t.updated_at = ctx.now;
        t.validate()?;
        Ok(t)
    }

    async fn before_delete(ctx: &Ctx<'_>, tx: &mut Tx, t: &Tenant) -> Result<(), AdminError> {
        if matches!(ctx.principal.authority, Scope::Tenant(_)) {
            return Err(AdminError::Forbidden("tenant admins cannot delete tenants"));
        }
        // The tenant's users go with it: the directory checks the wider-admin
        // rule for each and emits their `user.deleted`.
        crate::directory::users::delete_all_of_tenant(tx, &ctx.writer(), t).await
    }
}
