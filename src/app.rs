//! The running service: configuration, store, keys and clock, shared by
//! every request, plus start-up (migrations, signing keys, first-run
//! bootstrap).

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::keys::seal::Sealer;
use crate::keys::{KeyError, KeyRing};
use crate::store::{Store, StoreError};

pub struct Services {
    pub config: Config,
    pub store: Store,
    pub keys: KeyRing,
    pub clock: SharedClock,
    /// Names this process as a lease holder.
    pub instance_id: String,
    /// Password attempts per client address.
    pub login_limiter: crate::authn::ratelimit::LoginLimiter,
    /// Parsed `trusted_proxies`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Opened upstream connectors.
    pub federation: crate::federation::registry::Registry,
    /// Tenants, applications and issuer documents in memory (`crate::cache`).
    pub caches: crate::cache::Caches,
    /// Set once the process is stopping: background jobs finish their
    /// current piece of work and return.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Set at SIGTERM: `/ready` answers 503 while requests are still served.
    draining: std::sync::atomic::AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("master key: {0}")]
    Seal(#[from] crate::keys::seal::SealError),
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
}

impl Services {
    /// Connects, migrates, opens the master key and makes sure signing keys exist.
    pub async fn start(config: Config, clock: SharedClock) -> Result<Arc<Services>, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
        let store = Store::connect(&config.database_url()).await?;
        store.migrate().await?;
        crate::directory::rekey::run(&store, clock.now()).await?;
        let mut sealer = match &config.master_key {
            Some(k) => Sealer::from_base64(k)?,
            None => Sealer::from_key_file(&config.data_dir.join("master.key"))?,
        };
        if let Some(previous) = &config.previous_master_key {
            sealer = sealer.with_previous(previous)?;
        }
        let keys = KeyRing::new(Arc::new(sealer));
        let instance_id = crate::ids::random_base36(16);
        keys.ensure_keys(&store, clock.as_ref(), &instance_id).await?;
        let login_limiter = match &config.redis_url {
            Some(url) => crate::authn::ratelimit::LoginLimiter::with_redis(30, url, "scaikey:login")
                .await
                .map_err(|e| StartError::Config(format!("redis_url: {e}")))?,
            None => crate::authn::ratelimit::LoginLimiter::new(30),
        };
        let trusted_proxies = config.proxies().map_err(|e| StartError::Config(e.to_string()))?;
        let federation = crate::federation::registry::Registry::new().map_err(|e| StartError::Config(e.to_string()))?;
        let caches = crate::cache::Caches::new(Arc::clone(store.generation()));
        Ok(Arc::new(Services {
            config,
            store,
            keys,
            clock,
            instance_id,
            login_limiter,
            trusted_proxies,
            federation,
            caches,
            stopping: tokio::sync::watch::Sender::new(false),
            draining: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    pub fn base_url(&self) -> String {
        self.config.public_url()
    }

    /// From now on `/ready` says no: load balancers take this replica out.
    pub fn drain(&self) {
        self.draining.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Asks every background job to stop after its current piece of work.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Waits `period`, or less if the process starts stopping meanwhile;
    /// false once it is stopping (the caller's loop ends).
    pub async fn pause(&self, period: std::time::Duration) -> bool {
        let mut stopping = self.stopping.subscribe();
        if *stopping.borrow_and_update() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => !self.is_stopping(),
            _ = stopping.changed() => false,
        }
    }

    /// Gives up every lease this process holds (at shutdown, after its jobs
    /// stopped), so other replicas take over at once instead of at expiry,
    /// and its key-ring report, so it no longer holds back a key's promotion.
    pub async fn release_leases(&self) -> Result<u64, StoreError> {
        let mut tx = self.store.write(crate::store::Scope::Platform).await?;
        let n = tx.execute("DELETE FROM leases WHERE holder = $1", vec![self.instance_id.as_str().into()]).await?;
        tx.forget_replica(&self.instance_id).await?;
        tx.commit().await?;
        Ok(n)
    }
}
