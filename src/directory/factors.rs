//! A user's second factors through the write path: recovery codes replaced
//! at enrollment, and an admin's reset of every factor (audited, with a
//! `user.updated` event, and refused for a user holding an admin role wider
//! than the writer's authority — a factor reset is a credential change).

use serde_json::Map;

use crate::admin::AdminError;
use crate::authn::recovery;
use crate::domain::Timestamp;
use crate::domain::factor::RecoveryCode;
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
