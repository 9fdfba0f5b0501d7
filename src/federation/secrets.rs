//! IdP secrets at rest: the config fields a connector names as secret are
//! sealed with the master key, bound to the IdP and field, before storage;
//! they are opened only here, where the registry opens a connector (and
//! where a PATCH keeps a secret it did not resend).

use serde_json::{Map, Value};

use scaikey_connectors::{ConfigError, ConnectorConfig, ConnectorKind};

use crate::domain::idp::IdentityProvider;
use crate::keys::seal::Sealer;

/// Config keys naming the host a secret is sent to: changing one requires
/// sending the secret again, so a stored secret never goes to a new host.
pub const UPSTREAM_KEYS: &[&str] = &[
    "issuer",
    "login_base_url",
    "graph_base_url",
    "accounts_base_url",
    "token_uri",
    "directory_base_url",
    "url",
    "sso_url",
    "metadata_url",
];

fn context(idp_id: &str, field: &str) -> String {
    format!("idp:{idp_id}:{field}")
}

/// Validates `config` for `kind` and seals its secret fields.
pub fn seal_config(
    sealer: &Sealer,
    idp_id: &str,
    kind: ConnectorKind,
    config: &Value,
) -> Result<Map<String, Value>, ConfigError> {
    let parsed = ConnectorConfig::parse(kind, config)?;
    let Ok(Value::Object(mut map)) = serde_json::to_value(&parsed) else {
        return Ok(Map::new());
    };
    for field in kind.secret_fields() {
        if let Some(Value::String(plain)) = map.get(*field) {
            let sealed = sealer.seal(&context(idp_id, field), plain.as_bytes());
            map.insert((*field).to_owned(), Value::String(sealed));
        }
    }
    Ok(map)
}

/// The stored secret of `field`, opened.
pub fn open_secret(sealer: &Sealer, idp: &IdentityProvider, field: &str) -> Option<String> {
    let sealed = idp.config.get(field)?.as_str()?;
    sealer.open_string(&context(&idp.id, field), sealed).ok()
}

/// The IdP's config with its secrets opened, parsed for its connector.
pub fn open_config(sealer: &Sealer, idp: &IdentityProvider) -> Result<ConnectorConfig, String> {
    let kind: ConnectorKind = idp.kind.parse().map_err(|_| "unknown identity provider type".to_owned())?;
    let mut config = idp.config.clone();
    for field in kind.secret_fields() {
        if config.contains_key(*field) {
            let plain =
                open_secret(sealer, idp, field).ok_or_else(|| format!("the sealed {field} cannot be opened"))?;
            config.insert((*field).to_owned(), Value::String(plain));
        }
    }
    ConnectorConfig::parse(kind, &Value::Object(config)).map_err(|e| e.to_string())
}
