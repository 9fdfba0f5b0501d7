//! `scaikey bench --scim-users N`: SCIM list latencies on a tenant of N users
//! (p50/p99 of `userName eq`, `emails co`, a page of 100 sorted by
//! `userName`) and SCIM creates/s through the full service (validation,
//! audit, change event). Users are seeded in batches straight into the store.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::admin::Ctx;
use crate::admin::authz::{ActorKind, Principal};
use crate::app::Services;
use crate::domain::tenant::Tenant;
use crate::domain::user::{EmailAddress, User};
use crate::ids::new_id;
use crate::scim_server::filter_sql::ResourceKind;
use crate::scim_server::resources::{ScimResource, Users};
use crate::scim_server::service::{self, ListQuery, ScimCtx};
use crate::store::Scope;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    super::ms(super::percentile(sorted, p))
}

async fn timed<F, Fut>(n: usize, mut f: F) -> Result<(f64, f64), Box<dyn std::error::Error>>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), scaikey_scim::ScimError>>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        f(i).await?;
        samples.push(start.elapsed());
    }
    samples.sort();
    Ok((percentile(&samples, 0.5), percentile(&samples, 0.99)))
}

/// A deterministic spread of user numbers, so runs are comparable.
fn pick(i: usize, users: usize) -> usize {
    (i.wrapping_mul(7919).wrapping_add(13)) % users.max(1)
}

pub async fn run(
    svc: &Services,
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    users: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let now = svc.clock.now();
    let mut done = 0;
    while done < users {
        let mut tx = svc.store.write(Scope::Tenant(tenant.id.clone())).await?;
        for n in done..(done + 1000).min(users) {
            let name = format!("user{n:06}@bench.test");
            let mut u = User::new(new_id("usr", now), tenant, name.clone(), now);
            u.external_id = Some(format!("ext-{n}"));
            u.email = Some(name.clone());
            u.email_verified = true;
            u.emails = vec![EmailAddress { value: name, kind: Some("work".into()), primary: true }];
            u.given_name = Some(format!("Given{n}"));
            u.family_name = Some(format!("Family{n}"));
            u.department = Some(format!("dept{}", n % 50));
            u.employee_id = Some(n.to_string());
            tx.insert(&u).await?;
        }
        tx.commit().await?;
        done = (done + 1000).min(users);
        if done % 10_000 == 0 || done == users {
            eprintln!("seeded {done}/{users} users ({:.0} s)", start.elapsed().as_secs_f64());
        }
    }
    svc.store.analyze().await?;
    // What SCIM authentication yields for a tenant's SCIM token.
    let principal = Principal {
        kind: ActorKind::ScimToken,
        id: "sct_bench".into(),
        authority: Scope::Tenant(tenant.id.clone()),
        can_read: true,
        can_write: true,
    };
    let c = ScimCtx {
        admin: Ctx { svc, principal: &principal, request_id: ctx.request_id, now },
        tenant_id: tenant.id.clone(),
        base: "https://bench/scim".into(),
    };
    let query = |filter: Option<String>, sort: Option<&str>, start: usize, count: usize| ListQuery {
        filter,
        sort_by: sort.map(str::to_owned),
        descending: false,
        start_index: start,
        count,
        attributes: vec![],
        excluded: vec![],
    };
    let samples = 200;
    let (eq50, eq99) = timed(samples, |i| {
        let q = query(Some(format!("userName eq \"user{:06}@bench.test\"", pick(i, users))), None, 1, 100);
        let c = &c;
        async move { service::list(c, ResourceKind::User, &q).await.map(|_| ()) }
    })
    .await?;
    let (co50, co99) = timed(samples / 4, |i| {
        let q = query(Some(format!("emails co \"{:06}@\"", pick(i, users))), None, 1, 100);
        let c = &c;
        async move { service::list(c, ResourceKind::User, &q).await.map(|_| ()) }
    })
    .await?;
    let (p50, p99) = timed(samples, |_| {
        let q = query(None, Some("userName"), 1, 100);
        let c = &c;
        async move { service::list(c, ResourceKind::User, &q).await.map(|_| ()) }
    })
    .await?;
    let (d50, d99) = timed(samples / 4, |i| {
        let q = query(None, Some("userName"), 1 + pick(i, users.saturating_sub(100)), 100);
        let c = &c;
        async move { service::list(c, ResourceKind::User, &q).await.map(|_| ()) }
    })
    .await?;
    let creates = creates_per_second(&c, "seq", 1).await?;
    let parallel = creates_per_second(&c, "par", PROVISIONING_THREADS).await?;
    println!("SCIM on {users} users ({}):", svc.store.backend());
    println!("  userName eq               p50 {eq50:7.2} ms   p99 {eq99:7.2} ms");
    println!("  emails co                 p50 {co50:7.2} ms   p99 {co99:7.2} ms");
    println!("  first 100 by userName     p50 {p50:7.2} ms   p99 {p99:7.2} ms");
    println!("  any 100 by userName       p50 {d50:7.2} ms   p99 {d99:7.2} ms   (random startIndex)");
    println!(
        "  creates/s (full service)  {creates:.0} one client, {parallel:.0} with {PROVISIONING_THREADS} concurrent clients"
    );
    Ok(())
}

/// Requests a provisioning client keeps in flight (Entra ID provisions with
/// several threads).
const PROVISIONING_THREADS: usize = 4;

/// SCIM creates through the whole write path for 3 s, from `clients` concurrent tasks.
async fn creates_per_second(c: &ScimCtx<'_>, tag: &str, clients: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let workers = (0..clients).map(|w| async move {
        let mut n = 0usize;
        while start.elapsed() < Duration::from_secs(3) {
            let name = format!("{tag}{w}-{n}@bench.test");
            let body = json!({"userName": name, "emails": [{"value": name, "primary": true}], "active": true});
            <Users as ScimResource>::create(c, &body).await?;
            n += 1;
        }
        Ok::<usize, scaikey_scim::ScimError>(n)
    });
    let mut created = 0;
    for r in futures_util::future::join_all(workers).await {
        created += r?;
    }
    Ok(created as f64 / start.elapsed().as_secs_f64())
}
