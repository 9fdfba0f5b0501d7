//! SCIM User ↔ ScaiKey user, losslessly for every attribute ScaiKey keeps:
//! the core schema, the enterprise extension and the AD extension. Parsing is
//! lenient where real clients are (Entra's `"True"` strings and bare-string
//! `manager`; extra schema URIs and `$ref: null` are ignored); `password` is
//! accepted and never returned; read-only attributes (`id`, `meta`,
//! `groups`) are ignored on input.

use scaikey_scim::ScimError;
use scaikey_scim::schemas::{AD_USER, ENTERPRISE_USER, USER};
use serde_json::{Map, Value, json};

use crate::domain::user::{Address, EmailAddress, PhoneNumber, User, UserAttributes, UserStatus};

/// A group a user is in, for the read-only `groups` attribute.
pub struct GroupRef {
    pub id: String,
    pub name: String,
    pub direct: bool,
}

fn set(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), json!(v));
    }
}

pub fn render(u: &User, groups: &[GroupRef], base: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let mut schema_list = vec![USER];
    m.insert("id".into(), json!(u.id));
    set(&mut m, "externalId", &u.external_id);
    m.insert("userName".into(), json!(u.user_name));
    let mut name = Map::new();
    set(&mut name, "givenName", &u.given_name);
    set(&mut name, "familyName", &u.family_name);
    if !name.is_empty() {
        m.insert("name".into(), Value::Object(name));
    }
    set(&mut m, "displayName", &u.display_name);
    set(&mut m, "title", &u.title);
    set(&mut m, "userType", &u.employee_type);
    set(&mut m, "preferredLanguage", &u.preferred_language);
    set(&mut m, "locale", &u.locale);
    set(&mut m, "timezone", &u.timezone);
    m.insert("active".into(), json!(u.status == UserStatus::Active));
    if !u.emails.is_empty() {
        m.insert("emails".into(), json!(u.emails));
    }
    if !u.phone_numbers.is_empty() {
        m.insert("phoneNumbers".into(), json!(u.phone_numbers));
    }
    if !u.addresses.is_empty() {
        let list: Vec<Value> = u
            .addresses
            .iter()
            .map(|a| {
                let mut o = Map::new();
                set(&mut o, "type", &a.kind);
                set(&mut o, "streetAddress", &a.street_address);
                set(&mut o, "locality", &a.locality);
                set(&mut o, "region", &a.region);
                set(&mut o, "postalCode", &a.postal_code);
                set(&mut o, "country", &a.country);
                set(&mut o, "formatted", &a.formatted);
                o.insert("primary".into(), json!(a.primary));
                Value::Object(o)
            })
            .collect();
        m.insert("addresses".into(), Value::Array(list));
    }
    if !groups.is_empty() {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({"value": g.id, "display": g.name, "$ref": format!("{base}/Groups/{}", g.id),
                       "type": if g.direct { "direct" } else { "indirect" }})
            })
            .collect();
        m.insert("groups".into(), Value::Array(list));
    }
    let mut ent = Map::new();
    set(&mut ent, "employeeNumber", &u.employee_id);
    set(&mut ent, "department", &u.department);
    set(&mut ent, "organization", &u.company);
    if let Some(mgr) = &u.manager_id {
        ent.insert("manager".into(), json!({"value": mgr, "$ref": format!("{base}/Users/{mgr}")}));
    }
    if !ent.is_empty() {
        m.insert(ENTERPRISE_USER.into(), Value::Object(ent));
        schema_list.push(ENTERPRISE_USER);
    }
    // userPrincipalName is userName; it is returned only on request (schema).
    let mut ad = Map::new();
    set(&mut ad, "sAMAccountName", &u.sam_account_name);
    set(&mut ad, "organizationalUnit", &u.ou_id);
    if !ad.is_empty() {
        m.insert(AD_USER.into(), Value::Object(ad));
        schema_list.push(AD_USER);
    }
    m.insert("schemas".into(), json!(schema_list));
    m.insert(
        "meta".into(),
        json!({"resourceType": "User", "created": u.created_at.rfc3339(), "lastModified": u.updated_at.rfc3339(),
               "location": format!("{base}/Users/{}", u.id), "version": scaikey_scim::etag::etag(&version(u))}),
    );
    m
}

/// The ETag version of a user: its last-modified instant.
pub fn version(u: &User) -> String {
    u.updated_at.unix_micros().to_string()
}

/// A member of `m` by case-insensitive key.
pub fn get_ci<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v).filter(|v| !v.is_null())
}

fn text(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    match get_ci(m, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ScimError::invalid_value(format!("{key} must be a string"))),
    }
}

/// JSON booleans, or Entra's `"True"` / `"False"` strings.
pub fn flag(v: &Value, key: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value(format!("{key} must be true or false"))),
    }
}

