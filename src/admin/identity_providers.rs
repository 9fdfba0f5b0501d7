//! Identity providers: the config is validated by its connector, and the
//! fields the connector names as secrets are sealed before storage and shown
//! redacted. A PATCH that leaves a secret out (or sends it redacted) keeps
//! it — unless it moves the upstream to another host, which needs the
//! secret again. Each domain belongs to at most one IdP of a tenant.

use std::str::FromStr;

use serde_json::{Map, Value};

use scaikey_connectors::{ConfigError, ConnectorKind};

use crate::app::Services;
use crate::domain::idp::{IdentityProvider, IdentityProviderPatch, NewIdentityProvider};
use crate::domain::validate::FieldError;
use crate::federation::secrets::{self, UPSTREAM_KEYS};
use crate::store::Tx;

use super::{AdminError, Created, Ctx, Listed, Simple, tenant_in_scope};

pub const REDACTED: &str = "********";

fn kind_of(s: &str) -> Result<ConnectorKind, AdminError> {
    ConnectorKind::from_str(s).map_err(|_| AdminError::field("type", "must be one of oidc, entra, google, saml, ldap"))
}

fn config_error(e: ConfigError) -> AdminError {
    AdminError::Invalid(
        e.fields.into_iter().map(|f| FieldError { field: format!("config.{}", f.field), message: f.message }).collect(),
    )
}

fn seal(ctx: &Ctx<'_>, idp_id: &str, kind: ConnectorKind, config: &Value) -> Result<Map<String, Value>, AdminError> {
    secrets::seal_config(ctx.svc.keys.sealer(), idp_id, kind, config).map_err(config_error)
}

fn normalize_domains(domains: &[String]) -> Vec<String> {
    let mut out: Vec<String> = domains.iter().map(|d| d.trim().trim_end_matches('.').to_lowercase()).collect();
    out.sort();
    out.dedup();
    out
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

/// Secrets left out (or sent back redacted) keep their stored value, as
/// long as the upstream stays where it was.
fn keep_secrets(
    ctx: &Ctx<'_>,
    idp: &IdentityProvider,
    kind: ConnectorKind,
    new: &mut Map<String, Value>,
) -> Result<(), AdminError> {
    // Compare the normalized configs (defaults filled in), with any secret.
    let mut probe = new.clone();
    for field in kind.secret_fields() {
        probe.entry((*field).to_owned()).or_insert_with(|| Value::String(REDACTED.into()));
    }
    let normalized = scaikey_connectors::ConnectorConfig::parse(kind, &Value::Object(probe))
        .ok()
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or(Value::Null);
    let moved: Vec<&str> = UPSTREAM_KEYS
        .iter()
        .copied()
        .filter(|k| normalized.get(*k).is_some_and(|v| idp.config.get(*k) != Some(v)))
        .collect();
    for field in kind.secret_fields() {
        let keep = match new.get(*field) {
            None => true,
            Some(Value::String(s)) => s == REDACTED,
            Some(_) => false,
        };
        if !keep || !idp.config.contains_key(*field) {
            continue;
        }
        if let Some(key) = moved.first() {
            return Err(AdminError::field(
                &format!("config.{field}"),
                &format!("must be sent again when config.{key} changes, so a stored secret never goes to a new host"),
            ));
        }
        if let Some(plain) = secrets::open_secret(ctx.svc.keys.sealer(), idp, field) {
            new.insert((*field).to_owned(), Value::String(plain));
        }
    }
    Ok(())
}

impl Simple for IdentityProvider {
    type Create = NewIdentityProvider;
    type Patch = IdentityProviderPatch;

    async fn build(ctx: &Ctx<'_>, tx: &mut Tx, input: NewIdentityProvider) -> Result<Created<Self>, AdminError> {
        let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
        let kind = kind_of(&input.kind)?;
        let id = ctx.new_id("idp");
        let config = seal(ctx, &id, kind, &input.config)?;
        let idp = IdentityProvider {
            id,
            tenant_id: tenant.id,
            partner_id: tenant.partner_id,
            kind: kind.as_str().to_owned(),
            name: input.name.trim().to_owned(),
            domains: normalize_domains(&input.domains),
            config,
            jit_provisioning: input.jit_provisioning,
            attribute_mapping: input.attribute_mapping,
            sync_schedule: input.sync_schedule,
            trust_email_for_linking: input.trust_email_for_linking,
            trust_upstream_mfa: input.trust_upstream_mfa,
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
        match p.config {
            Some(Value::Object(mut new_config)) => {
                keep_secrets(ctx, &idp, kind, &mut new_config)?;
                idp.config = seal(ctx, &idp.id, kind, &Value::Object(new_config))?;
            }
            Some(_) => return Err(AdminError::field("config", "must be an object")),
            None => {}
        }
        if let Some(n) = p.name {
            idp.name = n.trim().to_owned();
        }
        if let Some(d) = p.domains {
            idp.domains = normalize_domains(&d);
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
        if let Some(t) = p.trust_upstream_mfa {
            idp.trust_upstream_mfa = t;
        }
        idp.updated_at = ctx.now;
        idp.validate(kind.supports_sync())?;
        Ok(idp)
    }

    async fn after_write(_ctx: &Ctx<'_>, tx: &mut Tx, stored: &Self) -> Result<(), AdminError> {
        tx.set_idp_domains(stored).await?;
        Ok(())
    }
}

/// `POST /identity-providers/{id}/test`: fetches what the upstream publishes
/// (discovery document and keys) and reports it, signing nobody in.
pub async fn test(ctx: &Ctx<'_>, id: &str) -> Result<Value, AdminError> {
    ctx.require_write()?;
    let mut tx = ctx.svc.store.read(ctx.scope()).await?;
    let idp: IdentityProvider = tx.get(id).await?;
    tx.commit().await?;
    let described = match ctx.svc.federation.open(ctx.svc.keys.sealer(), &idp) {
        Ok(connector) => connector.describe().await,
        Err(e) => Err(e),
    };
    tracing::info!(target: "audit", action = "identity_provider.test", idp_id = %idp.id, ok = described.is_ok(), "identity provider tested");
    Ok(match described {
        Ok(found) => serde_json::json!({"id": idp.id, "type": idp.kind, "ok": true, "found": found}),
        Err(e) => serde_json::json!({"id": idp.id, "type": idp.kind, "ok": false, "error": e.to_string()}),
    })
}
