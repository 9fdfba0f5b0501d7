//! Sends the deliveries the fan-out queued, off every request path: a dead
//! receiver slows nothing but its own queue.
//!
//! Each pass claims due deliveries (`Tx::claim_deliveries`: per-resource
//! order, `FOR UPDATE SKIP LOCKED` on PostgreSQL so replicas share the work
//! and each delivery is claimed once, a lease so a dead dispatcher's claims
//! come back), sends them concurrently, and records every attempt. A
//! failure is retried with exponential backoff and jitter (10 s doubling to
//! an hour) until the delivery is 24 hours old, then marked `failed`.
//! Sends have connect and total timeouts, follow no redirect, keep at most
//! 1 KiB of the answer, and go only to public addresses (`destination`).

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::destination::{GuardedResolver, refuse_literal};
use super::signature;
use crate::app::Services;
use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::domain::webhook::{Attempt, Delivery};
use crate::ids::new_id;
use crate::store::repos::webhooks::settle;
use crate::store::{Scope, StoreError};

/// Deliveries claimed per pass (and sent at once).
pub const BATCH: usize = 32;
/// Retries go on until a delivery is this old.
pub const RETRY_WINDOW_SECONDS: i64 = 24 * 3600;
/// The answer kept per attempt.
const MAX_RESPONSE: usize = 1024;

/// The context a webhook secret is sealed under.
pub fn secret_context(app_id: &str) -> String {
    format!("webhook-secret:{app_id}")
}

