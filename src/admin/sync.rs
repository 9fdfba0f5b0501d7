//! Directory sync through the admin API: `POST /identity-providers/{id}/sync`
//! starts a run (202; 409 while one is going), `GET /sync-runs?idp_id=` and
//! `GET /sync-runs/{id}` show runs with their counts and errors.

use crate::domain::idp::IdentityProvider;
use crate::domain::sync_run::{StartSync, SyncRun};
use crate::sync::engine::{self, StartError, Started};

use super::{AdminError, Ctx, Listed};

impl Listed for SyncRun {
    const PATH: &'static str = "sync-runs";
    const KIND: &'static str = "sync_run";
    const FILTERS: &'static [&'static str] = &["tenant_id", "idp_id", "status", "mode"];
}

/// Starts a run of the IdP; the caller runs it (`engine::execute`).
pub async fn start(ctx: &Ctx<'_>, idp_id: &str, body: StartSync) -> Result<(IdentityProvider, Started), AdminError> {
    ctx.require_write()?;
    let mut tx = ctx.svc.store.read(ctx.scope()).await?;
    let idp: IdentityProvider = tx.get(idp_id).await?;
    tx.commit().await?;
    let started = engine::start(ctx.svc, &idp, body.mode.as_deref()).await.map_err(|e| match e {
        StartError::NotSupported => AdminError::Conflict {
            code: "sync.not_supported",
            message: "this identity provider does not sync (an entra IdP with a directory GUID, a google IdP with a service account, or ldap)",
        },
        StartError::AlreadyRunning => AdminError::Conflict {
            code: "sync.running",
            message: "a sync of this identity provider is already running",
        },
        StartError::BadMode => AdminError::field("mode", "must be full or delta"),
        StartError::Store(s) => s.into(),
    })?;
    let mut tx = ctx.svc.store.write(ctx.scope()).await?;
    ctx.record(
        &mut tx,
        "identity_provider.sync".into(),
        ("sync_run", &started.run.id),
        (Some(idp.partner_id.as_str()), Some(idp.tenant_id.as_str())),
    )
    .await?;
    tx.commit().await?;
    Ok((idp, started))
}
