//! SCIM filters compiled to SQL (RFC 7644 §3.4.2.2), never evaluated in
//! memory. Every attribute a filter may name maps to a column, a JSON array
//! of objects, or a membership subquery; anything else is `invalidFilter`.
//! Values are always bound parameters; the only text spliced into SQL is
//! column names and JSON keys from the tables below, never from the request.
//!
//! | SCIM attribute kind | SQL |
//! |---|---|
//! | case-insensitive string (`userName`, `displayName`, …) | `lower(col) = $n`, `LIKE` with `\`-escaped patterns |
//! | case-exact string (`id`, `externalId`, `manager.value`) | `col = $n` |
//! | `active` | `status = 'active'` |
//! | `meta.created` / `meta.lastModified` | timestamp comparison |
//! | multi-valued (`emails`, `phoneNumbers`) | `EXISTS` over the JSON array's elements |
//! | `members.value` / user `groups.value` | `EXISTS` over `group_members` |

use scaikey_scim::ScimError;
use scaikey_scim::filter::{CompareOp, Filter};
use scaikey_scim::path::AttrPath;
use scaikey_scim::schemas;
use serde_json::Value;

use crate::domain::Timestamp;
use crate::store::Arg;
use crate::store::db::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Compared case-insensitively (SCIM `caseExact: false`).
    Text,
    /// A column stored lower-cased (and indexed that way): compared with the
    /// lower-cased value, without `lower()` on the column.
    Lowered,
    /// Compared exactly (`caseExact: true`).
    Exact,
    Time,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Column(&'static str, Kind),
    Active,
    /// A JSON array column of objects; the element key addressed.
    Array {
        column: &'static str,
        key: &'static str,
        boolean: bool,
    },
    /// `members.value` of a group.
    Members,
    /// `groups.value` of a user.
    UserGroups,
}

const MAX_DEPTH: usize = 32;

fn invalid(msg: impl Into<String>) -> ScimError {
    ScimError::invalid_filter(msg)
}

