//! Users with the AD-compatible attribute set of SPEC §1, so SCIM and LDAP
//! round trips lose nothing. The password hash never leaves the store layer.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::Timestamp;
use super::validate::{FieldError, Problems};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    #[default]
    Active,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
            UserStatus::Deprovisioned => "deprovisioned",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumber {
    pub value: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub primary: bool,
}

/// One e-mail address of a user (SCIM `emails`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailAddress {
    pub value: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub primary: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Address {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub street_address: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub formatted: Option<String>,
    pub primary: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    /// userPrincipalName; unique per tenant, case-insensitively.
    pub user_name: String,
    /// The provisioning client's id for this user (SCIM `externalId`).
    pub external_id: Option<String>,
    pub sam_account_name: Option<String>,
    /// The primary address; `emails` holds all of them.
    pub email: Option<String>,
    pub email_verified: bool,
    #[sqlx(json)]
    pub emails: Vec<EmailAddress>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub company: Option<String>,
    pub employee_id: Option<String>,
    pub employee_type: Option<String>,
    pub manager_id: Option<String>,
    pub office: Option<String>,
    #[sqlx(json)]
    pub phone_numbers: Vec<PhoneNumber>,
    #[sqlx(json)]
    pub addresses: Vec<Address>,
    pub locale: Option<String>,
    /// SCIM `preferredLanguage` (RFC 7643 keeps it apart from `locale`).
    pub preferred_language: Option<String>,
    pub timezone: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: UserStatus,
    pub ou_id: Option<String>,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub password_changed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl TryFrom<String> for UserStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        UserStatus::parse(&s).ok_or_else(|| format!("unknown user status {s}"))
    }
}

/// The external identity that links a user to one upstream IdP.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct UserIdentity {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    #[serde(skip)]
    pub partner_id: String,
    #[serde(skip)]
    pub user_id: String,
    pub idp_id: String,
    pub external_id: String,
    pub last_login_at: Option<Timestamp>,
    #[serde(skip)]
    pub created_at: Timestamp,
}

/// Distinguishes "field absent" (`None`) from "field set to null" (`Some(None)`).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `POST /users` and `PATCH /users/{id}` (where `tenant_id`,
/// fixed at creation, is refused).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAttributes {
    pub tenant_id: Option<String>,
    pub user_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub sam_account_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    /// Every address; the primary one (or the first) becomes `email`.
    pub emails: Option<Vec<EmailAddress>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub family_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub employee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub employee_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub manager_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub office: Option<Option<String>>,
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    pub addresses: Option<Vec<Address>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub preferred_language: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    pub status: Option<UserStatus>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub ou_id: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Set a new password (checked against the tenant's policy; stored as argon2id).
    pub password: Option<String>,
}

