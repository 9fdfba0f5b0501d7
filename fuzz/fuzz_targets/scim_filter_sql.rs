//! SCIM filter → SQL (src/scim_server/filter_sql.rs), for Users and Groups
//! on both dialects. Never panics, and for every filter that compiles:
//!
//! 1. Only trusted text: after removing `$n` placeholders, the identifiers,
//!    keywords, operators and quoted literals that filter_sql.rs and the
//!    dialects (src/store/db.rs) emit, `(`, `)`, `,` and spaces, nothing is
//!    left. The allow-list is below; a startup check fails loudly if
//!    filter_sql.rs names a column that is not on it.
//! 2. Values are bound, never spliced: appending a marker to every string
//!    value in the filter (except `true`/`false` and RFC 3339 date-times,
//!    whose meaning picks the SQL shape) yields byte-identical SQL and the
//!    same number of arguments; the marker never appears in the SQL and
//!    each marked value is in exactly one bound argument.
//! 3. Placeholders are `$1..$n` with `n` = number of bound args, every index
//!    used; with `k` args already bound, they are `$k+1..$n` and the SQL is
//!    the `k = 0` SQL renumbered.
//! 4. Dialects agree on acceptance; rejections are 400 `invalidFilter`.
//! 5. What parses prints back to an equal filter (`Display` round trip).

#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scaikey::scim_server::filter_sql::{ResourceKind, compile};
use scaikey::store::Arg;
use scaikey::store::db::{Dialect, PgDialect, SqliteDialect};
use scaikey_scim::filter::CompareOp;
use scaikey_scim::{Filter, ScimType, parse_filter};
use serde_json::Value;

/// Column names from filter_sql.rs's `user_target` / `group_target` tables
/// and its membership subqueries.
const COLUMNS: &[&str] = &[
    "users.id",
    "users.external_id",
    "users.user_name_lower",
    "users.display_name",
    "users.given_name",
    "users.family_name",
    "users.title",
    "users.employee_type",
    "users.locale",
    "users.preferred_language",
    "users.timezone",
    "users.status",
    "users.emails",
    "users.emails_lower",
    "users.phone_numbers",
    "users.created_at",
    "users.updated_at",
    "users.employee_id",
    "users.department",
    "users.company",
    "users.manager_id",
    "users.sam_account_name",
    "users.ou_id",
    "groups.id",
    "groups.external_id",
    "groups.name_lower",
    "groups.created_at",
    "groups.updated_at",
    "gm.group_id",
    "gm.member_id",
    "gm.member_user_id",
];

/// Other bare words: SQL keywords, functions (both dialects), table and
/// alias names.
const WORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "EXISTS",
    "SELECT",
    "FROM",
    "WHERE",
    "LIKE",
    "ESCAPE",
    "IS",
    "NULL",
    "AS",
    "TRUE",
    "FALSE",
    "COALESCE",
    "lower",
    // PostgreSQL
    "jsonb_array_elements",
    // SQLite
    "json_each",
    "json_extract",
    // aliases
    "group_members",
    "gm",
    "e",
    "e.value",
    "value",
];

/// Quoted literals: `'active'`, the `LIKE … ESCAPE '\'` character, the empty
/// string of `<> ''`, Postgres `->> 'key'` / `= 'true'`, SQLite `'$.key'`.
/// JSON keys are the `key:` entries of filter_sql.rs's array targets.
const QUOTED: &[&str] =
    &["'active'", "'\\'", "''", "'true'", "'value'", "'type'", "'primary'", "'$.value'", "'$.type'", "'$.primary'"];

/// `SELECT 1`, `1=1`, SQLite's `= 1`.
const NUMBERS: &[&str] = &["1"];

const OPERATORS: &[&str] = &["=", "<>", ">", ">=", "<", "<=", "->>"];

const SOURCE: &str = include_str!("../../src/scim_server/filter_sql.rs");

/// The allow-list, after checking that every `"table.column"` literal in
/// filter_sql.rs is on it (a new column must be reviewed and added here).
fn allowed_words() -> &'static BTreeSet<&'static str> {
    static SET: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        let set: BTreeSet<&'static str> = COLUMNS.iter().chain(WORDS).copied().collect();
        let mut rest = SOURCE;
        while let Some(start) = rest.find('"') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('"') else { break };
            let lit = &after[..end];
            rest = &after[end + 1..];
            let column = lit.split_once('.').is_some_and(|(t, c)| {
                matches!(t, "users" | "groups" | "gm")
                    && !c.is_empty()
                    && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            });
            assert!(
                !column || set.contains(lit),
                "filter_sql.rs names column {lit:?}, which is not in fuzz/fuzz_targets/scim_filter_sql.rs COLUMNS"
            );
        }
        set
    })
}

#[derive(Debug)]
enum Tok {
    Placeholder { start: usize, end: usize, n: usize },
    Other,
}

