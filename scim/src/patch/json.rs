//! Case-insensitive access to a resource's SCIM JSON and the multi-valued
//! attribute rules PATCH applies (element identity, `primary`, merging).

use serde_json::{Map, Value};

use crate::ScimError;
use crate::filter::get_ci;
use crate::path::AttrPath;

use super::MULTI_VALUED;

pub(super) fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

pub(super) fn get_mut_ci<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = find_key(map, name)?;
    map.get_mut(&key)
}

/// Sets `name` (keeping an existing key's spelling); null removes it.
pub(super) fn set_ci(map: &mut Map<String, Value>, name: &str, v: Value) {
    let key = find_key(map, name);
    if v.is_null() {
        if let Some(k) = key {
            map.remove(&k);
        }
        return;
    }
    map.insert(key.unwrap_or_else(|| name.to_owned()), v);
}

pub(super) fn remove_ci(map: &mut Map<String, Value>, name: &str) {
    if let Some(k) = find_key(map, name) {
        map.remove(&k);
    }
}

/// The object holding `path`'s attribute, read-only.
pub(super) fn container<'a>(res: &'a Map<String, Value>, path: &AttrPath) -> Option<&'a Map<String, Value>> {
    match &path.schema {
        Some(schema) if !path.is_core() => get_ci(res, schema)?.as_object(),
        _ => Some(res),
    }
}

/// The object holding `path`'s attribute; an extension object is created
/// (and its URN added to `schemas`) when `create`.
pub(super) fn container_mut<'a>(
    res: &'a mut Map<String, Value>,
    path: &AttrPath,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    let schema = match &path.schema {
        Some(schema) if !path.is_core() => schema,
        _ => return Ok(Some(res)),
    };
    let key = match find_key(res, schema) {
        Some(k) => k,
        None if create => {
            res.insert(schema.clone(), Value::Object(Map::new()));
            add_schema_urn(res, schema);
            schema.clone()
        }
        None => return Ok(None),
    };
    let slot = res.get_mut(&key).ok_or_else(|| ScimError::invalid_value("extension vanished"))?;
    if slot.is_null() && create {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => Ok(Some(m)),
        Value::Null => Ok(None),
        _ => Err(ScimError::invalid_value(format!("'{schema}' is not an object"))),
    }
}

pub(super) fn add_schema_urn(res: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(list)) = get_mut_ci(res, "schemas")
        && !list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    {
        list.push(Value::String(urn.to_owned()));
    }
}

pub(super) fn is_multi(container: &Map<String, Value>, path: &AttrPath, v: Option<&Value>) -> bool {
    match get_ci(container, &path.attr) {
        Some(Value::Array(_)) => true,
        Some(Value::Null) | None => {
            (path.is_core() && MULTI_VALUED.iter().any(|m| m.eq_ignore_ascii_case(&path.attr)))
                || v.is_some_and(Value::is_array)
        }
        Some(_) => false,
    }
}

/// Entra sends `manager` as a bare id; the schema has it complex.
pub(super) fn normalize(attr: &str, v: &Value) -> Value {
    match v {
        Value::String(s) if attr.eq_ignore_ascii_case("manager") => {
            if s.trim().is_empty() {
                Value::Null
            } else {
                serde_json::json!({ "value": s })
            }
        }
        other => other.clone(),
    }
}

/// Whether `a` and `b` are the same element: equal, or objects where one's
/// keys and values are a subset of the other's.
pub(super) fn same_element(a: &Value, b: &Value) -> bool {
    fn subset(small: &Map<String, Value>, big: &Map<String, Value>) -> bool {
        !small.is_empty() && small.iter().all(|(k, v)| get_ci(big, k) == Some(v))
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x == y || subset(x, y) || subset(y, x),
        _ => a == b,
    }
}

/// The array at `attr`, created when absent; a scalar is wrapped.
pub(super) fn array_mut<'a>(
    container: &'a mut Map<String, Value>,
    attr: &str,
) -> Result<&'a mut Vec<Value>, ScimError> {
    let key = find_key(container, attr).unwrap_or_else(|| attr.to_owned());
    let slot = container.entry(key).or_insert(Value::Null);
    match &mut *slot {
        Value::Array(_) => {}
        Value::Null => *slot = Value::Array(Vec::new()),
        other => *other = Value::Array(vec![other.take()]),
    }
    match slot {
        Value::Array(a) => Ok(a),
        _ => Err(ScimError::invalid_value(format!("'{attr}' is not multi-valued"))),
    }
}

pub(super) fn is_primary(v: &Value) -> bool {
    v.as_object().and_then(|o| get_ci(o, "primary")).and_then(Value::as_bool).unwrap_or(false)
}

pub(super) fn clear_primary(items: &mut [Value]) {
    for item in items {
        if let Value::Object(o) = item
            && get_ci(o, "primary").and_then(Value::as_bool) == Some(true)
        {
            set_ci(o, "primary", Value::Bool(false));
        }
    }
}

/// Merges `src`'s keys into `dst` (null removes).
pub(super) fn merge(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (k, v) in src {
        set_ci(dst, k, v.clone());
    }
}
