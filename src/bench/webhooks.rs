//! `scaikey bench --webhook-events N`: webhooks end to end in one process
//! with a local receiver. A burst of N user creations, each timed from its
//! commit to its arrival at the receiver (p50, p99, max); then the p99 of
//! complete password logins while changes stream out, once with the
//! receiver up and once with it down (a listener that never answers, so
//! every send runs into its timeout and is retried) — a dead receiver must
//! not slow a login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use crate::admin::{self, Ctx};
use crate::app::Services;
use crate::domain::application::{AppScope, AppType, Application, ApplicationPatch, NewApplication};
use crate::domain::tenant::Tenant;
use crate::domain::user::{User, UserAttributes};
use crate::oauth::Issuer;
use crate::store::Scope;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A receiver that notes when each `user.*` event's user arrived.
async fn receiver() -> Result<(String, Arrivals), std::io::Error> {
    async fn receive(State(arrivals): State<Arrivals>, body: Bytes) -> StatusCode {
        let at = Instant::now();
        if let Ok(v) = serde_json::from_slice::<Value>(&body)
            && let Some(id) = v.pointer("/data/id").and_then(Value::as_str)
            && let Ok(mut a) = arrivals.lock()
        {
            a.entry(id.to_owned()).or_insert(at);
        }
        StatusCode::NO_CONTENT
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let arrivals: Arrivals = Arc::default();
    let app = Router::new().route("/hook", post(receive)).with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, arrivals))
}

/// A receiver that accepts connections and never answers.
async fn black_hole() -> Result<String, std::io::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(url)
}

use super::{ms, percentile};

pub async fn run(svc: &Arc<Services>, ctx: &Ctx<'_>, events: usize) -> Result<(), Box<dyn std::error::Error>> {
    let tenant = super::bench_tenant(ctx, "hooks-bench").await?;
    let (url, arrivals) = receiver().await?;
    let new_app = |name: &str, kind: AppType, hook: Option<String>| NewApplication {
        tenant_id: Some(tenant.id.clone()),
        partner_id: None,
        scope: AppScope::Tenant,
        app_type: kind,
        name: name.into(),
        grant_types: None,
        redirect_uris: if kind == AppType::Web { vec!["https://bench.test/cb".into()] } else { vec![] },
        logout_uris: vec![],
        allowed_origins: vec![],
        allowed_scopes: None,
        token_lifetime: None,
        refresh_token_lifetime: None,
        token_signing_alg: None,
        token_exchange_allowed: false,
        sync_webhook_url: hook,
        sync_webhook_secret: None,
        assigned_users: vec![],
        assigned_groups: vec![],
        first_party: false,
        accept_audience_from: vec![],
        initiate_login_uri: None,
        logo_uri: None,
    };
    let hook_app = admin::create::<Application>(ctx, new_app("receiver", AppType::Service, Some(url))).await?;
    let web = admin::create::<Application>(ctx, new_app("bench web", AppType::Web, None)).await?;
    let password = "bench password 123";
    admin::create::<User>(
        ctx,
        UserAttributes {
            tenant_id: Some(tenant.id.clone()),
            user_name: Some("login@bench.test".into()),
            password: Some(password.into()),
            ..Default::default()
        },
    )
    .await?;
    crate::webhooks::spawn(Arc::clone(svc));

    // The burst: N creations, each timed from its commit to its arrival.
    let mut committed: HashMap<String, Instant> = HashMap::with_capacity(events);
    let t0 = Instant::now();
    for i in 0..events {
        let attrs = UserAttributes {
            tenant_id: Some(tenant.id.clone()),
            user_name: Some(format!("burst{i}@bench.test")),
            ..Default::default()
        };
        let created = admin::create::<User>(ctx, attrs).await?;
        committed.insert(super::data_str(&created, "id"), Instant::now());
    }
    let burst_s = t0.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(300);
    while arrivals.lock().map(|a| committed.keys().filter(|k| a.contains_key(*k)).count()).unwrap_or(0) < events {
        if Instant::now() > deadline {
            return Err("not every event arrived within 5 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained_s = t0.elapsed().as_secs_f64();
    let mut latencies: Vec<Duration> = {
        let a = arrivals.lock().map_err(|_| "poisoned")?;
        committed.iter().filter_map(|(id, c)| a.get(id).map(|r| r.saturating_duration_since(*c))).collect()
    };
    latencies.sort();
    println!(
        "webhooks: {events} creations in {burst_s:.1} s, all delivered {drained_s:.1} s after the first; \
         commit → arrival p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );

    // Logins while changes stream out, receiver up, then down.
    let mut tx = svc.store.read(Scope::Platform).await?;
    let tenant_row: Tenant = tx.get(&tenant.id).await?;
    tx.commit().await?;
    let issuer = Issuer::tenant(&svc.base_url(), tenant_row);
    let query = vec![
        ("response_type".to_owned(), "code".to_owned()),
        ("client_id".to_owned(), super::data_str(&web, "client_id")),
        ("redirect_uri".to_owned(), "https://bench.test/cb".to_owned()),
        ("scope".to_owned(), "openid".to_owned()),
    ];
    let ids: Vec<String> = committed.keys().take(2_000).cloned().collect();
    let up = logins_p99(svc, ctx, &issuer, &query, password, &ids, "up").await?;
    let down_url = black_hole().await?;
    let patch = ApplicationPatch { sync_webhook_url: Some(Some(down_url)), ..serde_json::from_value(json!({}))? };
    admin::update::<Application>(ctx, &super::data_str(&hook_app, "id"), patch).await?;
    let down = logins_p99(svc, ctx, &issuer, &query, password, &ids, "down").await?;
    println!(
        "login p99 while changes stream out: receiver up {:.0} ms, down {:.0} ms ({:+.1} %)",
        ms(up),
        ms(down),
        (down.as_secs_f64() / up.as_secs_f64().max(1e-9) - 1.0) * 100.0
    );
    Ok(())
}

/// The p99 of 200 logins made while `ids` are updated in the background.
async fn logins_p99(
    svc: &Arc<Services>,
    ctx: &Ctx<'_>,
    issuer: &Issuer,
    query: &[(String, String)],
    password: &str,
    ids: &[String],
    label: &str,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let changes = async {
        for (i, id) in ids.iter().enumerate() {
            let attrs = UserAttributes { title: Some(Some(format!("{label} {i}"))), ..Default::default() };
            admin::update::<User>(ctx, id, attrs).await?;
        }
        Ok::<(), crate::admin::AdminError>(())
    };
    let logins = async {
        let mut times = Vec::with_capacity(200);
        for _ in 0..200 {
            let t = Instant::now();
            if !super::login(svc, issuer, query, "login@bench.test", password).await {
                return Err("a login failed");
            }
            times.push(t.elapsed());
        }
        Ok(times)
    };
    let (changed, times) = tokio::join!(changes, logins);
    changed?;
    let mut times = times?;
    times.sort();
    Ok(percentile(&times, 0.99))
}
