//! Applications (OAuth clients). The rules of type × scope × grant live here:
//! public apps (SPA, NATIVE) have no secret and cannot use client_credentials;
//! SERVICE apps use only client_credentials; TENANT apps belong to a tenant,
//! PARTNER apps to a partner, GLOBAL apps to the platform.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::user::nullable;
use super::validate::{FieldError, Problems};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AppScope {
    Tenant,
    Partner,
    Global,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AppType {
    Web,
    Spa,
    Native,
    Service,
}

impl AppType {
    /// Confidential clients hold a secret; public ones cannot keep one.
    pub fn is_confidential(&self) -> bool {
        matches!(self, AppType::Web | AppType::Service)
    }
}

macro_rules! text_enum {
    ($t:ty) => {
        impl $t {
            pub fn as_str(&self) -> String {
                match serde_json::to_value(self) {
                    Ok(serde_json::Value::String(s)) => s,
                    _ => String::new(),
                }
            }
        }
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                serde_json::from_value(serde_json::Value::String(s.clone())).map_err(|_| format!("unknown value {s}"))
            }
        }
    };
}
text_enum!(AppScope);
text_enum!(AppType);
text_enum!(SigningAlg);

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, ToSchema)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    /// The JWS `alg` name (RFC 7518 §3.1) without `as_str`'s round trip
    /// through serde: it goes into the header of every token.
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const KNOWN_GRANTS: &[&str] =
    &[GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_CLIENT_CREDENTIALS, GRANT_DEVICE_CODE, GRANT_TOKEN_EXCHANGE];

/// ScaiKey's own scopes besides the OIDC ones; custom scopes are `resource:action`.
pub const BUILTIN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    "address",
    "offline_access",
    "groups",
    "admin:read",
    "admin:write",
    "scim:read",
    "scim:write",
];

