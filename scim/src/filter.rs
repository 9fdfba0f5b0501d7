//! SCIM filter expressions (RFC 7644 §3.4.2.2): parsing into [`Filter`],
//! printing back ([`fmt::Display`]) and evaluating against a resource in its
//! JSON form ([`Filter::matches`], used by PATCH value selection and by
//! in-memory checks).
//!
//! The grammar is `scim_v2`'s LALRPOP parser (full RFC grammar, operators
//! and `and`/`or`/`not` case-insensitive, an explicit parse stack, term and
//! nesting budgets). Its n-ary `and`/`or` nodes are converted into our
//! binary [`Filter`] as balanced trees, so a long `or` chain stays shallow.
//! On top of that we cap the input at [`MAX_FILTER_LEN`] bytes and the
//! converted tree at [`MAX_FILTER_DEPTH`] levels, so hostile input cannot
//! exhaust memory or the stack of any recursive walk over the tree. Every
//! failure is 400 `invalidFilter`.

use crate::ScimError;
use crate::path::AttrPath;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::fmt;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest filter tree accepted (each `and`/`or`/`not`/value path is a level).
pub const MAX_FILTER_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co` (contains)
    Co,
    /// `sw` (starts with)
    Sw,
    /// `ew` (ends with)
    Ew,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

impl CompareOp {
    /// The wire keyword (`eq`, `co`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`; value is a String, Number, Bool or Null.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared with.
        value: Value,
    },
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// emails[type eq "work" and value co "@x"]: inner paths are sub-attributes of `path` (their `attr` is the sub-attribute name, schema None).
    ValuePath {
        /// The multi-valued (or complex) attribute.
        path: AttrPath,
        /// The filter on its values.
        filter: Box<Filter>,
    },
}

/// Parses a filter (RFC 7644 §3.4.2.2). 400 `invalidFilter` on any error.
pub fn parse_filter(s: &str) -> Result<Filter, ScimError> {
    if s.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!("filter longer than {MAX_FILTER_LEN} bytes")));
    }
    let s = s.trim();
    if s.is_empty() {
        return Err(ScimError::invalid_filter("empty filter"));
    }
    let s = space_after_not(s);
    let parsed: scim_v2::filter::Filter = s.parse().map_err(|e| ScimError::invalid_filter(describe(&e)))?;
    let filter = from_v2(parsed, 1)?;
    check_depth(&filter)?;
    Ok(filter)
}

/// `scim_v2` wants a space between `not` and `(`, but the RFC's ABNF
/// (`*1"not" "(" FILTER ")"`) has none: insert one outside string literals.
pub(crate) fn space_after_not(s: &str) -> std::borrow::Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut inserts = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
            continue;
        }
        let boundary = i == 0 || matches!(bytes.get(i - 1), Some(b' ' | b'\t' | b'\n' | b'\r' | b'(' | b'['));
        if boundary && bytes.get(i..i + 4).is_some_and(|w| w.eq_ignore_ascii_case(b"not(")) {
            inserts.push(i + 3);
        }
    }
    if inserts.is_empty() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + inserts.len());
    let mut last = 0;
    for at in inserts {
        out.push_str(s.get(last..at).unwrap_or_default());
        out.push(' ');
        last = at;
    }
    out.push_str(s.get(last..).unwrap_or_default());
    std::borrow::Cow::Owned(out)
}

/// A short message for a `scim_v2` parse error, with a byte position.
pub(crate) fn describe(e: &scim_v2::filter::ParseError) -> String {
    type E = scim_v2::filter::ParseError;
    match e {
        E::InvalidToken { location } => format!("invalid token at position {location}"),
        E::UnrecognizedEof { .. } => "unexpected end of expression".to_owned(),
        E::UnrecognizedToken { token: (l, t, _), .. } => format!("unexpected '{}' at position {l}", t.trim()),
        E::ExtraToken { token: (l, t, _) } => format!("unexpected trailing '{}' at position {l}", t.trim()),
        E::User { error } => error.to_string(),
    }
}

fn too_deep() -> ScimError {
    ScimError::invalid_filter(format!("filter nested deeper than {MAX_FILTER_DEPTH} levels"))
}

