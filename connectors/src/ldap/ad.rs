//! What only Active Directory needs: the root DSE's USN and naming context,
//! members named by GUID (the extended DN control), ranged retrieval of
//! large `member` attributes, and the changes a delta cannot see in its own
//! base DN — deletions (tombstones, read with the Show Deleted control) and
//! objects moved or filtered out of scope.
//!
//! A delta therefore costs what changed, never a scan of every user: AD
//! keeps a deleted object's tombstone, with its objectGUID and objectClass,
//! for the tombstone lifetime (180 days by default). A delta whose mark is
//! older than that can miss a deletion; a full run (the `mode` of a run, or
//! a schedule of its own) compares every id with the store and catches it.

use ldap3::controls::RawControl;
use ldap3::{Ldap, Scope, SearchEntry};

use super::conn::OP_TIMEOUT;
use super::entry;
use crate::ConnectorError;

/// `LDAP_SERVER_EXTENDED_DN_OID`, value `SEQUENCE { INTEGER 1 }`: DN values
/// come as `<GUID=…>;<SID=…>;CN=…` with the GUID in its string form.
pub fn extended_dn() -> RawControl {
    RawControl { ctype: "1.2.840.113556.1.4.529".into(), crit: true, val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x01]) }
}

/// `LDAP_SERVER_SHOW_DELETED_OID`: tombstones are returned too.
fn show_deleted() -> RawControl {
    RawControl { ctype: "1.2.840.113556.1.4.417".into(), crit: true, val: None }
}

/// The GUID of an extended DN (`<GUID=…>;…`), lower case.
pub fn guid_of(extended: &str) -> Option<String> {
    let (guid, _) = extended.strip_prefix("<GUID=")?.split_once('>')?;
    (guid.len() == 36).then(|| guid.to_ascii_lowercase())
}

/// The plain DN of an extended DN (the components in `<…>;` dropped).
pub fn plain_dn(dn: &str) -> &str {
    let mut rest = dn;
    while rest.starts_with('<') {
        match rest.split_once(">;") {
            Some((_, after)) => rest = after,
            None => break,
        }
    }
    rest
}

/// What a run needs from the root DSE.
pub struct RootDse {
    /// `highestCommittedUSN`: the run's bound, and the next delta's mark.
    pub highest_usn: u64,
    /// `defaultNamingContext`: where deletions and moves are looked for.
    pub naming_context: String,
}

