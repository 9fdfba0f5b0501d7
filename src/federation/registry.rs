//! Opened connectors by IdP id and config version (`updated_at`): a login
//! reuses the connector its IdP's last write opened, with its caches
//! (discovery, keys, Graph tokens); any change to the IdP opens a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scaikey_connectors::{Connector, ConnectorError, Http};

use crate::domain::Timestamp;
use crate::domain::idp::IdentityProvider;
use crate::keys::seal::Sealer;

use super::secrets;

/// Upstream calls give up after this long (a login waits on them).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Opened connectors kept at most; beyond, the registry starts afresh.
const MAX_OPEN: usize = 10_000;

pub struct Registry {
    http: Http,
    opened: Mutex<HashMap<String, (Timestamp, Arc<Connector>)>>,
}

impl Registry {
    pub fn new() -> Result<Self, ConnectorError> {
        Ok(Self { http: Http::new(UPSTREAM_TIMEOUT)?, opened: Mutex::new(HashMap::new()) })
    }

    /// The connector of `idp` at its current config version.
    pub fn open(&self, sealer: &Sealer, idp: &IdentityProvider) -> Result<Arc<Connector>, ConnectorError> {
        if let Ok(map) = self.opened.lock()
            && let Some((version, c)) = map.get(&idp.id)
            && *version == idp.updated_at
        {
            return Ok(c.clone());
        }
        let config = secrets::open_config(sealer, idp).map_err(ConnectorError::Config)?;
        let connector = Arc::new(Connector::open(config, &self.http));
        if let Ok(mut map) = self.opened.lock() {
            if map.len() >= MAX_OPEN {
                map.clear();
            }
            map.insert(idp.id.clone(), (idp.updated_at, connector.clone()));
        }
        Ok(connector)
    }
}