/// Converts `scim_v2`'s AST. `depth` guards the recursion (the input AST is
/// already bounded by `scim_v2::filter::MAX_FILTER_DEPTH`).
fn from_v2(f: scim_v2::filter::Filter, depth: usize) -> Result<Filter, ScimError> {
    use scim_v2::filter::Filter as F;
    if depth > MAX_FILTER_DEPTH {
        return Err(too_deep());
    }
    Ok(match f {
        F::Attr(e) => from_attr_exp(e),
        F::ValuePath(vp) => Filter::ValuePath {
            path: AttrPath::from_v2(vp.attr),
            filter: Box::new(from_v2_val(*vp.filter, depth + 1)?),
        },
        F::Not(inner) => Filter::Not(Box::new(from_v2(*inner, depth + 1)?)),
        F::And(items) => {
            let items = items.into_vec().into_iter().map(|i| from_v2(i, depth + 1)).collect::<Result<Vec<_>, _>>()?;
            balanced(items, Filter::And)?
        }
        F::Or(items) => {
            let items = items.into_vec().into_iter().map(|i| from_v2(i, depth + 1)).collect::<Result<Vec<_>, _>>()?;
            balanced(items, Filter::Or)?
        }
    })
}

pub(crate) fn from_v2_val(f: scim_v2::filter::ValFilter, depth: usize) -> Result<Filter, ScimError> {
    use scim_v2::filter::ValFilter as V;
    if depth > MAX_FILTER_DEPTH {
        return Err(too_deep());
    }
    Ok(match f {
        V::Attr(e) => from_attr_exp(e),
        V::Not(inner) => Filter::Not(Box::new(from_v2_val(*inner, depth + 1)?)),
        V::And(items) => {
            let items =
                items.into_vec().into_iter().map(|i| from_v2_val(i, depth + 1)).collect::<Result<Vec<_>, _>>()?;
            balanced(items, Filter::And)?
        }
        V::Or(items) => {
            let items =
                items.into_vec().into_iter().map(|i| from_v2_val(i, depth + 1)).collect::<Result<Vec<_>, _>>()?;
            balanced(items, Filter::Or)?
        }
    })
}

/// Folds `items` (at least one) into a balanced binary tree; for two or
/// three items this is the usual left-associative shape.
fn balanced(mut items: Vec<Filter>, join: fn(Box<Filter>, Box<Filter>) -> Filter) -> Result<Filter, ScimError> {
    if items.len() <= 1 {
        return items.pop().ok_or_else(|| ScimError::invalid_filter("empty logical expression"));
    }
    let right = items.split_off(items.len().div_ceil(2));
    Ok(join(Box::new(balanced(items, join)?), Box::new(balanced(right, join)?)))
}

fn from_attr_exp(e: scim_v2::filter::AttrExp) -> Filter {
    use scim_v2::filter::{AttrExp, CompValue};
    match e {
        AttrExp::Present(p) => Filter::Present(AttrPath::from_v2(p)),
        AttrExp::Comparison(p, op, v) => Filter::Compare {
            path: AttrPath::from_v2(p),
            op: from_v2_op(op),
            value: match v {
                CompValue::False => Value::Bool(false),
                CompValue::True => Value::Bool(true),
                CompValue::Null => Value::Null,
                CompValue::Number(n) => Value::Number(n),
                CompValue::Str(s) => Value::String(s),
            },
        },
    }
}

fn from_v2_op(op: scim_v2::filter::CompareOp) -> CompareOp {
    use scim_v2::filter::CompareOp as O;
    match op {
        O::Eq => CompareOp::Eq,
        O::Ne => CompareOp::Ne,
        O::Co => CompareOp::Co,
        O::Sw => CompareOp::Sw,
        O::Ew => CompareOp::Ew,
        O::Gt => CompareOp::Gt,
        O::Ge => CompareOp::Ge,
        O::Lt => CompareOp::Lt,
        O::Le => CompareOp::Le,
    }
}

pub(crate) fn check_depth(f: &Filter) -> Result<(), ScimError> {
    if f.depth() > MAX_FILTER_DEPTH { Err(too_deep()) } else { Ok(()) }
}

impl Filter {
    /// The tree's depth (a comparison or presence test is 1).
    pub fn depth(&self) -> usize {
        match self {
            Filter::Compare { .. } | Filter::Present(_) => 1,
            Filter::Not(f) | Filter::ValuePath { filter: f, .. } => 1 + f.depth(),
            Filter::And(a, b) | Filter::Or(a, b) => 1 + a.depth().max(b.depth()),
        }
    }

