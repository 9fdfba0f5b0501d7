//! `scaikey bench`: in one run, side by side — the raw signing rate per
//! algorithm in this process, then the server as its own process loaded
//! over HTTP (`http`): discovery and JWKS, `client_credentials` per
//! algorithm and per server CPU-second, `refresh_token` grants, password
//! logins next to the argon2id rate and token latency during a login storm
//! (`storm`), memory throughout; with `--tenants N` the hierarchy at scale
//! (`scale`) and with `--users M` that many users over those tenants
//! (`population`), with `--soak-minutes M` a long token load. Other workloads
//! (`--scim-users`, `--ldap-users`, `--webhook-events`) run instead.
//! Runs against a throwaway SQLite database unless DATABASE_URL is set.

pub mod client;
pub mod http;
pub mod population;
pub mod scale;
pub mod scim;
pub mod storm;
pub mod sync;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::admin::authz::{ActorKind, Principal};
use crate::admin::{self, Ctx};
use crate::app::Services;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::application::{AppScope, AppType, NewApplication, SigningAlg};
use crate::oauth::Issuer;
use crate::store::Scope;

/// The `p` quantile of `sorted` (nearest rank; zero when empty).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What `scaikey bench` measures.
pub enum Workload {
    /// Signing, tokens, documents, refresh, logins and memory (the default);
    /// optionally the hierarchy at `tenants` (with `users` spread over
    /// them) and a soak of `soak_minutes`.
    Tokens { tenants: Option<usize>, users: Option<usize>, soak_minutes: Option<u64> },
    /// SCIM with this many users.
    Scim(usize),
    /// Directory sync of (users, groups) from slapd.
    Ldap(usize, usize),
    /// Webhooks: a burst of this many changes.
    Webhooks(usize),
}

pub async fn run(mut config: Config, seconds: u64, workload: Workload) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("scaikey-bench-{}", crate::ids::random_base36(8)));
    config.data_dir = dir.clone();
    // The bench's receiver listens on loopback.
    config.webhooks_allow_private |= matches!(workload, Workload::Webhooks(_));
    let svc = Services::start(config, Arc::new(SystemClock)).await?;
    let principal = Principal {
        kind: ActorKind::User,
        id: "bench".into(),
        authority: Scope::Platform,
        can_read: true,
        can_write: true,
    };
    let rid = "bench".to_owned();
    let ctx = Ctx { svc: &svc, principal: &principal, request_id: &rid, now: svc.clock.now() };
    let outcome = match workload {
        Workload::Ldap(users, groups) => Some(sync::run(&svc, &ctx, users, groups).await),
        Workload::Webhooks(n) => Some(webhooks::run(&svc, &ctx, n).await),
        Workload::Scim(n) => Some(
            async {
                let tenant = bench_tenant(&ctx, "scim-bench").await?;
                scim::run(&svc, &ctx, &tenant, n).await
            }
            .await,
        ),
        Workload::Tokens { .. } => None,
    };
    if let Some(outcome) = outcome {
        drop(svc);
        std::fs::remove_dir_all(dir).ok();
        return outcome;
    }
    let Workload::Tokens { tenants, users, soak_minutes } = workload else { return Ok(()) };
    let outcome = tokens(&svc, &ctx, &dir, seconds, (tenants, users), soak_minutes).await;
    drop(svc);
    if outcome.is_ok() {
        std::fs::remove_dir_all(&dir).ok();
    } else {
        eprintln!("bench data and server log kept in {}", dir.display());
    }
    outcome
}

/// Signatures/s of one algorithm on one core alone and per core with
/// every core signing.
struct RawSigning {
    alg: SigningAlg,
    alone: f64,
    every_core: f64,
}

fn raw_signing(svc: &Services, seconds: u64) -> Result<Vec<RawSigning>, Box<dyn std::error::Error>> {
    let mut rates = Vec::new();
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        let duration = Duration::from_secs(seconds);
        let (alone, every_core) = (raw_rate(svc, alg, duration)?, raw_rate_every_core(svc, alg, duration));
        rates.push(RawSigning { alg, alone, every_core });
    }
    Ok(rates)
}

