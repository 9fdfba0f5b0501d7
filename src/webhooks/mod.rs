//! Signed webhooks from a durable outbox (SPEC "Webhooks").
//!
//! | step | module |
//! |---|---|
//! | event log → one delivery per event and app in scope, with the cursor, in one transaction | `fanout` |
//! | claim due deliveries (per-resource order), send, record attempts, back off | `dispatcher` |
//! | `X-ScaiKey-Signature: t=…,v1=…` (two `v1` during a rotation) | `signature` |
//! | public destinations only, checked on the resolved address at send time | `destination` |
//!
//! Both loops run on every replica (`spawn`), off every request path. Time
//! for retries comes from the injected clock, so tests move it instead of
//! waiting; the fan-out polls the event log every 50 ms and wakes this
//! replica's dispatcher as soon as it queued deliveries (the dispatcher
//! also polls every 100 ms, for retries and other replicas' deliveries).

pub mod destination;
pub mod dispatcher;
pub mod fanout;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use crate::app::Services;

/// How often the fan-out looks for new events when idle.
const FANOUT_POLL: Duration = Duration::from_millis(50);
/// How often the dispatcher looks for due deliveries when not woken.
const POLL: Duration = Duration::from_millis(100);

/// Wakes this process's dispatcher (new deliveries were queued).
static QUEUED: tokio::sync::Notify = tokio::sync::Notify::const_new();
/// How often the backlog gauges are refreshed.
const GAUGES_EVERY: u32 = 50;

/// Starts the fan-out and the dispatcher of this replica; both end once the
/// process is stopping, the dispatcher after the deliveries it is sending.
pub fn spawn(svc: Arc<Services>) -> [tokio::task::JoinHandle<()>; 2] {
    let fan = Arc::clone(&svc);
    let fanout = tokio::spawn(async move {
        while !fan.is_stopping() {
            match fanout::run_once(&fan).await {
                Ok(n) if n > 0 => {
                    QUEUED.notify_one();
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "webhook fan-out failed"),
            }
            fan.pause(FANOUT_POLL).await;
        }
    });
    let dispatch = tokio::spawn(async move {
        let http = match dispatcher::client(svc.config.webhooks_allow_private) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook HTTP client could not be built; webhooks are not sent");
                return;
            }
        };
        let mut passes = 0u32;
        while !svc.is_stopping() {
            passes = passes.wrapping_add(1);
            if passes % GAUGES_EVERY == 1 {
                gauges(&svc).await;
            }
            match dispatcher::run_once(&svc, &http).await {
                Ok(n) if n >= dispatcher::BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "webhook dispatch failed"),
            }
            tokio::select! {
                _ = tokio::time::timeout(POLL, QUEUED.notified()) => {}
                _ = svc.pause(POLL) => {}
            }
        }
    });
    [fanout, dispatch]
}

/// Queue depth and the age of the oldest undelivered delivery.
async fn gauges(svc: &Services) {
    let read = async {
        let mut tx = svc.store.read(crate::store::Scope::Platform).await?;
        let b = tx.webhook_backlog().await?;
        tx.commit().await?;
        Ok::<_, crate::store::StoreError>(b)
    };
    if let Ok((depth, oldest)) = read.await {
        metrics::gauge!("scaikey_webhook_queue_depth").set(depth as f64);
        let age = oldest.map(|o| svc.clock.now().unix_seconds() - o.unix_seconds()).unwrap_or(0);
        metrics::gauge!("scaikey_webhook_oldest_undelivered_seconds").set(age.max(0) as f64);
    }
}
