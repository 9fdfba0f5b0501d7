//! Dynamic client registration (RFC 7591) at `POST {tenant issuer}/oauth/register`,
//! by the tenant's `client_registration` setting: `off` (no endpoint, and
//! none in discovery), `public` (anyone may register a public client —
//! what MCP clients do — never one with a secret), `initial_access_token`
//! (public or confidential, with `Authorization: Bearer` an access token of
//! this issuer carrying `admin:write`).
//!
//! A registered client is a TENANT app: `token_endpoint_auth_method: none`
//! makes it NATIVE (or SPA with `application_type: web`), a client secret
//! method makes it WEB; `redirect_uris` follow the same rules as the admin
//! API (RFC 8252 for native apps); `scope` is cut to user-facing scopes —
//! never `admin:*` or `scim:*`; grants to the code flow, refresh and the
//! device grant. It is audited with the registration itself as actor (no
//! app or user made it). Errors are RFC 7591 §3.2.2 JSON.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::Services;
use crate::authn::secret;
use crate::directory::{Actor, Writer};
use crate::domain::application::{
    AppScope, AppType, Application, GRANT_AUTHORIZATION_CODE, GRANT_DEVICE_CODE, GRANT_REFRESH_TOKEN, SigningAlg,
};
use crate::domain::settings::ClientRegistration;
use crate::ids::new_id;
use crate::store::Scope;

use super::Issuer;
use super::verifier::{ExpectedIssuer, verify_access_token};

/// Scopes a self-registered client may ask for.
const REGISTRABLE_SCOPES: &[&str] = &["openid", "profile", "email", "phone", "address", "offline_access", "groups"];

/// RFC 7591 §2 client metadata (unknown members are ignored, §2).
#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    redirect_uris: Vec<String>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    application_type: Option<String>,
    scope: Option<String>,
    logo_uri: Option<String>,
    initiate_login_uri: Option<String>,
}

/// An RFC 7591 answer: status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

fn refuse(status: u16, error: &str, description: &str) -> Answer {
    Answer { status, body: json!({"error": error, "error_description": description}) }
}

/// Whether the tenant issuer has a registration endpoint (and advertises it).
pub fn enabled(issuer: &Issuer) -> bool {
    issuer.tenant.as_ref().is_some_and(|t| t.settings.client_registration != ClientRegistration::Off)
}

