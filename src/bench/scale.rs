//! `scaikey bench --tenants N`: the hierarchy at scale. Seeds N tenants
//! under N/25 partners through the admin write path (timing the first and
//! the last thousand creations, which must not slow with the count), then,
//! against the running server: admin list latencies (keyset pages of all
//! tenants and of one partner's), one tenant's discovery rate at that size,
//! and the server's memory growth per thousand distinct tenants touched.

use std::time::Instant;

use serde_json::Value;

use super::http::{BenchError, Server};
use crate::admin::{self, Ctx};
use crate::domain::partner::{NewPartner, Partner, PartnerLimits};
use crate::domain::tenant::{NewTenant, Tenant};

const TENANTS_PER_PARTNER: usize = 25;

pub struct Seeded {
    pub slugs: Vec<String>,
    pub partners: Vec<String>,
}

/// Creates `n` tenants under `n / 25` partners; prints creation rates.
pub async fn seed(ctx: &Ctx<'_>, n: usize) -> Result<Seeded, BenchError> {
    let limits = PartnerLimits { max_tenants: TENANTS_PER_PARTNER as i64, ..Default::default() };
    let mut partners = Vec::new();
    for i in 0..n.div_ceil(TENANTS_PER_PARTNER) {
        let p =
            admin::create::<Partner>(ctx, NewPartner { name: format!("scale partner {i}"), limits: limits.clone() })
                .await?;
        partners.push(super::data_str(&p, "id"));
    }
    let (mut slugs, mut batch_started) = (Vec::with_capacity(n), Instant::now());
    let (mut first_batch, mut last_batch) = (None, 0.0);
    // Rates per thousand creations (per `n` when fewer are asked for).
    let batch = n.clamp(1, 1000);
    let started = Instant::now();
    for i in 0..n {
        let slug = format!("scale-{i}");
        let partner_id = partners.get(i / TENANTS_PER_PARTNER).cloned();
        let input = NewTenant {
            partner_id,
            slug: slug.clone(),
            name: slug.clone(),
            settings: Default::default(),
            branding: Default::default(),
        };
        admin::create::<Tenant>(ctx, input).await?;
        slugs.push(slug);
        if (i + 1) % batch == 0 {
            let rate = batch as f64 / batch_started.elapsed().as_secs_f64();
            first_batch.get_or_insert(rate);
            last_batch = rate;
            if (i + 1) % 10_000 == 0 {
                println!("  {} tenants created ({rate:.0}/s for the last thousand)", i + 1);
            }
            batch_started = Instant::now();
        }
    }
    println!(
        "seeded {n} tenants under {} partners in {:.0} s; creates/s: first thousand {:.0}, last thousand {last_batch:.0}",
        partners.len(),
        started.elapsed().as_secs_f64(),
        first_batch.unwrap_or(last_batch),
    );
    Ok(Seeded { slugs, partners })
}

/// An admin access token from the platform issuer.
async fn admin_token(server: &Server, client: &(String, String)) -> Result<String, BenchError> {
    let r = server
        .http
        .post(format!("{}/api/v1/platform/oauth/token", server.base))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let body: Value = r.json().await?;
    Ok(body.get("access_token").and_then(Value::as_str).ok_or("no admin token")?.to_owned())
}

/// Admin list latencies: 50 keyset pages of all tenants, one page of each
/// of 100 partners' tenants; p50/p95 printed.
async fn admin_lists(server: &Server, token: &str, seeded: &Seeded) -> Result<(), BenchError> {
    let list = format!("{}/api/v1/admin/tenants", server.base);
    let mut samples = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut query = vec![("limit", "100".to_owned())];
        if let Some(c) = cursor.take() {
            query.push(("cursor", c));
        }
        let t = Instant::now();
        let url =
            format!("{list}?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish());
        let page: Value = server.http.get(url).bearer_auth(token).send().await?.error_for_status()?.json().await?;
        samples.push(t.elapsed());
        cursor = page.get("next_cursor").and_then(Value::as_str).map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let step = (seeded.partners.len() / 100).max(1);
    for partner in seeded.partners.iter().step_by(step).take(100) {
        let t = Instant::now();
        let url = format!("{list}?partner_id={partner}&limit=100");
        server.http.get(url).bearer_auth(token).send().await?.error_for_status()?;
        samples.push(t.elapsed());
    }
    let n = samples.len();
    samples.sort_unstable();
    let percentile = |p| super::ms(super::percentile(&samples, p));
    println!(
        "admin list of tenants ({n} requests: keyset pages of all, and by partner): p50 {:.1} ms, p95 {:.1} ms",
        percentile(0.5),
        percentile(0.95)
    );
    Ok(())
}

/// The figures at scale against `server`; `small_rate` is the tenant
/// discovery rate measured before seeding.
pub async fn measure(
    server: &Server,
    seeded: &Seeded,
    admin_client: &(String, String),
    small_rate: f64,
    seconds: u64,
) -> Result<(), BenchError> {
    let token = admin_token(server, admin_client).await?;
    admin_lists(server, &token, seeded).await?;
    let middle = seeded.slugs.get(seeded.slugs.len() / 2).ok_or("no tenants")?;
    let url = format!("{}/api/v1/auth/tenants/{middle}/.well-known/openid-configuration", server.base);
    let (rate, per_cpu, failed) = super::http::get_load(server, url, seconds).await;
    let note = format!("{:.2}× the rate with few tenants", rate / small_rate.max(1.0));
    super::http::row(&format!("tenant discovery among {}", seeded.slugs.len()), rate, per_cpu, failed, &note);
    let before = server.rss_mb();
    let started = Instant::now();
    for slug in &seeded.slugs {
        let url = format!("{}/api/v1/auth/tenants/{slug}/.well-known/openid-configuration", server.base);
        server.http.get(url).send().await?.error_for_status()?;
    }
    let after = server.rss_mb();
    let thousands = seeded.slugs.len() as f64 / 1000.0;
    println!(
        "touched every tenant's discovery once ({:.0}/s, one client): RSS {before:.1} → {after:.1} MB, {:.2} MB per thousand tenants",
        seeded.slugs.len() as f64 / started.elapsed().as_secs_f64(),
        (after - before) / thousands.max(1.0)
    );
    Ok(())
}