    /// `X eq V` with a plain attribute `X`: the shape from which PATCH can
    /// create a missing element (`emails[type eq "work"].value`).
    pub fn as_simple_eq(&self) -> Option<(&str, &Value)> {
        match self {
            Filter::Compare { path, op: CompareOp::Eq, value }
                if path.schema.is_none() && path.sub_attr.is_none() && !value.is_null() =>
            {
                Some((path.attr.as_str(), value))
            }
            _ => None,
        }
    }

    /// Whether `resource` (a JSON object in SCIM form; for a value path's
    /// inner filter, one element of the multi-valued attribute) matches.
    ///
    /// Attribute names match case-insensitively; strings compare
    /// case-insensitively (caseExact=false, the RFC default); numbers
    /// numerically; `gt`/`ge`/`lt`/`le` on strings compare lexically, which
    /// orders RFC 3339 UTC timestamps correctly. A multi-valued attribute
    /// matches if any value does; a complex multi-valued attribute without a
    /// sub-attribute compares its elements' `value`. A missing attribute
    /// matches `eq null` and `ne <non-null>` only.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(f) => !f.matches(resource),
            Filter::Present(path) => candidates(resource, path).iter().any(|v| is_present(v)),
            Filter::Compare { path, op, value } => {
                let found = candidates(resource, path);
                let found: Vec<&Value> = found.into_iter().filter(|v| !v.is_null()).collect();
                if found.is_empty() {
                    return match op {
                        CompareOp::Eq => value.is_null(),
                        CompareOp::Ne => !value.is_null(),
                        _ => false,
                    };
                }
                found.iter().any(|c| compare(c, op, value))
            }
            Filter::ValuePath { path, filter } => {
                let Some(v) = lookup(resource, path) else { return false };
                match v {
                    Value::Array(items) => items.iter().any(|i| filter.matches(i)),
                    Value::Object(_) => filter.matches(v),
                    _ => false,
                }
            }
        }
    }
}

/// Case-insensitive key lookup in a JSON object.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The value at `path.schema` / `path.attr` (not descending into the
/// sub-attribute).
fn lookup<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let obj = resource.as_object()?;
    let container = match &path.schema {
        Some(schema) if !path.is_core() => get_ci(obj, schema)?.as_object()?,
        _ => obj,
    };
    get_ci(container, &path.attr)
}

/// The values a comparison looks at, arrays flattened.
fn candidates<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(v) = lookup(resource, path) else { return Vec::new() };
    let pick = |item: &'a Value| -> Option<&'a Value> {
        match (&path.sub_attr, item) {
            (Some(sub), Value::Object(m)) => get_ci(m, sub),
            (Some(_), _) => None,
            (None, Value::Object(m)) => get_ci(m, "value"),
            (None, other) => Some(other),
        }
    };
    match v {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        Value::Object(m) => match &path.sub_attr {
            Some(sub) => get_ci(m, sub).into_iter().collect(),
            // `pr` on a complex single-valued attribute: the object itself.
            None => vec![v],
        },
        other => match &path.sub_attr {
            Some(_) => Vec::new(),
            None => vec![other],
        },
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(c: &Value, op: &CompareOp, v: &Value) -> bool {
    match (c, v) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                CompareOp::Eq => a == b,
                CompareOp::Ne => a != b,
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordered(op, a.cmp(&b)),
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => match op {
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
                _ => a.partial_cmp(&b).is_some_and(|o| ordered(op, o)),
            },
            _ => false,
        },
        (Value::Bool(a), Value::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (_, Value::Null) => matches!(op, CompareOp::Ne),
        _ => matches!(op, CompareOp::Ne),
    }
}

fn ordered(op: &CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prints the filter in RFC syntax; the output parses back to an equal
/// filter.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::And(a, b) => {
                for (i, side) in [a, b].into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    match side.as_ref() {
                        Filter::Or(..) | Filter::And(..) => write!(f, "({side})")?,
                        _ => write!(f, "{side}")?,
                    }
                }
                Ok(())
            }
            Filter::Or(a, b) => {
                for (i, side) in [a, b].into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    match side.as_ref() {
                        Filter::Or(..) => write!(f, "({side})")?,
                        _ => write!(f, "{side}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
