//! User flows of `scaikey bench` over HTTP against the server process:
//! `refresh_token` grants from 32 token chains, then a login storm — 200
//! connections signing in over and over (authorize, login page,
//! identifier, password, code; argon2id-bound) while 32 clients ask for
//! `client_credentials` tokens. Reports password logins/s next to the
//! argon2id hash rate on every core, the token p99 with and without the
//! storm, and the server's memory during and a minute after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header;

use super::client::Prepared;
use super::http::{BenchError, CONCURRENCY, ROUNDS, Server};
use crate::admin::{self, Ctx};
use crate::domain::application::{AppType, Application, SigningAlg};
use crate::domain::user::{User, UserAttributes};

const STORM: usize = 200;
const PASSWORD: &str = "bench password 123";
const REDIRECT: &str = "https://bench.test/cb";
/// RFC 7636 appendix B's verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A confidential WEB app and the users that sign in to it.
#[derive(Clone)]
pub struct WebApp {
    client_id: String,
    secret: String,
    users: Arc<Vec<String>>,
}

/// A WEB app and a few users of `tenant_id` (logins spread over users, as
/// real ones are; each user's rows are touched by their own logins only).
pub async fn seed(ctx: &Ctx<'_>, tenant_id: &str) -> Result<WebApp, BenchError> {
    let mut users = Vec::new();
    for i in 0..8 {
        let user_name = format!("storm{i}@httpbench.test");
        let attrs = UserAttributes {
            tenant_id: Some(tenant_id.into()),
            user_name: Some(user_name.clone()),
            password: Some(PASSWORD.into()),
            ..Default::default()
        };
        admin::create::<User>(ctx, attrs).await?;
        users.push(user_name);
    }
    let mut input = super::service_app(Some(tenant_id.into()), "storm web".into(), SigningAlg::RS256);
    input.app_type = AppType::Web;
    input.redirect_uris = vec![REDIRECT.into()];
    input.allowed_scopes = Some(vec!["openid".into(), "offline_access".into()]);
    let created = admin::create::<Application>(ctx, input).await?;
    Ok(WebApp {
        client_id: super::data_str(&created, "client_id"),
        secret: super::data_str(&created, "client_secret"),
        users: Arc::new(users),
    })
}

fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body.get(start..)?.split('"').next()?.to_owned())
}

/// A distinct client address per login (10.0.0.0/8 through the trusted
/// loopback proxy), so the per-address limit sees browsers, not the bench.
fn next_address() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// A client that, like a browser here, leaves redirects to the caller
/// (the login cookie is set on the redirect).
fn browser() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).pool_max_idle_per_host(256).build()
}

/// One complete password login; the authorization code it ended with.
async fn login(http: &reqwest::Client, issuer: &str, app: &WebApp, user: &str, scope: &str) -> Option<String> {
    let address = next_address();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "bench"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let get = |url: String, cookie: Option<&str>| {
        let r = http.get(url).header("x-forwarded-for", &address);
        match cookie {
            Some(c) => r.header(header::COOKIE, c),
            None => r,
        }
    };
    let r = get(format!("{issuer}/oauth/authorize?{q}"), None).send().await.ok()?;
    let cookie = r.headers().get(header::SET_COOKIE)?.to_str().ok()?.split(';').next()?.to_owned();
    let page = r.headers().get(header::LOCATION)?.to_str().ok()?.to_owned();
    let mut body = get(page, Some(&cookie)).send().await.ok()?.text().await.ok()?;
    let request = hidden(&body, "request")?;
    for (field, value) in [("username", user), ("password", PASSWORD)] {
        let csrf = hidden(&body, "csrf_token")?;
        let form = [("request", request.as_str()), ("csrf_token", csrf.as_str()), (field, value)];
        let r = http
            .post(format!("{issuer}/login"))
            .header(header::COOKIE, &cookie)
            .header("x-forwarded-for", &address)
            .form(&form)
            .send()
            .await
            .ok()?;
        if field == "password" {
            let to = r.headers().get(header::LOCATION)?.to_str().ok()?;
            let query = to.strip_prefix(REDIRECT)?.strip_prefix('?')?;
            return url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code").map(|(_, v)| v.into());
        }
        body = r.text().await.ok()?;
    }
    None
}

