//! Partners and tenants.

use crate::domain::partner::{Partner, PartnerLimits};
use crate::domain::tenant::Tenant;
use crate::store::db::{Arg, Count, json};
use crate::store::{Entity, ScopeCols, StoreError, Tx};

impl Entity for Partner {
    const TABLE: &'static str = "partners";
    const SCOPE: ScopeCols = ScopeCols { partner: Some("id"), tenant: None };
    crate::columns!(self {
        "id" => (&self.id).into(),
        "name" => (&self.name).into(),
        "limits" => json(&self.limits),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.id), None)
    }
}

impl Entity for Tenant {
    const TABLE: &'static str = "tenants";
    const SCOPE: ScopeCols = ScopeCols { partner: Some("partner_id"), tenant: Some("id") };
    crate::columns!(self {
        "id" => (&self.id).into(),
        "partner_id" => (&self.partner_id).into(),
        "slug" => (&self.slug).into(),
        "name" => (&self.name).into(),
        "settings" => json(&self.settings),
        "branding" => json(&self.branding),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.id))
    }
}

impl Tx {
    /// The tenant whose issuer path is `slug`, within the scope.
    pub async fn tenant_by_slug(&mut self, slug: &str) -> Result<Tenant, StoreError> {
        let mut args = vec![Arg::from(slug)];
        let scope = self.scope().predicate(Tenant::SCOPE, &mut args);
        let sql = format!("SELECT * FROM tenants WHERE slug = $1 AND {scope}");
        self.fetch_one(&sql, args).await
    }

    /// Users, groups or applications of one tenant (`table`), from the
    /// counters the database keeps by trigger (migration 0004).
    pub async fn count_in_tenant(&mut self, table: &'static str, tenant_id: &str) -> Result<i64, StoreError> {
        let column = match table {
            "users" => "user_count",
            "groups" => "group_count",
            "applications" => "application_count",
            _ => return Err(StoreError::NotFound),
        };
        let sql = format!("SELECT {column} AS n FROM tenants WHERE id = $1");
        Ok(self.fetch_one::<Count>(&sql, vec![tenant_id.into()]).await?.n)
    }

    /// The limits of the partner that owns `tenant_id`. Read past the scope
    /// on purpose: a tenant admin's writes are bound by limits they cannot
    /// otherwise see, and the tenant id was already checked in scope.
    pub async fn limits_of_tenant(&mut self, tenant_id: &str) -> Result<PartnerLimits, StoreError> {
        let sql = "SELECT p.* FROM partners p JOIN tenants t ON t.partner_id = p.id WHERE t.id = $1";
        let p: Partner = self.fetch_one(sql, vec![tenant_id.into()]).await?;
        Ok(p.limits)
    }

    /// The tenant's user count and its partner's limits, in one query (the
    /// hot path of every user create).
    pub async fn users_and_limits(&mut self, tenant_id: &str) -> Result<(i64, PartnerLimits), StoreError> {
        #[derive(sqlx::FromRow)]
        struct Room {
            n: i64,
            #[sqlx(json)]
            limits: PartnerLimits,
        }
        let sql =
            "SELECT t.user_count AS n, p.limits FROM tenants t JOIN partners p ON p.id = t.partner_id WHERE t.id = $1";
        let r: Room = self.fetch_one(sql, vec![tenant_id.into()]).await?;
        Ok((r.n, r.limits))
    }

    pub async fn count_tenants_of_partner(&mut self, partner_id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) AS n FROM tenants WHERE partner_id = $1";
        Ok(self.fetch_one::<Count>(sql, vec![partner_id.into()]).await?.n)
    }
}
