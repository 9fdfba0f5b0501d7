//! Rotating the master key: with the new key as `master_key` and the old as
//! `previous_master_key`, `keys reseal` re-seals signing keys, IdP secrets
//! and webhook secrets under the new key; a server with only the new key
//! then opens them all, and one with only the old key no longer starts.

use std::sync::Arc;

use base64::Engine;
use scaikey::clock::SystemClock;
use serde_json::json;

use crate::support::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_rotation_reseals_every_secret() {
    let a = TestServer::start(Backend::Sqlite).await;
    let dir = a.svc.config.data_dir.clone();
    let old = std::fs::read_to_string(dir.join("master.key")).unwrap().trim().to_owned();
    let (_, tenant) = a.partner_and_tenant("reseal").await;
    let idp = a
        .create(
            "/identity-providers",
            json!({"tenant_id": tenant["id"], "type": "oidc", "name": "Upstream",
                   "config": {"issuer": "https://idp.reseal.test", "client_id": "sk", "client_secret": "upstream-secret"}}),
        )
        .await;
    let app = a
        .create(
            "/applications",
            json!({"tenant_id": tenant["id"], "scope": "TENANT", "type": "SERVICE", "name": "hooks",
                   "allowed_scopes": ["api:read"], "sync_webhook_url": "https://hooks.reseal.test/in",
                   "sync_webhook_secret": "whsec-0123456789abcdef0123456789abcdef"}),
        )
        .await;
    drop(a);

    let new = base64::engine::general_purpose::STANDARD.encode(scaikey::ids::random_bytes::<32>());
    let start = |master: String, previous: Option<String>| {
        let dir = dir.clone();
        async move {
            TestServer::try_start_with(Backend::Sqlite, Arc::new(SystemClock), move |c| {
                c.data_dir = dir;
                c.master_key = Some(master);
                c.previous_master_key = previous;
            })
            .await
        }
    };
    let rotating = start(new.clone(), Some(old.clone())).await.expect("both keys open everything");
    let n = scaikey::keys::reseal::run(&rotating.svc.store, rotating.svc.keys.sealer()).await.unwrap();
    assert!(n >= 3 + 2, "three signing keys, the IdP secret and the webhook secret: {n}");
    drop(rotating);

    let after = start(new.clone(), None).await.expect("the new key alone opens the signing keys");
    let sealer = after.svc.keys.sealer();
    let mut tx = after.svc.store.read(scaikey::store::Scope::Platform).await.unwrap();
    let stored: scaikey::domain::idp::IdentityProvider = tx.get(idp["id"].as_str().unwrap()).await.unwrap();
    let app: scaikey::domain::application::Application = tx.get(app["id"].as_str().unwrap()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        scaikey::federation::secrets::open_secret(sealer, &stored, "client_secret").as_deref(),
        Some("upstream-secret")
    );
    let context = scaikey::webhooks::dispatcher::secret_context(&app.id);
    let webhook = sealer.open(&context, app.sync_webhook_secret_sealed.as_deref().unwrap()).unwrap();
    assert_eq!(webhook, b"whsec-0123456789abcdef0123456789abcdef");
    drop(after);

    assert!(start(old, None).await.is_err(), "the old key alone opens nothing any more");
}