pub async fn register(svc: &Services, issuer: &Issuer, bearer: Option<&str>, body: &[u8]) -> Answer {
    let Some(tenant) = issuer.tenant.as_ref().filter(|_| enabled(issuer)) else {
        return refuse(404, "invalid_request", "client registration is not enabled for this tenant");
    };
    let mode = tenant.settings.client_registration;
    if mode == ClientRegistration::InitialAccessToken {
        let authorized = match bearer {
            Some(t) => verify_access_token(svc, t, ExpectedIssuer::Exactly(&issuer.url))
                .await
                .is_ok_and(|v| v.has_scope("admin:write")),
            None => false,
        };
        if !authorized {
            return refuse(401, "invalid_token", "an initial access token with admin:write is required");
        }
    }
    let Ok(m) = serde_json::from_slice::<Metadata>(body) else {
        return refuse(400, "invalid_client_metadata", "the body must be a JSON object of client metadata");
    };
    let confidential = match m.token_endpoint_auth_method.as_deref().unwrap_or("client_secret_basic") {
        "none" => false,
        "client_secret_basic" | "client_secret_post" => true,
        _ => return refuse(400, "invalid_client_metadata", "token_endpoint_auth_method is not supported"),
    };
    if confidential && mode == ClientRegistration::Public {
        return refuse(
            400,
            "invalid_client_metadata",
            "only public clients (token_endpoint_auth_method none) may register here",
        );
    }
    if m.response_types.as_ref().is_some_and(|r| r.iter().any(|t| t != "code")) {
        return refuse(400, "invalid_client_metadata", "only the code response type is supported");
    }
    let grants = m.grant_types.clone().unwrap_or_else(|| vec![GRANT_AUTHORIZATION_CODE.into()]);
    if grants.iter().any(|g| ![GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_DEVICE_CODE].contains(&g.as_str()))
    {
        return refuse(
            400,
            "invalid_client_metadata",
            "grant_types may be authorization_code, refresh_token and the device grant",
        );
    }
    let app_type = match (confidential, m.application_type.as_deref()) {
        (true, _) => AppType::Web,
        (false, Some("web")) => AppType::Spa,
        (false, _) => AppType::Native,
    };
    let scopes: Vec<String> = match &m.scope {
        Some(s) => s.split_whitespace().filter(|s| REGISTRABLE_SCOPES.contains(s)).map(str::to_owned).collect(),
        None => ["openid", "profile", "email"].map(str::to_owned).to_vec(),
    };
    let now = svc.clock.now();
    let client_secret = confidential.then(|| secret::generate("sks_"));
    let name = m.client_name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Registered client");
    let app = Application {
        id: new_id("app", now),
        tenant_id: Some(tenant.id.clone()),
        partner_id: Some(tenant.partner_id.clone()),
        scope: AppScope::Tenant,
        app_type,
        name: name.chars().take(200).collect(),
        client_id: crate::ids::new_client_id(),
        client_secret_hash: client_secret.as_deref().map(secret::hash),
        grant_types: grants,
        redirect_uris: m.redirect_uris.clone(),
        logout_uris: Vec::new(),
        allowed_origins: Vec::new(),
        allowed_scopes: scopes,
        token_lifetime: 3600,
        refresh_token_lifetime: 2_592_000,
        token_signing_alg: SigningAlg::RS256,
        token_exchange_allowed: false,
        sync_webhook_url: None,
        sync_webhook_secret_sealed: None,
        sync_webhook_secret_previous_sealed: None,
        sync_webhook_secret_previous_until: None,
        assigned_users: Vec::new(),
        assigned_groups: Vec::new(),
        created_at: now,
        updated_at: now,
        first_party: false,
        accept_audience_from: Vec::new(),
        initiate_login_uri: m.initiate_login_uri.clone(),
        logo_uri: m.logo_uri.clone(),
    };
    if app.redirect_uris.is_empty() && app.allows_grant(GRANT_AUTHORIZATION_CODE) {
        return refuse(400, "invalid_redirect_uri", "redirect_uris is required for the code flow");
    }
    if let Err(fields) = app.validate() {
        let redirect = fields.iter().any(|f| f.field.starts_with("redirect_uris"));
        let why: Vec<String> = fields.into_iter().map(|f| format!("{} {}", f.field, f.message)).collect();
        let error = if redirect { "invalid_redirect_uri" } else { "invalid_client_metadata" };
        return refuse(400, error, &why.join("; "));
    }
    let stored = async {
        let mut tx = svc.store.write(Scope::Tenant(tenant.id.clone())).await?;
        tx.insert(&app).await?;
        let writer = Writer {
            actor: Actor::System("client-registration"),
            authority: Scope::Tenant(tenant.id.clone()),
            request_id: None,
            now,
        };
        let mut details = serde_json::Map::new();
        details.insert("client_id".into(), app.client_id.clone().into());
        details.insert("dynamic".into(), true.into());
        writer
            .audit(&mut tx, "application.create", ("application", &app.id), (&tenant.partner_id, &tenant.id), details)
            .await
            .map_err(|e| crate::store::StoreError::Database(sqlx::Error::Protocol(e.to_string())))?;
        tx.commit().await
    }
    .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "client registration failed");
        return refuse(500, "server_error", "the client could not be registered");
    }
    let mut body = json!({
        "client_id": app.client_id,
        "client_id_issued_at": now.unix_seconds(),
        "client_name": app.name,
        "redirect_uris": app.redirect_uris,
        "grant_types": app.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": if confidential { m.token_endpoint_auth_method.as_deref().unwrap_or("client_secret_basic") } else { "none" },
        "application_type": if app_type == AppType::Native { "native" } else { "web" },
        "scope": app.allowed_scopes.join(" "),
    });
    if let (Some(s), Some(obj)) = (client_secret, body.as_object_mut()) {
        obj.insert("client_secret".into(), s.into());
        obj.insert("client_secret_expires_at".into(), 0.into());
    }
    Answer { status: 201, body }
}
