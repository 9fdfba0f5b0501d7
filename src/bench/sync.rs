//! `scaikey bench --ldap-users N [--ldap-groups G]`: directory sync from a
//! private OpenLDAP slapd (started with the repository's
//! tests/peers/ldap/slapd.py): a full run of N users and G groups (users/s),
//! then 1,000 changed users and a delta run (seconds), through the whole
//! engine — lease, pages, write path, audit and events.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::admin::{self, Ctx};
use crate::app::Services;
use crate::domain::idp::{IdentityProvider, NewIdentityProvider};
use crate::domain::sync_run::SyncRun;
use crate::store::Scope;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/ldap/slapd.py");

fn python(args: &[&str], stdin: Option<&str>) -> Result<Value, Box<dyn std::error::Error>> {
    use std::io::Write;
    if !Path::new(PEER).is_file() {
        return Err(format!("the LDAP bench needs the repository's {PEER} (and Debian slapd, ldap-utils)").into());
    }
    let mut child = std::process::Command::new("python3")
        .arg(PEER)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()?;
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        input.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("slapd.py {} failed", args.first().copied().unwrap_or_default()).into());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

async fn one_run(
    svc: &Arc<Services>,
    idp: &IdentityProvider,
    mode: &str,
) -> Result<(SyncRun, f64), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let started = crate::sync::engine::start(svc, idp, Some(mode)).await?;
    let run = crate::sync::engine::execute(Arc::clone(svc), idp.clone(), started, None).await;
    if run.status != "succeeded" {
        return Err(format!("the {mode} run failed: {:?}", run.errors).into());
    }
    Ok((run, t0.elapsed().as_secs_f64()))
}

pub async fn run(
    svc: &Arc<Services>,
    ctx: &Ctx<'_>,
    users: usize,
    groups: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("scaikey-bench-slapd-{}", crate::ids::random_base36(8)));
    let dir_s = dir.display().to_string();
    let t0 = Instant::now();
    let info =
        python(&["start", "--dir", &dir_s, "--users", &users.to_string(), "--groups", &groups.to_string()], None)?;
    println!("slapd with {users} users and {groups} groups ready in {:.1} s", t0.elapsed().as_secs_f64());
    let result = async {
        let tenant = super::bench_tenant(ctx, "sync-bench").await?;
        let field = |k: &str| info.get(k).cloned().unwrap_or(Value::Null);
        let config = json!({"url": field("url"), "bind_dn": field("bind_dn"), "bind_password": field("bind_password"),
            "user_base_dn": field("user_base_dn"), "user_filter": "(objectClass=inetOrgPerson)",
            "group_base_dn": field("group_base_dn"), "login_attribute": "uid", "page_size": 1000});
        let created = admin::create::<IdentityProvider>(
            ctx,
            NewIdentityProvider {
                tenant_id: tenant.id.clone(),
                kind: "ldap".into(),
                name: "bench directory".into(),
                domains: vec![],
                config,
                jit_provisioning: false,
                attribute_mapping: Default::default(),
                sync_schedule: None,
                trust_email_for_linking: false,
                trust_upstream_mfa: false,
            },
        )
        .await?;
        let mut tx = svc.store.read(Scope::Platform).await?;
        let idp: IdentityProvider = tx.get(&super::data_str(&created, "id")).await?;
        tx.commit().await?;

        let (full, full_s) = one_run(svc, &idp, "full").await?;
        let changes = 1_000.min(users);
        let ldif: String = (1..=changes)
            .map(|i| {
                let k = (i - 1) % 20;
                let region = ["amer", "emea", "apac", "latam"].get(k / 5).copied().unwrap_or("amer");
                let dept = ["engineering", "sales", "finance", "support", "operations"].get(k % 5).copied().unwrap_or("sales");
                format!("dn: uid=user{i},ou={dept},ou={region},ou=people,dc=example,dc=test\nchangetype: modify\nreplace: title\ntitle: Benchmarked {i}\n\n")
            })
            .collect();
        python(&["modify", "--dir", &dir_s], Some(&ldif))?;
        let (delta, delta_s) = one_run(svc, &idp, "delta").await?;
        println!("{:<34} {:>10} {:>12}", "run", "seconds", "users/s");
        let rate = |n: u64, s: f64| n as f64 / s.max(0.001);
        let u = &full.counts.users;
        println!("{:<34} {:>10.1} {:>12.0}", format!("full ({} users, {} groups)", u.created, full.counts.groups.created), full_s, rate(u.created + u.updated + u.unchanged, full_s));
        println!("{:<34} {:>10.2} {:>12}", format!("delta ({} changed users)", delta.counts.users.updated), delta_s, "-");
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    python(&["stop", "--remove", "--dir", &dir_s], None).ok();
    result
}
