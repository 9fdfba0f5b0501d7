//! Identity providers.

use crate::domain::idp::IdentityProvider;
use crate::store::db::json;
use crate::store::{Entity, ScopeCols};

impl Entity for IdentityProvider {
    const TABLE: &'static str = "identity_providers";
    const SCOPE: ScopeCols = ScopeCols::TENANT_OWNED;
    crate::columns!(self {
        "id" => (&self.id).into(),
        "tenant_id" => (&self.tenant_id).into(),
        "partner_id" => (&self.partner_id).into(),
        "type" => (&self.kind).into(),
        "name" => (&self.name).into(),
        "domains" => json(&self.domains),
        "config" => json(&self.config),
        "jit_provisioning" => self.jit_provisioning.into(),
        "attribute_mapping" => json(&self.attribute_mapping),
        "sync_schedule" => (&self.sync_schedule).into(),
        "trust_email_for_linking" => self.trust_email_for_linking.into(),
        "created_at" => self.created_at.into(),
        "updated_at" => self.updated_at.into(),
    });
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> (Option<&str>, Option<&str>) {
        (Some(&self.partner_id), Some(&self.tenant_id))
    }
}