fn user_target(schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<Target> {
    let core = schema.is_none_or(|s| schemas::urn_eq(s, schemas::USER));
    let enterprise = schema.is_none_or(|s| schemas::urn_eq(s, schemas::ENTERPRISE_USER));
    let ad = schema.is_none_or(|s| schemas::urn_eq(s, schemas::AD_USER));
    let a = attr.to_ascii_lowercase();
    let s = sub.map(str::to_ascii_lowercase);
    let t = match (a.as_str(), s.as_deref()) {
        ("id", None) if core => Target::Column("users.id", Kind::Exact),
        ("externalid", None) if core => Target::Column("users.external_id", Kind::Exact),
        ("username", None) if core => Target::Column("users.user_name_lower", Kind::Lowered),
        ("displayname", None) if core => Target::Column("users.display_name", Kind::Text),
        ("name", Some("givenname")) if core => Target::Column("users.given_name", Kind::Text),
        ("name", Some("familyname")) if core => Target::Column("users.family_name", Kind::Text),
        ("title", None) if core => Target::Column("users.title", Kind::Text),
        ("usertype", None) if core => Target::Column("users.employee_type", Kind::Text),
        ("preferredlanguage", None) if core => Target::Column("users.preferred_language", Kind::Text),
        ("locale", None) if core => Target::Column("users.locale", Kind::Text),
        ("timezone", None) if core => Target::Column("users.timezone", Kind::Text),
        ("active", None) if core => Target::Active,
        ("emails", None | Some("value")) if core => {
            Target::Array { column: "users.emails", key: "value", boolean: false }
        }
        ("emails", Some("type")) if core => Target::Array { column: "users.emails", key: "type", boolean: false },
        ("emails", Some("primary")) if core => Target::Array { column: "users.emails", key: "primary", boolean: true },
        ("phonenumbers", None | Some("value")) if core => {
            Target::Array { column: "users.phone_numbers", key: "value", boolean: false }
        }
        ("phonenumbers", Some("type")) if core => {
            Target::Array { column: "users.phone_numbers", key: "type", boolean: false }
        }
        ("groups", None | Some("value")) if core => Target::UserGroups,
        ("meta", Some("created")) if core => Target::Column("users.created_at", Kind::Time),
        ("meta", Some("lastmodified")) if core => Target::Column("users.updated_at", Kind::Time),
        ("employeenumber", None) if enterprise => Target::Column("users.employee_id", Kind::Text),
        ("department", None) if enterprise => Target::Column("users.department", Kind::Text),
        ("organization", None) if enterprise => Target::Column("users.company", Kind::Text),
        ("manager", None | Some("value")) if enterprise => Target::Column("users.manager_id", Kind::Exact),
        ("samaccountname", None) if ad => Target::Column("users.sam_account_name", Kind::Text),
        ("userprincipalname", None) if ad => Target::Column("users.user_name_lower", Kind::Lowered),
        ("organizationalunit", None) if ad => Target::Column("users.ou_id", Kind::Exact),
        _ => return None,
    };
    Some(t)
}

fn group_target(schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<Target> {
    if schema.is_some_and(|s| !schemas::urn_eq(s, schemas::GROUP)) {
        return None;
    }
    let a = attr.to_ascii_lowercase();
    let s = sub.map(str::to_ascii_lowercase);
    let t = match (a.as_str(), s.as_deref()) {
        ("id", None) => Target::Column("groups.id", Kind::Exact),
        ("externalid", None) => Target::Column("groups.external_id", Kind::Exact),
        ("displayname", None) => Target::Column("groups.name_lower", Kind::Lowered),
        ("members", None | Some("value")) => Target::Members,
        ("meta", Some("created")) => Target::Column("groups.created_at", Kind::Time),
        ("meta", Some("lastmodified")) => Target::Column("groups.updated_at", Kind::Time),
        _ => return None,
    };
    Some(t)
}

fn resolve(kind: ResourceKind, path: &AttrPath) -> Result<Target, ScimError> {
    let found = match kind {
        ResourceKind::User => user_target(path.schema.as_deref(), &path.attr, path.sub_attr.as_deref()),
        ResourceKind::Group => group_target(path.schema.as_deref(), &path.attr, path.sub_attr.as_deref()),
    };
    found.ok_or_else(|| invalid(format!("the attribute {} cannot be filtered on", display(path))))
}

fn display(p: &AttrPath) -> String {
    let mut s = String::new();
    if let Some(schema) = &p.schema {
        s.push_str(schema);
        s.push(':');
    }
    s.push_str(&p.attr);
    if let Some(sub) = &p.sub_attr {
        s.push('.');
        s.push_str(sub);
    }
    s
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn push(args: &mut Vec<Arg>, a: Arg) -> String {
    args.push(a);
    format!("${}", args.len())
}

/// `expr op value` for a scalar expression of `kind`.
fn compare(expr: &str, kind: Kind, op: &CompareOp, value: &Value, args: &mut Vec<Arg>) -> Result<String, ScimError> {
    match kind {
        Kind::Time => {
            let t = value
                .as_str()
                .and_then(Timestamp::parse)
                .ok_or_else(|| invalid("meta timestamps compare with an RFC 3339 date-time string"))?;
            let sym = match op {
                CompareOp::Eq => "=",
                CompareOp::Ne => "<>",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
                _ => return Err(invalid("co, sw and ew do not apply to date-times")),
            };
            let p = push(args, Arg::from(t));
            Ok(format!("{expr} {sym} {p}"))
        }
        Kind::Text | Kind::Exact | Kind::Lowered => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null if matches!(op, CompareOp::Eq) => return Ok(format!("{expr} IS NULL")),
                Value::Null if matches!(op, CompareOp::Ne) => return Ok(format!("{expr} IS NOT NULL")),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(invalid("this attribute compares with a string")),
            };
            let (lhs, text) = match kind {
                Kind::Text => (format!("lower({expr})"), text.to_lowercase()),
                // Stored as the write path's comparison key: compare with the same.
                Kind::Lowered if expr == "users.user_name_lower" => {
                    (expr.to_owned(), crate::domain::identifier::username_key(&text))
                }
                Kind::Lowered if expr == "groups.name_lower" => {
                    (expr.to_owned(), crate::domain::identifier::group_name_key(&text))
                }
                Kind::Lowered => (expr.to_owned(), text.to_lowercase()),
                _ => (expr.to_owned(), text),
            };
            let like = |pattern: String, args: &mut Vec<Arg>| {
                let p = push(args, Arg::from(pattern));
                format!("{lhs} LIKE {p} ESCAPE '\\'")
            };
            Ok(match op {
                CompareOp::Eq => format!("{lhs} = {}", push(args, Arg::from(text))),
                CompareOp::Ne => format!("({expr} IS NULL OR {lhs} <> {})", push(args, Arg::from(text))),
                CompareOp::Co => like(format!("%{}%", like_escape(&text)), args),
                CompareOp::Sw => like(format!("{}%", like_escape(&text)), args),
                CompareOp::Ew => like(format!("%{}", like_escape(&text)), args),
                CompareOp::Gt => format!("{lhs} > {}", push(args, Arg::from(text))),
                CompareOp::Ge => format!("{lhs} >= {}", push(args, Arg::from(text))),
                CompareOp::Lt => format!("{lhs} < {}", push(args, Arg::from(text))),
                CompareOp::Le => format!("{lhs} <= {}", push(args, Arg::from(text))),
            })
        }
    }
}

fn boolean(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        // Entra ID sends booleans as strings in places.
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(invalid("this attribute compares with true or false")),
    }
}