/// An HTTP client for receivers: timeouts, no redirects, public addresses only.
pub fn client(allow_private: bool) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(GuardedResolver { allow_private }))
        .user_agent(concat!("ScaiKey-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// When to try again after `attempts` failed tries, or `None` to give up.
pub fn next_attempt(d: &Delivery, now: Timestamp) -> Option<Timestamp> {
    let age = now.unix_seconds() - d.created_at.unix_seconds();
    if age >= RETRY_WINDOW_SECONDS {
        return None;
    }
    let exp = u32::try_from(d.attempts.clamp(1, 20) - 1).unwrap_or(0);
    let base = 10i64.saturating_mul(1i64 << exp.min(9)).min(3600);
    // ±20 % so receivers that came back are not hit by every sender at once.
    let mut byte = [0u8; 1];
    let _ = aws_lc_rs::rand::fill(&mut byte);
    let jitter = base * (i64::from(byte[0]) - 128) / 640;
    Some(now.plus_seconds((base + jitter).max(1)))
}

/// Claims, sends and records one batch; returns how many were claimed.
pub async fn run_once(svc: &Services, http: &reqwest::Client) -> Result<usize, StoreError> {
    let now = svc.clock.now();
    let mut tx = svc.store.write(Scope::Platform).await?;
    // A claim outlives a send (10 s at most); then a dead dispatcher's claims come back.
    let lease = i64::from(svc.config.webhooks_lease_seconds);
    let claimed = tx.claim_deliveries(now, now.plus_seconds(lease), BATCH).await?;
    tx.commit().await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let n = claimed.len();
    let mut tx = svc.store.read(Scope::Platform).await?;
    let mut apps = std::collections::HashMap::new();
    for d in &claimed {
        if !apps.contains_key(&d.app_id) {
            let app = tx.get::<Application>(&d.app_id).await.ok();
            apps.insert(d.app_id.clone(), app);
        }
    }
    tx.commit().await?;
    let sends = claimed.into_iter().map(|d| {
        let app = apps.get(&d.app_id).cloned().flatten();
        send(svc, http, d, app)
    });
    let results = futures_util::future::join_all(sends).await;
    let mut tx = svc.store.write(Scope::Platform).await?;
    for (d, attempt) in &results {
        tx.record_attempt(d, attempt).await?;
    }
    tx.commit().await?;
    for (_, attempt) in &results {
        metrics::counter!("scaikey_webhook_deliveries_total", "outcome" => attempt.outcome.clone()).increment(1);
    }
    Ok(n)
}

/// One attempt at `d`; returns the delivery as it stands after it, and the attempt.
async fn send(
    svc: &Services,
    http: &reqwest::Client,
    mut d: Delivery,
    app: Option<Application>,
) -> (Delivery, Attempt) {
    let started = svc.clock.now();
    let mut attempt = Attempt {
        id: new_id("wha", started),
        delivery_id: d.id.clone(),
        attempted_at: started,
        latency_ms: 0,
        status_code: None,
        outcome: "unreachable".into(),
        response: None,
        error: None,
    };
    let (url, secrets) = match prepare(svc, app.as_ref(), started) {
        Ok(ready) => ready,
        Err(why) => {
            // Nothing to send to, or nothing to sign with: retrying cannot help.
            attempt.outcome = "refused".into();
            attempt.error = Some(why.clone());
            d.last_error = Some(why);
            settle(&mut d, false, None, started);
            return (d, attempt);
        }
    };
    let clock = Instant::now();
    let outcome = post(svc, http, &d, &url, &secrets, started).await;
    attempt.latency_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let now = svc.clock.now();
    let ok = match outcome {
        Ok((status, response)) => {
            attempt.status_code = Some(i64::from(status));
            attempt.response = Some(response);
            d.last_status_code = Some(i64::from(status));
            let ok = (200..300).contains(&status);
            attempt.outcome = if ok { "delivered" } else { "http_error" }.into();
            d.last_error = (!ok).then(|| format!("the receiver answered {status}"));
            ok
        }
        Err((outcome, why)) => {
            attempt.outcome = outcome.into();
            attempt.error = Some(why.clone());
            d.last_status_code = None;
            d.last_error = Some(why);
            false
        }
    };
    let next = if ok { None } else { next_attempt(&d, now) };
    settle(&mut d, ok, next, now);
    if !ok {
        tracing::info!(delivery_id = %d.id, app_id = %d.app_id, attempts = d.attempts, status = %d.status,
            error = d.last_error.as_deref().unwrap_or(""), "webhook delivery failed");
    }
    (d, attempt)
}

/// The URL and the secrets to sign with (the current one, and the previous
/// one during its grace period).
fn prepare(svc: &Services, app: Option<&Application>, now: Timestamp) -> Result<(url::Url, Vec<Vec<u8>>), String> {
    let Some(app) = app else { return Err("the application no longer exists".into()) };
    let Some(url) = app.sync_webhook_url.as_deref() else {
        return Err("the application has no sync_webhook_url any more".into());
    };
    let url = url::Url::parse(url).map_err(|_| "the sync_webhook_url is not a URL".to_owned())?;
    let sealer = svc.keys.sealer();
    let context = secret_context(&app.id);
    let Some(current) = app.sync_webhook_secret_sealed.as_deref() else {
        return Err("the application has no webhook secret: set one (POST /applications/{id}/webhook-secret)".into());
    };
    let mut secrets =
        vec![sealer.open(&context, current).map_err(|_| "the webhook secret cannot be unsealed".to_owned())?];
    if let (Some(prev), Some(until)) =
        (app.sync_webhook_secret_previous_sealed.as_deref(), app.sync_webhook_secret_previous_until)
        && until > now
        && let Ok(old) = sealer.open(&context, prev)
    {
        secrets.push(old);
    }
    Ok((url, secrets))
}

type Failure = (&'static str, String);

async fn post(
    svc: &Services,
    http: &reqwest::Client,
    d: &Delivery,
    url: &url::Url,
    secrets: &[Vec<u8>],
    now: Timestamp,
) -> Result<(u16, String), Failure> {
    if let Some(why) = refuse_literal(url, svc.config.webhooks_allow_private) {
        return Err(("refused", why));
    }
    let signature = signature::header(now.unix_seconds(), d.body.as_bytes(), secrets);
    let header = |v: &str| HeaderValue::from_str(v).map_err(|_| ("refused", "a header value is invalid".to_owned()));
    let request = http
        .post(url.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("X-ScaiKey-Event", header(&d.event_type)?)
        .header("X-ScaiKey-Delivery", header(&d.id)?)
        .header("X-ScaiKey-Signature", header(&signature)?)
        .body(d.body.clone());
    let mut response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let mut kept = Vec::new();
    while kept.len() < MAX_RESPONSE {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(MAX_RESPONSE);
    Ok((status, String::from_utf8_lossy(&kept).into_owned()))
}

/// A send error in words, without the URL (which may carry a token).
fn describe(e: &reqwest::Error) -> Failure {
    // The guarded resolver's refusal, somewhere down the error's sources.
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("not a public address") {
            return ("refused", text);
        }
        source = s.source();
    }
    if e.is_timeout() {
        ("timeout", "the receiver did not answer in time".into())
    } else if e.is_connect() {
        ("unreachable", "the connection to the receiver failed".into())
    } else if e.is_redirect() {
        ("http_error", "the receiver answered with a redirect (not followed)".into())
    } else {
        ("unreachable", "the request failed".into())
    }
}
