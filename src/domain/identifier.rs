//! Identifiers as people read them (RFC 8265 / RFC 8266, via the PRECIS
//! profiles crate), applied by the write path whoever writes and by the
//! login form to what a user types:
//!
//! | identifier | stored form | uniqueness key |
//! |---|---|---|
//! | `user_name`, e-mail addresses | UsernameCaseMapped preparation: width mapping (fullwidth → ASCII), NFC | the enforced, case-mapped form |
//! | group names | Nickname enforcement: spaces collapsed, NFKC | the enforced form, lower-cased |
//!
//! Both profiles refuse controls and invisible format characters (zero-width
//! spaces, bidi overrides), so `ｐｒｏｂｅ@acme.test` is the same account as
//! `probe@acme.test` and `pro\u{200b}be@acme.test` is no account at all.

use precis_core::Error as PrecisError;
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{Nickname, UsernameCaseMapped};

fn explain(e: &PrecisError) -> String {
    match e {
        PrecisError::BadCodepoint(info) => format!(
            "must not contain U+{:04X} (a control, space or invisible character) at position {}",
            info.cp,
            info.position + 1
        ),
        PrecisError::Invalid => "is not a valid identifier".into(),
        _ => "is not a valid identifier".into(),
    }
}

/// The stored form of a user name or e-mail address, or why it is refused.
pub fn username(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    UsernameCaseMapped::prepare(trimmed).map(|c| c.into_owned()).map_err(|e| explain(&e))
}

/// What two user names are compared by: equal keys are the same account.
/// Names PRECIS refuses (only rows written before this rule) fall back to
/// plain lower-casing so they stay reachable.
pub fn username_key(name: &str) -> String {
    UsernameCaseMapped::enforce(name.trim()).map(|c| c.into_owned()).unwrap_or_else(|_| name.trim().to_lowercase())
}

/// Runs of white space become one ASCII space, none at either end (RFC
/// 8266 §2.2 a–c). Done here, before the profile: precis-profiles 0.1.13
/// slices by character index when it trims spaces itself, which panics on
/// non-ASCII names with double spaces.
fn tidy_spaces(s: &str) -> String {
    s.split(char::is_whitespace).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The stored form of a group name, or why it is refused.
pub fn group_name(raw: &str) -> Result<String, String> {
    let tidy = tidy_spaces(raw);
    if tidy.is_empty() {
        return Err("must not be empty".into());
    }
    Nickname::enforce(tidy.as_str()).map(|c| c.into_owned()).map_err(|e| explain(&e))
}

/// What two group names are compared by.
pub fn group_name_key(name: &str) -> String {
    let tidy = tidy_spaces(name);
    Nickname::enforce(tidy.as_str()).map(|c| c.to_lowercase()).unwrap_or_else(|_| tidy.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_fold_and_invisibles_are_refused() {
        assert_eq!(username("ｐｒｏｂｅ@acme.test").unwrap(), "probe@acme.test");
        assert_eq!(username_key("ｐｒｏｂｅ@ACME.test"), username_key("probe@acme.test"));
        assert_eq!(username_key("Ada@Acme.Test"), "ada@acme.test");
        let e = username("pro\u{200b}be@acme.test").unwrap_err();
        assert!(e.contains("U+200B") && e.contains("position 4"), "{e}");
        assert!(username("ada\u{202e}@acme.test").is_err(), "bidi override");
        assert!(username("ada\u{0007}@acme.test").is_err(), "control");
        assert!(username("ada smith").is_err(), "spaces");
        assert!(username("  ").is_err());
        // Composed and decomposed forms are one name.
        assert_eq!(username_key("re\u{301}mi@acme.test"), username_key("rémi@acme.test"));
    }

    #[test]
    fn group_names_keep_spaces_but_not_invisibles() {
        assert_eq!(group_name("  Domain   Admins ").unwrap(), "Domain Admins");
        assert_eq!(group_name_key("ＤＯＭＡＩＮ Admins"), group_name_key("domain admins"));
        assert!(group_name("Admins\u{200b}").is_err());
        assert!(group_name("Admins\u{202e}").is_err());
        // Non-ASCII text with runs of spaces (a panic inside the PRECIS crate).
        assert_eq!(group_name_key("ＤＯＭＡＩＮ  admins"), "domain admins");
        assert_eq!(group_name("Équipe   Paris\u{3000}Nord ").unwrap(), "Équipe Paris Nord");
    }
}
