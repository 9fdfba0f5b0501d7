//! Attribute paths (RFC 7644 §3.4.2.2 `attrPath = [URI ":"] ATTRNAME *1subAttr`):
//! `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager`,
//! `urn:…:User:manager.value`.
//!
//! Parsing is delegated to `scim_v2`'s grammar (the same one that parses
//! filters and PATCH paths, so all three agree on what a name is) and the
//! result is converted into [`AttrPath`]. Names keep the case they were
//! written in; compare them with `eq_ignore_ascii_case` (RFC 7643 §2.1).
//!
//! A bare schema URN such as `urn:…:enterprise:2.0:User` (legal in an
//! `attributes` list) parses as schema `urn:…:enterprise:2.0`, attribute
//! `User`; [`AttrPath::full_urn`] gives the URN back and the projection code
//! recognises it as "the whole extension".

use crate::ScimError;
use std::fmt;

/// Longest attribute path, filter or PATCH path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// The URN prefix of the core schemas, whose attributes live at the top
/// level of a resource rather than under their URN.
const CORE_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// An attribute path: optional schema URN, attribute, optional sub-attribute.
/// Names keep the case they were written in; compare with `eq_ignore_ascii_case`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix (`urn:…:enterprise:2.0:User`), if written.
    pub schema: Option<String>,
    /// The attribute name.
    pub attr: String,
    /// The sub-attribute name (`givenName` in `name.givenName`).
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// Parses `userName`, `name.givenName`, `urn:…:User:manager`,
    /// `urn:…:User:manager.value`. Fails with 400 `invalidPath`.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ScimError::invalid_path("empty attribute path"));
        }
        if s.len() > MAX_PATH_LEN {
            return Err(ScimError::invalid_path("attribute path too long"));
        }
        match s.parse::<scim_v2::filter::PatchPath>() {
            Ok(scim_v2::filter::PatchPath::Attr(a)) => Ok(AttrPath::from_v2(a)),
            Ok(scim_v2::filter::PatchPath::Value(_)) => {
                Err(ScimError::invalid_path(format!("'{s}' is a value path, not an attribute path")))
            }
            Err(_) => Err(ScimError::invalid_path(format!("invalid attribute path '{s}'"))),
        }
    }

    /// A plain attribute name without schema or sub-attribute.
    pub fn simple(attr: impl Into<String>) -> AttrPath {
        AttrPath { schema: None, attr: attr.into(), sub_attr: None }
    }

    /// `attr.sub_attr` without schema.
    pub fn with_sub(attr: impl Into<String>, sub_attr: impl Into<String>) -> AttrPath {
        AttrPath { schema: None, attr: attr.into(), sub_attr: Some(sub_attr.into()) }
    }

    /// Whether the path names a core-schema attribute (no schema, or a
    /// `urn:ietf:params:scim:schemas:core:` one), i.e. one at the top level.
    pub fn is_core(&self) -> bool {
        self.schema.as_deref().is_none_or(is_core_schema)
    }

    /// `schema:attr` when a schema is given: for a bare URN such as
    /// `urn:…:enterprise:2.0:User` this is the URN itself.
    pub fn full_urn(&self) -> Option<String> {
        self.schema.as_ref().filter(|_| self.sub_attr.is_none()).map(|s| format!("{s}:{}", self.attr))
    }

    pub(crate) fn from_v2(a: scim_v2::filter::AttrPath) -> AttrPath {
        AttrPath { schema: a.uri, attr: a.name, sub_attr: a.sub_attr }
    }
}

/// Whether `urn` is a core schema URN (its attributes are top-level).
pub fn is_core_schema(urn: &str) -> bool {
    urn.get(..CORE_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(CORE_PREFIX))
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ScimType, schemas};

    #[test]
    fn parses_plain_dotted_and_urn_paths() {
        assert_eq!(AttrPath::parse("userName").unwrap(), AttrPath::simple("userName"));
        assert_eq!(AttrPath::parse(" name.givenName ").unwrap(), AttrPath::with_sub("name", "givenName"));
        assert_eq!(AttrPath::parse("emails.value").unwrap(), AttrPath::with_sub("emails", "value"));
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap();
        assert_eq!(p.schema.as_deref(), Some(schemas::ENTERPRISE_USER));
        assert_eq!(p.attr, "manager");
        assert_eq!(p.sub_attr, None);
        assert!(!p.is_core());
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
        assert_eq!(p.schema.as_deref(), Some(schemas::ENTERPRISE_USER));
        assert_eq!((p.attr.as_str(), p.sub_attr.as_deref()), ("manager", Some("value")));
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName").unwrap();
        assert!(p.is_core());
        assert_eq!(p.to_string(), "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName");
        let p = AttrPath::parse("urn:scailabs:params:scim:schemas:extension:ad:2.0:User:sAMAccountName").unwrap();
        assert_eq!(p.schema.as_deref(), Some(schemas::AD_USER));
        assert_eq!(p.attr, "sAMAccountName");
    }

    #[test]
    fn bare_urn_round_trips_through_full_urn() {
        let p = AttrPath::parse(schemas::ENTERPRISE_USER).unwrap();
        assert_eq!(p.full_urn().as_deref(), Some(schemas::ENTERPRISE_USER));
    }

    #[test]
    fn keeps_case() {
        let p = AttrPath::parse("NAME.GivenName").unwrap();
        assert_eq!(p, AttrPath::with_sub("NAME", "GivenName"));
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in [
            "",
            "   ",
            "name.",
            "a.b.c",
            "1abc",
            "emails[type eq \"work\"]",
            "user name",
            "name..x",
            "\"quoted\"",
            "emails[",
        ] {
            let e = AttrPath::parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad:?}");
        }
        assert!(AttrPath::parse(&"a".repeat(MAX_PATH_LEN + 1)).is_err());
    }
}
