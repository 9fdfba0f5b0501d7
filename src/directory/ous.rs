//! Organizational units: a tree per tenant. Besides writes, `resolve`
//! finds an OU the way HR systems and Entra mappings name one: by id
//! (`ou_…`), by path from the root (`EU/Sales`) or by distinguished name
//! (`OU=Sales,OU=EU,DC=acme,DC=test`), names compared case-insensitively.

use serde_json::Map;

use crate::admin::{AdminError, must_exist, tenant_in_scope};
use crate::domain::ou::{NewOrganizationalUnit, OrganizationalUnit, OrganizationalUnitPatch};
use crate::store::{StoreError, Tx};

use super::Writer;

pub async fn create(
    tx: &mut Tx,
    w: &Writer<'_>,
    input: NewOrganizationalUnit,
) -> Result<OrganizationalUnit, AdminError> {
    let tenant = tenant_in_scope(tx, &input.tenant_id).await?;
    let ou = OrganizationalUnit {
        id: w.new_id("ou"),
        tenant_id: tenant.id.clone(),
        partner_id: tenant.partner_id.clone(),
        parent_id: input.parent_id,
        name: input.name.trim().to_owned(),
        description: input.description,
        created_at: w.now,
        updated_at: w.now,
    };
    ou.validate()?;
    if let Some(p) = &ou.parent_id {
        must_exist::<OrganizationalUnit>(tx, p, &ou.tenant_id, "parent_id").await?;
    }
    tx.insert(&ou).await?;
    w.audit(
        tx,
        "organizational_unit.create",
        ("organizational_unit", &ou.id),
        (&ou.partner_id, &ou.tenant_id),
        Map::new(),
    )
    .await?;
    Ok(ou)
}

pub async fn update(
    tx: &mut Tx,
    w: &Writer<'_>,
    id: &str,
    input: OrganizationalUnitPatch,
) -> Result<OrganizationalUnit, AdminError> {
    let mut ou: OrganizationalUnit = tx.get_for_update(id).await?;
    if let Some(n) = input.name {
        ou.name = n.trim().to_owned();
    }
    if let Some(d) = input.description {
        ou.description = d;
    }
    if let Some(p) = input.parent_id {
        ou.parent_id = p;
    }
    ou.updated_at = w.now;
    ou.validate()?;
    if let Some(p) = &ou.parent_id {
        must_exist::<OrganizationalUnit>(tx, p, &ou.tenant_id, "parent_id").await?;
        // Moving an OU under itself or one of its descendants would cut
        // that branch off the tree.
        if tx.ou_is_ancestor_or_self(&ou.id, p).await? {
            return Err(AdminError::field("parent_id", "cannot be the unit itself or one of its descendants"));
        }
    }
    tx.update(&ou).await?;
    w.audit(
        tx,
        "organizational_unit.update",
        ("organizational_unit", &ou.id),
        (&ou.partner_id, &ou.tenant_id),
        Map::new(),
    )
    .await?;
    Ok(ou)
}

pub async fn delete(tx: &mut Tx, w: &Writer<'_>, id: &str) -> Result<(), AdminError> {
    let ou: OrganizationalUnit = tx.get_for_update(id).await?;
    tx.delete::<OrganizationalUnit>(id).await?;
    w.audit(
        tx,
        "organizational_unit.delete",
        ("organizational_unit", &ou.id),
        (&ou.partner_id, &ou.tenant_id),
        Map::new(),
    )
    .await?;
    Ok(())
}

/// The names from the root down that `value` denotes, if it is a path or a DN.
fn path_of(value: &str) -> Option<Vec<String>> {
    let v = value.trim();
    if v.is_empty() || v.len() > 2048 {
        return None;
    }
    let first = v.split(',').next().unwrap_or_default();
    if let Some((k, _)) = first.split_once('=')
        && !k.trim().eq_ignore_ascii_case("ou")
    {
        return None;
    }
    if first.contains('=') {
        // A DN lists the leaf first; keep the OU components, drop DC=….
        let mut names: Vec<String> = Vec::new();
        for rdn in v.split(',') {
            let (k, name) = rdn.split_once('=')?;
            if k.trim().eq_ignore_ascii_case("ou") {
                names.push(name.trim().to_owned());
            } else if !k.trim().eq_ignore_ascii_case("dc") {
                return None;
            }
        }
        names.reverse();
        return Some(names);
    }
    let names: Vec<String> = v.trim_matches('/').split('/').map(|n| n.trim().to_owned()).collect();
    (!names.iter().any(String::is_empty)).then_some(names)
}

const FORMS: &str =
    "must be an OU id (ou_…), a path such as EU/Sales, or a DN such as OU=Sales,OU=EU,DC=example,DC=com";

/// The id of the OU `value` names in `tenant_id`.
pub async fn resolve(tx: &mut Tx, tenant_id: &str, value: &str) -> Result<String, AdminError> {
    if crate::ids::has_prefix(value, "ou") {
        return match tx.get::<OrganizationalUnit>(value).await {
            Ok(ou) if ou.tenant_id == tenant_id => Ok(ou.id),
            Ok(_) | Err(StoreError::NotFound) => Err(AdminError::field("organizationalUnit", FORMS)),
            Err(e) => Err(e.into()),
        };
    }
    let Some(names) = path_of(value) else {
        return Err(AdminError::field("organizationalUnit", FORMS));
    };
    let mut parent: Option<String> = None;
    for name in &names {
        match tx.ou_child_by_name(tenant_id, parent.as_deref(), name).await? {
            Some(id) => parent = Some(id),
            None => {
                return Err(AdminError::field(
                    "organizationalUnit",
                    &format!("no organizational unit {value:?} in this tenant; {FORMS}"),
                ));
            }
        }
    }
    parent.ok_or_else(|| AdminError::field("organizationalUnit", FORMS))
}

/// The id of the OU at `path` (`/Sales/EMEA`, as Google's `orgUnitPath`) in
/// `tenant_id`, creating the units that are missing; `None` for the root.
pub async fn ensure_path(
    tx: &mut Tx,
    w: &Writer<'_>,
    tenant_id: &str,
    path: &str,
) -> Result<Option<String>, AdminError> {
    if path.trim_matches('/').trim().is_empty() {
        return Ok(None);
    }
    let Some(names) = path_of(path) else {
        return Err(AdminError::field("organizationalUnit", FORMS));
    };
    let mut parent: Option<String> = None;
    for name in names {
        let id = match tx.ou_child_by_name(tenant_id, parent.as_deref(), &name).await? {
            Some(id) => id,
            None => {
                let input = NewOrganizationalUnit {
                    tenant_id: tenant_id.to_owned(),
                    parent_id: parent.clone(),
                    name,
                    description: None,
                };
                create(tx, w, input).await?.id
            }
        };
        parent = Some(id);
    }
    Ok(parent)
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn paths_and_dns_name_the_same_units() {
        assert_eq!(path_of("EU/Sales"), Some(vec!["EU".into(), "Sales".into()]));
        assert_eq!(path_of("/EU/Sales/"), Some(vec!["EU".into(), "Sales".into()]));
        assert_eq!(path_of("OU=Sales, OU=EU,DC=acme,DC=test"), Some(vec!["EU".into(), "Sales".into()]));
        assert_eq!(path_of("ou=Sales"), Some(vec!["Sales".into()]));
        assert_eq!(path_of("CN=Ada,OU=Sales"), None, "a user's DN is not an OU");
        assert_eq!(path_of("EU//Sales"), None);
        assert_eq!(path_of(""), None);
    }
}