struct Compiler<'a> {
    kind: ResourceKind,
    dialect: &'a dyn Dialect,
    args: &'a mut Vec<Arg>,
}

impl Compiler<'_> {
    fn filter(&mut self, f: &Filter, depth: usize) -> Result<String, ScimError> {
        if depth > MAX_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        Ok(match f {
            Filter::And(a, b) => format!("({} AND {})", self.filter(a, depth + 1)?, self.filter(b, depth + 1)?),
            Filter::Or(a, b) => format!("({} OR {})", self.filter(a, depth + 1)?, self.filter(b, depth + 1)?),
            // SQL's NULL is "unknown", and NOT unknown is unknown: `not (title
            // eq "x")` would drop users without a title. RFC 7644 is
            // two-valued (an absent attribute does not equal "x", so `not` of
            // it is true): unknown counts as false before it is negated.
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.filter(a, depth + 1)?),
            Filter::Present(path) => self.present(path)?,
            Filter::Compare { path, op, value } => self.compare(path, op, value)?,
            Filter::ValuePath { path, filter } => self.value_path(path, filter, depth + 1)?,
        })
    }

    fn present(&mut self, path: &AttrPath) -> Result<String, ScimError> {
        Ok(match resolve(self.kind, path)? {
            Target::Column(col, Kind::Time) => format!("{col} IS NOT NULL"),
            Target::Column(col, _) => format!("({col} IS NOT NULL AND {col} <> '')"),
            Target::Active => "1=1".into(),
            Target::Array { column, key, .. } => {
                // Some element has the (sub-)attribute: `emails pr`, `emails.primary pr`.
                let from = self.dialect.array_elements(column);
                let e = self.dialect.element_text(key);
                format!("EXISTS (SELECT 1 FROM {from} WHERE {e} IS NOT NULL)")
            }
            Target::Members => "EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = groups.id)".into(),
            Target::UserGroups => "EXISTS (SELECT 1 FROM group_members gm WHERE gm.member_user_id = users.id)".into(),
        })
    }

    fn compare(&mut self, path: &AttrPath, op: &CompareOp, value: &Value) -> Result<String, ScimError> {
        match resolve(self.kind, path)? {
            Target::Column(col, kind) => compare(col, kind, op, value, self.args),
            Target::Active => {
                let active = boolean(value)?;
                match op {
                    CompareOp::Eq if active => Ok("users.status = 'active'".into()),
                    CompareOp::Eq => Ok("users.status <> 'active'".into()),
                    CompareOp::Ne if active => Ok("users.status <> 'active'".into()),
                    CompareOp::Ne => Ok("users.status = 'active'".into()),
                    _ => Err(invalid("active compares with eq or ne")),
                }
            }
            Target::Array { column, key, boolean: is_bool } => {
                let from = self.dialect.array_elements(column);
                let cond = self.element(key, is_bool, op, value)?;
                let exact = format!("EXISTS (SELECT 1 FROM {from} WHERE {cond})");
                Ok(match self.emails_prefilter(column, key, op, value) {
                    Some(pre) => format!("({pre} AND {exact})"),
                    None => exact,
                })
            }
            Target::Members => {
                let cond = compare("gm.member_id", Kind::Exact, op, value, self.args)?;
                Ok(format!("EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = groups.id AND {cond})"))
            }
            Target::UserGroups => {
                let cond = compare("gm.group_id", Kind::Exact, op, value, self.args)?;
                Ok(format!("EXISTS (SELECT 1 FROM group_members gm WHERE gm.member_user_id = users.id AND {cond})"))
            }
        }
    }

    /// A substring test on the lower-cased text of `users.emails` (trigram
    /// indexed on PostgreSQL) in front of the exact per-element test, so
    /// `emails co "x"` reads the index instead of every user of the tenant.
    /// The value is searched for as it appears inside that JSON text (`"`
    /// and `\` escaped; stored addresses hold no control characters, which
    /// the write path refuses), so the SQL never depends on the value.
    fn emails_prefilter(&mut self, column: &str, key: &str, op: &CompareOp, value: &Value) -> Option<String> {
        if column != "users.emails" || key != "value" {
            return None;
        }
        if !matches!(op, CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
            return None;
        }
        let text = value.as_str()?.to_lowercase().replace('\\', "\\\\").replace('"', "\\\"");
        let p = push(self.args, Arg::from(format!("%{}%", like_escape(&text))));
        Some(format!("users.emails_lower LIKE {p} ESCAPE '\\'"))
    }

    fn element(
        &mut self,
        key: &'static str,
        is_bool: bool,
        op: &CompareOp,
        value: &Value,
    ) -> Result<String, ScimError> {
        if is_bool {
            let wanted = boolean(value)?;
            let truth = self.dialect.element_true(key);
            return match (op, wanted) {
                (CompareOp::Eq, true) => Ok(truth),
                (CompareOp::Eq, false) => Ok(format!("(NOT {truth})")),
                // An element without the attribute is not equal to either value.
                (CompareOp::Ne, true) => Ok(format!("(NOT COALESCE({truth}, FALSE))")),
                (CompareOp::Ne, false) => Ok(format!("COALESCE({truth}, TRUE)")),
                _ => Err(invalid("primary compares with eq or ne")),
            };
        }
        let expr = self.dialect.element_text(key);
        compare(&expr, Kind::Text, op, value, self.args)
    }

    /// `emails[type eq "work" and value co "@x"]`: one element must match the whole inner filter.
    fn value_path(&mut self, path: &AttrPath, inner: &Filter, depth: usize) -> Result<String, ScimError> {
        let outer = AttrPath { schema: path.schema.clone(), attr: path.attr.clone(), sub_attr: None };
        match resolve(self.kind, &outer)? {
            Target::Array { column, .. } => {
                let from = self.dialect.array_elements(column);
                let cond = self.element_filter(&path.attr, inner, depth)?;
                Ok(format!("EXISTS (SELECT 1 FROM {from} WHERE {cond})"))
            }
            Target::Members | Target::UserGroups => {
                // members[value eq "x"] is members.value eq "x".
                self.rewrite_to_sub(&outer, inner, depth)
            }
            _ => Err(invalid(format!("{} is not multi-valued", display(path)))),
        }
    }

    fn element_filter(&mut self, attr: &str, f: &Filter, depth: usize) -> Result<String, ScimError> {
        if depth > MAX_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        let sub = |p: &AttrPath| -> Result<(&'static str, bool), ScimError> {
            let probe = AttrPath { schema: None, attr: attr.to_owned(), sub_attr: Some(p.attr.clone()) };
            match resolve(self.kind, &probe)? {
                Target::Array { key, boolean, .. } => Ok((key, boolean)),
                _ => Err(invalid("unsupported sub-attribute")),
            }
        };
        Ok(match f {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.element_filter(attr, a, depth + 1)?,
                self.element_filter(attr, b, depth + 1)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.element_filter(attr, a, depth + 1)?,
                self.element_filter(attr, b, depth + 1)?
            ),
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.element_filter(attr, a, depth + 1)?),
            Filter::Present(p) => {
                let (key, _) = sub(p)?;
                let e = self.dialect.element_text(key);
                format!("({e} IS NOT NULL AND {e} <> '')")
            }
            Filter::Compare { path, op, value } => {
                let (key, is_bool) = sub(path)?;
                self.element(key, is_bool, op, value)?
            }
            Filter::ValuePath { .. } => return Err(invalid("value paths cannot nest")),
        })
    }

    fn rewrite_to_sub(&mut self, outer: &AttrPath, f: &Filter, depth: usize) -> Result<String, ScimError> {
        if depth > MAX_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        Ok(match f {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.rewrite_to_sub(outer, a, depth + 1)?,
                self.rewrite_to_sub(outer, b, depth + 1)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.rewrite_to_sub(outer, a, depth + 1)?,
                self.rewrite_to_sub(outer, b, depth + 1)?
            ),
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.rewrite_to_sub(outer, a, depth + 1)?),
            Filter::Compare { path, op, value } if path.attr.eq_ignore_ascii_case("value") => {
                let p =
                    AttrPath { schema: outer.schema.clone(), attr: outer.attr.clone(), sub_attr: Some("value".into()) };
                self.compare(&p, op, value)?
            }
            Filter::Present(path) if path.attr.eq_ignore_ascii_case("value") => self.present(outer)?,
            _ => return Err(invalid("only value can be filtered inside members or groups")),
        })
    }
}

