//! A stand-in that `Debug`-prints secrets as `[redacted]`, so configs can be
//! logged without leaking client secrets, keys or bind passwords.

use std::fmt;

pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `Some([redacted])` or `None`, so logs still show whether a secret is set.
pub(crate) fn optional<T>(value: &Option<T>) -> Option<Redacted> {
    value.as_ref().map(|_| Redacted)
}