impl User {
    /// An active user of `tenant` with only a user name, created `now`.
    pub fn new(id: String, tenant: &super::tenant::Tenant, user_name: String, now: Timestamp) -> User {
        User {
            id,
            tenant_id: tenant.id.clone(),
            partner_id: tenant.partner_id.clone(),
            user_name,
            external_id: None,
            sam_account_name: None,
            email: None,
            email_verified: false,
            emails: vec![],
            given_name: None,
            family_name: None,
            display_name: None,
            title: None,
            department: None,
            company: None,
            employee_id: None,
            employee_type: None,
            manager_id: None,
            office: None,
            phone_numbers: vec![],
            addresses: vec![],
            locale: None,
            preferred_language: None,
            timezone: None,
            status: UserStatus::Active,
            ou_id: None,
            custom_attributes: serde_json::Map::new(),
            password_hash: None,
            password_changed_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies the present fields of `a` (the password is handled by the service).
    pub fn apply(&mut self, a: &UserAttributes) {
        fn set(slot: &mut Option<String>, v: &Option<Option<String>>) {
            if let Some(v) = v {
                *slot = v.clone().filter(|s| !s.is_empty());
            }
        }
        if let Some(n) = &a.user_name {
            self.user_name = n.trim().to_owned();
        }
        set(&mut self.external_id, &a.external_id);
        set(&mut self.sam_account_name, &a.sam_account_name);
        if let Some(list) = &a.emails {
            self.emails = list.clone();
            self.email = list.iter().find(|e| e.primary).or(list.first()).map(|e| e.value.clone());
        }
        if let Some(Some(e)) = &a.email
            && !self.emails.iter().any(|x| x.value.eq_ignore_ascii_case(e))
        {
            // A new primary address set through `email` joins the list as primary.
            for x in &mut self.emails {
                x.primary = false;
            }
            self.emails.insert(0, EmailAddress { value: e.clone(), kind: None, primary: true });
        }
        set(&mut self.email, &a.email);
        if let Some(v) = a.email_verified {
            self.email_verified = v;
        }
        set(&mut self.given_name, &a.given_name);
        set(&mut self.family_name, &a.family_name);
        set(&mut self.display_name, &a.display_name);
        set(&mut self.title, &a.title);
        set(&mut self.department, &a.department);
        set(&mut self.company, &a.company);
        set(&mut self.employee_id, &a.employee_id);
        set(&mut self.employee_type, &a.employee_type);
        set(&mut self.manager_id, &a.manager_id);
        set(&mut self.office, &a.office);
        if let Some(v) = &a.phone_numbers {
            self.phone_numbers = v.clone();
        }
        if let Some(v) = &a.addresses {
            self.addresses = v.clone();
        }
        set(&mut self.locale, &a.locale);
        set(&mut self.preferred_language, &a.preferred_language);
        set(&mut self.timezone, &a.timezone);
        if let Some(s) = a.status {
            self.status = s;
        }
        set(&mut self.ou_id, &a.ou_id);
        if let Some(c) = &a.custom_attributes {
            self.custom_attributes = c.clone();
        }
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Problems::default();
        p.name("user_name", &self.user_name, 256);
        if self.user_name.contains(char::is_whitespace) {
            p.add("user_name", "must not contain spaces");
        }
        if let Some(e) = &self.email {
            p.email("email", e);
        }
        for (i, e) in self.emails.iter().enumerate() {
            p.email(&format!("emails[{i}].value"), &e.value);
        }
        p.check(self.emails.iter().filter(|e| e.primary).count() <= 1, "emails", "at most one address is primary");
        p.check(self.emails.len() <= 50, "emails", "at most 50 addresses");
        p.optional_text("external_id", self.external_id.as_deref(), 256);
        if let Some(s) = &self.sam_account_name {
            // AD's sAMAccountName: at most 20 characters, none of "/\[]:;|=,+*?<>@
            let bad = s.chars().any(|c| "\"/\\[]:;|=,+*?<>@".contains(c) || c.is_control());
            p.check(
                !s.is_empty() && s.chars().count() <= 20 && !bad,
                "sam_account_name",
                "must be a valid sAMAccountName",
            );
        }
        for (field, v) in [
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("display_name", &self.display_name),
            ("title", &self.title),
            ("department", &self.department),
            ("company", &self.company),
            ("employee_id", &self.employee_id),
            ("employee_type", &self.employee_type),
            ("office", &self.office),
            ("locale", &self.locale),
            ("preferred_language", &self.preferred_language),
            ("timezone", &self.timezone),
        ] {
            p.optional_text(field, v.as_deref(), 256);
        }
        if let Some(m) = &self.manager_id {
            p.id("manager_id", m, "usr");
            p.check(m != &self.id, "manager_id", "a user cannot be their own manager");
        }
        if let Some(o) = &self.ou_id {
            p.id("ou_id", o, "ou");
        }
        for (i, n) in self.phone_numbers.iter().enumerate() {
            p.name(&format!("phone_numbers[{i}].value"), &n.value, 64);
        }
        p.check(self.custom_attributes.len() <= 100, "custom_attributes", "at most 100 keys");
        p.into_result()
    }
}
