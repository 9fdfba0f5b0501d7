//! Rows for the conformance cases, built directly (no services) so the suite
//! tests the store alone.

use serde_json::{Map, json};

use crate::domain::Timestamp;
use crate::domain::application::{AppScope, AppType, Application, SigningAlg};
use crate::domain::group::Group;
use crate::domain::partner::{Partner, PartnerLimits};
use crate::domain::tenant::Tenant;
use crate::domain::user::{User, UserStatus};
use crate::ids::{new_client_id, new_id};
use crate::store::{Scope, Store};

pub fn now() -> Timestamp {
    Timestamp::from_unix_micros(1_795_000_000_123_456).expect("valid time")
}

pub fn partner() -> Partner {
    Partner {
        id: new_id("prt", now()),
        name: "P".into(),
        limits: PartnerLimits::default(),
        created_at: now(),
        updated_at: now(),
    }
}

pub fn tenant(p: &Partner, slug: &str) -> Tenant {
    Tenant {
        id: new_id("tnt", now()),
        partner_id: p.id.clone(),
        slug: slug.into(),
        name: slug.into(),
        settings: Default::default(),
        branding: Default::default(),
        created_at: now(),
        updated_at: now(),
    }
}

pub fn user(t: &Tenant, name: &str) -> User {
    User {
        id: new_id("usr", now()),
        tenant_id: t.id.clone(),
        partner_id: t.partner_id.clone(),
        user_name: name.into(),
        external_id: Some(format!("ext-{name}")),
        sam_account_name: Some("sam".into()),
        email: Some(format!("{name}@x.test")),
        email_verified: true,
        emails: vec![crate::domain::user::EmailAddress {
            value: format!("{name}@x.test"),
            kind: Some("work".into()),
            primary: true,
        }],
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        display_name: None,
        title: Some("Countess".into()),
        department: Some("R&D".into()),
        company: None,
        employee_id: Some("42".into()),
        employee_type: None,
        manager_id: None,
        office: None,
        phone_numbers: vec![crate::domain::user::PhoneNumber {
            value: "+1 555".into(),
            kind: Some("work".into()),
            primary: true,
        }],
        addresses: vec![],
        locale: Some("en-GB".into()),
        preferred_language: None,
        timezone: None,
        status: UserStatus::Active,
        ou_id: None,
        custom_attributes: match json!({"shoe": 9}) {
            serde_json::Value::Object(m) => m,
            _ => Map::new(),
        },
        password_hash: Some("$argon2id$x".into()),
        password_changed_at: Some(now()),
        created_at: now(),
        updated_at: now(),
    }
}

pub fn group(t: &Tenant, name: &str) -> Group {
    Group {
        id: new_id("grp", now()),
        tenant_id: t.id.clone(),
        partner_id: t.partner_id.clone(),
        name: name.into(),
        description: None,
        ou_id: None,
        created_at: now(),
        updated_at: now(),
        external_id: None,
    }
}

pub fn app(t: &Tenant) -> Application {
    Application {
        id: new_id("app", now()),
        tenant_id: Some(t.id.clone()),
        partner_id: Some(t.partner_id.clone()),
        scope: AppScope::Tenant,
        app_type: AppType::Web,
        name: "Wiki".into(),
        client_id: new_client_id(),
        client_secret_hash: Some("sha256:x".into()),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["https://wiki.test/cb".into()],
        logout_uris: vec![],
        allowed_origins: vec![],
        allowed_scopes: vec!["openid".into()],
        token_lifetime: 3600,
        refresh_token_lifetime: 2_592_000,
        token_signing_alg: SigningAlg::ES256,
        token_exchange_allowed: false,
        sync_webhook_url: None,
        sync_webhook_secret_sealed: None,
        sync_webhook_secret_previous_sealed: None,
        sync_webhook_secret_previous_until: None,
        assigned_users: vec![],
        assigned_groups: vec![],
        created_at: now(),
        updated_at: now(),
        first_party: false,
        accept_audience_from: vec![],
        initiate_login_uri: None,
        logo_uri: None,
    }
}

/// A partner with two tenants, `a` and `b`, committed.
pub async fn two_tenants(store: &Store) -> (Partner, Tenant, Tenant) {
    let p = partner();
    let a = tenant(&p, &format!("a-{}", crate::ids::random_base36(6)));
    let b = tenant(&p, &format!("b-{}", crate::ids::random_base36(6)));
    let mut tx = store.write(Scope::Platform).await.expect("tx");
    tx.insert(&p).await.expect("partner");
    tx.insert(&a).await.expect("tenant a");
    tx.insert(&b).await.expect("tenant b");
    tx.commit().await.expect("commit");
    (p, a, b)
}
