//! Everything periodic a server replica runs, started in one place.
//!
//! | job | every | exclusive across replicas by |
//! |---|---|---|
//! | signing keys: promote, rotate, reload; purge expired sessions, codes and tokens, and what is past its retention (audit records, settled webhook deliveries, fanned-out events; `*_retention_days`) (`maintenance`) | 60 s (`keys::rotation::RELOAD_INTERVAL`) | the rotation lease in `keys::rotation`; purging is idempotent |
//! | metrics upkeep (`telemetry::spawn_upkeep`) | 1 s | per replica (its own memory) |
//! | cache version poll (`cache::spawn_poll`): other replicas' changes to tenants and applications | 1 s | per replica (its own caches) |
//! | directory-sync schedules (`sync::schedule`) | 15 s | a compare-and-set on each IdP's `next_run_at`, then the run's fenced lease |
//! | webhook fan-out and dispatch (`webhooks::spawn`) | 50 ms / 100 ms (woken by the fan-out) | the fan-out cursor row (locked, skipped by others); claims `FOR UPDATE SKIP LOCKED` |
//!
//! Jobs read time from the injected clock, so tests drive them by moving it
//! and calling one tick (`sync::schedule::tick`) rather than sleeping.

use std::sync::Arc;

use crate::app::Services;

/// The jobs of a serving replica, to wait for at shutdown.
pub struct Jobs {
    handles: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts every job of a serving replica.
pub fn spawn_all(svc: Arc<Services>) -> Jobs {
    crate::telemetry::spawn_upkeep();
    crate::cache::spawn_poll(Arc::clone(&svc));
    let mut handles = vec![tokio::spawn(maintenance(Arc::clone(&svc))), crate::sync::schedule::spawn(Arc::clone(&svc))];
    handles.extend(crate::webhooks::spawn(svc));
    Jobs { handles }
}

impl Jobs {
    /// After `Services::stop`: waits up to `grace` for every job to finish
    /// its current work (a webhook delivery in flight, a schedule tick).
    pub async fn join(self, grace: std::time::Duration) {
        let all = futures_util::future::join_all(self.handles);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(grace_seconds = grace.as_secs(), "background jobs still busy at shutdown; leaving them");
        }
    }
}

/// Every minute: promote and rotate signing keys, reload them (other
/// replicas may have rotated), and purge expired sessions, codes and tokens.
async fn maintenance(svc: Arc<Services>) {
    let every = crate::keys::rotation::RELOAD_INTERVAL.unsigned_abs();
    let mut first = true;
    while first || svc.pause(std::time::Duration::from_secs(every)).await {
        first = false;
        let clock = svc.clock.as_ref();
        if let Err(e) =
            svc.keys.maintain(&svc.store, clock, &svc.instance_id, crate::keys::rotation::DEFAULT_MAX_AGE).await
        {
            tracing::error!(error = %e, "signing-key maintenance failed");
        }
        let purged = async {
            let mut tx = svc.store.write(crate::store::Scope::Platform).await?;
            let now = clock.now();
            let days_ago = |d: u32| now.plus_seconds(-i64::from(d) * 86_400);
            let c = &svc.config;
            let mut n = tx.purge_expired(now).await?;
            n += tx.purge_webhook_deliveries(days_ago(c.webhook_retention_days)).await?;
            n += tx.purge_logs(days_ago(c.audit_retention_days), days_ago(c.event_retention_days)).await?;
            tx.commit().await?;
            Ok::<u64, crate::store::StoreError>(n)
        }
        .await;
        match purged {
            Ok(n) if n > 0 => tracing::info!(purged = n, "expired sessions, codes and tokens removed"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "purge failed"),
        }
    }
}
