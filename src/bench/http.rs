//! The HTTP half of `scaikey bench`: the server as its own process (this
//! binary's `serve` on loopback, so its CPU time and memory are its own),
//! loaded by 32 concurrent keep-alive connections from this process
//! (`client`): the
//! platform's discovery and JWKS next to a tenant's, `client_credentials`
//! tokens per algorithm, with requests per server CPU-second (from `/proc`)
//! and the server's RSS; then the user flows (`storm`), the hierarchy at
//! scale (`scale`) and the soak.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::client::Prepared;
use crate::admin::{self, Ctx};
use crate::domain::application::{Application, SigningAlg};

pub(super) const CONCURRENCY: usize = 32;

pub(super) type BenchError = Box<dyn std::error::Error>;

/// The server process under test.
pub struct Server {
    child: tokio::process::Child,
    pub pid: u32,
    pub base: String,
    pub http: reqwest::Client,
}

impl Server {
    /// Starts `scaikey serve` on `dir`'s data (SQLite allows several
    /// processes; WAL keeps readers apart) and waits for `/ready`. Its
    /// warnings go to `server.log` in `dir`. The
    /// storm's logins arrive from many addresses through `X-Forwarded-For`,
    /// so loopback is a trusted proxy.
    pub async fn start(dir: &Path) -> Result<Self, BenchError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let mut command = tokio::process::Command::new(std::env::current_exe()?);
        command
            .arg("serve")
            .env("SCAIKEY_DATA_DIR", dir)
            .env("SCAIKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SCAIKEY_PUBLIC_URL", &base)
            .env("SCAIKEY_TRUSTED_PROXIES", "127.0.0.1/32")
            .env("SCAIKEY_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log"))?)
            .kill_on_drop(true);
        let child = command.spawn()?;
        let pid = child.id().ok_or("the server did not start")?;
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        let ready = Instant::now();
        while !http.get(format!("{base}/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            if ready.elapsed() > Duration::from_secs(60) {
                return Err("the server was not ready within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self { child, pid, base, http })
    }

    /// CPU seconds (user + system) the server has used, from
    /// `/proc/{pid}/stat` (clock ticks of USER_HZ, 100 on Linux).
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at state.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Resident memory now, in MB.
    pub fn rss_mb(&self) -> f64 {
        self.memory_mb("VmRSS:")
    }

    /// The most resident memory so far, in MB.
    pub fn peak_rss_mb(&self) -> f64 {
        self.memory_mb("VmHWM:")
    }

    fn memory_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    pub async fn stop(mut self) {
        self.child.kill().await.ok();
    }
}

/// What one or more `load`s counted.
#[derive(Clone, Copy, Default)]
pub struct Measured {
    ok: u64,
    failed: u64,
    seconds: f64,
    server_cpu: f64,
}

impl Measured {
    fn add(&mut self, other: Measured) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.seconds += other.seconds;
        self.server_cpu += other.server_cpu;
    }

    /// (2xx answers/s, 2xx answers per server CPU-second, failures).
    pub fn rates(&self) -> (f64, f64, u64) {
        let ok = self.ok as f64;
        (ok / self.seconds.max(0.001), ok / self.server_cpu.max(0.01), self.failed)
    }
}

/// Sends `request` from `CONCURRENCY` tasks, each over its own keep-alive
/// connection, for `duration`.
pub async fn load(server: &Server, duration: Duration, request: Prepared) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = server.cpu_seconds();
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (request, stop) = (request.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut ok, mut failed, mut connection) = (0u64, 0u64, None);
                while !stop.load(Ordering::Relaxed) {
                    if connection.is_none() {
                        connection = request.connect().await.ok();
                    }
                    let Some(c) = connection.as_mut() else {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    match c.send(&request).await {
                        Ok(true) => ok += 1,
                        Ok(false) => failed += 1,
                        Err(_) => {
                            failed += 1;
                            connection = None;
                        }
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        if let Ok((o, f)) = t.await {
            ok += o;
            failed += f;
        }
    }
    Measured { ok, failed, seconds: start.elapsed().as_secs_f64(), server_cpu: server.cpu_seconds() - cpu_before }
}

/// A SERVICE app per algorithm: (alg, client_id, secret).
pub type ServiceApps = Vec<(SigningAlg, String, String)>;

/// One SERVICE app per algorithm in `tenant_id`, through `ctx`.
pub async fn seed(ctx: &Ctx<'_>, tenant_id: &str) -> Result<ServiceApps, BenchError> {
    let mut apps = Vec::new();
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        let input = super::service_app(Some(tenant_id.into()), format!("http bench {}", alg.as_str()), alg);
        let created = admin::create::<Application>(ctx, input).await?;
        apps.push((alg, super::data_str(&created, "client_id"), super::data_str(&created, "client_secret")));
    }
    Ok(apps)
}

/// `load` of GETs of `url` (success: a 2xx answer).
pub async fn get_load(server: &Server, url: String, seconds: u64) -> (f64, f64, u64) {
    match Prepared::get(&url) {
        Ok(request) => load(server, Duration::from_secs(seconds), request).await.rates(),
        Err(_) => (0.0, 0.0, 1),
    }
}

/// `load` of `client_credentials` requests of `app` at `tenant_issuer`.
async fn token_load(
    server: &Server,
    tenant_issuer: &str,
    app: &(SigningAlg, String, String),
    seconds: u64,
) -> (f64, f64, u64) {
    match token_request(tenant_issuer, app) {
        Ok(request) => load(server, Duration::from_secs(seconds), request).await.rates(),
        Err(_) => (0.0, 0.0, 1),
    }
}

