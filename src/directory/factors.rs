//! A user's second factors through the write path: recovery codes replaced
//! at enrollment, and an admin's reset of every factor (audited, with a
//! `user.updated` event, and refused for a user holding an admin role wider
//! than the writer's authority — a factor reset is a credential change).

use serde_json::Map;

use crate::admin::AdminError;
use crate::authn::recovery;
use crate::domain::Timestamp;
use crate::domain::factor::{Factor, RecoveryCode};
use crate::domain::user::User;
use crate::ids::new_id;
use crate::store::{StoreError, Tx};

use super::Writer;
use super::events::user_payload;

/// The user's recovery codes become `codes` (stored hashed).
pub async fn replace_recovery_codes(
    tx: &mut Tx,
    user: &User,
    codes: &[String],
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM recovery_codes WHERE user_id = $1", vec![user.id.as_str().into()]).await?;
    let rows: Vec<RecoveryCode> = codes
        .iter()
        .map(|c| RecoveryCode {
            id: new_id("rcc", now),
            tenant_id: user.tenant_id.clone(),
            partner_id: user.partner_id.clone(),
            user_id: user.id.clone(),
            code_hash: recovery::hash(c),
            used_at: None,
            created_at: now,
        })
        .collect();
    tx.insert_many(&rows).await
}

/// Removes every factor and recovery code of `user_id`: the next sign-in
/// enrolls again where the tenant requires MFA.
pub async fn reset(tx: &mut Tx, w: &Writer<'_>, user_id: &str) -> Result<u64, AdminError> {
    let user: User = tx.get_for_update(user_id).await?;
    super::users::guard_wider_admin(tx, w, &user).await?;
    let removed = tx.delete_factors_of(&user.id).await?;
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    let mut details = Map::new();
    details.insert("factors_removed".into(), removed.into());
    w.record(tx, "user.factors.reset", ("user", &user.id), owner, details, "user.updated", user_payload(&user)).await?;
    Ok(removed)
}

/// A user's own factor changes (the account page and the login flow's
/// enrollment), each audited with a `user.updated` event.
pub async fn enroll(tx: &mut Tx, w: &Writer<'_>, user: &User, factor: &Factor) -> Result<(), AdminError> {
    tx.insert(factor).await?;
    let mut details = Map::new();
    details.insert("kind".into(), factor.kind.clone().into());
    details.insert("factor_id".into(), factor.id.clone().into());
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    w.record(tx, "user.factor.enroll", ("user", &user.id), owner, details, "user.updated", user_payload(user)).await
}

/// Removes one factor of `user` (`reason` recorded in the audit);
/// `NotFound` unless it is theirs.
pub async fn remove(
    tx: &mut Tx,
    w: &Writer<'_>,
    user: &User,
    factor_id: &str,
    reason: Option<&str>,
) -> Result<Factor, AdminError> {
    let factor: Factor = tx.get(factor_id).await?;
    if factor.user_id != user.id {
        return Err(StoreError::NotFound.into());
    }
    tx.delete::<Factor>(&factor.id).await?;
    let mut details = Map::new();
    details.insert("kind".into(), factor.kind.clone().into());
    details.insert("factor_id".into(), factor.id.clone().into());
    if let Some(r) = reason {
        details.insert("reason".into(), r.into());
    }
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    w.record(tx, "user.factor.remove", ("user", &user.id), owner, details, "user.updated", user_payload(user)).await?;
    Ok(factor)
}

/// Renames one factor of `user` (1–64 characters).
pub async fn rename(tx: &mut Tx, w: &Writer<'_>, user: &User, factor_id: &str, name: &str) -> Result<(), AdminError> {
    let mut factor: Factor = tx.get(factor_id).await?;
    if factor.user_id != user.id {
        return Err(StoreError::NotFound.into());
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AdminError::field("name", "must be 1 to 64 printable characters"));
    }
    factor.name = name.to_owned();
    tx.update(&factor).await?;
    let mut details = Map::new();
    details.insert("factor_id".into(), factor.id.clone().into());
    w.audit(tx, "user.factor.rename", ("user", &user.id), (&user.partner_id, &user.tenant_id), details).await
}

/// Ten new recovery codes for `user`, replacing the old ones; shown once.
pub async fn regenerate_recovery_codes(tx: &mut Tx, w: &Writer<'_>, user: &User) -> Result<Vec<String>, AdminError> {
    let codes = recovery::generate();
    replace_recovery_codes(tx, user, &codes, w.now).await?;
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    w.record(
        tx,
        "user.recovery_codes.regenerate",
        ("user", &user.id),
        owner,
        Map::new(),
        "user.updated",
        user_payload(user),
    )
    .await?;
    Ok(codes)
}