/// Tokenizes `sql` with the allow-list; `Err` names the first untrusted text.
fn tokens(sql: &str) -> Result<Vec<Tok>, String> {
    let words = allowed_words();
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let fail = |at: usize, what: &str| Err(format!("untrusted SQL text ({what}) at byte {at}: {:?}", &sql[at..]));
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'(' | b')' | b',' => i += 1,
            b'\'' => {
                let Some(len) = sql[i + 1..].find('\'') else { return fail(start, "unterminated quote") };
                i += len + 2;
                if !QUOTED.contains(&&sql[start..i]) {
                    return fail(start, "quoted literal");
                }
                out.push(Tok::Other);
            }
            b'$' => {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let digits = &sql[start + 1..i];
                match digits.parse::<usize>() {
                    Ok(n) if n > 0 && !digits.starts_with('0') => out.push(Tok::Placeholder { start, end: i, n }),
                    _ => return fail(start, "placeholder"),
                }
            }
            b'0'..=b'9' => {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if !NUMBERS.contains(&&sql[start..i]) {
                    return fail(start, "number");
                }
                out.push(Tok::Other);
            }
            b'=' | b'<' | b'>' | b'-' => {
                while i < b.len() && matches!(b[i], b'=' | b'<' | b'>' | b'-') {
                    i += 1;
                }
                if !OPERATORS.contains(&&sql[start..i]) {
                    return fail(start, "operator");
                }
                out.push(Tok::Other);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                    i += 1;
                }
                if !words.contains(&sql[start..i]) {
                    return fail(start, "identifier");
                }
                out.push(Tok::Other);
            }
            _ => return fail(start, "character"),
        }
        // Tokens are separated: `$1a` or `1e` must not pass as two tokens.
        let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_' || x == b'$';
        if i > 0 && i < b.len() && word(b[i - 1]) && word(b[i]) {
            return fail(start, "run-on token");
        }
    }
    Ok(out)
}

/// The checker itself: it must reject spliced text and accept real output.
fn self_test() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        for bad in [
            "users.user_name_lower = 'x'",
            "users.user_name_lower = x",
            "users.user_name_lower = $1 --",
            "users.user_name_lower = $1; DROP TABLE users",
            "users.status = 'active' OR 'a'='a'",
            "users.id = $0",
            "users.id = $01",
            "users.id = $1x",
            "users.id = $",
            "users.id = 2",
            "users.id = 10",
            "(jsonb_array_length(users.emails) > 0)",
            "users.id = 01",
            "users.idx = $1",
            "users.id = \"x\"",
            "users.id = $1\n",
            "lower(users.display_name) LIKE $1 ESCAPE '%'",
            "json_extract(e.value, '$.password') = $1",
            "users.id = 'unterminated",
        ] {
            assert!(tokens(bad).is_err(), "the SQL checker accepts {bad:?}");
        }
        for good in [
            "(users.status = 'active' AND EXISTS (SELECT 1 FROM json_each(users.emails) AS e WHERE \
             ((json_extract(e.value, '$.primary') = 1) AND lower(json_extract(e.value, '$.value')) LIKE $1 ESCAPE '\\')))",
            "EXISTS (SELECT 1 FROM jsonb_array_elements(users.emails) AS e(value) WHERE \
             (((e.value ->> 'primary') = 'true') AND lower((e.value ->> 'value')) <> $12))",
            "((users.title IS NOT NULL AND users.title <> '') OR 1=1)",
            "EXISTS (SELECT 1 FROM json_each(users.emails) AS e WHERE json_extract(e.value, '$.primary') IS NOT NULL)",
        ] {
            if let Err(e) = tokens(good) {
                panic!("the SQL checker rejects real compiler output: {e}");
            }
        }
    });
}

/// Checks the placeholders of `sql` are exactly `$first..=$args` (all used).
fn check_placeholders(sql: &str, toks: &[Tok], first: usize, args: usize, filter: &str) {
    let used: BTreeSet<usize> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Placeholder { n, .. } => Some(*n),
            Tok::Other => None,
        })
        .collect();
    let want: BTreeSet<usize> = (first..=args).collect();
    assert_eq!(
        used, want,
        "placeholders vs {args} bound args (first new one ${first})\nSQL: {sql}\nfilter: {filter:?}"
    );
}

/// `sql` with every placeholder `$n` renumbered to `$n+k`.
fn shift(sql: &str, toks: &[Tok], k: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut at = 0;
    for t in toks {
        if let Tok::Placeholder { start, end, n } = t {
            out.push_str(&sql[at..*start]);
            out.push_str(&format!("${}", n + k));
            at = *end;
        }
    }
    out.push_str(&sql[at..]);
    out
}

const MARK: &str = "\u{1}~spliced~";

/// Whether a string value's content may legitimately choose the SQL shape.
fn meaningful(s: &str) -> bool {
    s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") || scaikey::domain::Timestamp::parse(s).is_some()
}

/// The filter with `MARK` appended to every string value that is only data.
fn marked(f: &Filter) -> Filter {
    match f {
        Filter::Compare { path, op, value } => {
            let value = match value {
                Value::String(s) if !meaningful(s) => Value::String(format!("{s}{MARK}")),
                v => v.clone(),
            };
            Filter::Compare { path: path.clone(), op: op.clone(), value }
        }
        Filter::Present(p) => Filter::Present(p.clone()),
        Filter::And(a, b) => Filter::And(Box::new(marked(a)), Box::new(marked(b))),
        Filter::Or(a, b) => Filter::Or(Box::new(marked(a)), Box::new(marked(b))),
        Filter::Not(a) => Filter::Not(Box::new(marked(a))),
        Filter::ValuePath { path, filter } => {
            Filter::ValuePath { path: path.clone(), filter: Box::new(marked(filter)) }
        }
    }
}

