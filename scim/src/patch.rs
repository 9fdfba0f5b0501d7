//! SCIM PATCH (RFC 7644 §3.5.2): parsing the request body into
//! [`PatchOp`]s ([`parse_patch`]), PATCH paths ([`PatchPath`], via
//! `scim_v2`'s grammar) and applying operations to a resource in its SCIM
//! JSON form ([`apply_patch`]), including the shapes the Entra ID and Okta
//! provisioning clients send.
//!
//! Choices beyond the RFC, all for those clients:
//! - op names are case-insensitive (`Add`, `Replace`, `REMOVE`);
//! - `manager` given as a bare string becomes `{"value": …}` (`""` removes it);
//! - `emails[type eq "work"].value` with no matching element creates
//!   `{"type": "work", "value": …}` for add and replace;
//! - removing values that are not there (a filter matching nothing, an
//!   attribute already absent) succeeds, so retries are idempotent;
//! - `remove` of `members` with a value array removes those members;
//! - added elements that duplicate an existing one (equal, or one's keys a
//!   subset of the other's) are skipped;
//! - a path-less add/replace may repeat read-only attributes (Okta sends the
//!   group `id`) as long as their value is unchanged.
//!
//! Removing every value of a multi-valued attribute leaves `[]` rather than
//! deleting the key, so the server can tell "now empty" from "untouched".
//! Application is atomic: on error the resource is left as it was.

use crate::ScimError;
use crate::filter::{Filter, check_depth, describe, from_v2_val, get_ci, space_after_not};
use crate::path::{AttrPath, MAX_PATH_LEN, is_core_schema};
use crate::schemas;
use serde_json::{Map, Value};
use std::fmt;

mod json;
use json::{
    array_mut, clear_primary, container, container_mut, find_key, get_mut_ci, is_multi, is_primary, merge, normalize,
    remove_ci, same_element, set_ci,
};

/// Most operations accepted in one PATCH request.
pub const MAX_PATCH_OPERATIONS: usize = 1000;

/// Multi-valued attributes of the core User and Group schemas: an absent
/// one is created as an array.
const MULTI_VALUED: &[&str] = &[
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "members",
];

/// A PATCH operation kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOpKind {
    /// `add`
    Add,
    /// `remove`
    Remove,
    /// `replace`
    Replace,
}

/// A PATCH path: `attrPath` or `valuePath [subAttr]`.
/// `emails[type eq "work"].value` → attr `emails`, the filter, sub_attr
/// `value`; `name.givenName` → attr `name.givenName` (sub-attribute inside
/// [`AttrPath`]), no filter, no `sub_attr`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with its own sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value filter (`[type eq "work"]`), if any.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`.value`).
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH path. 400 `invalidPath` on any error.
    pub fn parse(s: &str) -> Result<PatchPath, ScimError> {
        if s.len() > MAX_PATH_LEN {
            return Err(ScimError::invalid_path("path too long"));
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(ScimError::invalid_path("empty path"));
        }
        let normalized = space_after_not(s);
        let parsed: scim_v2::filter::PatchPath =
            normalized.parse().map_err(|e| ScimError::invalid_path(format!("invalid path '{s}': {}", describe(&e))))?;
        match parsed {
            scim_v2::filter::PatchPath::Attr(a) => {
                Ok(PatchPath { attr: AttrPath::from_v2(a), filter: None, sub_attr: None })
            }
            scim_v2::filter::PatchPath::Value(vp) => {
                let attr = AttrPath::from_v2(vp.attr);
                if attr.sub_attr.is_some() {
                    return Err(ScimError::invalid_path(format!("invalid path '{s}': filter on a sub-attribute")));
                }
                let filter = from_v2_val(vp.filter, 2)
                    .and_then(|f| check_depth(&f).map(|()| f))
                    .map_err(|e| ScimError::invalid_path(e.detail))?;
                Ok(PatchPath { attr, filter: Some(filter), sub_attr: vp.sub_attr })
            }
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// add / remove / replace.
    pub op: PatchOpKind,
    /// The target; `None` for a path-less add or replace.
    pub path: Option<PatchPath>,
    /// The value, as sent.
    pub value: Option<Value>,
}

/// Parses a PatchOp request body: requires the PatchOp schema URN (but ignores extra schema URIs), "Operations" array, op names case-insensitive ("Add", "replace", "REMOVE" — Entra sends capitalised ones), remove requires a path (noTarget/invalidValue otherwise), add/replace require a value.
///
/// Errors: a body that is not a PatchOp message is `invalidSyntax`; an
/// unknown op `invalidSyntax`; a bad path `invalidPath`; a missing value,
/// or a path-less add/replace whose value is not an object, `invalidValue`;
/// a remove without a path `noTarget`. An empty `"path"` counts as none.
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("PATCH body must be a JSON object"))?;
    let listed = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| schemas::urn_eq(u, schemas::PATCH_OP))));
    if !listed {
        return Err(ScimError::invalid_syntax(format!("schemas must contain {}", schemas::PATCH_OP)));
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations must be an array"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_value("Operations must not be empty"));
    }
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::invalid_value(format!("at most {MAX_PATCH_OPERATIONS} operations per request")));
    }
    ops.iter().enumerate().map(|(i, op)| parse_op(i, op)).collect()
}