pub fn is_valid_scope(s: &str) -> bool {
    if BUILTIN_SCOPES.contains(&s) {
        return true;
    }
    let Some((resource, action)) = s.split_once(':') else { return false };
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    part(resource) && part(action)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Application {
    pub id: String,
    pub tenant_id: Option<String>,
    pub partner_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub scope: AppScope,
    #[sqlx(try_from = "String", rename = "type")]
    #[serde(rename = "type")]
    pub app_type: AppType,
    pub name: String,
    pub client_id: String,
    #[serde(skip)]
    pub client_secret_hash: Option<String>,
    #[sqlx(json)]
    pub grant_types: Vec<String>,
    #[sqlx(json)]
    pub redirect_uris: Vec<String>,
    #[sqlx(json)]
    pub logout_uris: Vec<String>,
    #[sqlx(json)]
    pub allowed_origins: Vec<String>,
    #[sqlx(json)]
    pub allowed_scopes: Vec<String>,
    pub token_lifetime: i64,
    pub refresh_token_lifetime: i64,
    #[sqlx(try_from = "String")]
    pub token_signing_alg: SigningAlg,
    pub token_exchange_allowed: bool,
    pub sync_webhook_url: Option<String>,
    #[serde(skip)]
    pub sync_webhook_secret_sealed: Option<String>,
    /// The secret before the last rotation, still signing (both signatures
    /// are sent) until `sync_webhook_secret_previous_until`.
    #[serde(skip)]
    pub sync_webhook_secret_previous_sealed: Option<String>,
    #[serde(skip)]
    pub sync_webhook_secret_previous_until: Option<Timestamp>,
    #[sqlx(json)]
    pub assigned_users: Vec<String>,
    #[sqlx(json)]
    pub assigned_groups: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A GLOBAL app of the platform operator: its users are not asked to
    /// consent to admin and SCIM scopes. Set only by super admins.
    pub first_party: bool,
    /// `client_id`s of other tenants' apps that may request tokens with this
    /// app as `audience`/`resource` (apps of its own tenant always may).
    #[sqlx(json)]
    pub accept_audience_from: Vec<String>,
    /// Where ScaiKey sends a user to have the app start its own sign-in
    /// (OIDC Core §4, third-party initiated login): the app launcher and
    /// IdP-initiated SAML land here.
    pub initiate_login_uri: Option<String>,
    /// The app's logo in the account page's app launcher (https).
    pub logo_uri: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    pub tenant_id: Option<String>,
    pub partner_id: Option<String>,
    pub scope: AppScope,
    #[serde(rename = "type")]
    pub app_type: AppType,
    pub name: String,
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub logout_uris: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub allowed_scopes: Option<Vec<String>>,
    pub token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    pub token_signing_alg: Option<SigningAlg>,
    #[serde(default)]
    pub token_exchange_allowed: bool,
    pub sync_webhook_url: Option<String>,
    /// The webhook signing secret (write-only; drawn by ScaiKey and shown
    /// once when omitted while `sync_webhook_url` is set).
    pub sync_webhook_secret: Option<String>,
    #[serde(default)]
    pub assigned_users: Vec<String>,
    #[serde(default)]
    pub assigned_groups: Vec<String>,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub accept_audience_from: Vec<String>,
    pub initiate_login_uri: Option<String>,
    pub logo_uri: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationPatch {
    pub name: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub redirect_uris: Option<Vec<String>>,
    pub logout_uris: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub allowed_scopes: Option<Vec<String>>,
    pub token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    pub token_signing_alg: Option<SigningAlg>,
    pub token_exchange_allowed: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub sync_webhook_url: Option<Option<String>>,
    /// A new webhook signing secret (write-only); the previous one keeps
    /// signing for 24 hours.
    pub sync_webhook_secret: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub initiate_login_uri: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub logo_uri: Option<Option<String>>,
    pub assigned_users: Option<Vec<String>>,
    pub assigned_groups: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub accept_audience_from: Option<Vec<String>>,
}

pub fn default_grants(t: AppType) -> Vec<String> {
    match t {
        AppType::Service => vec![GRANT_CLIENT_CREDENTIALS.into()],
        _ => vec![GRANT_AUTHORIZATION_CODE.into(), GRANT_REFRESH_TOKEN.into()],
    }
}

pub fn default_scopes(t: AppType) -> Vec<String> {
    match t {
        AppType::Service => vec![],
        _ => ["openid", "profile", "email"].map(String::from).to_vec(),
    }
}

impl Application {
    pub fn is_public(&self) -> bool {
        !self.app_type.is_confidential()
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        p.name("name", &self.name, 200);
        match self.scope {
            AppScope::Tenant => p.check(self.tenant_id.is_some(), "tenant_id", "is required for TENANT applications"),
            AppScope::Partner => {
                p.check(self.partner_id.is_some(), "partner_id", "is required for PARTNER applications");
                p.check(self.tenant_id.is_none(), "tenant_id", "must be empty for PARTNER applications");
            }
            AppScope::Global => {
                p.check(self.tenant_id.is_none(), "tenant_id", "must be empty for GLOBAL applications");
                p.check(self.partner_id.is_none(), "partner_id", "must be empty for GLOBAL applications");
            }
        }
        if self.grant_types.is_empty() {
            p.add("grant_types", "must not be empty");
        }
        for (i, g) in self.grant_types.iter().enumerate() {
            if !KNOWN_GRANTS.contains(&g.as_str()) {
                p.add(format!("grant_types[{i}]"), "is not a supported grant type");
            }
        }
        if self.allows_grant(GRANT_CLIENT_CREDENTIALS) && !self.app_type.is_confidential() {
            p.add("grant_types", "public applications (SPA, NATIVE) cannot use client_credentials");
        }
        if self.app_type == AppType::Service {
            let only_machine =
                self.grant_types.iter().all(|g| g == GRANT_CLIENT_CREDENTIALS || g == GRANT_TOKEN_EXCHANGE);
            p.check(only_machine, "grant_types", "SERVICE applications use client_credentials or token exchange only");
        }
        if self.allows_grant(GRANT_AUTHORIZATION_CODE) && self.redirect_uris.is_empty() {
            p.add("redirect_uris", "at least one is required for authorization_code");
        }
        let native = self.app_type == AppType::Native;
        for (i, u) in self.redirect_uris.iter().enumerate() {
            if let Some(why) = super::redirect::refuse(u, native) {
                p.add(format!("redirect_uris[{i}]"), why);
            }
        }
        for (i, u) in self.logout_uris.iter().enumerate() {
            if let Some(why) = super::redirect::refuse(u, native) {
                p.add(format!("logout_uris[{i}]"), why);
            }
        }
        for (i, o) in self.allowed_origins.iter().enumerate() {
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "https" | "http") && u.path() == "/" && u.query().is_none() && !o.ends_with('/')
            });
            p.check(ok, &format!("allowed_origins[{i}]"), "must be an origin like https://app.example.com");
        }
        for (i, s) in self.allowed_scopes.iter().enumerate() {
            p.check(is_valid_scope(s), &format!("allowed_scopes[{i}]"), "is not a valid scope");
        }
        p.check((60..=86_400).contains(&self.token_lifetime), "token_lifetime", "must be 60 to 86400 seconds");
        p.check(
            (300..=31_536_000).contains(&self.refresh_token_lifetime),
            "refresh_token_lifetime",
            "must be 300 to 31536000 seconds",
        );
        if let Some(u) = &self.sync_webhook_url {
            p.url("sync_webhook_url", u, false);
        }
        if let Some(u) = &self.initiate_login_uri {
            p.url("initiate_login_uri", u, false);
        }
        if let Some(u) = &self.logo_uri {
            p.url("logo_uri", u, false);
        }
        for (i, u) in self.assigned_users.iter().enumerate() {
            p.id(&format!("assigned_users[{i}]"), u, "usr");
        }
        for (i, g) in self.assigned_groups.iter().enumerate() {
            p.id(&format!("assigned_groups[{i}]"), g, "grp");
        }
        p.check(
            !self.first_party || self.scope == AppScope::Global,
            "first_party",
            "only GLOBAL applications can be first-party",
        );
        for (i, c) in self.accept_audience_from.iter().enumerate() {
            let ok = !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric());
            p.check(ok, &format!("accept_audience_from[{i}]"), "must be a client_id");
        }
        p.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert!(is_valid_scope("openid"));
        assert!(is_valid_scope("api:read"));
        assert!(!is_valid_scope("api"));
        assert!(!is_valid_scope("api:read write"));
    }
}
