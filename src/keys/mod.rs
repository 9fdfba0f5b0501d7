//! Signing keys and secrets at rest. `KeyRing` holds the parsed private key
//! that signs for each algorithm and the JWKS document, reloaded from the
//! store so every replica publishes and signs with the same keys.

pub mod reseal;
pub mod rotation;
pub mod seal;
pub mod signing;
pub mod verify;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::domain::application::SigningAlg;
use crate::domain::signing_key::SigningKey;
use crate::store::{Scope, Store, StoreError};
use seal::Sealer;
use signing::SigningKeyPair;

pub const ALGORITHMS: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

/// Rounds of 250 ms a starting replica waits for another's key
/// initialisation: a little longer than that replica's 60 s lease.
const INIT_WAIT_ROUNDS: u32 = 260;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    #[error(transparent)]
    Signing(#[from] signing::SigningError),
    #[error("no active signing key for {0:?}")]
    NoKey(SigningAlg),
    #[error(
        "a new key may sign {0} seconds after it is published at the earliest (every replica reloads keys that often)"
    )]
    ActivateTooSoon(i64),
    #[error("no signing keys appeared while another replica held the initialisation lease")]
    NotInitialised,
}

#[derive(Default)]
struct Loaded {
    active: HashMap<SigningAlg, Arc<SigningKeyPair>>,
    published: Vec<verify::VerifyKey>,
    /// The ids of the published keys, as reported to the other replicas.
    kids: Vec<String>,
    jwks: Value,
    /// `jwks` serialized once per load: the JWKS endpoints send these bytes.
    jwks_bytes: Arc<[u8]>,
}

pub struct KeyRing {
    sealer: Arc<Sealer>,
    loaded: RwLock<Arc<Loaded>>,
}

pub(crate) fn seal_context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

fn parse_alg(s: &str) -> Option<SigningAlg> {
    ALGORITHMS.into_iter().find(|a| a.as_str() == s)
}

impl KeyRing {
    pub fn new(sealer: Arc<Sealer>) -> Self {
        Self { sealer, loaded: RwLock::new(Arc::new(Loaded::default())) }
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Creates an active key for every algorithm that has none. Runs under a
    /// lease so replicas starting together do not each create one; a replica
    /// that loses the race waits (up to the lease's lifetime) for the keys the
    /// winner creates, so it never starts without signing keys.
    pub async fn ensure_keys(&self, store: &Store, clock: &dyn Clock, holder: &str) -> Result<(), KeyError> {
        for _ in 0..INIT_WAIT_ROUNDS {
            if self.try_init_keys(store, clock, holder).await? {
                return Ok(());
            }
            self.reload(store, clock).await?;
            if ALGORITHMS.iter().all(|a| self.signer(*a).is_ok()) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Err(KeyError::NotInitialised)
    }

    /// One attempt under the lease; false when another replica holds it.
    async fn try_init_keys(&self, store: &Store, clock: &dyn Clock, holder: &str) -> Result<bool, KeyError> {
        let now = clock.now();
        let mut tx = store.write(Scope::Platform).await?;
        if !tx.try_lease("signing_keys.init", holder, now, now.plus_seconds(60)).await? {
            tx.commit().await?;
            return Ok(false);
        }
        let existing = tx.published_keys(now).await?;
        for alg in ALGORITHMS {
            let has_active = existing.iter().any(|k| k.alg == alg.as_str() && k.status == "active");
            if has_active {
                continue;
            }
            let (pair, der) = tokio::task::spawn_blocking(move || SigningKeyPair::generate(alg))
                .await
                .map_err(|_| signing::SigningError::Generate)??;
            let key = SigningKey {
                id: pair.kid.clone(),
                alg: alg.as_str(),
                status: "active".into(),
                private_key_sealed: self.sealer.seal(&seal_context(&pair.kid), STANDARD.encode(&der).as_bytes()),
                public_jwk: pair.public_jwk.clone(),
                created_at: now,
                activated_at: Some(now),
                retired_at: None,
                expires_at: None,
            };
            tx.insert(&key).await?;
            tracing::info!(kid = %key.id, alg = %key.alg, "generated signing key");
        }
        tx.release_lease("signing_keys.init", holder).await?;
        tx.commit().await?;
        self.reload(store, clock).await?;
        Ok(true)
    }

    /// Reloads keys from the store: the active key per algorithm signs, and
    /// every unexpired key is published.
    pub async fn reload(&self, store: &Store, clock: &dyn Clock) -> Result<(), KeyError> {
        let mut tx = store.read(Scope::Platform).await?;
        let keys = tx.published_keys(clock.now()).await?;
        tx.commit().await?;
        let mut loaded = Loaded::default();
        let mut jwks = Vec::new();
        for k in &keys {
            jwks.push(k.public_jwk.clone());
            loaded.kids.push(k.id.clone());
            if let Some(vk) = verify::VerifyKey::from_jwk(&k.public_jwk) {
                loaded.published.push(vk);
            }
            let Some(alg) = parse_alg(&k.alg) else { continue };
            if k.status != "active" {
                continue;
            }
            // During a promotion two keys may be active: the newest signs.
            let newer = keys.iter().any(|o| o.alg == k.alg && o.status == "active" && o.activated_at > k.activated_at);
            if newer {
                continue;
            }
            let b64 = self.sealer.open_string(&seal_context(&k.id), &k.private_key_sealed)?;
            let der = STANDARD.decode(b64).map_err(|_| signing::SigningError::BadKey)?;
            loaded.active.insert(alg, Arc::new(SigningKeyPair::from_pkcs8(alg, &der)?));
        }
        loaded.jwks = json!({ "keys": jwks });
        loaded.jwks_bytes = serde_json::to_vec(&loaded.jwks).unwrap_or_default().into();
        if let Ok(mut slot) = self.loaded.write() {
            *slot = Arc::new(loaded);
        }
        Ok(())
    }

    /// Tells the other replicas which keys this one (`instance`) has
    /// loaded: a new key signs only once every live replica reported it
    /// (`rotation`).
    pub async fn report_loaded(&self, store: &Store, clock: &dyn Clock, instance: &str) -> Result<(), KeyError> {
        let mut tx = store.write(Scope::Platform).await?;
        tx.report_loaded_keys(instance, &self.current().kids, clock.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded.read().map(|l| Arc::clone(&l)).unwrap_or_default()
    }

    pub fn signer(&self, alg: SigningAlg) -> Result<Arc<SigningKeyPair>, KeyError> {
        self.current().active.get(&alg).cloned().ok_or(KeyError::NoKey(alg))
    }

    /// Verifies a JWT of type `typ` signed by any published key, allowing
    /// `leeway` seconds of clock skew. Access tokens go through
    /// `oauth::verifier`, which adds everything beyond the signature.
    pub fn verify(
        &self,
        token: &str,
        typ: &str,
        now: crate::domain::Timestamp,
        leeway: i64,
    ) -> Result<Value, verify::VerifyError> {
        verify::verify_jwt(&self.current().published, token, typ, now, leeway)
    }

    /// Verifies signature and type but not the time window.
    pub fn verify_ignoring_time(&self, token: &str, typ: &str) -> Result<Value, verify::VerifyError> {
        verify::verify_jwt_at(&self.current().published, token, typ, None)
    }

    pub fn jwks(&self) -> Value {
        self.current().jwks.clone()
    }

    /// The JWKS document, serialized (it changes only when keys are reloaded).
    pub fn jwks_bytes(&self) -> Arc<[u8]> {
        Arc::clone(&self.current().jwks_bytes)
    }
}
