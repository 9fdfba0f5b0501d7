//! Directory entries → what ScaiKey knows of users and groups: the external
//! id (entryUUID, or AD's binary objectGUID as its canonical string), the
//! attributes as claims for the IdP's attribute mapping, and AD's
//! disabled flag (`userAccountControl` bit 2).

use ldap3::SearchEntry;
use serde_json::{Map, Value};

use super::{Config, LdapFlavor};
use crate::directory::DirectoryUser;
use crate::login::UpstreamIdentity;

/// LDAP attribute → the claim name the default mapping reads.
const CLAIMS: &[(&str, &str)] = &[
    ("mail", "email"),
    ("givenName", "given_name"),
    ("sn", "family_name"),
    ("displayName", "name"),
    ("title", "title"),
    ("department", "department"),
    ("employeeNumber", "employee_id"),
    ("employeeID", "employee_id"),
    ("employeeType", "employee_type"),
    ("company", "company"),
    ("physicalDeliveryOfficeName", "office"),
    ("preferredLanguage", "locale"),
];

/// Attributes read for users (the id and login attributes are added).
pub const USER_ATTRIBUTES: &[&str] = &[
    "cn",
    "mail",
    "givenName",
    "sn",
    "displayName",
    "title",
    "department",
    "employeeNumber",
    "employeeID",
    "employeeType",
    "company",
    "physicalDeliveryOfficeName",
    "preferredLanguage",
    "uid",
    "sAMAccountName",
    "userPrincipalName",
    "userAccountControl",
    "modifyTimestamp",
    "entryCSN",
    "uSNChanged",
];

/// The canonical string of an AD objectGUID: the first three fields are
/// little-endian on the wire.
pub fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

fn first<'e>(entry: &'e SearchEntry, name: &str) -> Option<&'e str> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// The entry's objectGUID as its canonical string. ldap3 files a value
/// under `bin_attrs` only when it is not valid UTF-8, so a GUID whose 16
/// bytes happen to be (about one in 50,000) arrives as text: both are read.
pub fn object_guid(entry: &SearchEntry) -> Option<String> {
    if let Some((_, v)) = entry.bin_attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case("objectGUID")) {
        return v.first().and_then(|b| guid_string(b));
    }
    let text = entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case("objectGUID")).and_then(|(_, v)| v.first())?;
    guid_string(text.as_bytes())
}

/// The entry's external id by the configured attribute.
pub fn external_id(config: &Config, entry: &SearchEntry) -> Option<String> {
    let name = config.user_id_attribute.as_str();
    if name.eq_ignore_ascii_case("objectGUID") {
        return object_guid(entry);
    }
    first(entry, name).map(|s| s.to_ascii_lowercase())
}

/// A user entry, or `None` without an external id.
pub fn user(config: &Config, entry: &SearchEntry) -> Option<DirectoryUser> {
    let external_id = external_id(config, entry)?;
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(external_id.clone()));
    claims.insert("dn".into(), Value::String(entry.dn.clone()));
    for (name, values) in &entry.attrs {
        let value = match values.as_slice() {
            [] => continue,
            [one] => Value::String(one.clone()),
            many => Value::Array(many.iter().cloned().map(Value::String).collect()),
        };
        if let Some((_, claim)) = CLAIMS.iter().find(|(a, _)| a.eq_ignore_ascii_case(name)) {
            claims.entry((*claim).to_owned()).or_insert_with(|| value.clone());
        }
        claims.insert(name.clone(), value);
    }
    if let Some(login) = first(entry, &config.login_attribute) {
        claims.insert("preferred_username".into(), Value::String(login.to_owned()));
    }
    if !claims.contains_key("name")
        && let Some(cn) = first(entry, "cn")
    {
        claims.insert("name".into(), Value::String(cn.to_owned()));
    }
    let disabled = config.flavor == LdapFlavor::ActiveDirectory
        && first(entry, "userAccountControl").and_then(|v| v.parse::<u32>().ok()).is_some_and(|uac| uac & 2 != 0);
    let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
    Some(DirectoryUser {
        dn: entry.dn.clone(),
        disabled,
        ou_path: None,
        identity: UpstreamIdentity {
            external_id,
            claims,
            email,
            email_verified: true,
            amr: Vec::new(),
            groups: Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_guid_is_mixed_endian() {
        let wire = [0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78];
        assert_eq!(guid_string(&wire).unwrap(), "12345678-1234-5678-9abc-def012345678");
        assert!(guid_string(&wire[..15]).is_none());
    }

    #[test]
    fn an_object_guid_that_is_valid_utf8_is_read_too() {
        let ascii = *b"0123456789abcdef";
        let mut e = SearchEntry { dn: "cn=x".into(), attrs: Default::default(), bin_attrs: Default::default() };
        e.attrs.insert("objectGUID".into(), vec![String::from_utf8(ascii.to_vec()).unwrap()]);
        assert_eq!(object_guid(&e).as_deref(), guid_string(&ascii).as_deref());
        e.attrs.clear();
        e.bin_attrs.insert("objectGUID".into(), vec![vec![0xff; 16]]);
        assert_eq!(object_guid(&e).unwrap(), "ffffffff-ffff-ffff-ffff-ffffffffffff");
    }
}
