//! Starting and running one sync of one IdP.
//!
//! One run per IdP at a time across replicas: the lease `sync:{idp_id}` is
//! taken (atomically, with an epoch that moves whenever it changes hands)
//! in the transaction that records the run. Every page's transaction first
//! checks, with the lease row locked, that this run still holds the lease
//! at its epoch; a run whose lease lapsed (a paused or partitioned replica)
//! therefore cannot commit a page or a cursor after another run took over.

use std::sync::Arc;

use scaikey_connectors::directory::{Page, SyncMode};
use tokio::sync::mpsc;

use crate::app::Services;
use crate::directory::{Actor, Writer};
use crate::domain::Timestamp;
use crate::domain::idp::IdentityProvider;
use crate::domain::sync_run::{SyncCounts, SyncRun};
use crate::ids::new_id;
use crate::store::{Scope, StoreError};

use super::reconcile;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("this identity provider type does not sync")]
    NotSupported,
    #[error("a sync of this identity provider is already running")]
    AlreadyRunning,
    #[error("mode must be full or delta")]
    BadMode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `start` hands to `execute`.
pub struct Started {
    pub run: SyncRun,
    holder: String,
    epoch: i64,
    mode: SyncMode,
}

fn lease_name(idp_id: &str) -> String {
    format!("sync:{idp_id}")
}

