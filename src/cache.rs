//! In-memory caches of what every token and issuer request reads: tenants
//! by slug, applications by `client_id`, and issuer documents (discovery)
//! pre-serialized — so the token path and the tenant endpoints make no
//! database round trip in the common case.
//!
//! Correctness first. Every entry carries the cache generation it was read
//! under and is a miss once the generation has moved. The generation moves
//! (1) when a transaction of this process commits a change to `tenants` or
//! `applications` (`store::db::Tx::commit`): this replica sees its own
//! change at once; and (2) when the database's `cache_version` moves —
//! triggers on those tables move it, whichever replica wrote — which each
//! replica polls every `POLL_INTERVAL` (`spawn_poll`): other replicas see it
//! within a second. A polled counter rather than PostgreSQL's
//! `LISTEN/NOTIFY`: it works the same on SQLite and PostgreSQL, needs no
//! dedicated connection, and no notification can be missed across a
//! reconnect — a replica is at most one interval behind.
//!
//! Each cache is a bounded LRU: 50,000 tenants cost what the capacity holds,
//! not more.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lru::LruCache;

use crate::domain::application::Application;
use crate::domain::tenant::Tenant;
use crate::store::{Scope, Store, StoreError};

/// How often each replica reads the database's cache version.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
const TENANTS: usize = 5_000;
const APPLICATIONS: usize = 5_000;
const DOCUMENTS: usize = 1_000;

struct Entry<T> {
    generation: u64,
    value: T,
}

type Lru<T> = Mutex<LruCache<String, Entry<T>>>;

pub struct Caches {
    generation: Arc<AtomicU64>,
    /// The database's `cache_version` last seen by the poll.
    seen_version: AtomicI64,
    tenants: Lru<Arc<Tenant>>,
    applications: Lru<Arc<Application>>,
    documents: Lru<Arc<[u8]>>,
}

fn lru<T>(capacity: usize) -> Lru<T> {
    Mutex::new(LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)))
}

impl Caches {
    /// Caches invalidated by `generation` (the store's).
    pub fn new(generation: Arc<AtomicU64>) -> Self {
        Self {
            generation,
            seen_version: AtomicI64::new(i64::MIN),
            tenants: lru(TENANTS),
            applications: lru(APPLICATIONS),
            documents: lru(DOCUMENTS),
        }
    }

    fn current(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn get<T: Clone>(&self, map: &Lru<T>, key: &str) -> Option<T> {
        let current = self.current();
        let mut m = map.lock().ok()?;
        match m.get(key) {
            Some(e) if e.generation == current => Some(e.value.clone()),
            Some(_) => {
                m.pop(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value`, read under `generation` (taken before the read, so a
    /// change committed meanwhile makes the entry stale, never wrongly fresh).
    fn put<T>(&self, map: &Lru<T>, key: &str, generation: u64, value: T) {
        if let Ok(mut m) = map.lock() {
            m.put(key.to_owned(), Entry { generation, value });
        }
    }

    /// The tenant with this slug.
    pub async fn tenant_by_slug(&self, store: &Store, slug: &str) -> Result<Arc<Tenant>, StoreError> {
        if let Some(t) = self.get(&self.tenants, slug) {
            return Ok(t);
        }
        let generation = self.current();
        let mut tx = store.read(Scope::Platform).await?;
        let t = tx.tenant_by_slug(slug).await;
        tx.commit().await?;
        let t = Arc::new(t?);
        self.put(&self.tenants, slug, generation, Arc::clone(&t));
        Ok(t)
    }

    /// The application with this `client_id` (any scope; callers check which issuer serves it).
    pub async fn app_by_client_id(&self, store: &Store, client_id: &str) -> Result<Arc<Application>, StoreError> {
        if let Some(a) = self.get(&self.applications, client_id) {
            return Ok(a);
        }
        let generation = self.current();
        let mut tx = store.read(Scope::Platform).await?;
        let a = tx.app_by_client_id(client_id).await;
        tx.commit().await?;
        let a = Arc::new(a?);
        self.put(&self.applications, client_id, generation, Arc::clone(&a));
        Ok(a)
    }

    /// A serialized document under `key`, built once per generation.
    pub fn document(&self, key: &str, build: impl FnOnce() -> Vec<u8>) -> Arc<[u8]> {
        if let Some(d) = self.get(&self.documents, key) {
            return d;
        }
        let generation = self.current();
        let doc: Arc<[u8]> = build().into();
        self.put(&self.documents, key, generation, Arc::clone(&doc));
        doc
    }

    /// Reads the database's cache version once; a change (another replica's
    /// write) drops every entry.
    pub async fn poll(&self, store: &Store) -> Result<(), StoreError> {
        let version = store.cache_version().await?;
        if self.seen_version.swap(version, Ordering::SeqCst) != version {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// How many entries each cache holds (tenants, applications, documents).
    pub fn sizes(&self) -> (usize, usize, usize) {
        fn len<T>(m: &Lru<T>) -> usize {
            m.lock().map(|m| m.len()).unwrap_or(0)
        }
        (len(&self.tenants), len(&self.applications), len(&self.documents))
    }
}

/// Polls the cache version every `POLL_INTERVAL`, for as long as the process runs.
pub fn spawn_poll(svc: Arc<crate::app::Services>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = svc.caches.poll(&svc.store).await {
                tracing::warn!(error = %e, "cache version poll failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_with_the_generation_and_the_capacity_bounds_them() {
        let generation = Arc::new(AtomicU64::new(0));
        let c = Caches::new(Arc::clone(&generation));
        let doc = c.document("a", || b"one".to_vec());
        assert_eq!(&*doc, b"one");
        assert_eq!(&*c.document("a", || b"two".to_vec()), b"one", "cached");
        generation.fetch_add(1, Ordering::SeqCst);
        assert_eq!(&*c.document("a", || b"two".to_vec()), b"two", "rebuilt after a change");
        for i in 0..DOCUMENTS + 50 {
            c.document(&i.to_string(), Vec::new);
        }
        assert_eq!(c.sizes().2, DOCUMENTS, "bounded");
    }

    #[test]
    fn a_value_read_before_a_change_is_stale_after_it() {
        let generation = Arc::new(AtomicU64::new(7));
        let c = Caches::new(Arc::clone(&generation));
        // Read under generation 7; a commit moves it to 8 before the put.
        generation.fetch_add(1, Ordering::SeqCst);
        c.put(&c.documents, "k", 7, Arc::from(&b"old"[..]));
        assert!(c.get(&c.documents, "k").is_none());
    }
}