pub async fn root_dse(ldap: &mut Ldap) -> Result<RootDse, ConnectorError> {
    let (entries, _) = ldap
        .with_timeout(OP_TIMEOUT)
        .search("", Scope::Base, "(objectClass=*)", vec!["highestCommittedUSN", "defaultNamingContext"])
        .await
        .and_then(|r| r.success())
        .map_err(|e| failed("reading the root DSE", e))?;
    let e = entries.into_iter().next().map(SearchEntry::construct);
    let text = |n: &str| e.as_ref().and_then(|e| e.attrs.get(n)).and_then(|v| v.first()).cloned();
    match (text("highestCommittedUSN").and_then(|u| u.parse().ok()), text("defaultNamingContext")) {
        (Some(highest_usn), Some(naming_context)) => Ok(RootDse { highest_usn, naming_context }),
        _ => Err(ConnectorError::Unreachable(
            "the root DSE has no highestCommittedUSN or defaultNamingContext: is this Active Directory?".into(),
        )),
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unreachable(format!("{what}: {e}"))
}

/// A user or group changed in the whole domain since a delta's mark.
pub struct Changed {
    pub external_id: String,
    pub group: bool,
    pub deleted: bool,
    pub usn: u64,
}

/// Every user and group of the domain changed (deleted ones included) from
/// `from_usn` on: the delta's own searches tell which of them are still in
/// scope; the others were deleted or left the scope.
pub async fn changed_in_domain(
    ldap: &mut Ldap,
    config: &super::Config,
    root: &RootDse,
    from_usn: u64,
) -> Result<Vec<Changed>, ConnectorError> {
    let filter = format!("(&(|(objectClass=user)(objectClass=group))(uSNChanged>={from_usn}))");
    let attrs = vec!["objectGUID".to_owned(), "objectClass".into(), "isDeleted".into(), "uSNChanged".into()];
    let mut out = Vec::new();
    super::sync::paged(ldap, config, &root.naming_context, &filter, attrs, vec![show_deleted()], |e| {
        let Some(external_id) = entry::object_guid(&e) else { return };
        let has = |attr: &str, value: &str| {
            e.attrs.get(attr).is_some_and(|vs| vs.iter().any(|v| v.eq_ignore_ascii_case(value)))
        };
        out.push(Changed {
            external_id,
            group: has("objectClass", "group"),
            deleted: has("isDeleted", "TRUE"),
            usn: e.attrs.get("uSNChanged").and_then(|v| v.first()).and_then(|u| u.parse().ok()).unwrap_or(0),
        });
    })
    .await?;
    Ok(out)
}

/// AD's default `MaxValRange`: the slice of a `member` asked for at once.
pub const RANGE_STEP: u64 = 1500;

/// The first slice of `attr` to ask for in a search.
pub fn first_range(attr: &str) -> String {
    format!("{attr};range=0-{}", RANGE_STEP - 1)
}

/// Every value of `attr` of `group`, following ranged retrieval
/// (`member;range=0-1499`, then `member;range=1500-2999`, …) until the
/// server answers with the last slice (`…-*`). Plain values (a server that
/// ignores ranges, or a small group) are taken as they are.
pub async fn ranged_values(
    ldap: &mut Ldap,
    group: &SearchEntry,
    attr: &str,
    controls: &[RawControl],
) -> Result<Vec<String>, ConnectorError> {
    let mut out: Vec<String> = group.attrs.get(attr).cloned().unwrap_or_default();
    let prefix = format!("{};range=", attr.to_ascii_lowercase());
    let find = |e: SearchEntry| e.attrs.into_iter().find(|(k, _)| k.to_ascii_lowercase().starts_with(&prefix));
    let mut ranged = find(group.clone());
    let base = plain_dn(&group.dn).to_owned();
    while let Some((name, values)) = ranged.take() {
        out.extend(values);
        // `member;range=1500-2999` continues at 3000; `…-*` is the last slice.
        let Some(end) = name.rsplit('-').next().filter(|e| *e != "*").and_then(|e| e.parse::<u64>().ok()) else {
            break;
        };
        let next = format!("{attr};range={}-{}", end + 1, end + RANGE_STEP);
        let (entries, _) = ldap
            .with_controls(controls.to_vec())
            .with_timeout(OP_TIMEOUT)
            .search(&base, Scope::Base, "(objectClass=*)", vec![next])
            .await
            .and_then(|r| r.success())
            .map_err(|e| failed("reading a large group's members", e))?;
        ranged = entries.into_iter().next().map(SearchEntry::construct).and_then(find);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_dns_give_their_guid_and_plain_dn() {
        let v = "<GUID=5B6A9C3E-0D1F-4E2A-9B8C-7D6E5F4A3B2C>;<SID=S-1-5-21-1-2-3-1104>;CN=Ann,OU=Staff,DC=ex,DC=test";
        assert_eq!(guid_of(v).as_deref(), Some("5b6a9c3e-0d1f-4e2a-9b8c-7d6e5f4a3b2c"));
        assert_eq!(plain_dn(v), "CN=Ann,OU=Staff,DC=ex,DC=test");
        assert_eq!(plain_dn("CN=Ann,DC=ex"), "CN=Ann,DC=ex");
        assert_eq!(guid_of("CN=Ann,DC=ex"), None);
        assert_eq!(guid_of("<GUID=abc>;CN=x"), None);
    }
}