fn parse_op(i: usize, op: &Value) -> Result<PatchOp, ScimError> {
    let obj = op.as_object().ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} must be an object")))?;
    let name = get_ci(obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} has no op")))?;
    let kind = match name.trim().to_ascii_lowercase().as_str() {
        "add" => PatchOpKind::Add,
        "remove" => PatchOpKind::Remove,
        "replace" => PatchOpKind::Replace,
        _ => return Err(ScimError::invalid_syntax(format!("operation {i}: unknown op '{name}'"))),
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s)?),
        Some(_) => return Err(ScimError::invalid_path(format!("operation {i}: path must be a string"))),
    };
    let value = get_ci(obj, "value").cloned();
    match kind {
        PatchOpKind::Remove if path.is_none() => {
            return Err(ScimError::no_target(format!("operation {i}: remove requires a path")));
        }
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => {
            return Err(ScimError::invalid_value(format!("operation {i}: {name} requires a value")));
        }
        PatchOpKind::Add | PatchOpKind::Replace if path.is_none() && !value.as_ref().is_some_and(Value::is_object) => {
            return Err(ScimError::invalid_value(format!(
                "operation {i}: {name} without a path needs an object value"
            )));
        }
        _ => {}
    }
    Ok(PatchOp { op: kind, path, value })
}

/// Applies operations to a resource in its SCIM JSON form (a JSON object as the server renders it: core attrs at top level, extension attrs under their schema URN key, multi-valued attrs as arrays of objects). RFC 7644 §3.5.2 semantics, attribute names matched case-insensitively:
///  - add with path: single-valued → set; multi-valued → append values (array or single), skipping exact duplicates; path with filter + sub_attr (emails[type eq "work"].value) sets the sub-attr on matching elements and, if none match and the filter is a simple `X eq V`, CREATES an element {X: V, sub_attr: value} (Entra behaviour).
///  - add/replace without path: value is an object whose keys are attribute names, or dotted names ("name.givenName"), or schema URNs (object of that extension's attrs), or URN-qualified names ("urn:…:User:manager"); merge each as if it had that path. A path-less replace does not empty multi-valued attrs that are absent from the value.
///  - replace with path: single → set (a complex value merges its sub-attributes); multi-valued without filter → replace whole array; with filter → replace matching elements (or their sub_attr); no match with filter → noTarget, except `X eq V` filter + sub_attr, which creates the element as add does.
///  - remove with path: attribute → delete (multi-valued → `[]`); multi-valued with filter (members[value eq "x"]) → delete matching elements; remove "members" with a value array [{"value": "x"}, …] → delete those elements; sub_attr on filtered elements → delete that sub-attr.
///  - attributes named in `read_only` (plain core names such as `id`, `meta`, `groups`, or URN-qualified names) cannot be changed: 400 `mutability`.
///
/// Atomic: on error `resource` is unchanged.
pub fn apply_patch(resource: &mut Map<String, Value>, ops: &[PatchOp], read_only: &[&str]) -> Result<(), ScimError> {
    let mut work = resource.clone();
    for op in ops {
        apply_one(&mut work, op, read_only)?;
    }
    *resource = work;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
}

fn apply_one(res: &mut Map<String, Value>, op: &PatchOp, ro: &[&str]) -> Result<(), ScimError> {
    let null = Value::Null;
    let value = op.value.as_ref().unwrap_or(&null);
    match (&op.op, &op.path) {
        (PatchOpKind::Add | PatchOpKind::Replace, None) => {
            let kind = if op.op == PatchOpKind::Add { Kind::Add } else { Kind::Replace };
            let obj = value
                .as_object()
                .ok_or_else(|| ScimError::invalid_value("a path-less operation needs an object value"))?;
            for (k, v) in obj {
                pathless(res, kind, k, v, ro, true)?;
            }
            Ok(())
        }
        (PatchOpKind::Add, Some(p)) => set(res, Kind::Add, p, value, ro),
        (PatchOpKind::Replace, Some(p)) => set(res, Kind::Replace, p, value, ro),
        (PatchOpKind::Remove, Some(p)) => remove(res, p, op.value.as_ref(), ro),
        (PatchOpKind::Remove, None) => Err(ScimError::no_target("remove requires a path")),
    }
}

