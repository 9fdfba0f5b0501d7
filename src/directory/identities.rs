//! External identities: the link between a user and their id at one
//! upstream IdP (federated login, directory sync). Linking is a change to
//! the user, audited with a `user.updated` event like any other.

use serde_json::{Map, Value};

use crate::admin::AdminError;
use crate::domain::user::{User, UserIdentity};
use crate::store::Tx;

use super::Writer;
use super::events::user_payload;

/// Links `user` to `external_id` at `idp_id`, signed in `now` when `login`.
pub async fn link(
    tx: &mut Tx,
    w: &Writer<'_>,
    user: &User,
    idp_id: &str,
    external_id: &str,
    login: bool,
) -> Result<UserIdentity, AdminError> {
    let identity = insert(tx, w, user, idp_id, external_id, login).await?;
    let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
    let mut details = Map::new();
    details.insert("idp_id".into(), Value::String(idp_id.to_owned()));
    details.insert("external_id".into(), Value::String(external_id.to_owned()));
    w.record(tx, "user.identity.link", ("user", &user.id), owner, details, "user.updated", user_payload(user)).await?;
    Ok(identity)
}

/// The identity row alone, for a caller that audits it with its own record.
pub(super) async fn insert(
    tx: &mut Tx,
    w: &Writer<'_>,
    user: &User,
    idp_id: &str,
    external_id: &str,
    login: bool,
) -> Result<UserIdentity, AdminError> {
    let identity = UserIdentity {
        id: w.new_id("uid"),
        tenant_id: user.tenant_id.clone(),
        partner_id: user.partner_id.clone(),
        user_id: user.id.clone(),
        idp_id: idp_id.to_owned(),
        external_id: external_id.to_owned(),
        last_login_at: login.then_some(w.now),
        created_at: w.now,
    };
    tx.insert(&identity).await?;
    Ok(identity)
}
