//! Setting a user's password under the tenant's policy, whoever sets it (an
//! admin, SCIM, the expired-password page of the login flow): the policy's
//! rules, then `history` (the new password equals none of the last `history`
//! passwords, the current one included), then argon2id, then the replaced
//! hash joins the history. `max_age_days` is read at sign-in (`is_expired`).

use crate::domain::Timestamp;
use crate::domain::settings::PasswordPolicy;
use crate::domain::user::User;
use crate::ids::new_id;
use crate::store::{StoreError, Tx};

use super::password;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// What the policy's rules find wrong, one message each.
    #[error("the password does not meet the policy")]
    Policy(Vec<String>),
    #[error("the password was used before")]
    Reused,
    #[error("password hashing failed")]
    Hash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PasswordError {
    /// Field messages for the admin and SCIM error bodies.
    pub fn messages(&self) -> Vec<String> {
        match self {
            PasswordError::Policy(m) => m.clone(),
            PasswordError::Reused => vec!["must not be one of the recently used passwords".into()],
            other => vec![other.to_string()],
        }
    }
}

/// Checks and hashes `new` for `user` (whose row may not exist yet), updating
/// `password_hash` and `password_changed_at` in place; the caller writes the row.
pub async fn set_password(
    tx: &mut Tx,
    policy: &PasswordPolicy,
    user: &mut User,
    new: String,
    now: Timestamp,
) -> Result<(), PasswordError> {
    let problems = policy.violations(&new);
    if !problems.is_empty() {
        return Err(PasswordError::Policy(problems));
    }
    let mut recent = Vec::new();
    if policy.history > 0
        && let Some(current) = &user.password_hash
    {
        recent.push(current.clone());
        let older = policy.history.saturating_sub(1);
        recent.extend(tx.password_history(&user.id, i64::from(older)).await?);
    }
    for old in recent {
        if password::verify(new.clone(), old).await {
            return Err(PasswordError::Reused);
        }
    }
    let hash = password::hash(new).await.map_err(|_| PasswordError::Hash)?;
    if let Some(previous) = user.password_hash.replace(hash) {
        let row = crate::store::repos::PasswordHistoryRow {
            id: new_id("pwh", now),
            tenant_id: user.tenant_id.clone(),
            partner_id: user.partner_id.clone(),
            user_id: user.id.clone(),
            password_hash: previous,
            created_at: now,
        };
        tx.insert(&row).await?;
    }
    user.password_changed_at = Some(now);
    Ok(())
}

/// Whether the user's password is older than the policy allows.
pub fn is_expired(policy: &PasswordPolicy, user: &User, now: Timestamp) -> bool {
    match (policy.max_age_days, user.password_changed_at) {
        (Some(days), Some(changed)) => changed.plus_seconds(i64::from(days) * 86_400) <= now,
        _ => false,
    }
}
