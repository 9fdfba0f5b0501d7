//! Users created in bulk, each linked to its id at an upstream directory:
//! a sync run creates a directory's users in pages of hundreds, so the
//! statements per user (a name check, the insert, the link, an audit record
//! and an event, each one round trip) become a few statements per page.
//! Each user gets exactly what `users::create_linked` gives one: identifiers
//! normalized, validated, the partner's limit kept, one audit record and
//! one `user.created` event in the caller's transaction.

use serde_json::Map;

use crate::admin::{AdminError, check_limit, must_exist, tenant_in_scope};
use crate::domain::identifier::username_key;
use crate::domain::ou::OrganizationalUnit;
use crate::domain::user::{User, UserAttributes, UserIdentity};

use super::Writer;
use super::events::{change_event, user_payload};
use super::users::{create_linked, normalize_and_validate};
use crate::store::Tx;

/// Why one user of a batch was not created; the others still are.
pub fn refused(e: &AdminError) -> bool {
    matches!(
        e,
        AdminError::Invalid(_) | AdminError::Forbidden(_) | AdminError::Limit { .. } | AdminError::Conflict { .. }
    )
}

const NAME_TAKEN: AdminError = AdminError::Conflict {
    code: "user.user_name_taken",
    message: "a user with this name already exists and is not linked to this directory",
};

/// Creates the users `inputs` describes (attributes, external id at
/// `idp_id`) in `tenant_id`. Returns each user, in order, or why it was
/// refused (`refused`); any other error fails them all.
pub async fn create_many_linked(
    tx: &mut Tx,
    w: &Writer<'_>,
    tenant_id: &str,
    idp_id: &str,
    inputs: Vec<(UserAttributes, String)>,
) -> Result<Vec<Result<User, AdminError>>, AdminError> {
    let tenant = tenant_in_scope(tx, tenant_id).await?;
    let candidates: Vec<Result<User, AdminError>> = inputs
        .iter()
        .map(|(attrs, _)| {
            let name = attrs.user_name.clone().ok_or_else(|| AdminError::field("user_name", "is required"))?;
            let mut user = User::new(w.new_id("usr"), &tenant, name, w.now);
            user.apply(attrs);
            normalize_and_validate(&mut user)?;
            Ok(user)
        })
        .collect();
    let keys: Vec<String> = candidates.iter().flatten().map(|u| username_key(&u.user_name)).collect();
    // Names held by users already there; each name of the batch is claimed by its first user.
    let mut taken = tx.taken_user_names(&tenant.id, &keys).await?;
    let (count, limits) = tx.users_and_limits(&tenant.id).await?;
    let simple = inputs.iter().all(|(a, _)| a.manager_id.is_none() && a.password.is_none());
    // A page names few OUs (a directory's units): each is checked once.
    let mut ous: Vec<&String> = inputs.iter().filter_map(|(a, _)| a.ou_id.as_ref().and_then(Option::as_ref)).collect();
    ous.sort();
    ous.dedup();
    let mut ous_exist = true;
    for ou in ous {
        match must_exist::<OrganizationalUnit>(tx, ou, &tenant.id, "ou_id").await {
            Ok(_) => {}
            Err(AdminError::Invalid(_)) => ous_exist = false,
            Err(e) => return Err(e),
        }
    }
    if !simple || !ous_exist || count + inputs.len() as i64 > limits.max_users_per_tenant {
        // References to check, a password to hash, or the limit in reach:
        // one at a time, each checked as a single create is.
        let mut out = Vec::with_capacity(inputs.len());
        for ((mut attrs, ext), candidate) in inputs.into_iter().zip(candidates) {
            match candidate {
                Err(e) => out.push(Err(e)),
                Ok(u) if !taken.insert(username_key(&u.user_name)) => out.push(Err(NAME_TAKEN)),
                Ok(_) => {
                    attrs.tenant_id = Some(tenant.id.clone());
                    match create_linked(tx, w, attrs, Some((idp_id, &ext))).await {
                        Err(e) if !refused(&e) => return Err(e),
                        r => out.push(r),
                    }
                }
            }
        }
        return Ok(out);
    }

    let mut out = Vec::with_capacity(inputs.len());
    let (mut users, mut identities, mut audits, mut events) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((_, ext), candidate) in inputs.into_iter().zip(candidates) {
        let user = match candidate {
            Err(e) => {
                out.push(Err(e));
                continue;
            }
            Ok(u) if !taken.insert(username_key(&u.user_name)) => {
                out.push(Err(NAME_TAKEN));
                continue;
            }
            Ok(u) => u,
        };
        identities.push(UserIdentity {
            id: w.new_id("uid"),
            tenant_id: user.tenant_id.clone(),
            partner_id: user.partner_id.clone(),
            user_id: user.id.clone(),
            idp_id: idp_id.to_owned(),
            external_id: ext.clone(),
            last_login_at: None,
            created_at: w.now,
        });
        let owner = (user.partner_id.as_str(), user.tenant_id.as_str());
        let mut details = Map::new();
        details.insert("idp_id".into(), idp_id.into());
        details.insert("external_id".into(), ext.into());
        audits.push(w.audit_event("user.create", ("user", &user.id), owner, details));
        events.push(change_event(w, owner, "user.created", user_payload(&user)));
        users.push(user.clone());
        out.push(Ok(user));
    }
    tx.insert_many(&users).await?;
    // The inserts' counter trigger holds the tenant row now: a concurrent
    // create that slipped in since the first read is counted here.
    let (after, limits) = tx.users_and_limits(&tenant.id).await?;
    check_limit(after - 1, limits.max_users_per_tenant, "partner.max_users_per_tenant", "users per tenant")?;
    tx.insert_many(&identities).await?;
    tx.append_audits_and_events(&audits, events).await?;
    Ok(out)
}