/// The `client_credentials` request of `app` (alg, client_id, secret) at `tenant_issuer`.
fn token_request(tenant_issuer: &str, app: &(SigningAlg, String, String)) -> Result<Prepared, BenchError> {
    Prepared::client_credentials(&format!("{tenant_issuer}/oauth/token"), &app.1, &app.2)
}

pub fn row(name: &str, rate: f64, per_cpu: f64, failed: u64, note: &str) {
    println!("{name:<44} {rate:>10.0} {per_cpu:>16.0} {failed:>8}  {note}");
}

/// Rounds the comparisons are measured in, interleaved: this machine's
/// speed drifts and stalls in bursts (±15 % between phases a minute apart,
/// and single seconds at half speed, were seen), so both sides of a ratio
/// are measured next to each other in every round and the median round's
/// ratio is reported, with the spread.
pub(super) const ROUNDS: usize = 5;

/// The median and range of per-round ratios, as a note.
fn ratio_note(mut ratios: Vec<f64>, what: &str) -> String {
    ratios.sort_by(f64::total_cmp);
    let (Some(low), Some(high), Some(median)) = (ratios.first(), ratios.last(), ratios.get(ratios.len() / 2)) else {
        return String::new();
    };
    format!("{median:.2}× {what} (rounds {low:.2}–{high:.2})")
}

/// GET rates of discovery and JWKS, platform and tenant (`tenant_issuer`).
pub async fn documents(server: &Server, tenant_issuer: &str, seconds: u64) -> Vec<(&'static str, f64)> {
    let base = &server.base;
    let gets = [
        ("platform discovery", format!("{base}/api/v1/platform/.well-known/openid-configuration")),
        ("platform JWKS", format!("{base}/.well-known/jwks.json")),
        ("tenant discovery", format!("{tenant_issuer}/.well-known/openid-configuration")),
        ("tenant JWKS", format!("{tenant_issuer}/oauth/jwks")),
    ];
    let requests: Vec<Option<Prepared>> = gets.iter().map(|(_, url)| Prepared::get(url).ok()).collect();
    // One column per row: its measurement in each round.
    let mut columns = vec![Vec::with_capacity(ROUNDS); gets.len()];
    for _ in 0..ROUNDS {
        for (request, column) in requests.iter().zip(&mut columns) {
            column.push(match request {
                Some(request) => load(server, Duration::from_secs(seconds) / ROUNDS as u32, request.clone()).await,
                None => Measured::default(),
            });
        }
    }
    let mut rates = Vec::new();
    for (i, ((name, _), column)) in gets.iter().zip(&columns).enumerate() {
        let mut total = Measured::default();
        column.iter().for_each(|m| total.add(*m));
        let (rate, per_cpu, failed) = total.rates();
        // Tenant rows (2, 3) compare with the platform's (0, 1), round by round.
        let note = match i.checked_sub(2).and_then(|platform| columns.get(platform)) {
            Some(platform) => {
                let pairs = column.iter().zip(platform);
                ratio_note(pairs.map(|(t, p)| t.rates().0 / p.rates().0.max(1.0)).collect(), "the platform's")
            }
            None => String::new(),
        };
        row(name, rate, per_cpu, failed, &note);
        rates.push((*name, rate));
    }
    rates
}

/// `client_credentials` per algorithm, each round next to a sample of
/// `raw_rate` (signatures/s of that algorithm per core with every core
/// signing, in this process, over the given time).
pub async fn tokens(
    server: &Server,
    tenant_issuer: &str,
    apps: &ServiceApps,
    raw_rate: impl Fn(SigningAlg, Duration) -> f64,
    seconds: u64,
) {
    let round = Duration::from_secs(seconds) / ROUNDS as u32;
    for app in apps {
        let Ok(request) = token_request(tenant_issuer, app) else {
            row(&format!("client_credentials {}", app.0.as_str()), 0.0, 0.0, 1, "");
            continue;
        };
        let (mut total, mut ratios) = (Measured::default(), Vec::new());
        for _ in 0..ROUNDS {
            let raw = raw_rate(app.0, round / 2);
            let measured = load(server, round, request.clone()).await;
            ratios.push(measured.rates().1 / raw.max(1.0));
            total.add(measured);
        }
        let (rate, per_cpu, failed) = total.rates();
        let note = ratio_note(ratios, "raw signs/s per core (every core signing)");
        row(&format!("client_credentials {}", app.0.as_str()), rate, per_cpu, failed, &note);
    }
}

/// Token load for `minutes` with nothing reading `/metrics`; RSS each minute.
pub async fn soak(server: &Server, tenant_issuer: &str, app: &(SigningAlg, String, String), minutes: u64) {
    println!("soak: client_credentials {} for {minutes} min, /metrics never read", app.0.as_str());
    let mut first_minute = 0.0;
    for minute in 1..=minutes {
        let (rate, _, failed) = token_load(server, tenant_issuer, app, 60).await;
        let rss = server.rss_mb();
        if minute == 1 {
            first_minute = rss;
        }
        println!("  minute {minute:>3}: {rate:>8.0} tokens/s, {failed} failed, RSS {rss:.1} MB");
    }
    println!("soak: RSS moved {:+.1} MB after the first minute", server.rss_mb() - first_minute);
}
