//! Identity providers.

use crate::domain::idp::IdentityProvider;
use crate::store::db::{Arg, json};
use crate::store::{Entity, ScopeCols};

impl Entity for IdentityProvider {
    const TABLE: &'static str = "identity_providers";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "partner_id",
        "type",
        "name",
        "domains",
        "config",
        "jit_provisioning",
        "attribute_mapping",
        "sync_schedule",
        "trust_email_for_linking",
        "created_at",
        "updated_at",
    ];
    fn id(&self) -> &str {
        &self.id
    }
    fn values(&self) -> Vec<Arg> {
        vec![
            (&self.id).into(),
            (&self.tenant_id).into(),
            (&self.partner_id).into(),
            (&self.kind).into(),
            (&self.name).into(),
            json(&self.domains),
            json(&self.config),
            self.jit_provisioning.into(),
            json(&self.attribute_mapping),
            (&self.sync_schedule).into(),
            self.trust_email_for_linking.into(),
            self.created_at.into(),
            self.updated_at.into(),
        ]
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}