/// How many bound arguments carry the string values `marked` marks: one
/// each, and a second for a user's `emails` / `emails.value` compared with
/// `eq`, `co`, `sw` or `ew` outside a value path (the trigram prefilter).
fn data_values(f: &Filter, kind: ResourceKind) -> usize {
    match f {
        Filter::Compare { path, op, value: Value::String(s) } if !meaningful(s) => {
            let emails = kind == ResourceKind::User
                && path.attr.eq_ignore_ascii_case("emails")
                && path.sub_attr.as_deref().is_none_or(|a| a.eq_ignore_ascii_case("value"))
                && path.schema.as_deref().is_none_or(|u| scaikey_scim::schemas::urn_eq(u, scaikey_scim::schemas::USER))
                && matches!(op, CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
            if emails { 2 } else { 1 }
        }
        Filter::Compare { .. } | Filter::Present(_) => 0,
        Filter::And(a, b) | Filter::Or(a, b) => data_values(a, kind) + data_values(b, kind),
        Filter::Not(a) => data_values(a, kind),
        // Inside a value path each element is compared once, without the
        // prefilter (counted as for a resource without one).
        Filter::ValuePath { filter: a, .. } => data_values(a, ResourceKind::Group),
    }
}

fn run(f: &Filter, kind: ResourceKind, dialect: &dyn Dialect, input: &str) -> bool {
    let mut args: Vec<Arg> = Vec::new();
    let sql = match compile(f, kind, dialect, &mut args) {
        Ok(sql) => sql,
        Err(e) => {
            assert!(
                e.status == 400 && e.scim_type == Some(ScimType::InvalidFilter),
                "rejection is not 400 invalidFilter: {e:?}\nfilter: {input:?}"
            );
            return false;
        }
    };
    let toks = tokens(&sql).unwrap_or_else(|e| panic!("{e}\nSQL: {sql}\nfilter: {input:?}"));
    check_placeholders(&sql, &toks, 1, args.len(), input);

    // Values never reach the SQL text.
    let m = marked(f);
    let mut margs: Vec<Arg> = Vec::new();
    match compile(&m, kind, dialect, &mut margs) {
        Ok(msql) => {
            assert_eq!(msql, sql, "a string value changed the SQL text\nfilter: {input:?}");
            assert_eq!(margs.len(), args.len(), "a string value changed the number of bound args\nfilter: {input:?}");
            assert!(!msql.contains(MARK));
            let bound = margs.iter().filter(|a| matches!(a, Arg::Text(Some(v)) if v.contains(MARK))).count();
            assert_eq!(bound, data_values(f, kind), "not every string value is bound as expected\nfilter: {input:?}");
        }
        Err(e) => panic!("marking string values made the filter invalid: {e:?}\nfilter: {input:?}"),
    }

    // Binding after arguments already in the query (tenant scope etc.).
    let mut pre: Vec<Arg> = vec![Arg::from("tenant"), Arg::from("scope")];
    let psql = match compile(f, kind, dialect, &mut pre) {
        Ok(s) => s,
        Err(e) => panic!("compile failed only with pre-bound args: {e:?}\nfilter: {input:?}"),
    };
    let ptoks = tokens(&psql).unwrap_or_else(|e| panic!("{e}\nSQL: {psql}\nfilter: {input:?}"));
    check_placeholders(&psql, &ptoks, 3, pre.len(), input);
    assert_eq!(psql, shift(&sql, &toks, 2), "pre-bound args changed more than the numbering\nfilter: {input:?}");
    true
}

/// `SCAIKEY_FUZZ_SKIP_ROUND_TRIP=1` turns check 5 off, to keep fuzzing the
/// SQL checks past a known round-trip bug (see fuzz/README.md).
fn skip_round_trip() -> bool {
    static SKIP: OnceLock<bool> = OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("SCAIKEY_FUZZ_SKIP_ROUND_TRIP").is_some_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    self_test();
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(f) = parse_filter(s) else { return };

    let printed = f.to_string();
    // The printed form adds parentheses; past the input length limit it is
    // refused by design, so the round trip only holds within the limit.
    if !skip_round_trip() && printed.len() <= scaikey_scim::filter::MAX_FILTER_LEN {
        assert_eq!(parse_filter(&printed).as_ref(), Ok(&f), "Display round trip\nfilter: {s:?}\nprinted: {printed:?}");
    }

    for kind in [ResourceKind::User, ResourceKind::Group] {
        let pg = run(&f, kind, &PgDialect, s);
        let lite = run(&f, kind, &SqliteDialect, s);
        assert_eq!(pg, lite, "PostgreSQL and SQLite disagree on accepting {kind:?} filter {s:?}");
    }
});
