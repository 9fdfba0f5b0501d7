//! `scaikey bench`: client_credentials tokens/s through the real token
//! endpoint service (client lookup, constant-time secret check, claims,
//! signing) next to the raw signing rate of the same key, per algorithm.
//! Runs against a throwaway SQLite database unless DATABASE_URL is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::admin::authz::{ActorKind, Principal};
use crate::admin::{self, Ctx};
use crate::app::Services;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::application::{AppScope, AppType, Application, NewApplication, SigningAlg};
use crate::oauth::Issuer;
use crate::oauth::endpoint::{TokenRequest, token};
use crate::store::Scope;

async fn rate<F, Fut>(seconds: u64, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Duration::from_secs(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < deadline {
        if !f().await {
            return 0.0;
        }
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub async fn run(mut config: Config, seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("scaikey-bench-{}", crate::ids::random_base36(8)));
    config.data_dir = dir.clone();
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
    println!(
        "{:<8} {:>16} {:>18}   (1 task, {} s each, database {})",
        "alg",
        "raw signs/s",
        "cc tokens/s",
        seconds,
        svc.store.backend()
    );
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        let input = NewApplication {
            tenant_id: None,
            partner_id: None,
            scope: AppScope::Global,
            app_type: AppType::Service,
            name: format!("bench {}", alg.as_str()),
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
            assigned_users: vec![],
            assigned_groups: vec![],
        };
        let created = admin::create::<Application>(&ctx, input).await?;
        let client_id = created.get("client_id").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let secret = created.get("client_secret").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let signer = svc.keys.signer(alg)?;
        let claims = json!({"iss": "bench", "sub": client_id, "exp": 2_000_000_000, "scope": "api:read"});
        let raw = rate(seconds, || {
            let ok = signer.sign_jwt("at+jwt", &claims).is_ok();
            async move { ok }
        })
        .await;
        let issuer = Issuer::platform(&svc.base_url());
        let cc = rate(seconds, || {
            let form = vec![
                ("grant_type".to_owned(), "client_credentials".to_owned()),
                ("client_id".to_owned(), client_id.clone()),
                ("client_secret".to_owned(), secret.clone()),
            ];
            let svc = &svc;
            let issuer = &issuer;
            async move { token(svc, issuer, TokenRequest { authorization: None, form }).await.is_ok() }
        })
        .await;
        println!("{:<8} {:>16.0} {:>18.0}", alg.as_str(), raw, cc);
    }
    drop(svc);
    std::fs::remove_dir_all(dir).ok();
    Ok(())
}
