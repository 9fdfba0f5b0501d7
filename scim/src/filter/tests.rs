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
    assert_eq!(p(r#"title pr and userType eq "Employee""#), and(pr("title"), cmp("userType", Eq, json!("Employee"))));
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
            and(or(cmp("type", Eq, json!("work")), cmp("type", Eq, json!("home"))), cmp("primary", Eq, json!(true)))
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