/// Whether a path-less value key names a schema (its value is that
/// schema's attributes) rather than an attribute.
fn is_schema_key(res: &Map<String, Value>, key: &str) -> bool {
    if !key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return false;
    }
    let listed = get_ci(res, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(key))));
    let known = [schemas::USER, schemas::GROUP, schemas::ENTERPRISE_USER, schemas::AD_USER]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(key));
    let last_upper = key.rsplit(':').next().and_then(|s| s.chars().next()).is_some_and(|c| c.is_ascii_uppercase());
    listed || known || last_upper
}

fn pathless(
    res: &mut Map<String, Value>,
    kind: Kind,
    key: &str,
    v: &Value,
    ro: &[&str],
    allow_schema_key: bool,
) -> Result<(), ScimError> {
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    if allow_schema_key && is_schema_key(res, key) {
        let Some(attrs) = v.as_object() else {
            return Err(ScimError::invalid_value(format!("'{key}' must be an object of that schema's attributes")));
        };
        for (k, v) in attrs {
            if is_core_schema(key) {
                pathless(res, kind, k, v, ro, false)?;
            } else {
                let mut path = AttrPath::parse(k).map_err(|_| bad_key(k))?;
                if path.schema.is_some() {
                    return Err(bad_key(k));
                }
                path.schema = Some(key.to_owned());
                let p = PatchPath { attr: path, filter: None, sub_attr: None };
                if !unchanged_read_only(res, &p.attr, v, ro) {
                    set(res, kind, &p, v, ro)?;
                }
            }
        }
        return Ok(());
    }
    let path = AttrPath::parse(key).map_err(|_| bad_key(key))?;
    if unchanged_read_only(res, &path, v, ro) {
        return Ok(());
    }
    set(res, kind, &PatchPath { attr: path, filter: None, sub_attr: None }, v, ro)
}

fn bad_key(k: &str) -> ScimError {
    ScimError::invalid_value(format!("'{k}' is not an attribute name"))
}

/// A read-only attribute repeated with its current value (Okta sends the
/// group's `id` in a path-less replace): nothing to do.
fn unchanged_read_only(res: &Map<String, Value>, path: &AttrPath, v: &Value, ro: &[&str]) -> bool {
    if !is_read_only(path, ro) {
        return false;
    }
    let Some(container) = container(res, path) else { return v.is_null() };
    let current = get_ci(container, &path.attr);
    match &path.sub_attr {
        None => current.unwrap_or(&Value::Null) == v,
        Some(sub) => current.and_then(Value::as_object).and_then(|o| get_ci(o, sub)).unwrap_or(&Value::Null) == v,
    }
}

fn is_read_only(path: &AttrPath, ro: &[&str]) -> bool {
    let full = path.schema.as_ref().map(|s| format!("{s}:{}", path.attr));
    ro.iter().any(|r| {
        (path.is_core() && r.eq_ignore_ascii_case(&path.attr))
            || full.as_deref().is_some_and(|f| r.eq_ignore_ascii_case(f))
    })
}

fn check_writable(path: &AttrPath, ro: &[&str]) -> Result<(), ScimError> {
    if is_read_only(path, ro) {
        return Err(ScimError::mutability(format!("'{path}' is read-only")));
    }
    Ok(())
}

