//! Webhooks through the admin API: deliveries listed and read
//! (`/webhook-deliveries`, with their attempts), a manual redelivery, a
//! replay of an app's events from a given `seq`, and the rotation of an
//! app's webhook secret (the previous one keeps signing for a grace period,
//! so receivers can switch without losing a delivery).

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::authn::secret;
use crate::domain::application::Application;
use crate::domain::webhook::{Delivery, PENDING};
use crate::webhooks::dispatcher::secret_context;

use super::{AdminError, Ctx, Listed};

/// How long the previous webhook secret keeps signing after a rotation.
pub const SECRET_GRACE_SECONDS: i64 = 24 * 3600;

impl Listed for Delivery {
    const PATH: &'static str = "webhook-deliveries";
    const KIND: &'static str = "webhook_delivery";
    const FILTERS: &'static [&'static str] =
        &["tenant_id", "app_id", "status", "event_type", "resource_id", "event_id"];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// The `seq` of the first event to send again.
    pub from_event: i64,
}

/// A new webhook secret for `app`, sealed; the current one becomes the
/// previous, valid for the grace period.
pub fn rotate(ctx: &Ctx<'_>, app: &mut Application, new_secret: &str) {
    let sealer = ctx.svc.keys.sealer();
    let context = secret_context(&app.id);
    if let Some(current) = app.sync_webhook_secret_sealed.take() {
        app.sync_webhook_secret_previous_sealed = Some(current);
        app.sync_webhook_secret_previous_until = Some(ctx.now.plus_seconds(SECRET_GRACE_SECONDS));
    }
    app.sync_webhook_secret_sealed = Some(sealer.seal(&context, new_secret.as_bytes()));
}

/// A webhook secret drawn by ScaiKey.
pub fn generate_secret() -> String {
    secret::generate("whsec_")
}

/// `POST /applications/{id}/webhook-secret`: a new secret, shown once.
pub async fn rotate_secret(ctx: &Ctx<'_>, id: &str) -> Result<Value, AdminError> {
    let action = "application.rotate_webhook_secret".to_owned();
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let mut app: Application = tx.get_for_update(id).await?;
        if app.tenant_id.is_none() {
            return Err(AdminError::Conflict {
                code: "application.not_tenant",
                message: "only TENANT applications receive webhooks",
            });
        }
        let s = generate_secret();
        rotate(ctx, &mut app, &s);
        app.updated_at = ctx.now;
        tx.update(&app).await?;
        ctx.record(
            &mut tx,
            action.clone(),
            ("application", &app.id),
            (app.partner_id.as_deref(), app.tenant_id.as_deref()),
        )
        .await?;
        tx.commit().await?;
        Ok(json!({"id": app.id, "sync_webhook_secret": s,
                  "previous_secret_valid_until": app.sync_webhook_secret_previous_until}))
    }
    .await;
    super::audited(ctx, action, "application", Some(id), r).await
}

/// `GET /webhook-deliveries/{id}/attempts`: every attempt, oldest first.
pub async fn attempts(ctx: &Ctx<'_>, id: &str) -> Result<Value, AdminError> {
    ctx.require_read()?;
    let mut tx = ctx.svc.store.read(ctx.scope()).await?;
    let d: Delivery = tx.get(id).await?;
    let attempts = tx.attempts_of(&d.id).await?;
    tx.commit().await?;
    Ok(json!(attempts))
}

/// `POST /webhook-deliveries/{id}/redeliver`: the same body sent again, as
/// a new delivery (the original keeps its record).
pub async fn redeliver(ctx: &Ctx<'_>, id: &str) -> Result<Value, AdminError> {
    let action = "webhook_delivery.redeliver".to_owned();
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let original: Delivery = tx.get(id).await?;
        let copy = Delivery {
            id: ctx.new_id("whd"),
            status: PENDING.into(),
            attempts: 0,
            next_attempt_at: ctx.now,
            lease_until: None,
            last_status_code: None,
            last_error: None,
            delivered_at: None,
            created_at: ctx.now,
            updated_at: ctx.now,
            ..original
        };
        tx.insert(&copy).await?;
        ctx.record(
            &mut tx,
            action.clone(),
            ("webhook_delivery", &copy.id),
            (Some(copy.partner_id.as_str()), Some(copy.tenant_id.as_str())),
        )
        .await?;
        tx.commit().await?;
        Ok(serde_json::to_value(&copy).unwrap_or(Value::Null))
    }
    .await;
    super::audited(ctx, action, "webhook_delivery", Some(id), r).await
}

/// `POST /applications/{id}/webhooks/replay`: the app's events from
/// `from_event` on, fanned out to it again (scope as it is now).
pub async fn replay(ctx: &Ctx<'_>, id: &str, input: Replay) -> Result<Value, AdminError> {
    let action = "application.webhooks_replay".to_owned();
    let r = async {
        ctx.require_write()?;
        if input.from_event < 1 {
            return Err(AdminError::field("from_event", "must be an event seq (1 or more)"));
        }
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let app: Application = tx.get(id).await?;
        if app.sync_webhook_url.is_none() {
            return Err(AdminError::Conflict {
                code: "application.no_webhook",
                message: "the application has no sync_webhook_url",
            });
        }
        let queued = crate::webhooks::fanout::replay(&mut tx, &app, input.from_event, ctx.now).await?;
        ctx.record(
            &mut tx,
            action.clone(),
            ("application", &app.id),
            (app.partner_id.as_deref(), app.tenant_id.as_deref()),
        )
        .await?;
        tx.commit().await?;
        Ok(json!({"app_id": app.id, "from_event": input.from_event, "queued": queued}))
    }
    .await;
    super::audited(ctx, action, "application", Some(id), r).await
}
