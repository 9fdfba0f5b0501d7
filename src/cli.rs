//! The `scaikey` command line: `serve`, `migrate`, `bootstrap`, `bench`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::Services;
use crate::clock::SystemClock;
use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "scaikey",
    version,
    about = "ScaiKey: multi-tenant OAuth 2.0 / OpenID Connect provider, SCIM server and directory sync"
)]
pub struct Cli {
    /// TOML configuration file (default: ./scaikey.toml when present).
    /// Environment variables (SCAIKEY_*, DATABASE_URL) override it.
    #[arg(long, global = true, env = "SCAIKEY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server: applies migrations, creates signing keys, and on an
    /// empty database bootstraps a super admin and prints how to sign in.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create (or reset) the super admin and the bootstrap GLOBAL application.
    Bootstrap {
        /// Print the credentials as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Manage token signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Ask a running server whether it is alive (for container health
    /// checks): exits 0 when `/health` answers 200.
    Health {
        /// The server's health URL (default: this config's listen address).
        #[arg(long)]
        url: Option<String>,
    },
    /// Directory sync.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Measure token issuance and raw signing rates on this machine.
    Bench {
        /// Seconds to run each measurement.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
        /// Instead, seed a tenant with this many users and measure SCIM
        /// filters, paging and creates (use DATABASE_URL for PostgreSQL).
        #[arg(long)]
        scim_users: Option<usize>,
        /// Instead, sync this many users from a private OpenLDAP slapd
        /// (tests/peers/ldap) and time a full and a 1,000-change delta run.
        #[arg(long)]
        ldap_users: Option<usize>,
        /// Groups in that directory.
        #[arg(long, default_value_t = 1000)]
        ldap_groups: usize,
        /// Instead, time webhooks: a burst of this many changes from commit
        /// to a local receiver (p50/p99), and login p99 with the receiver
        /// up and down.
        #[arg(long)]
        webhook_events: Option<usize>,
        /// Also create this many tenants (under one partner per 25) and
        /// measure admin lists, tenant discovery and memory at that size.
        #[arg(long)]
        tenants: Option<usize>,
        /// With --tenants, also write this many users spread over those
        /// tenants (straight into the store) and measure admin and sign-in
        /// lookups and user creates at that size.
        #[arg(long, requires = "tenants")]
        users: Option<usize>,
        /// Also load the server with client_credentials tokens for this many
        /// minutes, nothing reading /metrics, reporting RSS each minute.
        #[arg(long)]
        soak_minutes: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Run one sync of an identity provider now, showing progress.
    Run {
        /// The identity provider's id (idp_…).
        #[arg(long)]
        idp: String,
        /// full or delta (default: delta after the first full run).
        #[arg(long)]
        mode: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Publish a new key per algorithm now; it signs after --activate-in
    /// seconds, and the key it replaces stays published until its tokens expire.
    Rotate {
        /// Only this algorithm (RS256, ES256 or EdDSA).
        #[arg(long)]
        alg: Option<String>,
        /// Seconds between publishing the key and signing with it (at least
        /// 60, the interval at which every replica reloads keys).
        #[arg(long, default_value_t = crate::keys::rotation::DEFAULT_ACTIVATE_IN)]
        activate_in: i64,
    },
    /// Re-seal every stored secret under the master key (rotating it: set
    /// the new key as master_key and the old one as previous_master_key on
    /// every replica, run this once, then drop previous_master_key).
    Reseal,
}

pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(cli.config.as_deref())?;
    crate::telemetry::init_logging(&config.log, &config.log_format);
    match cli.command {
        Command::Migrate => {
            let store = crate::store::Store::connect(&config.database_url()).await?;
            store.migrate().await?;
            let report = crate::directory::rekey::run(&store, crate::clock::Clock::now(&SystemClock)).await?;
            eprintln!("migrations applied to the {} database", store.backend());
            if let Some(c) = report.get("collisions").and_then(|c| c.as_array()).filter(|c| !c.is_empty()) {
                eprintln!(
                    "{} names collide after normalization and were left apart: {}",
                    c.len(),
                    serde_json::Value::Array(c.clone())
                );
            }
        }
        Command::Bootstrap { json } => {
            let password = config.bootstrap_admin_password.clone();
            let svc = Services::start(config, Arc::new(SystemClock)).await?;
            let out = crate::bootstrap::run(&svc, password).await?;
            print_bootstrap(&out, json)?;
        }
        Command::Serve => serve(config).await?,
        Command::Health { url } => {
            // The listen address may be 0.0.0.0 (all interfaces): ask loopback.
            let port = config.listen.rsplit(':').next().unwrap_or("8080").to_owned();
            let url = url.unwrap_or_else(|| format!("http://127.0.0.1:{port}/health"));
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
            let status = client.get(&url).send().await.map(|r| r.status());
            match status {
                Ok(s) if s.is_success() => println!("healthy"),
                Ok(s) => return Err(format!("{url} answered {s}").into()),
                Err(e) => return Err(format!("{url}: {e}").into()),
            }
        }
        Command::Keys { command: KeysCommand::Reseal } => {
            let svc = Services::start(config, Arc::new(SystemClock)).await?;
            let n = crate::keys::reseal::run(&svc.store, svc.keys.sealer()).await?;
            println!("re-sealed {n} secrets under the current master key; previous_master_key can be removed");
        }
        Command::Keys { command: KeysCommand::Rotate { alg, activate_in } } => {
            let algs = match alg {
                None => crate::keys::ALGORITHMS.to_vec(),
                Some(a) => match crate::keys::ALGORITHMS.into_iter().find(|x| x.as_str() == a) {
                    Some(x) => vec![x],
                    None => return Err(format!("unknown algorithm {a}: use RS256, ES256 or EdDSA").into()),
                },
            };
            let svc = Services::start(config, Arc::new(SystemClock)).await?;
            for k in svc.keys.rotate(&svc.store, svc.clock.as_ref(), &algs, activate_in).await? {
                println!(
                    "published {} key {} (signs from {})",
                    k.alg,
                    k.id,
                    k.activated_at.map(|t| t.rfc3339()).unwrap_or_default()
                );
            }
        }
        Command::Sync { command: SyncCommand::Run { idp, mode } } => crate::sync::cli::run(config, &idp, mode).await?,
        Command::Bench {
            seconds,
            scim_users,
            ldap_users,
            ldap_groups,
            webhook_events,
            tenants,
            users,
            soak_minutes,
        } => {
            let workload = match (scim_users, ldap_users, webhook_events) {
                (Some(n), _, _) => crate::bench::Workload::Scim(n),
                (_, Some(u), _) => crate::bench::Workload::Ldap(u, ldap_groups),
                (_, _, Some(n)) => crate::bench::Workload::Webhooks(n),
                _ => crate::bench::Workload::Tokens { tenants, users, soak_minutes },
            };
            crate::bench::run(config, seconds, workload).await?
        }
    }
    Ok(())
}

fn print_bootstrap(out: &crate::bootstrap::BootstrapOutput, json: bool) -> Result<(), serde_json::Error> {
    if json {
        println!("{}", serde_json::to_string(out)?);
    } else {
        println!("ScaiKey is bootstrapped. Keep these; they are shown only now.");
        println!("  super admin:   {} (tenant {}) / {}", out.admin_user, out.tenant, out.admin_password);
        println!("  admin client:  {} / {}", out.client_id, out.client_secret);
        println!(
            "  token:         curl -u {}:{} -d grant_type=client_credentials {}",
            out.client_id, out.client_secret, out.token_endpoint
        );
    }
    Ok(())
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let listen = config.listen.clone();
    let password = config.bootstrap_admin_password.clone();
    let svc = Services::start(config, Arc::new(SystemClock)).await?;
    if crate::bootstrap::is_empty(&svc).await? {
        let out = crate::bootstrap::run(&svc, password).await?;
        print_bootstrap(&out, false)?;
    }
    let jobs = crate::jobs::spawn_all(Arc::clone(&svc));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(listen = %listen, public_url = %svc.base_url(), database = svc.store.backend(), "ScaiKey is serving");
    let app = crate::http::router(Arc::clone(&svc)).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // SIGTERM: not ready at once, still serving for the grace period (load
    // balancers stop routing here), then stop accepting and let requests
    // in flight finish...
    let grace = std::time::Duration::from_secs(svc.config.shutdown_grace_seconds.into());
    let draining = Arc::clone(&svc);
    let signalled = async move {
        shutdown().await;
        draining.drain();
        tracing::info!(grace_seconds = grace.as_secs(), "stopping: not ready, serving out the grace period");
        tokio::time::sleep(grace).await;
    };
    axum::serve(listener, app).with_graceful_shutdown(signalled).await?;
    // ...then the jobs finish what they are doing (a webhook delivery being
    // sent), and the leases this process holds are given up for the others.
    tracing::info!("stopping: requests drained, finishing background work");
    svc.stop();
    jobs.join(std::time::Duration::from_secs(15)).await;
    match svc.release_leases().await {
        Ok(n) => tracing::info!(released_leases = n, "stopped"),
        Err(e) => tracing::warn!(error = %e, "leases not released; they expire on their own"),
    }
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
