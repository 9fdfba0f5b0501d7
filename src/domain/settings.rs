//! Tenant settings and branding (SPEC §1), validated as a whole: unknown keys
//! are refused so a typo never silently leaves a policy at its default.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::validate::{Problems, is_hostname};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    #[default]
    Off,
    Optional,
    Required,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub require_upper: bool,
    pub require_lower: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
    /// How many previous passwords may not be reused.
    pub history: u32,
    pub max_age_days: Option<u32>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            require_upper: false,
            require_lower: false,
            require_digit: false,
            require_symbol: false,
            history: 0,
            max_age_days: None,
        }
    }
}

impl PasswordPolicy {
    /// What is wrong with `password` under this policy, if anything.
    pub fn violations(&self, password: &str) -> Vec<String> {
        let mut out = Vec::new();
        if password.chars().count() < self.min_length as usize {
            out.push(format!("must be at least {} characters", self.min_length));
        }
        if password.chars().count() > 1024 {
            out.push("must be at most 1024 characters".into());
        }
        if self.require_upper && !password.chars().any(char::is_uppercase) {
            out.push("must contain an upper-case letter".into());
        }
        if self.require_lower && !password.chars().any(char::is_lowercase) {
            out.push("must contain a lower-case letter".into());
        }
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            out.push("must contain a digit".into());
        }
        if self.require_symbol && !password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
            out.push("must contain a symbol".into());
        }
        out
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Lockout {
    /// Failed logins in a row before the account locks; 0 disables lockout.
    pub threshold: u32,
    /// Seconds the lock lasts.
    pub duration: u32,
}

impl Default for Lockout {
    fn default() -> Self {
        Self { threshold: 5, duration: 900 }
    }
}

/// Who may register applications at the tenant's RFC 7591 endpoint.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientRegistration {
    /// No registration endpoint.
    #[default]
    Off,
    /// Anyone, public clients only (no secret: NATIVE, or SPA with `web`).
    Public,
    /// Public and confidential clients, with an initial access token: an
    /// access token of this tenant issuer carrying `admin:write`.
    InitialAccessToken,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TenantSettings {
    pub mfa_policy: MfaPolicy,
    /// Dynamic client registration (RFC 7591), off by default.
    pub client_registration: ClientRegistration,
    pub password_policy: PasswordPolicy,
    /// SSO session lifetime in seconds.
    pub session_timeout: u32,
    pub lockout: Lockout,
    pub allowed_email_domains: Vec<String>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            mfa_policy: MfaPolicy::Off,
            client_registration: ClientRegistration::Off,
            password_policy: PasswordPolicy::default(),
            session_timeout: 28_800,
            lockout: Lockout::default(),
            allowed_email_domains: Vec::new(),
        }
    }
}

impl TenantSettings {
    pub fn check(&self, p: &mut Problems) {
        let pp = &self.password_policy;
        p.check((8..=256).contains(&pp.min_length), "settings.password_policy.min_length", "must be 8 to 256");
        p.check(pp.history <= 24, "settings.password_policy.history", "must be at most 24");
        p.check(
            (60..=2_592_000).contains(&self.session_timeout),
            "settings.session_timeout",
            "must be 60 to 2592000 seconds",
        );
        p.check(self.lockout.threshold <= 100, "settings.lockout.threshold", "must be at most 100");
        p.check(self.lockout.duration <= 86_400, "settings.lockout.duration", "must be at most 86400 seconds");
        for (i, d) in self.allowed_email_domains.iter().enumerate() {
            p.check(is_hostname(d), &format!("settings.allowed_email_domains[{i}]"), "must be a domain name");
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Branding {
    pub display_name: Option<String>,
    pub logo_url: Option<String>,
    /// `#rrggbb`
    pub primary_color: Option<String>,
    pub custom_domain: Option<String>,
}

impl Branding {
    pub fn check(&self, p: &mut Problems) {
        p.optional_text("branding.display_name", self.display_name.as_deref(), 200);
        if let Some(u) = &self.logo_url {
            p.url("branding.logo_url", u, false);
        }
        if let Some(c) = &self.primary_color {
            let ok = c.len() == 7 && c.starts_with('#') && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
            p.check(ok, "branding.primary_color", "must be a colour like #1a2b3c");
        }
        if let Some(d) = &self.custom_domain {
            p.check(is_hostname(d) && d.contains('.'), "branding.custom_domain", "must be a domain name");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy_reports_every_rule() {
        let pol = PasswordPolicy { min_length: 10, require_digit: true, require_symbol: true, ..Default::default() };
        assert_eq!(pol.violations("short").len(), 3);
        assert!(pol.violations("long enough 1!").is_empty());
    }

    #[test]
    fn unknown_settings_keys_are_refused() {
        let r: Result<TenantSettings, _> = serde_json::from_str(r#"{"mfa_polcy":"off"}"#);
        assert!(r.is_err());
    }
}
