//! Partners: created, changed and deleted by super admins only; a partner's
//! admins may read their own partner.

use crate::domain::partner::{NewPartner, Partner, PartnerPatch};
use crate::store::Tx;

use super::{AdminError, Created, Ctx, Listed, Simple};

impl Listed for Partner {
    const PATH: &'static str = "partners";
    const KIND: &'static str = "partner";
    const FILTERS: &'static [&'static str] = &[];
}

impl Simple for Partner {
    type Create = NewPartner;
    type Patch = PartnerPatch;

    async fn build(ctx: &Ctx<'_>, _tx: &mut Tx, input: NewPartner) -> Result<Created<Self>, AdminError> {
        ctx.require_platform()?;
        let p = Partner {
            id: ctx.new_id("prt"),
            name: input.name.trim().to_owned(),
            limits: input.limits,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        p.validate()?;
        Ok(Created::new(p))
    }

    async fn apply(ctx: &Ctx<'_>, _tx: &mut Tx, mut p: Partner, input: PartnerPatch) -> Result<Self, AdminError> {
        ctx.require_platform()?;
        if let Some(n) = input.name {
            p.name = n.trim().to_owned();
        }
        if let Some(l) = input.limits {
            p.limits = l;
        }
        p.updated_at = ctx.now;
        p.validate()?;
        Ok(p)
    }

    async fn before_delete(ctx: &Ctx<'_>, tx: &mut Tx, p: &Partner) -> Result<(), AdminError> {
        ctx.require_platform()?;
        if tx.count_tenants_of_partner(&p.id).await? > 0 {
            return Err(AdminError::Conflict {
                code: "partner.has_tenants",
                message: "delete the partner's tenants first",
            });
        }
        Ok(())
    }
}
