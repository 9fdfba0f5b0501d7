//! `scaikey bench`: client_credentials tokens/s through the real token
//! endpoint service (client lookup, constant-time secret check, claims,
//! signing) next to the raw signing rate of the same key, per algorithm.
//! Runs against a throwaway SQLite database unless DATABASE_URL is set.

pub mod http;
pub mod scim;
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

/// What `scaikey bench` measures.
pub enum Workload {
    /// client_credentials tokens, refresh grants and logins (the default).
    Tokens,
    /// SCIM with this many users.
    Scim(usize),
    /// Directory sync of (users, groups) from slapd.
    Ldap(usize, usize),
    /// Webhooks: a burst of this many changes.
    Webhooks(usize),
    /// The server as its own process under 32 concurrent HTTP clients.
    Http,
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
        Workload::Http => Some(
            async {
                // The server process opens the same database (SQLite allows
                // several processes; WAL keeps readers apart).
                let apps = http::seed(&ctx).await?;
                http::measure(&dir, seconds, apps).await
            }
            .await,
        ),
        Workload::Tokens => None,
    };
    if let Some(outcome) = outcome {
        drop(svc);
        std::fs::remove_dir_all(dir).ok();
        return outcome;
    }
    println!(
        "{:<8} {:>16} {:>18}   (1 task, {} s each, database {})",
        "alg",
        "raw signs/s",
        "cc tokens/s",
        seconds,
        svc.store.backend()
    );
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        let input = service_app(None, format!("bench {}", alg.as_str()), alg);
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
    user_flows(&svc, &ctx, seconds).await?;
    drop(svc);
    std::fs::remove_dir_all(dir).ok();
    Ok(())
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

/// refresh_token grants/s and complete password logins/s (authorize, login
/// page, identifier, password — bounded by argon2id).
async fn user_flows(svc: &Services, ctx: &Ctx<'_>, seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    use crate::domain::partner::{NewPartner, Partner};
    use crate::domain::tenant::{NewTenant, Tenant};
    use crate::domain::user::{User, UserAttributes};
    let partner =
        admin::create::<Partner>(ctx, NewPartner { name: "bench".into(), limits: Default::default() }).await?;
    let tenant = admin::create::<Tenant>(
        ctx,
        NewTenant {
            partner_id: Some(data_str(&partner, "id")),
            slug: "bench".into(),
            name: "bench".into(),
            settings: Default::default(),
            branding: Default::default(),
        },
    )
    .await?;
    let password = "bench password 123".to_owned();
    let user = admin::create::<User>(
        ctx,
        UserAttributes {
            tenant_id: Some(data_str(&tenant, "id")),
            user_name: Some("bench@bench.test".into()),
            password: Some(password.clone()),
            ..Default::default()
        },
    )
    .await?;
    let app = admin::create::<Application>(
        ctx,
        NewApplication {
            tenant_id: Some(data_str(&tenant, "id")),
            partner_id: None,
            scope: AppScope::Tenant,
            app_type: AppType::Web,
            name: "bench web".into(),
            grant_types: None,
            redirect_uris: vec!["https://bench.test/cb".into()],
            logout_uris: vec![],
            allowed_origins: vec![],
            allowed_scopes: Some(vec!["openid".into(), "offline_access".into()]),
            token_lifetime: None,
            refresh_token_lifetime: None,
            token_signing_alg: None,
            token_exchange_allowed: false,
            sync_webhook_url: None,
            sync_webhook_secret: None,
            assigned_users: vec![],
            assigned_groups: vec![],
            first_party: false,
            accept_audience_from: vec![],
            initiate_login_uri: None,
            logo_uri: None,
        },
    )
    .await?;
    let mut tx = svc.store.read(Scope::Platform).await?;
    let tenant_row: Tenant = tx.get(&data_str(&tenant, "id")).await?;
    let app_row: Application = tx.get(&data_str(&app, "id")).await?;
    let user_row: User = tx.get(&data_str(&user, "id")).await?;
    tx.commit().await?;
    let issuer = Issuer::tenant(&svc.base_url(), tenant_row.clone());

    // Refresh: rotate one token chain as fast as the grant allows.
    let (first, row) = crate::oauth::grants::refresh_token::new_refresh_token(
        &app_row,
        &user_row,
        "ses_bench",
        None,
        None,
        &["openid".to_owned(), "offline_access".to_owned()],
        svc.clock.now(),
        &["pwd".to_owned()],
        "jti",
        svc.clock.now(),
    );
    let mut tx = svc.store.write(Scope::Tenant(tenant_row.id.clone())).await?;
    tx.insert(&row).await?;
    tx.commit().await?;
    let current = std::sync::Mutex::new(first);
    let secret = data_str(&app, "client_secret");
    let client_id = data_str(&app, "client_id");
    let refresh = rate(seconds, || {
        let rt = current.lock().map(|g| g.clone()).unwrap_or_default();
        let form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), rt),
            ("client_id".to_owned(), client_id.clone()),
            ("client_secret".to_owned(), secret.clone()),
        ];
        let (issuer, current) = (&issuer, &current);
        async move {
            match token(svc, issuer, TokenRequest { authorization: None, form }).await {
                Ok((_, t)) => {
                    if let (Ok(mut g), Some(next)) = (current.lock(), t.refresh_token) {
                        *g = next;
                    }
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;

    // Logins: the whole browser flow through the services.
    let query = vec![
        ("response_type".to_owned(), "code".to_owned()),
        ("client_id".to_owned(), client_id.clone()),
        ("redirect_uri".to_owned(), "https://bench.test/cb".to_owned()),
        ("scope".to_owned(), "openid".to_owned()),
    ];
    let logins = rate(seconds, || login(svc, &issuer, &query, "bench@bench.test", &password)).await;
    println!("refresh_token grants/s (RS256, rotation included): {refresh:.0}");
    println!("password logins/s (authorize → identifier → password → code; argon2id-bound): {logins:.1}");
    Ok(())
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
