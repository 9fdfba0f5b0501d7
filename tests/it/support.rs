//! The test server and small HTTP helpers.

use std::sync::Arc;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use scaikey::app::Services;
use scaikey::clock::SystemClock;
use scaikey::config::Config;

/// The python3 of the test peers' venv (`tests/peers/.venv`, made by
/// tests/prepare.sh with PyJWT, scim2-tester and pyotp in it).
pub fn python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/.venv/bin/python3");
    assert!(
        venv.is_file(),
        "the test peers' Python venv is missing: run `bash tests/prepare.sh` (or `bash tests/run`)"
    );
    venv
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async scenario per backend as two `#[tokio::test]`s.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::TestServer::start($crate::support::Backend::Sqlite).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::TestServer::start($crate::support::Backend::Postgres).await).await;
            }
        }
    };
}

pub struct TestServer {
    pub base: String,
    pub svc: Arc<Services>,
    pub http: Client,
    /// The bootstrap GLOBAL app's credentials and a token with admin:read admin:write.
    pub client_id: String,
    pub client_secret: String,
    pub admin_token: String,
}

pub async fn fresh_postgres_url() -> String {
    let admin_url =
        std::env::var("SCAIKEY_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("scaikey_it_{}", scaikey::ids::random_base36(12));
    let pool = sqlx::PgPool::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required for the PostgreSQL tests: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    pool.close().await;
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, Arc::new(SystemClock), |_| {}).await
    }

    /// A server on `clock`, with `tweak` applied to its configuration.
    pub async fn start_with(
        backend: Backend,
        clock: scaikey::clock::SharedClock,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        Self::try_start_with(backend, clock, tweak).await.unwrap()
    }

    /// `start_with`, or why the server did not start.
    pub async fn try_start_with(
        backend: Backend,
        clock: scaikey::clock::SharedClock,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<TestServer, String> {
        let dir = std::env::temp_dir().join(format!("scaikey-it-{}", scaikey::ids::random_base36(10)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_url().await),
        };
        let mut config = Config {
            listen: addr.to_string(),
            public_url: Some(format!("http://{addr}")),
            data_dir: dir,
            database_url,
            bootstrap_admin_password: Some("correct horse battery staple".into()),
            log: "warn".into(),
            ..Config::default()
        };
        tweak(&mut config);
        let svc = Services::start(config, clock).await.map_err(|e| e.to_string())?;
        let out = scaikey::bootstrap::run(&svc, svc.config.bootstrap_admin_password.clone()).await.unwrap();
        let router = scaikey::http::router(Arc::clone(&svc));
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
        });
        let mut server = TestServer {
            base: format!("http://{addr}"),
            svc,
            http: Client::new(),
            client_id: out.client_id,
            client_secret: out.client_secret,
            admin_token: String::new(),
        };
        server.admin_token = server
            .client_token(
                &format!("{}/api/v1/platform", server.base),
                &server.client_id.clone(),
                &server.client_secret.clone(),
                None,
            )
            .await;
        Ok(server)
    }

    /// A client_credentials access token from `issuer`.
    pub async fn client_token(&self, issuer: &str, id: &str, secret: &str, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let r = self
            .http
            .post(format!("{issuer}/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// An admin API call with `token`; returns status and JSON body (Null when empty).
    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}/api/v1/admin{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(&self.admin_token.clone(), method, path, body).await
    }

    /// POST that must succeed with 201; returns `data`.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.admin(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {v}");
        v["data"].clone()
    }

    /// A partner and a tenant under it; returns (partner, tenant).
    pub async fn partner_and_tenant(&self, slug: &str) -> (Value, Value) {
        let partner = self.create("/partners", json!({"name": format!("{slug} MSP")})).await;
        let tenant = self
            .create("/tenants", json!({"partner_id": partner["id"], "slug": slug, "name": format!("{slug} corp")}))
            .await;
        (partner, tenant)
    }

    /// A TENANT SERVICE app with the given scopes, and a token for it from the tenant issuer.
    pub async fn tenant_app_token(&self, tenant: &Value, scopes: &[&str]) -> String {
        let app = self
            .create(
                "/applications",
                json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SERVICE", "name": "automation",
                       "allowed_scopes": scopes}),
            )
            .await;
        let issuer = format!("{}/api/v1/auth/tenants/{}", self.base, tenant["slug"].as_str().unwrap());
        self.client_token(&issuer, app["client_id"].as_str().unwrap(), app["client_secret"].as_str().unwrap(), None)
            .await
    }
}
