//! A user's MFA factors through the admin API: `GET /users/{id}/factors`
//! lists them (never a secret) with the recovery codes left, `DELETE
//! /users/{id}/factors` removes them all (audited, `user.updated`), so the
//! user enrolls again at the next sign-in where the tenant requires MFA.

use serde_json::{Value, json};

use crate::domain::user::User;

use super::{AdminError, Ctx};

pub async fn list(ctx: &Ctx<'_>, user_id: &str) -> Result<Value, AdminError> {
    ctx.require_read()?;
    let mut tx = ctx.svc.store.read(ctx.scope()).await?;
    let user: User = tx.get(user_id).await?;
    let factors = tx.factors_of(&user.id).await?;
    let left = tx.recovery_codes_left(&user.id).await?;
    tx.commit().await?;
    Ok(json!({"factors": factors, "recovery_codes_left": left}))
}

pub async fn reset(ctx: &Ctx<'_>, user_id: &str) -> Result<Value, AdminError> {
    let action = "user.factors.reset".to_owned();
    let r = async {
        ctx.require_write()?;
        let mut tx = ctx.svc.store.write(ctx.scope()).await?;
        let removed = crate::directory::factors::reset(&mut tx, &ctx.writer(), user_id).await?;
        tx.commit().await?;
        Ok(json!({"user_id": user_id, "factors_removed": removed}))
    }
    .await;
    super::audited(ctx, action, "user", Some(user_id), r).await
}
