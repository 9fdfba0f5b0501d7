//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): parsing
//! the comma-separated lists ([`parse_attr_list`]) and projecting a rendered
//! resource ([`project`]).
//!
//! Names match case-insensitively and may be dotted (`name.givenName`,
//! `emails.value`), URN-qualified (`urn:…:enterprise:2.0:User:manager`, or
//! `urn:…:core:2.0:User:userName` for a top-level attribute) or a bare
//! extension URN (the whole extension object). Attributes listed in
//! `always` (e.g. `id`, `schemas`, `meta`) are returned whatever the lists
//! say. When both lists are given, `attributes` is applied first.

use crate::ScimError;
use crate::filter::get_ci;
use crate::path::AttrPath;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Parses a comma-separated attribute list (`userName,name.givenName`);
/// blank entries are skipped. 400 `invalidPath` on a bad name.
pub fn parse_attr_list(s: &str) -> Result<Vec<AttrPath>, ScimError> {
    s.split(',').map(str::trim).filter(|a| !a.is_empty()).map(AttrPath::parse).collect()
}

/// RFC 7644 §3.4.2.5 attributes / excludedAttributes on a rendered resource. `always` lists attributes always returned (id, schemas, meta… pass them in); names may be URN-qualified or dotted (name.givenName).
pub fn project(
    resource: &Map<String, Value>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    always: &[&str],
) -> Map<String, Value> {
    let mut out = if attributes.is_empty() { resource.clone() } else { include(resource, attributes, always) };
    for path in excluded {
        if !is_always(path, always) {
            exclude(&mut out, path);
        }
    }
    out
}

fn find_key<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name))
}

fn is_always(path: &AttrPath, always: &[&str]) -> bool {
    path.is_core() && always.iter().any(|a| a.eq_ignore_ascii_case(&path.attr))
}

/// What to keep of one attribute: all of it, or some sub-attributes.
enum Keep {
    All,
    Subs(Vec<String>),
}

fn keep(plan: &mut BTreeMap<String, Keep>, key: &str, sub: Option<&str>) {
    match (plan.get_mut(key), sub) {
        (Some(Keep::All), _) => {}
        (Some(Keep::Subs(subs)), Some(sub)) => subs.push(sub.to_owned()),
        (_, None) => {
            plan.insert(key.to_owned(), Keep::All);
        }
        (None, Some(sub)) => {
            plan.insert(key.to_owned(), Keep::Subs(vec![sub.to_owned()]));
        }
    }
}

fn include(resource: &Map<String, Value>, attributes: &[AttrPath], always: &[&str]) -> Map<String, Value> {
    // Top-level keys to keep, and per-extension plans.
    let mut top: BTreeMap<String, Keep> = BTreeMap::new();
    let mut ext: BTreeMap<String, BTreeMap<String, Keep>> = BTreeMap::new();
    for a in always {
        if let Some(k) = find_key(resource, a) {
            keep(&mut top, k, None);
        }
    }
    for path in attributes {
        if let Some(k) = path.full_urn().and_then(|u| find_key(resource, &u)) {
            keep(&mut top, k, None);
            continue;
        }
        if path.is_core() {
            if let Some(k) = find_key(resource, &path.attr) {
                keep(&mut top, k, path.sub_attr.as_deref());
            }
            continue;
        }
        let Some(schema) = path.schema.as_deref() else { continue };
        let Some((ek, Value::Object(e))) = resource.iter().find(|(k, _)| k.eq_ignore_ascii_case(schema)) else {
            continue;
        };
        if let Some(k) = find_key(e, &path.attr) {
            keep(ext.entry(ek.clone()).or_default(), k, path.sub_attr.as_deref());
        }
    }
    let mut out = apply_plan(resource, &top);
    for (ek, plan) in ext {
        if matches!(top.get(&ek), Some(Keep::All)) {
            continue;
        }
        if let Some(Value::Object(e)) = resource.get(&ek) {
            let projected = apply_plan(e, &plan);
            if !projected.is_empty() {
                out.insert(ek, Value::Object(projected));
            }
        }
    }
    out
}

fn apply_plan(src: &Map<String, Value>, plan: &BTreeMap<String, Keep>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, what) in plan {
        let Some(v) = src.get(k) else { continue };
        let v = match what {
            Keep::All => Some(v.clone()),
            Keep::Subs(subs) => only_subs(v, subs),
        };
        if let Some(v) = v {
            out.insert(k.clone(), v);
        }
    }
    out
}

/// `v` reduced to `subs`: an object keeps those keys, an array keeps them
/// in each object element; nothing left → `None`.
fn only_subs(v: &Value, subs: &[String]) -> Option<Value> {
    let reduce = |o: &Map<String, Value>| -> Map<String, Value> {
        o.iter()
            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    match v {
        Value::Object(o) => Some(reduce(o)).filter(|m| !m.is_empty()).map(Value::Object),
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(Value::as_object)
                .map(reduce)
                .filter(|m| !m.is_empty())
                .map(Value::Object)
                .collect();
            Some(Value::Array(kept)).filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
        }
        _ => None,
    }
}

fn remove_ci(map: &mut Map<String, Value>, name: &str) {
    if let Some(k) = find_key(map, name).cloned() {
        map.remove(&k);
    }
}

