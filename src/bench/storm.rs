//! A login storm against the server process of `bench --http`: 200
//! connections signing in over and over (authorize, login page, identifier,
//! password, code — argon2id-bound) while 32 clients ask for
//! `client_credentials` tokens. Reports password logins/s next to the
//! argon2 hash rate on every core, the token p99 with and without the
//! storm, and the server's memory during and a minute after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header;

use crate::admin::{self, Ctx};
use crate::domain::application::{AppType, Application, NewApplication, SigningAlg};
use crate::domain::user::{User, UserAttributes};

const STORM: usize = 200;
const PASSWORD: &str = "bench password 123";
const REDIRECT: &str = "https://bench.test/cb";

type BenchError = Box<dyn std::error::Error>;

/// A user and a WEB app of the tenant to sign in with: (client_id, user name).
pub async fn seed(ctx: &Ctx<'_>, tenant_id: &str) -> Result<(String, String), BenchError> {
    let user_name = "storm@httpbench.test".to_owned();
    let attrs = UserAttributes {
        tenant_id: Some(tenant_id.into()),
        user_name: Some(user_name.clone()),
        password: Some(PASSWORD.into()),
        ..Default::default()
    };
    admin::create::<User>(ctx, attrs).await?;
    let mut input = super::service_app(Some(tenant_id.into()), "storm web".into(), SigningAlg::RS256);
    input.app_type = AppType::Web;
    input.grant_types = None;
    input.redirect_uris = vec![REDIRECT.into()];
    input.allowed_scopes = Some(vec!["openid".into()]);
    let app: NewApplication = input;
    let created = admin::create::<Application>(ctx, app).await?;
    Ok((super::data_str(&created, "client_id"), user_name))
}

fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body.get(start..)?.split('"').next()?.to_owned())
}

/// One complete password login; whether it ended with a code.
async fn login(http: &reqwest::Client, issuer: &str, client_id: &str, user: &str) -> Option<()> {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ])
        .finish();
    let r = http.get(format!("{issuer}/oauth/authorize?{q}")).send().await.ok()?;
    let cookie = r.headers().get(header::SET_COOKIE)?.to_str().ok()?.split(';').next()?.to_owned();
    let page = r.headers().get(header::LOCATION)?.to_str().ok()?.to_owned();
    let mut body = http.get(page).header(header::COOKIE, &cookie).send().await.ok()?.text().await.ok()?;
    let request = hidden(&body, "request")?;
    for (field, value) in [("username", user), ("password", PASSWORD)] {
        let csrf = hidden(&body, "csrf_token")?;
        let form = [("request", request.as_str()), ("csrf_token", csrf.as_str()), (field, value)];
        let r = http.post(format!("{issuer}/login")).header(header::COOKIE, &cookie).form(&form).send().await.ok()?;
        if field == "password" {
            let to = r.headers().get(header::LOCATION)?.to_str().ok()?;
            return to.starts_with(REDIRECT).then_some(());
        }
        body = r.text().await.ok()?;
    }
    None
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort_unstable();
    let i = (latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1));
    latencies.get(i).copied().unwrap_or_default()
}

/// Token latencies from 32 clients for `seconds`.
async fn token_latencies(http: &reqwest::Client, url: &str, id: &str, secret: &str, seconds: u64) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (http, url, id, secret, stop) =
                (http.clone(), url.to_owned(), id.to_owned(), secret.to_owned(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let form = [("grant_type", "client_credentials")];
                    let ok = http.post(&url).basic_auth(&id, Some(&secret)).form(&form).send().await;
                    if ok.is_ok_and(|r| r.status().is_success()) {
                        seen.push(t.elapsed());
                    }
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all
}

/// argon2id hashes/s with one hashing thread per core.
fn argon2_rate(seconds: u64) -> f64 {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
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

/// The storm against the server `pid`; prints its figures.
pub async fn run(
    pid: u32,
    http: &reqwest::Client,
    issuer: &str,
    web: &(String, String),
    token_app: &(String, String),
    seconds: u64,
) -> Result<(), BenchError> {
    let token_url = format!("{issuer}/oauth/token");
    let quiet = p99(token_latencies(http, &token_url, &token_app.0, &token_app.1, seconds).await);
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let (stop, logins) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let storm: Vec<_> = (0..STORM)
        .map(|_| {
            let (http, issuer, web, stop, logins) =
                (no_redirects.clone(), issuer.to_owned(), web.clone(), stop.clone(), logins.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if login(&http, &issuer, &web.0, &web.1).await.is_some() {
                        logins.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    let stormy = p99(token_latencies(http, &token_url, &token_app.0, &token_app.1, seconds).await);
    let login_rate = logins.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let peak = super::http::memory_mb(pid, "VmHWM:");
    stop.store(true, Ordering::Relaxed);
    for t in storm {
        let _ = t.await;
    }
    let hashes = tokio::task::spawn_blocking(move || argon2_rate(seconds.min(5))).await.unwrap_or(0.0);
    println!(
        "password logins/s during a {STORM}-connection storm: {login_rate:.1} (argon2id hashes/s on every core here: {hashes:.1})"
    );
    println!(
        "client_credentials ES256 p99: {:.1} ms without the storm, {:.1} ms during it",
        quiet.as_secs_f64() * 1000.0,
        stormy.as_secs_f64() * 1000.0
    );
    println!("server RSS: peak {peak:.1} MB, right after the storm {:.1} MB", super::http::memory_mb(pid, "VmRSS:"));
    tokio::time::sleep(Duration::from_secs(60)).await;
    println!("server RSS a minute after the storm: {:.1} MB", super::http::memory_mb(pid, "VmRSS:"));
    Ok(())
}