/// POSTs a grant with the app's credentials; the response's JSON on success.
async fn grant(http: &reqwest::Client, issuer: &str, app: &WebApp, form: &[(&str, &str)]) -> Option<serde_json::Value> {
    let r = http
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(&app.client_id, Some(&app.secret))
        .form(form)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

/// A refresh token: a login with `offline_access`, its code redeemed.
async fn refresh_token(http: &reqwest::Client, issuer: &str, app: &WebApp, user: &str) -> Option<String> {
    let code = login(http, issuer, app, user, "openid offline_access").await?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let tokens = grant(http, issuer, app, &form).await?;
    tokens.get("refresh_token")?.as_str().map(str::to_owned)
}

/// `refresh_token` grants/s from `CONCURRENCY` chains, each rotating its own
/// token: (grants/s, per server CPU-second, failures).
pub async fn refresh_rate(
    server: &Server,
    issuer: &str,
    app: &WebApp,
    seconds: u64,
) -> Result<(f64, f64, u64), BenchError> {
    let (mut chains, browser) = (Vec::new(), browser()?);
    for i in 0..CONCURRENCY {
        let user = app.users.get(i % app.users.len()).cloned().unwrap_or_default();
        chains.push(refresh_token(&browser, issuer, app, &user).await.ok_or("a login of the bench failed")?);
    }
    let (ok, failed, stop) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let cpu_before = server.cpu_seconds();
    let start = Instant::now();
    let tasks: Vec<_> = chains
        .into_iter()
        .map(|mut current| {
            let (http, issuer, app) = (server.http.clone(), issuer.to_owned(), app.clone());
            let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let form = [("grant_type", "refresh_token"), ("refresh_token", current.as_str())];
                    let next = grant(&http, &issuer, &app, &form).await;
                    match next.as_ref().and_then(|t| t.get("refresh_token")?.as_str()) {
                        Some(rotated) => {
                            current = rotated.to_owned();
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let n = ok.load(Ordering::Relaxed) as f64;
    let cpu = (server.cpu_seconds() - cpu_before).max(0.01);
    Ok((n / start.elapsed().as_secs_f64(), n / cpu, failed.load(Ordering::Relaxed)))
}

/// The p99 of each round of token latencies: the median round's p99 and
/// the range. This machine stalls in bursts (single seconds at half speed
/// were seen), so one stall in a single long sample decided its p99.
fn p99_of_rounds(rounds: Vec<Vec<Duration>>) -> (Duration, Duration, Duration) {
    let mut p99s: Vec<Duration> = rounds
        .into_iter()
        .filter(|round| !round.is_empty())
        .map(|mut round| {
            round.sort_unstable();
            super::percentile(&round, 0.99)
        })
        .collect();
    p99s.sort_unstable();
    let at = |i: usize| p99s.get(i).copied().unwrap_or_default();
    (at(p99s.len() / 2), at(0), at(p99s.len().saturating_sub(1)))
}

/// Token latencies from `CONCURRENCY` keep-alive connections over
/// `seconds`, split into `ROUNDS` rounds by when each answer arrived. The
/// probe runs on a thread and a single-threaded runtime of its own with the
/// lean client: on the bench's shared runtime an answer that had arrived
/// waited its turn behind the storm's 200 tasks (and reqwest's per-request
/// work), a wait of the bench's own that was counted as the server's.
async fn token_latencies(request: &Prepared, seconds: u64) -> Result<Vec<Vec<Duration>>, BenchError> {
    let request = request.clone();
    let probe = std::thread::Builder::new().name("bench-probe".into()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(probe(request, Duration::from_secs(seconds)))
    })?;
    let finished = tokio::task::spawn_blocking(move || probe.join()).await?;
    let answers = finished.map_err(|_| "the token probe panicked")?.map_err(|e| e.to_string())?;
    let round = Duration::from_secs(seconds).as_secs_f64() / ROUNDS as f64;
    let mut rounds = vec![Vec::new(); ROUNDS];
    for (arrived, latency) in answers {
        let i = ((arrived.as_secs_f64() / round) as usize).min(ROUNDS - 1);
        if let Some(r) = rounds.get_mut(i) {
            r.push(latency);
        }
    }
    Ok(rounds)
}

/// (when since the start, latency) of each token answer over `duration`.
async fn probe(request: Prepared, duration: Duration) -> Result<Vec<(Duration, Duration)>, std::io::Error> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let Ok(mut connection) = request.connect().await else { return seen };
                while start.elapsed() < duration {
                    let sent = Instant::now();
                    match connection.send(&request).await {
                        Ok(true) => seen.push((start.elapsed(), sent.elapsed())),
                        Ok(false) => {}
                        Err(_) => break,
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(std::io::Error::other)?);
    }
    Ok(all)
}

/// argon2id hashes/s with as many threads as the server's hashing pool
/// (one per core), in this process.
pub fn argon2_rate(seconds: u64) -> f64 {
    let cores = crate::authn::hashing::threads();
    let start = Instant::now();
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                while start.elapsed() < Duration::from_secs(seconds) {
                    let _ = crate::authn::password::hash_now(PASSWORD);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// `STORM` connections signing in over and over until dropped; counts logins.
struct Storm {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    logins: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Storm {
    fn start(issuer: &str, app: &WebApp) -> Result<Self, BenchError> {
        let browser = browser()?;
        let (logins, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let tasks = (0..STORM)
            .map(|i| {
                let (http, issuer, app) = (browser.clone(), issuer.to_owned(), app.clone());
                let (logins, failed) = (logins.clone(), failed.clone());
                tokio::spawn(async move {
                    let user = app.users.get(i % app.users.len()).cloned().unwrap_or_default();
                    loop {
                        let done = login(&http, &issuer, &app, &user, "openid").await.is_some();
                        (if done { &logins } else { &failed }).fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Ok(Self { tasks, logins, failed })
    }

    /// Logins/s over the next `seconds`.
    async fn rate(&self, seconds: u64) -> f64 {
        let (before, started) = (self.logins.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        (self.logins.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64()
    }

    fn stop(self) -> u64 {
        for t in &self.tasks {
            t.abort();
        }
        self.failed.load(Ordering::Relaxed)
    }
}

/// The storm against `server`; prints its figures. `token_app` is
/// (client_id, secret) of a SERVICE app of the same tenant.
pub async fn run(
    server: &Server,
    issuer: &str,
    app: &WebApp,
    token_app: (&str, &str),
    seconds: u64,
) -> Result<(), BenchError> {
    let hashes = tokio::task::spawn_blocking(move || argon2_rate(seconds.min(5))).await?;
    let (id, secret) = token_app;
    let request = Prepared::client_credentials(&format!("{issuer}/oauth/token"), id, secret)?;
    let quiet = p99_of_rounds(token_latencies(&request, seconds).await?);
    let storm = Storm::start(issuer, app)?;
    // Let the queue fill: the first logins finish only after ~STORM hashes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let login_rate = storm.rate(seconds).await;
    let stormy = p99_of_rounds(token_latencies(&request, seconds).await?);
    let during = server.rss_mb();
    let failed = storm.stop();
    println!(
        "password logins/s, {STORM}-connection storm: {login_rate:.1} ({failed} failed); argon2id hashes/s on every core: {hashes:.1}; ratio {:.2}",
        login_rate / hashes.max(0.1)
    );
    let range =
        |(_, low, high): (Duration, Duration, Duration)| format!("rounds {:.1}–{:.1}", super::ms(low), super::ms(high));
    println!(
        "client_credentials ES256 p99 (median of {ROUNDS} rounds): {:.1} ms alone ({}), {:.1} ms during the storm ({}); {:.2}×",
        super::ms(quiet.0),
        range(quiet),
        super::ms(stormy.0),
        range(stormy),
        super::ms(stormy.0) / super::ms(quiet.0).max(0.001)
    );
    println!("server RSS during the storm {during:.1} MB, peak so far {:.1} MB", server.peak_rss_mb());
    tokio::time::sleep(Duration::from_secs(60)).await;
    println!("server RSS a minute after the storm: {:.1} MB", server.rss_mb());
    Ok(())
}
