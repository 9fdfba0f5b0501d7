//! Identity providers: the config is validated by its connector, and the
//! fields the connector names as secrets are sealed before storage and shown
//! redacted. A PATCH that leaves a secret out (or sends it redacted) keeps it.

use std::str::FromStr;

use serde_json::{Map, Value};

use scaikey_connectors::{ConnectorConfig, ConnectorKind};

use crate::app::Services;
use crate::domain::idp::{IdentityProvider, IdentityProviderPatch, NewIdentityProvider};
use crate::domain::validate::FieldError;
use crate::keys::seal::Sealer;
use crate::store::Tx;

use super::{AdminError, Created, Ctx, Listed, Simple, tenant_in_scope};

pub const REDACTED: &str = "********";

fn kind_of(s: &str) -> Result<ConnectorKind, AdminError> {
    ConnectorKind::from_str(s).map_err(|_| AdminError::field("type", "must be one of oidc, entra, google, saml, ldap"))
}

fn seal_context(idp_id: &str, field: &str) -> String {
    format!("idp:{idp_id}:{field}")
}

/// Validates `config` for `kind` and seals its secret fields.
fn seal_config(
    sealer: &Sealer,
    idp_id: &str,
    kind: ConnectorKind,
    config: &Value,
) -> Result<Map<String, Value>, AdminError> {
    let parsed = ConnectorConfig::parse(kind, config).map_err(|e| {
        AdminError::Invalid(
            e.fields
                .into_iter()
                .map(|f| FieldError { field: format!("config.{}", f.field), message: f.message })
                .collect(),
        )
    })?;
    let Ok(Value::Object(mut map)) = serde_json::to_value(&parsed) else {
        return Err(AdminError::Internal("connector config did not serialize to an object".into()));
    };
    for field in kind.secret_fields() {
        if let Some(Value::String(plain)) = map.get(*field) {
            let sealed = sealer.seal(&seal_context(idp_id, field), plain.as_bytes());
            map.insert((*field).to_owned(), Value::String(sealed));
        }
    }
    Ok(map)
}

/// The stored secret of `field`, opened (for connectors, later steps).
pub fn open_secret(sealer: &Sealer, idp: &IdentityProvider, field: &str) -> Option<String> {
    let sealed = idp.config.get(field)?.as_str()?;
    sealer.open_string(&seal_context(&idp.id, field), sealed).ok()
}

impl Listed for IdentityProvider {
    const PATH: &'static str = "identity-providers";
    const KIND: &'static str = "identity_provider";
    const FILTERS: &'static [&'static str] = &["tenant_id", "type"];

    fn view(&self, _svc: &Services) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let (Ok(kind), Some(Value::Object(config))) = (kind_of(&self.kind), v.get_mut("config")) {
            for field in kind.secret_fields() {
                if config.contains_key(*field) {
                    config.insert((*field).to_owned(), Value::String(REDACTED.into()));
                }
            }
        }
        v
    }
}

impl Simple for IdentityProvider {
    type Create = NewIdentityProvider;
    type Patch = IdentityProviderPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewIdentityProvider) -> Result<Created<Self>, AdminError> {
        let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
        let kind = kind_of(&input.kind)?;
        let id = ctx.new_id("idp");
        let config = seal_config(ctx.svc.keys.sealer(), &id, kind, &input.config)?;
        let idp = IdentityProvider {
            id,
            tenant_id: tenant.id,
            partner_id: tenant.partner_id,
            kind: kind.as_str().to_owned(),
            name: input.name.trim().to_owned(),
            domains: input.domains.iter().map(|d| d.trim().to_lowercase()).collect(),
            config,
            jit_provisioning: input.jit_provisioning,
            attribute_mapping: input.attribute_mapping,
            sync_schedule: input.sync_schedule,
            trust_email_for_linking: input.trust_email_for_linking,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        idp.validate(kind.supports_sync())?;
        Ok(Created::new(idp))
    }

    async fn apply(
        ctx: &Ctx<'_>,
        _tx: &mut Tx,
        mut idp: IdentityProvider,
        p: IdentityProviderPatch,
    ) -> Result<Self, AdminError> {
        let kind = kind_of(&idp.kind)?;
        if let Some(Value::Object(mut new_config)) = p.config {
            // Secrets left out or sent back redacted keep their stored value.
            for field in kind.secret_fields() {
                let keep = match new_config.get(*field) {
                    None => true,
                    Some(Value::String(s)) => s == REDACTED,
                    Some(_) => false,
                };
                if let Some(plain) = keep.then(|| open_secret(ctx.svc.keys.sealer(), &idp, field)).flatten() {
                    new_config.insert((*field).to_owned(), Value::String(plain));
                }
            }
            idp.config = seal_config(ctx.svc.keys.sealer(), &idp.id, kind, &Value::Object(new_config))?;
        } else if p.config.is_some() {
            return Err(AdminError::field("config", "must be an object"));
        }
        if let Some(n) = p.name {
            idp.name = n.trim().to_owned();
        }
        if let Some(d) = p.domains {
            idp.domains = d.iter().map(|d| d.trim().to_lowercase()).collect();
        }
        if let Some(j) = p.jit_provisioning {
            idp.jit_provisioning = j;
        }
        if let Some(m) = p.attribute_mapping {
            idp.attribute_mapping = m;
        }
        if let Some(s) = p.sync_schedule {
            idp.sync_schedule = s;
        }
        if let Some(t) = p.trust_email_for_linking {
            idp.trust_email_for_linking = t;
        }
        idp.updated_at = ctx.now;
        idp.validate(kind.supports_sync())?;
        Ok(idp)
    }
}
