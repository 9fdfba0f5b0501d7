//! `scaikey keys reseal`: re-seals every stored secret under the current
//! master key, in one transaction. A master-key rotation: give every
//! replica the new key as `master_key` and the old one as
//! `previous_master_key` (both open, new seals use the new key), run this
//! once, then drop `previous_master_key`.
//!
//! | where | sealed under |
//! |---|---|
//! | `signing_keys.private_key_sealed` | `signing_key:{id}` |
//! | `saml_sp_keys.private_key_sealed` | `saml-sp:{tenant_id}` |
//! | `identity_providers.config` secret fields | `idp:{id}:{field}` |
//! | `applications.sync_webhook_secret(_previous)_sealed` | the webhook secret context of the app |
//! | `user_factors.secret_sealed` (TOTP) | `totp:{id}` |
//!
//! Secrets in flight — a TOTP enrollment waiting for its first code, the
//! recovery codes shown once — are dropped: those users start that step again.

use serde_json::Value;

use crate::store::db::Arg;
use crate::store::{Scope, Store, StoreError};

use super::seal::{SealError, Sealer};

#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{what} {id} cannot be opened with the master key or previous_master_key")]
    Open { what: &'static str, id: String },
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    sealed: Option<String>,
}

#[derive(sqlx::FromRow)]
struct IdpRow {
    id: String,
    kind: String,
    #[sqlx(json)]
    config: Value,
}

/// One sealed column: how to read it (`id`, `sealed`), write it back, and
/// the context each row's value is sealed under.
struct Column {
    what: &'static str,
    select: &'static str,
    update: &'static str,
    context: fn(&str) -> String,
}

const COLUMNS: [Column; 5] = [
    Column {
        what: "signing key",
        select: "SELECT id, private_key_sealed AS sealed FROM signing_keys",
        update: "UPDATE signing_keys SET private_key_sealed = $2 WHERE id = $1",
        context: super::seal_context,
    },
    Column {
        what: "SAML key",
        select: "SELECT tenant_id AS id, private_key_sealed AS sealed FROM saml_sp_keys",
        update: "UPDATE saml_sp_keys SET private_key_sealed = $2 WHERE tenant_id = $1",
        context: crate::federation::saml_keys::context,
    },
    Column {
        what: "webhook secret",
        select: "SELECT id, sync_webhook_secret_sealed AS sealed FROM applications",
        update: "UPDATE applications SET sync_webhook_secret_sealed = $2 WHERE id = $1",
        context: crate::webhooks::dispatcher::secret_context,
    },
    Column {
        what: "previous webhook secret",
        select: "SELECT id, sync_webhook_secret_previous_sealed AS sealed FROM applications",
        update: "UPDATE applications SET sync_webhook_secret_previous_sealed = $2 WHERE id = $1",
        context: crate::webhooks::dispatcher::secret_context,
    },
    Column {
        what: "TOTP factor",
        select: "SELECT id, secret_sealed AS sealed FROM user_factors",
        update: "UPDATE user_factors SET secret_sealed = $2 WHERE id = $1",
        context: crate::login::totp_factor_context,
    },
];

fn reseal_one(
    sealer: &Sealer,
    context: &str,
    sealed: &str,
    what: &'static str,
    id: &str,
) -> Result<String, ResealError> {
    let plain = sealer.open(context, sealed).map_err(|_: SealError| ResealError::Open { what, id: id.to_owned() })?;
    Ok(sealer.seal(context, &plain))
}

/// Re-seals every stored secret; the number re-sealed.
pub async fn run(store: &Store, sealer: &Sealer) -> Result<u64, ResealError> {
    let mut tx = store.write(Scope::Platform).await?;
    let mut n = 0u64;
    for column in COLUMNS {
        let rows: Vec<Row> = tx.fetch_all(column.select, Vec::new()).await?;
        for row in rows {
            let Some(sealed) = row.sealed.filter(|s| !s.is_empty()) else { continue };
            let fresh = reseal_one(sealer, &(column.context)(&row.id), &sealed, column.what, &row.id)?;
            tx.execute(column.update, vec![Arg::from(row.id.as_str()), Arg::from(fresh)]).await?;
            n += 1;
        }
    }
    let idps: Vec<IdpRow> = tx.fetch_all("SELECT id, type AS kind, config FROM identity_providers", Vec::new()).await?;
    for mut idp in idps {
        let Ok(kind) = idp.kind.parse::<scaikey_connectors::ConnectorKind>() else { continue };
        let mut changed = false;
        for field in kind.secret_fields() {
            if let Some(Value::String(sealed)) = idp.config.get(*field).cloned() {
                let fresh =
                    reseal_one(sealer, &format!("idp:{}:{field}", idp.id), &sealed, "identity provider", &idp.id)?;
                if let Some(obj) = idp.config.as_object_mut() {
                    obj.insert((*field).to_owned(), Value::String(fresh));
                    changed = true;
                    n += 1;
                }
            }
        }
        if changed {
            let sql = "UPDATE identity_providers SET config = $2 WHERE id = $1";
            tx.execute(sql, vec![Arg::from(idp.id.as_str()), crate::store::db::json(&idp.config)]).await?;
        }
    }
    // In flight under the old key: enrollments and one-time displays start over.
    tx.execute("DELETE FROM ceremonies WHERE kind = 'totp'", Vec::new()).await?;
    tx.execute("DELETE FROM login_requests WHERE step IN ('enroll_totp', 'recovery_codes')", Vec::new()).await?;
    tx.commit().await?;
    Ok(n)
}
