//! `scaikey sync run --idp …`: one sync in this process, with a progress
//! line (objects and users/s) and a summary; exits non-zero if it failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::Services;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::idp::IdentityProvider;
use crate::domain::sync_run::{SyncRun, Tally};
use crate::store::Scope;

fn done(t: &Tally) -> u64 {
    t.created + t.updated + t.suspended + t.deleted + t.unchanged + t.failed
}

fn line(run: &SyncRun, elapsed: Duration) -> String {
    let users = done(&run.counts.users);
    let rate = users as f64 / elapsed.as_secs_f64().max(0.001);
    let u = &run.counts.users;
    format!(
        "{users} users ({rate:.0}/s): {} created, {} updated, {} suspended, {} unchanged, {} failed; {} groups",
        u.created,
        u.updated,
        u.suspended,
        u.unchanged,
        u.failed,
        done(&run.counts.groups)
    )
}

pub async fn run(config: Config, idp_id: &str, mode: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let svc = Services::start(config, Arc::new(SystemClock)).await?;
    let mut tx = svc.store.read(Scope::Platform).await?;
    let idp: IdentityProvider = tx.get(idp_id).await.map_err(|_| format!("no identity provider {idp_id}"))?;
    tx.commit().await?;
    let started = super::engine::start(&svc, &idp, mode.as_deref()).await?;
    eprintln!("sync {} of {} ({}) started", started.run.mode, idp.name, started.run.id);
    let (progress, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let running = tokio::spawn(super::engine::execute(Arc::clone(&svc), idp, started, Some(progress)));
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let t0 = Instant::now();
    while let Some(run) = heard.recv().await {
        bar.set_message(line(&run, t0.elapsed()));
    }
    let run = running.await?;
    bar.finish_and_clear();
    println!("{} in {:.1} s: {}", run.status, t0.elapsed().as_secs_f64(), line(&run, t0.elapsed()));
    let g = &run.counts.groups;
    println!(
        "groups: {} created, {} updated, {} removed, {} unchanged, {} failed",
        g.created, g.updated, g.deleted, g.unchanged, g.failed
    );
    for e in run.errors.iter().take(20) {
        println!("  {} {}", e.external_id, e.message);
    }
    if run.status != "succeeded" {
        return Err(format!("sync run {} {}", run.id, run.status).into());
    }
    Ok(())
}