fn objects<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a Map<String, Value>>, ScimError> {
    match get_ci(m, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.as_object().ok_or_else(|| ScimError::invalid_value(format!("{key} must hold objects"))))
            .collect(),
        Some(_) => Err(ScimError::invalid_value(format!("{key} must be an array"))),
    }
}

fn primary(o: &Map<String, Value>) -> Result<bool, ScimError> {
    get_ci(o, "primary").map(|v| flag(v, "primary")).transpose().map(|p| p.unwrap_or(false))
}

/// The whole new state of a user from a SCIM body (POST, PUT, and the result
/// of applying a PATCH): every attribute absent from the body is cleared.
pub fn parse(body: &Map<String, Value>) -> Result<UserAttributes, ScimError> {
    let user_name = text(body, "userName")?.ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let name = get_ci(body, "name").and_then(Value::as_object);
    let name_part = |k: &str| name.map(|n| text(n, k)).transpose().map(Option::flatten);
    let mut emails = Vec::new();
    for o in objects(body, "emails")? {
        let Some(value) = text(o, "value")? else { continue };
        emails.push(EmailAddress { value, kind: text(o, "type")?, primary: primary(o)? });
    }
    let mut phones = Vec::new();
    for o in objects(body, "phoneNumbers")? {
        let Some(value) = text(o, "value")? else { continue };
        phones.push(PhoneNumber { value, kind: text(o, "type")?, primary: primary(o)? });
    }
    let mut addresses = Vec::new();
    for o in objects(body, "addresses")? {
        addresses.push(Address {
            kind: text(o, "type")?,
            street_address: text(o, "streetAddress")?,
            locality: text(o, "locality")?,
            region: text(o, "region")?,
            postal_code: text(o, "postalCode")?,
            country: text(o, "country")?,
            formatted: text(o, "formatted")?,
            primary: primary(o)?,
        });
    }
    let ent = get_ci(body, ENTERPRISE_USER).and_then(Value::as_object);
    let ent_text = |k: &str| ent.map(|e| text(e, k)).transpose().map(Option::flatten);
    // Entra sends manager as a bare id string; the schema says {"value": id}.
    let manager = match ent.and_then(|e| get_ci(e, "manager")) {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => text(o, "value")?,
        Some(_) => return Err(ScimError::invalid_value("manager must be an object with value")),
    };
    let ad = get_ci(body, AD_USER).and_then(Value::as_object);
    let ad_text = |k: &str| ad.map(|e| text(e, k)).transpose().map(Option::flatten);
    let status = match get_ci(body, "active") {
        None => UserStatus::Active,
        Some(v) if flag(v, "active")? => UserStatus::Active,
        Some(_) => UserStatus::Suspended,
    };
    let primary_email = emails.iter().find(|e| e.primary).or(emails.first()).map(|e| e.value.clone());
    Ok(UserAttributes {
        tenant_id: None,
        user_name: Some(user_name),
        external_id: Some(text(body, "externalId")?),
        sam_account_name: Some(ad_text("sAMAccountName")?),
        email: Some(primary_email),
        email_verified: None,
        emails: Some(emails),
        given_name: Some(name_part("givenName")?),
        family_name: Some(name_part("familyName")?),
        display_name: Some(text(body, "displayName")?),
        title: Some(text(body, "title")?),
        department: Some(ent_text("department")?),
        company: Some(ent_text("organization")?),
        employee_id: Some(ent_text("employeeNumber")?),
        employee_type: Some(text(body, "userType")?),
        manager_id: Some(manager),
        office: None,
        phone_numbers: Some(phones),
        addresses: Some(addresses),
        locale: Some(text(body, "locale")?),
        preferred_language: Some(text(body, "preferredLanguage")?),
        timezone: Some(text(body, "timezone")?),
        status: Some(status),
        ou_id: Some(ad_text("organizationalUnit")?),
        custom_attributes: None,
        password: text(body, "password")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_shapes_parse() {
        let body = json!({
            "schemas": [USER, ENTERPRISE_USER, "urn:example:unknown"],
            "externalId": "e-1", "userName": "ada@acme.test", "active": "False",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"primary": "True", "type": "work", "value": "ada@acme.test"}],
            ENTERPRISE_USER: {"manager": "usr_0000000000000000000000000", "department": "R&D"},
            "groups": [{"value": "ignored"}], "meta": {"$ref": null}
        });
        let a = parse(body.as_object().unwrap()).unwrap();
        assert_eq!(a.status, Some(UserStatus::Suspended));
        assert_eq!(a.manager_id, Some(Some("usr_0000000000000000000000000".into())));
        assert_eq!(a.email, Some(Some("ada@acme.test".into())));
        assert!(a.emails.unwrap()[0].primary);
        assert!(parse(json!({"active": true}).as_object().unwrap()).is_err(), "userName is required");
    }
}