/// Signatures/s of `alg` per core while every core signs. Under a token
/// load the server signs on one core while the other is busy too (the load
/// generator, the other request thread), and a core of this machine signs
/// slower then than alone (RSA-2048 about 7 % by `openssl speed -multi 2`):
/// a server CPU-second is compared with a core's second under the same
/// occupancy, as logins are compared with the hash rate on every core.
fn raw_rate_every_core(svc: &Services, alg: SigningAlg, duration: Duration) -> f64 {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let total: f64 = std::thread::scope(|s| {
        let threads: Vec<_> =
            (0..cores).map(|_| s.spawn(move || raw_rate(svc, alg, duration).unwrap_or(0.0))).collect();
        threads.into_iter().map(|t| t.join().unwrap_or(0.0)).sum()
    });
    total / cores as f64
}

/// One task's signatures/s of `alg` over `duration`, with this process's key.
fn raw_rate(svc: &Services, alg: SigningAlg, duration: Duration) -> Result<f64, Box<dyn std::error::Error>> {
    let signer = svc.keys.signer(alg)?;
    let claims = json!({"iss": "bench", "sub": "bench", "exp": 2_000_000_000, "scope": "api:read"});
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed() < duration {
        signer.sign_jwt("at+jwt", &claims)?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The default run: see the module's documentation.
async fn tokens(
    svc: &Services,
    ctx: &Ctx<'_>,
    dir: &std::path::Path,
    seconds: u64,
    (tenants, users): (Option<usize>, Option<usize>),
    soak_minutes: Option<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    println!("scaikey bench: {cores} cores, database {}, {seconds} s per measurement", svc.store.backend());
    let raw = raw_signing(svc, seconds)?;
    for RawSigning { alg, alone, every_core } in &raw {
        println!(
            "raw {} signatures/s, one core: {alone:.0} alone, {every_core:.0} with every core signing",
            alg.as_str()
        );
    }
    let admin_client = crate::bootstrap::run(svc, None).await?;
    let tenant = bench_tenant(ctx, "httpbench").await?;
    let apps = http::seed(ctx, &tenant.id).await?;
    let web = storm::seed(ctx, &tenant.id).await?;
    let server = http::Server::start(dir).await?;
    let issuer = format!("{}/api/v1/auth/tenants/httpbench", server.base);
    println!(
        "\nHTTP: server process on loopback, {} concurrent keep-alive clients from this process (sharing the cores)",
        http::CONCURRENCY
    );
    println!("{:<44} {:>10} {:>16} {:>8}", "measurement", "per second", "per server CPU-s", "failed");
    let documents = http::documents(&server, &issuer, seconds).await;
    http::tokens(&server, &issuer, &apps, |alg, d| raw_rate_every_core(svc, alg, d), seconds).await;
    println!("server RSS under token load: peak {:.1} MB, now {:.1} MB", server.peak_rss_mb(), server.rss_mb());
    let (rate, per_cpu, failed) = storm::refresh_rate(&server, &issuer, &web, seconds).await?;
    http::row("refresh_token grants (RS256, rotation)", rate, per_cpu, failed, "");
    let es256 = apps.iter().find(|(alg, ..)| *alg == SigningAlg::ES256).ok_or("no ES256 app")?;
    storm::run(&server, &issuer, &web, (&es256.1, &es256.2), seconds).await?;
    if let Some(n) = tenants {
        let small = documents.iter().find(|(name, _)| *name == "tenant discovery").map_or(0.0, |(_, r)| *r);
        let seeded = scale::seed(ctx, n).await?;
        if let Some(users) = users {
            at_population(svc, users).await?;
        }
        scale::measure(&server, &seeded, &(admin_client.client_id, admin_client.client_secret), small, seconds).await?;
    }
    if let Some(minutes) = soak_minutes {
        http::soak(&server, &issuer, es256, minutes).await;
    }
    println!("server peak RSS over the whole run: {:.1} MB", server.peak_rss_mb());
    server.stop().await;
    Ok(())
}

/// `users` spread over the tenants `scale` seeded: user creates/s before
/// and after, and the admin and sign-in lookups at that size.
async fn at_population(svc: &Services, users: usize) -> Result<(), Box<dyn std::error::Error>> {
    let tenants = population::scale_tenants(svc).await?;
    let middle = tenants.get(tenants.len() / 2).ok_or("--users needs --tenants")?;
    let before = population::creates_per_second(svc, middle, "before").await?;
    let people = population::seed(svc, &tenants, users).await?;
    let after = population::creates_per_second(svc, middle, "after").await?;
    println!(
        "user creates/s through the admin write path, one client: {before:.0} among few users, {after:.0} among {users}"
    );
    population::measure(svc, &people).await
}

/// A SERVICE app signing with `alg`: GLOBAL, or of `tenant_id`.
fn service_app(tenant_id: Option<String>, name: String, alg: SigningAlg) -> NewApplication {
    NewApplication {
        scope: if tenant_id.is_some() { AppScope::Tenant } else { AppScope::Global },
        tenant_id,
        partner_id: None,
        app_type: AppType::Service,
        name,
        grant_types: None,
        redirect_uris: vec![],
        logout_uris: vec![],
        allowed_origins: vec![],
        allowed_scopes: Some(vec!["api:read".into()]),
        token_lifetime: None,
        refresh_token_lifetime: None,
        token_signing_alg: Some(alg),
        token_exchange_allowed: false,
        sync_webhook_url: None,
        sync_webhook_secret: None,
        assigned_users: vec![],
        assigned_groups: vec![],
        first_party: false,
        accept_audience_from: vec![],
        initiate_login_uri: None,
        logo_uri: None,
    }
}

/// A partner and tenant for a benchmark, read back as the stored row.
async fn bench_tenant(ctx: &Ctx<'_>, slug: &str) -> Result<crate::domain::tenant::Tenant, Box<dyn std::error::Error>> {
    use crate::domain::partner::{NewPartner, Partner, PartnerLimits};
    use crate::domain::tenant::{NewTenant, Tenant};
    let limits = PartnerLimits { max_users_per_tenant: 10_000_000, ..Default::default() };
    let partner = admin::create::<Partner>(ctx, NewPartner { name: format!("{slug} partner"), limits }).await?;
    let tenant = admin::create::<Tenant>(
        ctx,
        NewTenant {
            partner_id: Some(data_str(&partner, "id")),
            slug: slug.into(),
            name: slug.into(),
            settings: Default::default(),
            branding: Default::default(),
        },
    )
    .await?;
    let mut tx = ctx.svc.store.read(Scope::Platform).await?;
    let t: Tenant = tx.get(&data_str(&tenant, "id")).await?;
    tx.commit().await?;
    Ok(t)
}

fn data_str(v: &serde_json::Value, k: &str) -> String {
    v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_owned()
}

/// One complete password login through the services (authorize, login
/// page, identifier, password, code); whether it ended in the redirect.
pub(crate) async fn login(
    svc: &Services,
    issuer: &Issuer,
    query: &[(String, String)],
    username: &str,
    password: &str,
) -> bool {
    use crate::login::{self as flow, FlowOutcome};
    use crate::oauth::authorize::{self, Browser, Outcome};
    let Outcome::Redirect { location, .. } = authorize::authorize(svc, issuer, query, &Browser { cookies: None }).await
    else {
        return false;
    };
    let Some(request) = location.split("request=").nth(1).map(str::to_owned) else { return false };
    let cookie = format!("sk_login={request}");
    let browser = Browser { cookies: Some(&cookie) };
    let csrf = |o: &FlowOutcome| match o {
        FlowOutcome::Page { page, .. } => Some(page.csrf_token.clone()),
        FlowOutcome::Done(_) => None,
    };
    let Some(c) = flow::show(svc, issuer, &request, &browser).await.ok().as_ref().and_then(csrf) else {
        return false;
    };
    let form = vec![
        ("request".to_owned(), request.clone()),
        ("csrf_token".to_owned(), c),
        ("username".to_owned(), username.to_owned()),
    ];
    let Some(c) = flow::submit(svc, issuer, &form, &browser, None).await.ok().as_ref().and_then(csrf) else {
        return false;
    };
    let form = vec![
        ("request".to_owned(), request.clone()),
        ("csrf_token".to_owned(), c),
        ("password".to_owned(), password.to_owned()),
    ];
    matches!(flow::submit(svc, issuer, &form, &browser, None).await, Ok(FlowOutcome::Done(Outcome::Redirect { .. })))
}
