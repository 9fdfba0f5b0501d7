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
mod tests {
    #[test]
    fn long_number_literals_round_trip() {
        // Found by fuzzing: needs serde_json's correctly rounded float parser.
        let f = super::parse_filter("value ew 3333333333333333333333333333333333334333333333").unwrap();
        assert_eq!(super::parse_filter(&f.to_string()).unwrap(), f);
    }

    use super::*;
    use crate::ScimType;
    use serde_json::json;

    fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare { path: AttrPath::parse(path).unwrap(), op, value }
    }
    fn pr(path: &str) -> Filter {
        Filter::Present(AttrPath::parse(path).unwrap())
    }
    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }
    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }
    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }
    fn vp(path: &str, f: Filter) -> Filter {
        Filter::ValuePath { path: AttrPath::parse(path).unwrap(), filter: Box::new(f) }
    }
    fn p(s: &str) -> Filter {
        let f = parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        // Display round-trips.
        assert_eq!(parse_filter(&f.to_string()).unwrap(), f, "{s} -> {f}");
        f
    }

    #[test]
    fn rfc_7644_examples() {
        use CompareOp::*;
        assert_eq!(p(r#"userName eq "bjensen""#), cmp("userName", Eq, json!("bjensen")));
        assert_eq!(p(r#"name.familyName co "O'Malley""#), cmp("name.familyName", Co, json!("O'Malley")));
        assert_eq!(p(r#"userName sw "J""#), cmp("userName", Sw, json!("J")));
        let f = p(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#);
        let Filter::Compare { path, op: Sw, .. } = &f else { panic!("{f:?}") };
        assert_eq!(path.schema.as_deref(), Some("urn:ietf:params:scim:schemas:core:2.0:User"));
        assert_eq!(path.attr, "userName");
        assert_eq!(p("title pr"), pr("title"));
        for (s, op) in [("gt", Gt), ("ge", Ge), ("lt", Lt), ("le", Le)] {
            assert_eq!(
                p(&format!(r#"meta.lastModified {s} "2011-05-13T04:42:34Z""#)),
                cmp("meta.lastModified", op, json!("2011-05-13T04:42:34Z"))
            );
        }
        assert_eq!(
            p(r#"title pr and userType eq "Employee""#),
            and(pr("title"), cmp("userType", Eq, json!("Employee")))
        );
        assert_eq!(p(r#"title pr or userType eq "Intern""#), or(pr("title"), cmp("userType", Eq, json!("Intern"))));
        assert_eq!(
            p(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#),
            cmp("schemas", Eq, json!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"))
        );
        assert_eq!(
            p(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#),
            and(
                cmp("userType", Eq, json!("Employee")),
                or(cmp("emails", Co, json!("example.com")), cmp("emails.value", Co, json!("example.org")))
            )
        );
        assert_eq!(
            p(r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#),
            and(
                cmp("userType", Ne, json!("Employee")),
                not(or(cmp("emails", Co, json!("example.com")), cmp("emails.value", Co, json!("example.org"))))
            )
        );
        assert_eq!(
            p(r#"userType eq "Employee" and (emails.type eq "work")"#),
            and(cmp("userType", Eq, json!("Employee")), cmp("emails.type", Eq, json!("work")))
        );
        assert_eq!(
            p(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#),
            and(
                cmp("userType", Eq, json!("Employee")),
                vp("emails", and(cmp("type", Eq, json!("work")), cmp("value", Co, json!("@example.com"))))
            )
        );
        assert_eq!(
            p(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#),
            or(
                vp("emails", and(cmp("type", Eq, json!("work")), cmp("value", Co, json!("@example.com")))),
                vp("ims", and(cmp("type", Eq, json!("xmpp")), cmp("value", Co, json!("@foo.com"))))
            )
        );
    }

    #[test]
    fn literal_values() {
        use CompareOp::*;
        assert_eq!(p("active eq true"), cmp("active", Eq, json!(true)));
        assert_eq!(p("active ne false"), cmp("active", Ne, json!(false)));
        assert_eq!(p("title eq null"), cmp("title", Eq, Value::Null));
        assert_eq!(p("age gt 42"), cmp("age", Gt, json!(42)));
        assert_eq!(p("score le -1.5e3"), cmp("score", Le, json!(-1500.0)));
        assert_eq!(p(r#"displayName eq "a \"b\" \\ c""#), cmp("displayName", Eq, json!("a \"b\" \\ c")));
        assert_eq!(p(r#"displayName eq "caf\u00e9""#), cmp("displayName", Eq, json!("café")));
        assert_eq!(p(r#"displayName eq """#), cmp("displayName", Eq, json!("")));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        use CompareOp::*;
        assert_eq!(p(r#"userName EQ "x""#), cmp("userName", Eq, json!("x")));
        assert_eq!(p(r#"userName Sw "x""#), cmp("userName", Sw, json!("x")));
        assert_eq!(
            p(r#"title PR AND userType eq "E" Or NOT (active eq true)"#),
            or(and(pr("title"), cmp("userType", Eq, json!("E"))), not(cmp("active", Eq, json!(true))))
        );
        // Attribute names keep their case.
        assert_eq!(p(r#"USERNAME eq "x""#), cmp("USERNAME", Eq, json!("x")));
    }

    #[test]
    fn urn_qualified_attributes() {
        let f = p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#);
        let Filter::Compare { path, .. } = &f else { panic!() };
        assert_eq!(path.schema.as_deref(), Some(crate::schemas::ENTERPRISE_USER));
        assert_eq!(path.attr, "employeeNumber");
        let f = p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#);
        let Filter::Compare { path, .. } = &f else { panic!() };
        assert_eq!((path.attr.as_str(), path.sub_attr.as_deref()), ("manager", Some("value")));
        let f = p(r#"urn:scailabs:params:scim:schemas:extension:ad:2.0:User:sAMAccountName eq "jdoe""#);
        let Filter::Compare { path, .. } = &f else { panic!() };
        assert_eq!(path.schema.as_deref(), Some(crate::schemas::AD_USER));
    }

    #[test]
    fn precedence_and_nesting() {
        use CompareOp::*;
        let a = || pr("a");
        let b = || pr("b");
        let c = || pr("c");
        // and binds tighter than or, either side.
        assert_eq!(p("a pr or b pr and c pr"), or(a(), and(b(), c())));
        assert_eq!(p("a pr and b pr or c pr"), or(and(a(), b()), c()));
        // Parentheses override.
        assert_eq!(p("(a pr or b pr) and c pr"), and(or(a(), b()), c()));
        assert_eq!(p("((((a pr))))"), a());
        assert_eq!(p("not (a pr) and b pr"), and(not(a()), b()));
        assert_eq!(p("not (not (a pr or b pr))"), not(not(or(a(), b()))));
        // The ABNF form without a space, and "not(" inside strings left alone.
        assert_eq!(p("NOT(a pr) and not((b pr))"), and(not(a()), not(b())));
        assert_eq!(p(r#"title eq "not(x" and not(a pr)"#), and(cmp("title", Eq, json!("not(x")), not(a())));
        assert_eq!(p(r#"title eq "\"not(" or knot pr"#), or(cmp("title", Eq, json!("\"not(")), pr("knot")));
        assert_eq!(p("a pr and b pr and c pr"), and(and(a(), b()), c()));
        assert_eq!(p("a pr or b pr or c pr"), or(or(a(), b()), c()));
        assert_eq!(
            p(r#"(userName eq "a" or (userName eq "b" and (active eq true or title pr)))"#),
            or(
                cmp("userName", Eq, json!("a")),
                and(cmp("userName", Eq, json!("b")), or(cmp("active", Eq, json!(true)), pr("title")))
            )
        );
        assert_eq!(p(r#"emails[not (type eq "home")]"#), vp("emails", not(cmp("type", Eq, json!("home")))));
        assert_eq!(
            p(r#"emails[(type eq "work" or type eq "home") and primary eq true]"#),
            vp(
                "emails",
                and(
                    or(cmp("type", Eq, json!("work")), cmp("type", Eq, json!("home"))),
                    cmp("primary", Eq, json!(true))
                )
            )
        );
    }

    #[test]
    fn long_or_chains_stay_shallow() {
        let ids: Vec<String> = (0..200).map(|i| format!(r#"id eq "{i}""#)).collect();
        let f = p(&ids.join(" or "));
        assert!(f.depth() <= 10, "{}", f.depth());
        let doc = json!({"id": "137"});
        assert!(f.matches(&doc));
        assert!(!f.matches(&json!({"id": "x"})));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "   ",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"userName eq "unterminated"#,
            r#"(userName eq "a""#,
            r#"userName eq "a")"#,
            r#"userName eq "a" garbage"#,
            r#"userName eq "a" and"#,
            r#"and userName eq "a""#,
            r#"userName eq bjensen"#,
            r#"userName eq 'single'"#,
            r#"emails[type eq "work""#,
            r#"emails[type eq "work"]]"#,
            r#"emails[ims[type eq "x"]]"#,
            r#"userName eq "a" or or title pr"#,
            r#"not userName eq "a""#,
            r#"userName eq TRUE x"#,
            "name..givenName pr",
            "1abc pr",
            "title pr pr",
            "()",
        ] {
            let e = parse_filter(bad).expect_err(bad);
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad:?}");
            assert_eq!(e.status, 400);
        }
    }

    #[test]
    fn rejects_hostile_input() {
        let deep = format!("{}title pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse_filter(&deep).is_ok(), "redundant parentheses do not nest the tree");
        let deep_not = format!("{}title pr{}", "not (".repeat(40), ")".repeat(40));
        assert_eq!(parse_filter(&deep_not).unwrap_err().scim_type, Some(ScimType::InvalidFilter));
        let very_deep = format!("{}title pr{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse_filter(&very_deep).is_err());
        let long = format!(r#"userName eq "{}""#, "x".repeat(MAX_FILTER_LEN));
        assert!(parse_filter(&long).is_err());
        let ok_not = format!("{}title pr{}", "not (".repeat(20), ")".repeat(20));
        assert!(parse_filter(&ok_not).is_ok());
    }

    #[test]
    fn evaluates_against_a_resource() {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", crate::schemas::ENTERPRISE_USER],
            "id": "u1",
            "userName": "BJensen",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": "O'Malley"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "meta": {"lastModified": "2011-05-13T04:42:34Z"},
            crate::schemas::ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "m1"}}
        });
        let yes = |s: &str| assert!(parse_filter(s).unwrap().matches(&user), "{s}");
        let no = |s: &str| assert!(!parse_filter(s).unwrap().matches(&user), "{s}");
        yes(r#"userName eq "bjensen""#);
        yes(r#"USERNAME Eq "BJENSEN""#);
        no(r#"userName eq "jsmith""#);
        yes(r#"name.familyName co "malley""#);
        yes(r#"userName sw "bj" and userName ew "sen""#);
        yes("active eq true");
        no("active eq false");
        yes("name pr");
        no("title pr");
        yes("title eq null");
        yes(r#"title ne "x""#);
        yes(r#"emails co "example.com""#);
        yes(r#"emails.value ew ".org""#);
        yes(r#"emails[type eq "work" and value co "@example.com"]"#);
        no(r#"emails[type eq "home" and value co "@example.com"]"#);
        yes(r#"meta.lastModified gt "2011-01-01T00:00:00Z""#);
        no(r#"meta.lastModified lt "2011-01-01T00:00:00Z""#);
        yes(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#);
        yes(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#);
        yes(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#);
        yes(r#"not (userName eq "x") and (title pr or active eq true)"#);
        yes(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#);
        no("active gt 1");
    }

    #[test]
    fn simple_eq_shape() {
        let f = parse_filter(r#"type eq "work""#).unwrap();
        assert_eq!(f.as_simple_eq(), Some(("type", &json!("work"))));
        assert_eq!(parse_filter(r#"type ne "work""#).unwrap().as_simple_eq(), None);
        assert_eq!(parse_filter(r#"type eq "a" and x pr"#).unwrap().as_simple_eq(), None);
    }
}
