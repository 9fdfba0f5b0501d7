//! Reads a config JSON object field by field, collecting every problem.
//!
//! serde stops at the first error; an admin fixing a config wants them all.
//! So each connector reads its keys through a [`Reader`], which records a
//! [`FieldError`] for unknown keys, wrong types, empty strings and missing
//! required keys, and [`Reader::finish`] turns the lot into a result.
//! `null` counts as absent, so a stored config with `None`s reads back.
//! Messages never quote the submitted value.

use crate::error::{ConfigError, FieldError};
use crate::validate;
use serde_json::{Map, Value};
use std::ops::RangeInclusive;

pub(crate) struct Reader<'a> {
    map: Option<&'a Map<String, Value>>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    /// Starts reading `value`; keys outside `known` are reported at once.
    pub(crate) fn new(value: &'a Value, known: &[&str]) -> Self {
        let mut errors = Vec::new();
        let map = match value {
            Value::Object(map) => {
                for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
                    errors.push(FieldError::new(
                        key.clone(),
                        format!("unknown field (expected one of: {})", known.join(", ")),
                    ));
                }
                Some(map)
            }
            _ => {
                errors.push(FieldError::new("config", "must be a JSON object"));
                None
            }
        };
        Self { map, errors }
    }

    /// Records a problem with `field`.
    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Whether `field` already has a problem recorded.
    pub(crate) fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// The raw value of `key`, `null` treated as absent.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    /// Whether the config was an object at all (if not, that is the one error).
    pub(crate) fn is_object(&self) -> bool {
        self.map.is_some()
    }

    /// Whether `key` is present and not `null`.
    pub(crate) fn present(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    fn missing(&mut self, key: &str) {
        // When the whole config is not an object that one error says it all.
        if self.is_object() {
            self.error(key, "is required");
        }
    }

    /// An optional non-empty string.
    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        match self.raw(key)? {
            Value::String(s) if s.trim().is_empty() => {
                self.error(key, "must not be empty");
                None
            }
            Value::String(s) => Some(s.clone()),
            _ => {
                self.error(key, "must be a string");
                None
            }
        }
    }

    /// A required non-empty string.
    pub(crate) fn required_string(&mut self, key: &str) -> Option<String> {
        if !self.present(key) {
            self.missing(key);
            return None;
        }
        self.string(key)
    }

    /// A string, or `default` when absent. `None` only when invalid.
    pub(crate) fn string_or(&mut self, key: &str, default: &str) -> Option<String> {
        if self.present(key) { self.string(key) } else { Some(default.to_owned()) }
    }

    /// An upstream base URL (see [`validate::base_url`]), or `default`.
    pub(crate) fn base_url_or(&mut self, key: &str, default: &str) -> Option<String> {
        let raw = self.string_or(key, default)?;
        validate::base_url(&raw).map_err(|msg| self.error(key, msg)).ok()
    }

    /// A boolean, or `default` when absent (or invalid, with an error).
    pub(crate) fn bool_or(&mut self, key: &str, default: bool) -> bool {
        match self.raw(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.error(key, "must be a boolean");
                default
            }
        }
    }

    /// An integer within `range`, or `default` when absent.
    pub(crate) fn u32_or(&mut self, key: &str, default: u32, range: RangeInclusive<u32>) -> u32 {
        let Some(value) = self.raw(key) else {
            return default;
        };
        match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if range.contains(&n) => n,
            _ => {
                self.error(key, format!("must be an integer from {} to {}", range.start(), range.end()));
                default
            }
        }
    }

    /// An optional list of non-empty strings.
    pub(crate) fn string_list(&mut self, key: &str) -> Option<Vec<String>> {
        let value = self.raw(key)?;
        let Value::Array(items) = value else {
            self.error(key, "must be a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) if !s.trim().is_empty() => out.push(s.clone()),
                _ => {
                    self.error(key, "must be a list of non-empty strings");
                    return None;
                }
            }
        }
        Some(out)
    }

    /// The problems found, as an error (never empty).
    pub(crate) fn into_error(mut self) -> ConfigError {
        if self.errors.is_empty() {
            // Unreachable by construction: callers only give up after an error.
            self.errors.push(FieldError::new("config", "is invalid"));
        }
        ConfigError { fields: self.errors }
    }

    /// `value` if no problem was recorded, else every problem.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.errors.is_empty() { Ok(value) } else { Err(self.into_error()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_problem() {
        let value = json!({"a": 1, "b": "", "c": "x", "d": [1], "e": 9000, "f": "yes", "zz": 1});
        let mut r = Reader::new(&value, &["a", "b", "c", "d", "e", "f", "g"]);
        assert_eq!(r.string("a"), None);
        assert_eq!(r.string("b"), None);
        assert_eq!(r.required_string("c").as_deref(), Some("x"));
        assert_eq!(r.string_list("d"), None);
        assert_eq!(r.u32_or("e", 5, 1..=10), 5);
        assert!(r.bool_or("f", true));
        assert_eq!(r.required_string("g"), None);
        let err = r.into_error();
        let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["zz", "a", "b", "d", "e", "f", "g"]);
    }

    #[test]
    fn null_is_absent() {
        let value = json!({"a": null});
        let mut r = Reader::new(&value, &["a"]);
        assert_eq!(r.string_or("a", "d").as_deref(), Some("d"));
        assert!(r.finish(()).is_ok());
    }
}