/// add / replace with a path.
fn set(res: &mut Map<String, Value>, kind: Kind, p: &PatchPath, v: &Value, ro: &[&str]) -> Result<(), ScimError> {
    check_writable(&p.attr, ro)?;
    // A whole extension as the path: `urn:…:enterprise:2.0:User`.
    if p.filter.is_none()
        && let Some(urn) = p.attr.full_urn().filter(|u| !is_core_schema(u) && is_schema_key(res, u))
        && let Some(obj) = v.as_object()
    {
        for (k, v) in obj {
            pathless(res, kind, &format!("{urn}:{k}"), v, ro, false)?;
        }
        return Ok(());
    }
    let Some(c) = container_mut(res, &p.attr, true)? else {
        return Err(ScimError::no_target(format!("'{}' has no container", p.attr)));
    };
    let attr = p.attr.attr.as_str();
    match (&p.filter, &p.attr.sub_attr) {
        (None, None) => {
            if is_multi(c, &p.attr, Some(v)) {
                let items: Vec<Value> = match v {
                    Value::Array(a) => a.clone(),
                    Value::Null => Vec::new(),
                    other => vec![other.clone()],
                };
                let arr = array_mut(c, attr)?;
                if kind == Kind::Replace {
                    *arr = items;
                    return Ok(());
                }
                for item in items {
                    if item.is_null() || arr.iter().any(|e| same_element(e, &item)) {
                        continue;
                    }
                    if is_primary(&item) {
                        clear_primary(arr);
                    }
                    arr.push(item);
                }
                return Ok(());
            }
            let v = normalize(attr, v);
            match (get_mut_ci(c, attr), &v) {
                (Some(Value::Object(existing)), Value::Object(new)) => merge(existing, new),
                _ => set_ci(c, attr, v),
            }
            Ok(())
        }
        (None, Some(sub)) => {
            let key = find_key(c, attr).unwrap_or_else(|| attr.to_owned());
            let slot = c.entry(key).or_insert(Value::Null);
            if slot.is_null() {
                *slot = Value::Object(Map::new());
            }
            match slot {
                Value::Object(o) => set_ci(o, sub, v.clone()),
                Value::Array(items) => {
                    let mut any = false;
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item {
                            set_ci(o, sub, v.clone());
                            any = true;
                        }
                    }
                    if !any {
                        return Err(ScimError::no_target(format!("'{}' has no values", p.attr)));
                    }
                }
                _ => return Err(ScimError::invalid_path(format!("'{attr}' is not a complex attribute"))),
            }
            Ok(())
        }
        (Some(filter), _) => {
            if get_ci(c, attr).is_some_and(|x| !x.is_array() && !x.is_null()) {
                return Err(ScimError::invalid_path(format!("'{attr}' is not multi-valued")));
            }
            let arr = array_mut(c, attr)?;
            let mut matched = false;
            for item in arr.iter_mut() {
                if !filter.matches(item) {
                    continue;
                }
                matched = true;
                match (&p.sub_attr, item) {
                    (Some(sub), Value::Object(o)) => set_ci(o, sub, v.clone()),
                    (None, item) if kind == Kind::Replace => *item = v.clone(),
                    (None, Value::Object(o)) => match v {
                        Value::Object(new) => merge(o, new),
                        _ => return Err(ScimError::invalid_value("value must be an object")),
                    },
                    _ => return Err(ScimError::invalid_value(format!("'{attr}' values are not objects"))),
                }
            }
            if matched {
                return Ok(());
            }
            // No match: create `{X: V, …}` from a simple `X eq V` filter —
            // for replace only when a sub-attribute is set (Entra's
            // `emails[type eq "work"].value`).
            let create = filter.as_simple_eq().filter(|_| kind == Kind::Add || p.sub_attr.is_some());
            let Some((k, kv)) = create else {
                return Err(ScimError::no_target(format!("no value of '{attr}' matches the filter")));
            };
            let mut element = Map::new();
            element.insert(k.to_owned(), kv.clone());
            match (&p.sub_attr, v) {
                (Some(sub), v) => set_ci(&mut element, sub, v.clone()),
                (None, Value::Object(new)) => merge(&mut element, new),
                (None, _) => return Err(ScimError::invalid_value("value must be an object")),
            }
            let element = Value::Object(element);
            if is_primary(&element) {
                clear_primary(arr);
            }
            arr.push(element);
            Ok(())
        }
    }
}

/// remove with a path.
fn remove(res: &mut Map<String, Value>, p: &PatchPath, value: Option<&Value>, ro: &[&str]) -> Result<(), ScimError> {
    check_writable(&p.attr, ro)?;
    if p.filter.is_none()
        && let Some(urn) = p.attr.full_urn().filter(|u| !is_core_schema(u))
        && find_key(res, &urn).is_some()
    {
        remove_ci(res, &urn);
        return Ok(());
    }
    let Some(c) = container_mut(res, &p.attr, false)? else { return Ok(()) };
    let attr = p.attr.attr.as_str();
    match (&p.filter, &p.attr.sub_attr) {
        (None, None) => {
            match (get_mut_ci(c, attr), value) {
                // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}
                (Some(Value::Array(items)), Some(given @ (Value::Array(_) | Value::Object(_)))) => {
                    let given: Vec<&Value> = match given {
                        Value::Array(g) => g.iter().collect(),
                        other => vec![other],
                    };
                    items.retain(|e| !given.iter().any(|g| same_element(e, g)));
                }
                (Some(Value::Array(items)), _) => items.clear(),
                _ => remove_ci(c, attr),
            }
            Ok(())
        }
        (None, Some(sub)) => {
            match get_mut_ci(c, attr) {
                Some(Value::Object(o)) => remove_ci(o, sub),
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item {
                            remove_ci(o, sub);
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        }
        (Some(filter), _) => {
            match get_mut_ci(c, attr) {
                Some(Value::Array(items)) => match &p.sub_attr {
                    None => items.retain(|e| !filter.matches(e)),
                    Some(sub) => {
                        for item in items.iter_mut() {
                            if filter.matches(item)
                                && let Value::Object(o) = item
                            {
                                remove_ci(o, sub);
                            }
                        }
                    }
                },
                None | Some(Value::Null) => {}
                Some(_) => return Err(ScimError::invalid_path(format!("'{attr}' is not multi-valued"))),
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
