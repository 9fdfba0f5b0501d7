//! SCIM Bulk (RFC 7644 §3.7): operations on Users and Groups in one request,
//! each through the same `ScimResource` operation (and so its own
//! transaction) as its single-resource endpoint. `bulkId`
//! references (`"bulkId:x"` anywhere in `data`) are replaced with the id the
//! referenced POST created; operations whose references are not yet known
//! wait for them, so a request may list them in any order. `failOnErrors`
//! stops after that many failures.

use scaikey_scim::ScimError;
use scaikey_scim::schemas::BULK_RESPONSE;
use serde_json::{Map, Value, json};

use super::discovery::BULK_MAX_OPERATIONS;
use super::resources::{Groups, Rendered, ScimResource, Users};
use super::service::ScimCtx;

fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.push(id.to_owned());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        Value::Object(o) => o.values().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn substitute(v: &mut Value, ids: &Map<String, Value>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)).and_then(Value::as_str) {
                *s = id.to_owned();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, ids)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
    }
}

fn error_result(method: &str, bulk_id: Option<&str>, e: &ScimError) -> Value {
    let mut r = json!({"method": method, "status": e.status.to_string(), "response": e});
    if let (Some(b), Some(o)) = (bulk_id, r.as_object_mut()) {
        o.insert("bulkId".into(), json!(b));
    }
    r
}

/// One operation on one resource type.
async fn run_on<R: ScimResource>(
    c: &ScimCtx<'_>,
    method: &str,
    id: Option<&str>,
    version: Option<&str>,
    data: &Value,
) -> Result<(u16, Option<Rendered>), ScimError> {
    Ok(match (method, id) {
        ("POST", None) => (201, Some(R::create(c, data).await?)),
        ("PUT", Some(id)) => (200, Some(R::replace(c, id, data, version).await?)),
        ("PATCH", Some(id)) => (200, Some(R::patch(c, id, data, version).await?)),
        ("DELETE", Some(id)) => {
            R::delete(c, id, version).await?;
            (204, None)
        }
        _ => return Err(ScimError::invalid_value(format!("unsupported bulk operation {method} {}", R::ENDPOINT))),
    })
}

async fn run_one(
    c: &ScimCtx<'_>,
    method: &str,
    path: &str,
    version: Option<&str>,
    data: &Value,
) -> Result<(u16, Option<(String, String)>), ScimError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (status, out) = match parts.as_slice() {
        [r] if *r == Users::ENDPOINT => run_on::<Users>(c, method, None, version, data).await?,
        [r, id] if *r == Users::ENDPOINT => run_on::<Users>(c, method, Some(id), version, data).await?,
        [r] if *r == Groups::ENDPOINT => run_on::<Groups>(c, method, None, version, data).await?,
        [r, id] if *r == Groups::ENDPOINT => run_on::<Groups>(c, method, Some(id), version, data).await?,
        _ => return Err(ScimError::invalid_value(format!("unsupported bulk operation {method} {path}"))),
    };
    let loc = out.map(|(m, v)| {
        let location =
            m.get("meta").and_then(|x| x.get("location")).and_then(Value::as_str).unwrap_or_default().to_owned();
        (location, v)
    });
    Ok((status, loc))
}

pub async fn bulk(c: &ScimCtx<'_>, body: &Value) -> Result<Value, ScimError> {
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("Operations is required"))?;
    if ops.len() > BULK_MAX_OPERATIONS {
        return Err(ScimError::new(413, format!("at most {BULK_MAX_OPERATIONS} operations per request")));
    }
    let fail_on_errors = body.get("failOnErrors").and_then(Value::as_u64).map(|n| n.max(1));
    let mut created: Map<String, Value> = Map::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut errors = 0u64;
    loop {
        let mut progressed = false;
        for (i, op) in ops.iter().enumerate() {
            if results.get(i).is_some_and(Option::is_some) {
                continue;
            }
            let method = op.get("method").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
            let bulk_id = op.get("bulkId").and_then(Value::as_str);
            let mut data = op.get("data").cloned().unwrap_or(Value::Null);
            let mut path = op.get("path").and_then(Value::as_str).unwrap_or_default().to_owned();
            let mut refs = Vec::new();
            references(&data, &mut refs);
            references(&Value::String(path.clone()), &mut refs);
            if refs.iter().any(|r| !created.contains_key(r)) {
                continue;
            }
            substitute(&mut data, &created);
            if let Some(rest) =
                path.split('/').next_back().and_then(|seg| seg.strip_prefix("bulkId:")).map(str::to_owned)
                && let Some(id) = created.get(&rest).and_then(Value::as_str)
            {
                path = path.replace(&format!("bulkId:{rest}"), id);
            }
            if method == "POST" && bulk_id.is_none() {
                let e = ScimError::invalid_value("POST operations need a bulkId");
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(error_result(&method, None, &e));
                }
                errors += 1;
            } else {
                let version = op.get("version").and_then(Value::as_str);
                let result = match run_one(c, &method, &path, version, &data).await {
                    Ok((status, loc)) => {
                        let mut r = json!({"method": method, "status": status.to_string()});
                        if let Some(o) = r.as_object_mut() {
                            if let Some(b) = bulk_id {
                                o.insert("bulkId".into(), json!(b));
                            }
                            if let Some((location, version)) = loc {
                                if let (Some(b), Some(id)) = (bulk_id, location.rsplit('/').next()) {
                                    created.insert(b.to_owned(), json!(id));
                                }
                                o.insert("location".into(), json!(location));
                                o.insert("version".into(), json!(scaikey_scim::etag::etag(&version)));
                            }
                        }
                        r
                    }
                    Err(e) => {
                        errors += 1;
                        error_result(&method, bulk_id, &e)
                    }
                };
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(result);
                }
            }
            progressed = true;
            if fail_on_errors.is_some_and(|n| errors >= n) {
                return Ok(
                    json!({"schemas": [BULK_RESPONSE], "Operations": results.into_iter().flatten().collect::<Vec<_>>()}),
                );
            }
        }
        if !progressed {
            break;
        }
    }
    // What is left references a bulkId no operation created.
    for (i, op) in ops.iter().enumerate() {
        if let Some(slot) = results.get_mut(i)
            && slot.is_none()
        {
            let method = op.get("method").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
            let e = ScimError::typed(scaikey_scim::ScimType::InvalidValue, "a bulkId reference cannot be resolved");
            *slot =
                Some(error_result(&method, op.get("bulkId").and_then(Value::as_str), &ScimError { status: 409, ..e }));
        }
    }
    Ok(json!({"schemas": [BULK_RESPONSE], "Operations": results.into_iter().flatten().collect::<Vec<_>>()}))
}