/// The SQL condition for `filter`, binding its values after those in `args`.
pub fn compile(
    filter: &Filter,
    kind: ResourceKind,
    dialect: &dyn Dialect,
    args: &mut Vec<Arg>,
) -> Result<String, ScimError> {
    Compiler { kind, dialect, args }.filter(filter, 0)
}

/// The column a `sortBy` names (case-insensitive attributes sort by their
/// lower-case form), or `invalidValue`-style error for anything else.
pub fn sort_column(kind: ResourceKind, sort_by: &str) -> Result<&'static str, ScimError> {
    let path = AttrPath::parse(sort_by).map_err(|_| ScimError::invalid_value("sortBy is not an attribute path"))?;
    match resolve(kind, &path) {
        Ok(Target::Column(col, _)) => Ok(col),
        _ => Err(ScimError::invalid_value(format!("cannot sort by {sort_by}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{PgDialect, SqliteDialect};
    use scaikey_scim::filter::parse_filter;

    fn sql(f: &str, kind: ResourceKind) -> (String, Vec<Arg>) {
        let mut args = Vec::new();
        let s = compile(&parse_filter(f).unwrap(), kind, &PgDialect, &mut args).unwrap();
        (s, args)
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let (s, args) = sql(r#"userName eq "x' OR 1=1 --""#, ResourceKind::User);
        assert_eq!(s, "users.user_name_lower = $1", "the indexed lower-case column, compared directly");
        assert!(matches!(&args[0], Arg::Text(Some(v)) if v == "x' or 1=1 --"));
        let (s, args) = sql(r#"displayName co "50%_off\\""#, ResourceKind::User);
        assert!(s.contains("LIKE $1 ESCAPE"));
        assert!(matches!(&args[0], Arg::Text(Some(v)) if v == r"%50\%\_off\\%"));
    }

    #[test]
    fn value_paths_and_logic() {
        let (s, _) = sql(r#"emails[type eq "work" and value co "@x"] or not (active eq false)"#, ResourceKind::User);
        assert!(s.starts_with("(EXISTS (SELECT 1 FROM jsonb_array_elements(users.emails) AS e(value) WHERE ("));
        assert!(s.contains("OR (NOT COALESCE(users.status <> 'active', FALSE))"));
        let mut args = Vec::new();
        let f = parse_filter(r#"emails.value ew "@x.test""#).unwrap();
        let s = compile(&f, ResourceKind::User, &SqliteDialect, &mut args).unwrap();
        assert!(s.contains("json_each(users.emails) AS e"));
        let (s, _) = sql(r#"members[value eq "usr_1"]"#, ResourceKind::Group);
        assert!(s.contains("gm.group_id = groups.id AND gm.member_id = $1"));
        let (s, _) = sql(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "usr_1""#,
            ResourceKind::User,
        );
        assert_eq!(s, "users.manager_id = $1");
        let (s, args) = sql(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#, ResourceKind::User);
        assert_eq!(s, "users.updated_at > $1");
        assert!(matches!(args[0], Arg::Time(Some(_))));
    }

    #[test]
    fn emails_searches_go_through_the_indexed_text_first() {
        let (s, args) = sql(r#"emails co "Ada@X""#, ResourceKind::User);
        assert!(s.starts_with("(users.emails_lower LIKE $2 ESCAPE"), "{s}");
        assert!(matches!(&args[1], Arg::Text(Some(v)) if v == "%ada@x%"));
        // As the value appears inside the JSON text (a backslash is escaped
        // there), then escaped for LIKE.
        let (_, args) = sql(r#"emails.value eq "a\\c""#, ResourceKind::User);
        assert!(matches!(&args[1], Arg::Text(Some(v)) if v == r"%a\\\\c%"), "{args:?}");
        // Not inside value paths, not for other attributes or operators.
        for f in [r#"emails[value co "x"]"#, r#"phoneNumbers co "1""#, r#"emails.value gt "x""#] {
            assert!(!sql(f, ResourceKind::User).0.contains("emails_lower"), "{f}");
        }
    }

    #[test]
    fn unknown_attributes_and_bad_values_are_invalid_filters() {
        for f in [
            r#"password eq "x""#,
            r#"nickName eq "x""#,
            r#"active eq "maybe""#,
            r#"meta.created gt "yesterday""#,
            r#"userName.foo eq "x""#,
        ] {
            let mut args = Vec::new();
            let e = compile(&parse_filter(f).unwrap(), ResourceKind::User, &PgDialect, &mut args).unwrap_err();
            assert_eq!(e.status, 400, "{f}");
        }
        let mut args = Vec::new();
        assert!(
            compile(&parse_filter(r#"userName eq "x""#).unwrap(), ResourceKind::Group, &PgDialect, &mut args).is_err()
        );
    }
}