fn exclude(out: &mut Map<String, Value>, path: &AttrPath) {
    if let Some(k) = path.full_urn().and_then(|u| find_key(out, &u).cloned()) {
        out.remove(&k);
        return;
    }
    let container = if path.is_core() {
        out
    } else {
        let Some(k) = path.schema.as_deref().and_then(|s| find_key(out, s).cloned()) else { return };
        match out.get_mut(&k) {
            Some(Value::Object(e)) => e,
            _ => return,
        }
    };
    match &path.sub_attr {
        None => remove_ci(container, &path.attr),
        Some(sub) => {
            let Some(k) = find_key(container, &path.attr).cloned() else { return };
            match container.get_mut(&k) {
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
        }
    }
}

/// Case-insensitive attribute lookup on a rendered resource (the same rule
/// PATCH and filters use).
pub fn get_attr<'a>(resource: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    get_ci(resource, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas;
    use serde_json::json;

    const ALWAYS: &[&str] = &["id", "schemas", "meta"];

    fn user() -> Map<String, Value> {
        json!({
            "schemas": [schemas::USER, schemas::ENTERPRISE_USER],
            "id": "u1",
            "externalId": "ext-1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}, {"value": "b@home.org", "type": "home"}],
            "active": true,
            "meta": {"resourceType": "User", "version": "W/\"1\""},
            schemas::ENTERPRISE_USER: {"employeeNumber": "42", "manager": {"value": "m1", "displayName": "Boss"}}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn attrs(s: &str) -> Vec<AttrPath> {
        parse_attr_list(s).unwrap()
    }

    #[test]
    fn parses_lists() {
        assert_eq!(
            attrs(" userName , name.givenName,,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager "),
            vec![
                AttrPath::simple("userName"),
                AttrPath::with_sub("name", "givenName"),
                AttrPath { schema: Some(schemas::ENTERPRISE_USER.into()), attr: "manager".into(), sub_attr: None },
            ]
        );
        assert!(attrs("").is_empty());
        assert!(parse_attr_list("userName,bad name").is_err());
        assert!(parse_attr_list("a.b.c").is_err());
    }

    #[test]
    fn attributes_keep_requested_and_always() {
        let out = project(&user(), &attrs("userName,NAME.givenName,emails.value"), &[], ALWAYS);
        assert_eq!(
            Value::Object(out),
            json!({
                "schemas": [schemas::USER, schemas::ENTERPRISE_USER],
                "id": "u1",
                "meta": {"resourceType": "User", "version": "W/\"1\""},
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@example.com"}, {"value": "b@home.org"}]
            })
        );
        // Entra's probe: attributes=userName only.
        let out = project(&user(), &attrs("username"), &[], ALWAYS);
        assert_eq!(out.len(), 4);
        assert_eq!(out["userName"], "bjensen");
        // Several sub-attributes of one attribute merge; the whole attribute wins.
        let out = project(&user(), &attrs("name.givenName,name.familyName"), &[], &[]);
        assert_eq!(Value::Object(out), json!({"name": {"givenName": "Barbara", "familyName": "Jensen"}}));
        let out = project(&user(), &attrs("name.givenName,name"), &[], &[]);
        assert_eq!(out["name"].as_object().unwrap().len(), 3);
        // Unknown names are ignored.
        assert_eq!(project(&user(), &attrs("title,nickName.x"), &[], &[]).len(), 0);
    }

    #[test]
    fn urn_qualified_and_whole_extension() {
        let out = project(
            &user(),
            &attrs(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value,urn:ietf:params:scim:schemas:core:2.0:User:userName",
            ),
            &[],
            &[],
        );
        assert_eq!(
            Value::Object(out),
            json!({"userName": "bjensen", schemas::ENTERPRISE_USER: {"manager": {"value": "m1"}}})
        );
        let out = project(&user(), &attrs(schemas::ENTERPRISE_USER), &[], &["id"]);
        assert_eq!(
            Value::Object(out),
            json!({"id": "u1", schemas::ENTERPRISE_USER: {"employeeNumber": "42", "manager": {"value": "m1", "displayName": "Boss"}}})
        );
    }

    #[test]
    fn excluded_attributes() {
        let out = project(&user(), &[], &attrs("emails,name.formatted,meta,id"), ALWAYS);
        assert!(!out.contains_key("emails"));
        assert!(out.contains_key("meta") && out.contains_key("id"), "always-returned attributes stay");
        assert_eq!(out["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
        assert_eq!(out["userName"], "bjensen");
        let out = project(
            &user(),
            &[],
            &attrs("emails.type,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            ALWAYS,
        );
        assert_eq!(out["emails"], json!([{"value": "b@example.com", "primary": true}, {"value": "b@home.org"}]));
        assert_eq!(out[schemas::ENTERPRISE_USER], json!({"employeeNumber": "42"}));
        let out = project(&user(), &[], &attrs(schemas::ENTERPRISE_USER), ALWAYS);
        assert!(!out.contains_key(schemas::ENTERPRISE_USER));
        // Both lists: attributes first, then exclusions.
        let out = project(&user(), &attrs("name,userName"), &attrs("name.familyName"), &[]);
        assert_eq!(
            Value::Object(out),
            json!({"userName": "bjensen", "name": {"givenName": "Barbara", "formatted": "Barbara Jensen"}})
        );
        // Nothing requested: unchanged.
        assert_eq!(project(&user(), &[], &[], ALWAYS), user());
    }

    #[test]
    fn case_insensitive_lookup() {
        assert_eq!(get_attr(&user(), "USERNAME"), Some(&json!("bjensen")));
        assert_eq!(get_attr(&user(), "nope"), None);
    }
}
