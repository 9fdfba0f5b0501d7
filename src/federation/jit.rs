//! Who a federated sign-in is: the user linked to (IdP, external id); else,
//! only when the IdP is trusted for it, the one user with the upstream's
//! verified email, linked now; else a new user (just-in-time provisioning,
//! when the IdP allows it). Everything is written through the directory
//! write path as `Federation { idp }`, in the transaction that then starts
//! the session, and the user's attributes are refreshed from the upstream
//! at each sign-in (audited, with events, only when something changed).

use scaikey_connectors::UpstreamIdentity;

use crate::admin::AdminError;
use crate::directory::{self, Actor, Writer};
use crate::domain::Timestamp;
use crate::domain::idp::IdentityProvider;
use crate::domain::user::{User, UserAttributes, UserStatus};
use crate::store::{Scope, StoreError, Tx};

use super::mapping;

pub const SUSPENDED: &str = "Your account is suspended. Contact your administrator.";
pub const NO_ACCOUNT: &str = "There is no account for you here yet. Ask your administrator to create one.";
pub const NOT_LINKED: &str = "An account with your name or email already exists here but is not linked to this sign-in method. Ask your administrator to link it.";

/// The signed-in user's id, or a refusal to show.
pub async fn resolve(
    tx: &mut Tx,
    idp: &IdentityProvider,
    identity: &UpstreamIdentity,
    now: Timestamp,
) -> Result<Result<String, &'static str>, StoreError> {
    let w = Writer {
        actor: Actor::Federation { idp: idp.id.clone() },
        authority: Scope::Tenant(idp.tenant_id.clone()),
        request_id: None,
        now,
    };
    let attrs = mapping::attributes(idp, identity);

    if let Some(link) = tx.identity_at(&idp.id, &identity.external_id).await? {
        let user: User = tx.get(&link.user_id).await?;
        if user.status != UserStatus::Active {
            return Ok(Err(SUSPENDED));
        }
        refresh(tx, &w, &user, attrs).await?;
        tx.touch_identity(&link.id, now).await?;
        return Ok(Ok(user.id));
    }

    // An upstream email equal to a local user's links only when trusted.
    if let Some(email) = identity.email.as_deref() {
        let same_email = tx.users_by_email(&idp.tenant_id, email).await?;
        if let [user] = same_email.as_slice()
            && idp.trust_email_for_linking
            && identity.email_verified
        {
            if user.status != UserStatus::Active {
                return Ok(Err(SUSPENDED));
            }
            linked(directory::identities::link(tx, &w, user, &idp.id, &identity.external_id, true).await)?;
            tracing::info!(target: "audit", action = "user.identity.link", user_id = %user.id, idp_id = %idp.id, "linked by trusted email");
            refresh(tx, &w, user, attrs).await?;
            return Ok(Ok(user.id.clone()));
        }
        if !same_email.is_empty() {
            return Ok(Err(NOT_LINKED));
        }
    }

    if !idp.jit_provisioning {
        return Ok(Err(NO_ACCOUNT));
    }
    let user_name = attrs.user_name.clone().unwrap_or_default();
    // Checked first: a failed insert would end a PostgreSQL transaction.
    match tx.user_by_name(&idp.tenant_id, &user_name).await {
        Ok(_) => return Ok(Err(NOT_LINKED)),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e),
    }
    let mut create = attrs;
    create.tenant_id = Some(idp.tenant_id.clone());
    let user = match directory::users::create(tx, &w, create).await {
        Ok(u) => u,
        Err(AdminError::Invalid(fields)) => {
            let why: Vec<String> = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
            tracing::warn!(idp_id = %idp.id, problems = %why.join("; "), "just-in-time provisioning refused the upstream's attributes");
            return Ok(Err(NO_ACCOUNT));
        }
        Err(e) => return Err(store_error(e)),
    };
    linked(directory::identities::link(tx, &w, &user, &idp.id, &identity.external_id, true).await)?;
    tracing::info!(target: "audit", action = "user.jit_create", user_id = %user.id, idp_id = %idp.id, "provisioned at first sign-in");
    Ok(Ok(user.id))
}

/// A write-path failure that leaves the transaction unusable.
pub fn store_error(e: AdminError) -> StoreError {
    match e {
        AdminError::NotFound => StoreError::NotFound,
        other => StoreError::Database(sqlx::Error::Protocol(other.to_string())),
    }
}

fn linked<T>(r: Result<T, AdminError>) -> Result<T, StoreError> {
    r.map_err(store_error)
}

/// What applying upstream attributes did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Unchanged,
    Updated,
    /// The write path refused before writing (the transaction is still good).
    Refused(String),
}

/// Applies the upstream's current attributes when they differ. A name
/// another user holds is left as it is (with a warning) rather than failing
/// the write inside the transaction.
pub async fn apply_attributes(
    tx: &mut Tx,
    w: &Writer<'_>,
    user: &User,
    mut attrs: UserAttributes,
) -> Result<Applied, StoreError> {
    let mut after = user.clone();
    after.apply(&attrs);
    if serde_json::to_value(&after).ok() == serde_json::to_value(user).ok() {
        return Ok(Applied::Unchanged);
    }
    if let Some(name) = &attrs.user_name
        && !name.eq_ignore_ascii_case(&user.user_name)
        && tx.user_by_name(&user.tenant_id, name).await.is_ok()
    {
        tracing::warn!(user_id = %user.id, "upstream user name is taken by another user; not renamed");
        attrs.user_name = None;
        return Box::pin(apply_attributes(tx, w, user, attrs)).await;
    }
    match directory::users::update(tx, w, &user.id, attrs, None).await {
        Ok(_) => Ok(Applied::Updated),
        Err(e @ (AdminError::Invalid(_) | AdminError::Forbidden(_) | AdminError::Limit { .. })) => {
            Ok(Applied::Refused(e.to_string()))
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Refreshes a signing-in user's attributes; a refused refresh is logged
/// and skipped: the sign-in itself stands.
async fn refresh(tx: &mut Tx, w: &Writer<'_>, user: &User, attrs: UserAttributes) -> Result<(), StoreError> {
    if let Applied::Refused(why) = apply_attributes(tx, w, user, attrs).await? {
        tracing::warn!(user_id = %user.id, error = %why, "upstream attributes not applied");
    }
    Ok(())
}
