//! SCIM Group ↔ ScaiKey group: `displayName`, `externalId`, and `members`
//! (users and nested groups, by id).

use scaikey_scim::ScimError;
use scaikey_scim::schemas::GROUP;
use serde_json::{Map, Value, json};

use crate::domain::group::{Group, Member};

use super::users::get_ci;

pub fn render(g: &Group, members: &[Member], base: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("schemas".into(), json!([GROUP]));
    m.insert("id".into(), json!(g.id));
    if let Some(x) = &g.external_id {
        m.insert("externalId".into(), json!(x));
    }
    m.insert("displayName".into(), json!(g.name));
    let list: Vec<Value> = members
        .iter()
        .map(|mb| {
            let (kind, path) = if mb.kind == "group" { ("Group", "Groups") } else { ("User", "Users") };
            json!({"value": mb.member_id, "type": kind, "$ref": format!("{base}/{path}/{}", mb.member_id)})
        })
        .collect();
    m.insert("members".into(), Value::Array(list));
    m.insert(
        "meta".into(),
        json!({"resourceType": "Group", "created": g.created_at.rfc3339(), "lastModified": g.updated_at.rfc3339(),
               "location": format!("{base}/Groups/{}", g.id), "version": scaikey_scim::etag::etag(&version(g))}),
    );
    m
}

pub fn version(g: &Group) -> String {
    g.updated_at.unix_micros().to_string()
}

/// The new state of a group from a SCIM body.
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// `None` when the body has no `members` (PUT keeps none; see caller).
    pub members: Option<Vec<String>>,
}

pub fn parse(body: &Map<String, Value>) -> Result<GroupInput, ScimError> {
    let display_name = match get_ci(body, "displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(ScimError::invalid_value("displayName is required")),
    };
    let external_id = match get_ci(body, "externalId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ScimError::invalid_value("externalId must be a string")),
    };
    let members = match get_ci(body, "members") {
        None => None,
        Some(Value::Array(items)) => {
            let mut ids = Vec::new();
            for item in items {
                match item.as_object().and_then(|o| get_ci(o, "value")) {
                    Some(Value::String(v)) => {
                        if !ids.contains(v) {
                            ids.push(v.clone());
                        }
                    }
                    _ => return Err(ScimError::invalid_value("each member needs a value")),
                }
            }
            Some(ids)
        }
        Some(_) => return Err(ScimError::invalid_value("members must be an array")),
    };
    Ok(GroupInput { display_name, external_id, members })
}
