//! The sync schedule: each IdP's `sync_schedule` (six-field cron, UTC,
//! stored in the database and editable at runtime) fires at most one run at
//! a time across every replica.
//!
//! A loop over `croner` rather than tokio-cron-scheduler, whose repeated
//! jobs have an open stop-firing bug (upstream issue #113) and whose jobs
//! live in one process's memory, while schedules here change at runtime
//! and replicas come and go. Each tick reads the due IdPs; moving an IdP's
//! `next_run_at` is a compare-and-set, so exactly one replica starts a
//! given firing, and the run's lease keeps runs from overlapping.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::app::Services;
use crate::domain::Timestamp;
use crate::store::{Scope, StoreError};

/// How often due schedules are looked for.
pub const TICK: Duration = Duration::from_secs(15);

/// The first firing of `expr` strictly after `after`.
pub fn next_after(expr: &str, after: Timestamp) -> Option<Timestamp> {
    let cron = croner::Cron::from_str(expr).ok()?;
    // Whole seconds: cron firings fall on second boundaries.
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp(after.unix_seconds(), 0)?;
    let next = cron.find_next_occurrence(&at, false).ok()?;
    Timestamp::from_unix_micros(next.timestamp_micros())
}

/// Starts the due runs once.
pub async fn tick(svc: &Arc<Services>) -> Result<usize, StoreError> {
    let now = svc.clock.now();
    let mut tx = svc.store.read(Scope::Platform).await?;
    let scheduled = tx.scheduled_idps().await?;
    tx.commit().await?;
    let mut started = 0;
    for (idp, next) in scheduled {
        let Some(expr) = idp.sync_schedule.as_deref() else { continue };
        let Some(upcoming) = next_after(expr, now) else { continue };
        // Not yet due: nothing to write (moving the firing now would push it
        // forever ahead). First sight of a schedule only sets its next firing.
        let due = next.is_some_and(|n| n <= now);
        if next.is_some() && !due {
            continue;
        }
        let mut tx = svc.store.write(Scope::Platform).await?;
        let moved = tx.advance_sync_schedule(&idp.id, next, upcoming).await?;
        tx.commit().await?;
        if !(due && moved) {
            continue;
        }
        match super::engine::start(svc, &idp, None).await {
            Ok(run) => {
                started += 1;
                tokio::spawn(super::engine::execute(Arc::clone(svc), idp, run, None));
            }
            Err(super::engine::StartError::AlreadyRunning) => {
                tracing::info!(idp_id = %idp.id, "scheduled sync skipped: a run is still going");
            }
            Err(e) => tracing::warn!(idp_id = %idp.id, error = %e, "scheduled sync could not start"),
        }
    }
    Ok(started)
}

/// Runs `tick` forever (the server's background job).
pub fn spawn(svc: Arc<Services>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = tick(&svc).await {
                tracing::warn!(error = %e, "sync schedule tick failed");
            }
            if !svc.pause(TICK).await {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_firing_of_a_six_field_cron() {
        let t = Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap(); // 2027-01-15T08:00:00Z
        let next = next_after("0 */5 * * * *", t).unwrap();
        assert_eq!(next.unix_seconds(), 1_800_000_000 + 300);
        // A firing is on a second boundary, whatever the fraction of `after`.
        let mid = Timestamp::from_unix_micros(1_800_000_000_400_000).unwrap();
        assert_eq!(next_after("* * * * * *", mid).unwrap().unix_micros(), 1_800_000_001_000_000);
        assert!(next_after("not a cron", t).is_none());
    }
}
