//! What a user's tokens say about them: transitive groups, admin roles, and
//! the OIDC standard claims each scope releases (userinfo and ID tokens).

use serde_json::{Map, Value, json};

use crate::domain::user::User;
use crate::store::{StoreError, Tx};

/// Group ids (transitive) and role names, read fresh at every issuance so a
/// refresh reflects membership changes.
pub async fn groups_and_roles(tx: &mut Tx, user: &User) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let groups = tx.transitive_groups_of_user(&user.id).await?;
    let mut roles: Vec<String> = tx.roles_of_user(&user.id).await?.iter().map(|r| r.role.as_str().to_owned()).collect();
    roles.sort();
    roles.dedup();
    Ok((groups, roles))
}

/// The standard claims released by `scopes` (OIDC Core §5.4).
pub fn standard_claims(user: &User, scopes: &[String], groups: &[String]) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id));
    if has("profile") {
        let name = user.display_name.clone().or_else(|| match (&user.given_name, &user.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(g), None) => Some(g.clone()),
            (None, Some(f)) => Some(f.clone()),
            _ => None,
        });
        for (k, v) in [
            ("name", name),
            ("given_name", user.given_name.clone()),
            ("family_name", user.family_name.clone()),
            ("locale", user.locale.clone()),
            ("zoneinfo", user.timezone.clone()),
        ] {
            if let Some(v) = v {
                c.insert(k.into(), json!(v));
            }
        }
        c.insert("preferred_username".into(), json!(user.user_name));
        c.insert("updated_at".into(), json!(user.updated_at.unix_seconds()));
    }
    if has("email")
        && let Some(e) = &user.email
    {
        c.insert("email".into(), json!(e));
        c.insert("email_verified".into(), json!(user.email_verified));
    }
    if has("phone")
        && let Some(p) = user.phone_numbers.iter().find(|p| p.primary).or(user.phone_numbers.first())
    {
        c.insert("phone_number".into(), json!(p.value));
    }
    if has("groups") {
        c.insert("groups".into(), json!(groups));
    }
    c
}
