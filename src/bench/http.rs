//! `scaikey bench --http`: the server as its own process (this binary's
//! `serve` on loopback, so its CPU time and memory are its own), loaded by
//! 32 concurrent keep-alive clients from this process: the platform's
//! discovery and JWKS next to a tenant's, and `client_credentials` tokens
//! per algorithm, with requests per server CPU-second (from `/proc`) and
//! the server's peak RSS.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::admin::{self, Ctx};
use crate::domain::application::{Application, SigningAlg};

const CONCURRENCY: usize = 32;

type BenchError = Box<dyn std::error::Error>;

/// CPU seconds (user + system) a process has used, from `/proc/{pid}/stat`
/// (clock ticks of USER_HZ, 100 on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A field of `/proc/{pid}/status` in MB (`VmHWM` peak, `VmRSS` now).
fn memory_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs `request` from `CONCURRENCY` tasks for `seconds`: (successes/s,
/// successes per server CPU-second, failures).
async fn load<F, Fut>(pid: u32, seconds: u64, request: F) -> (f64, f64, u64)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let (ok, failed, stop) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let cpu_before = cpu_seconds(pid);
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (request, ok, failed, stop) =
                (Arc::clone(&request), Arc::clone(&ok), Arc::clone(&failed), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let counter = if request().await { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(pid) - cpu_before).max(0.01);
    let n = ok.load(Ordering::Relaxed) as f64;
    (n / elapsed, n / cpu, failed.load(Ordering::Relaxed))
}

/// Seeds a tenant and one SERVICE app per algorithm through `ctx`.
pub async fn seed(ctx: &Ctx<'_>) -> Result<Vec<(SigningAlg, String, String)>, BenchError> {
    let tenant = super::bench_tenant(ctx, "httpbench").await?;
    let mut apps = Vec::new();
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        let input = super::service_app(Some(tenant.id.clone()), format!("http bench {}", alg.as_str()), alg);
        let created = admin::create::<Application>(ctx, input).await?;
        apps.push((alg, super::data_str(&created, "client_id"), super::data_str(&created, "client_secret")));
    }
    Ok(apps)
}

/// Starts `scaikey serve` on `dir`'s data, loads it, prints the figures.
pub async fn measure(dir: &Path, seconds: u64, apps: Vec<(SigningAlg, String, String)>) -> Result<(), BenchError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .env("SCAIKEY_DATA_DIR", dir)
        .env("SCAIKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCAIKEY_PUBLIC_URL", &base)
        .env("SCAIKEY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("the server did not start")?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(CONCURRENCY).build()?;
    let ready = Instant::now();
    while !http.get(format!("{base}/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
        if ready.elapsed() > Duration::from_secs(60) {
            return Err("the server was not ready within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "HTTP, server process on loopback, {CONCURRENCY} concurrent clients, {seconds} s each (clients share the machine)"
    );
    println!("{:<40} {:>10} {:>16} {:>8}", "endpoint", "req/s", "per server CPU-s", "failed");
    let tenant = format!("{base}/api/v1/auth/tenants/httpbench");
    let gets = [
        ("platform discovery", format!("{base}/api/v1/platform/.well-known/openid-configuration")),
        ("platform JWKS", format!("{base}/.well-known/jwks.json")),
        ("tenant discovery", format!("{tenant}/.well-known/openid-configuration")),
        ("tenant JWKS", format!("{tenant}/oauth/jwks")),
    ];
    for (name, url) in gets {
        let client = http.clone();
        let (rate, per_cpu, failed) = load(pid, seconds, move || {
            let (client, url) = (client.clone(), url.clone());
            async move { client.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        println!("{name:<40} {rate:>10.0} {per_cpu:>16.0} {failed:>8}");
    }
    for (alg, id, secret) in apps {
        let client = http.clone();
        let url = format!("{tenant}/oauth/token");
        let (rate, per_cpu, failed) = load(pid, seconds, move || {
            let (client, url, id, secret) = (client.clone(), url.clone(), id.clone(), secret.clone());
            async move {
                let r = client
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                r.is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        println!("{:<40} {rate:>10.0} {per_cpu:>16.0} {failed:>8}", format!("client_credentials {}", alg.as_str()));
    }
    println!("server RSS: peak {:.1} MB, now {:.1} MB", memory_mb(pid, "VmHWM:"), memory_mb(pid, "VmRSS:"));
    child.kill().await.ok();
    Ok(())
}