/// Records a run and takes the IdP's lease, or refuses when a run is going.
pub async fn start(svc: &Services, idp: &IdentityProvider, mode: Option<&str>) -> Result<Started, StartError> {
    // A config that does not open fails the run itself, with its reason.
    if let Ok(c) = svc.federation.open(svc.keys.sealer(), idp)
        && c.directory().is_none()
    {
        return Err(StartError::NotSupported);
    }
    let now = svc.clock.now();
    let run_id = new_id("run", now);
    let holder = format!("{}:{run_id}", svc.instance_id);
    let mut tx = svc.store.write(Scope::Tenant(idp.tenant_id.clone())).await?;
    let cursor = tx.sync_cursor(&idp.id).await?;
    let mode = match mode {
        Some("full") => SyncMode::Full,
        // A delta needs a completed run to start from.
        Some("delta") | None => {
            if cursor.is_some() {
                SyncMode::Delta
            } else {
                SyncMode::Full
            }
        }
        Some(_) => return Err(StartError::BadMode),
    };
    let lease = i64::from(svc.config.sync_lease_seconds);
    let Some(epoch) = tx.take_lease(&lease_name(&idp.id), &holder, now, now.plus_seconds(lease)).await? else {
        return Err(StartError::AlreadyRunning);
    };
    // A run still marked running lost its lease: its process died.
    tx.fail_interrupted_runs(&idp.id, now).await?;
    let run = SyncRun {
        id: run_id,
        tenant_id: idp.tenant_id.clone(),
        partner_id: idp.partner_id.clone(),
        idp_id: idp.id.clone(),
        mode: if mode == SyncMode::Full { "full" } else { "delta" }.into(),
        status: "running".into(),
        started_at: Some(now),
        finished_at: None,
        counts: SyncCounts::default(),
        errors: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    tx.insert(&run).await?;
    tx.commit().await?;
    tracing::info!(target: "audit", action = "sync.start", idp_id = %idp.id, run_id = %run.id, mode = %run.mode, "directory sync started");
    Ok(Started { run, holder, epoch, mode })
}

/// Runs a started sync to its end; `progress` hears the run after each page.
pub async fn execute(
    svc: Arc<Services>,
    idp: IdentityProvider,
    started: Started,
    progress: Option<mpsc::UnboundedSender<SyncRun>>,
) -> SyncRun {
    let Started { mut run, holder, epoch, mode } = started;
    let outcome = pages(&svc, &idp, &mut run, &holder, epoch, mode, progress.as_ref()).await;
    let now = svc.clock.now();
    run.finished_at = Some(now);
    run.updated_at = now;
    match outcome {
        Ok(()) => run.status = "succeeded".into(),
        Err(why) => {
            run.status = "failed".into();
            run.error("", why);
        }
    }
    let saved = async {
        let mut tx = svc.store.write(Scope::Tenant(idp.tenant_id.clone())).await?;
        tx.update(&run).await?;
        tx.release_lease(&lease_name(&idp.id), &holder).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = saved {
        tracing::error!(run_id = %run.id, error = %e, "could not record the end of a sync run");
    }
    tracing::info!(target: "audit", action = "sync.finish", idp_id = %idp.id, run_id = %run.id, status = %run.status,
        counts = %serde_json::to_string(&run.counts).unwrap_or_default(), "directory sync finished");
    if let Some(p) = &progress {
        let _ = p.send(run.clone());
    }
    run
}

async fn pages(
    svc: &Services,
    idp: &IdentityProvider,
    run: &mut SyncRun,
    holder: &str,
    epoch: i64,
    mode: SyncMode,
    progress: Option<&mpsc::UnboundedSender<SyncRun>>,
) -> Result<(), String> {
    let connector = svc.federation.open(svc.keys.sealer(), idp).map_err(|e| e.to_string())?;
    let directory = connector.directory().ok_or("this identity provider type does not sync")?;
    let cursor = {
        let mut tx = svc.store.read(Scope::Tenant(idp.tenant_id.clone())).await.map_err(|e| e.to_string())?;
        let c = tx.sync_cursor(&idp.id).await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        c
    };
    // The connector reads ahead by at most two pages while one is written.
    let (sender, mut receiver) = mpsc::channel(2);
    let clock = svc.clock.clone();
    let now: scaikey_connectors::directory::Now = std::sync::Arc::new(move || clock.now().unix_seconds());
    let reading = directory.run(mode, cursor, now, sender);
    let mut known: reconcile::Known = {
        let mut tx = svc.store.read(Scope::Tenant(idp.tenant_id.clone())).await.map_err(|e| e.to_string())?;
        let k = tx.identities_at(&idp.id).await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        k.into_iter().collect()
    };
    let writing = async {
        let mut gone: Option<reconcile::Gone> = None;
        while let Some(page) = receiver.recv().await {
            let page = page.map_err(|e| e.to_string())?;
            // What is gone upstream is applied with the cursor that ends the run.
            let page = match page {
                Page::Present { users, groups } => {
                    gone = Some(reconcile::Gone::AllBut { users, groups });
                    continue;
                }
                Page::Removed { users, groups } => {
                    gone = Some(reconcile::Gone::These { users, groups });
                    continue;
                }
                other => other,
            };
            apply(svc, idp, run, &mut known, holder, epoch, mode, page, gone.take()).await?;
            if let Some(p) = progress {
                let _ = p.send(run.clone());
            }
        }
        Ok::<(), String>(())
    };
    let ((), written) = tokio::join!(reading, writing);
    written
}

/// One page in one transaction, fenced by the lease.
#[allow(clippy::too_many_arguments)]
async fn apply(
    svc: &Services,
    idp: &IdentityProvider,
    run: &mut SyncRun,
    known: &mut reconcile::Known,
    holder: &str,
    epoch: i64,
    mode: SyncMode,
    page: Page,
    gone: Option<reconcile::Gone>,
) -> Result<(), String> {
    let now: Timestamp = svc.clock.now();
    let fail = |e: StoreError| e.to_string();
    let mut tx = svc.store.write(Scope::Tenant(idp.tenant_id.clone())).await.map_err(fail)?;
    let name = lease_name(&idp.id);
    if !tx.holds_lease(&name, holder, epoch, now).await.map_err(fail)? {
        return Err("the run lost its lease (another replica took over); nothing more was written".into());
    }
    // Renewed in the same fenced transaction.
    let lease = i64::from(svc.config.sync_lease_seconds);
    tx.take_lease(&name, holder, now, now.plus_seconds(lease)).await.map_err(fail)?;
    let w = Writer {
        actor: Actor::Sync { idp: idp.id.clone(), run: run.id.clone() },
        authority: Scope::Tenant(idp.tenant_id.clone()),
        request_id: None,
        now,
    };
    let mut before = run.clone();
    match page {
        // A failed page ends the run, so `known` needs no rollback.
        Page::Users(users) => reconcile::users(&mut tx, &w, idp, run, known, &users).await.map_err(fail)?,
        Page::Groups(groups) => reconcile::groups(&mut tx, &w, idp, run, known, &groups).await.map_err(fail)?,
        Page::Done { cursor } => {
            if let Some(gone) = gone {
                reconcile::gone(&mut tx, &w, idp, run, known, gone).await.map_err(fail)??;
            }
            tx.set_sync_cursor(&idp.id, &cursor, mode == SyncMode::Full, now).await.map_err(fail)?;
        }
        Page::Present { .. } | Page::Removed { .. } => {}
    }
    run.updated_at = now;
    tx.update(&*run).await.map_err(fail)?;
    tx.commit().await.map_err(|e| {
        // The page is not applied: the counts go back to what is stored.
        std::mem::swap(run, &mut before);
        e.to_string()
    })?;
    Ok(())
}
