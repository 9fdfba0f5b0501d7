//! Issuers: the platform issuer (`{base}/api/v1/platform`, GLOBAL apps) and
//! one per tenant (`{base}/api/v1/auth/tenants/{slug}`). Which applications
//! an issuer serves: the platform issuer only GLOBAL apps; a tenant issuer
//! its TENANT apps and its partner's PARTNER apps.

use std::sync::Arc;

use crate::domain::application::{AppScope, Application};
use crate::domain::tenant::Tenant;

#[derive(Debug, Clone)]
pub struct Issuer {
    /// The `iss` value and base of every endpoint path.
    pub url: String,
    /// `None` for the platform issuer. Shared with the tenant cache, so an
    /// issuer costs no copy of the tenant per request.
    pub tenant: Option<Arc<Tenant>>,
}

impl Issuer {
    pub fn platform(base: &str) -> Self {
        Self { url: format!("{base}/api/v1/platform"), tenant: None }
    }

    pub fn tenant(base: &str, tenant: impl Into<Arc<Tenant>>) -> Self {
        let tenant = tenant.into();
        Self { url: format!("{base}/api/v1/auth/tenants/{}", tenant.slug), tenant: Some(tenant) }
    }

    pub fn serves(&self, app: &Application) -> bool {
        match (&self.tenant, app.scope) {
            (None, AppScope::Global) => true,
            (Some(t), AppScope::Tenant) => app.tenant_id.as_deref() == Some(t.id.as_str()),
            (Some(t), AppScope::Partner) => app.partner_id.as_deref() == Some(t.partner_id.as_str()),
            _ => false,
        }
    }

    /// The store scope of this issuer's sessions, codes and tokens: one
    /// tenant, or the whole platform (GLOBAL apps sign in users of any tenant).
    pub fn scope(&self) -> crate::store::Scope {
        match &self.tenant {
            Some(t) => crate::store::Scope::Tenant(t.id.clone()),
            None => crate::store::Scope::Platform,
        }
    }

    /// Names this issuer's cookies: the tenant id, or `platform`.
    pub fn realm(&self) -> &str {
        self.tenant.as_ref().map(|t| t.id.as_str()).unwrap_or("platform")
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}
