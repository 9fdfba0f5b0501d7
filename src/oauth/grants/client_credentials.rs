//! `client_credentials` (RFC 6749 §4.4): a confidential WEB or SERVICE app
//! gets a token for itself. `sub` is the client (RFC 9068 §2.2); `aud` is the
//! app itself unless `audience` / `resource` name registered target apps.

use crate::domain::application::{AppType, Application};
use crate::oauth::endpoint::resolve_audience;
use crate::oauth::tokens::{AccessTokenSpec, Subject, TokenResponse, access_token_claims, sign_access_token};

use super::{Grant, GrantFuture, GrantRequest};

/// Scopes that describe a user, meaningless without one.
const USER_ONLY: &[&str] = &["openid", "profile", "email", "phone", "address", "offline_access", "groups"];

pub struct ClientCredentials;

impl Grant for ClientCredentials {
    fn grant_type(&self) -> &'static str {
        crate::domain::application::GRANT_CLIENT_CREDENTIALS
    }

    fn app_types(&self) -> &'static [AppType] {
        &[AppType::Web, AppType::Service]
    }

    fn default_scopes(&self, app: &Application) -> Vec<String> {
        app.allowed_scopes.iter().filter(|s| !USER_ONLY.contains(&s.as_str())).cloned().collect()
    }

    fn issue<'a>(&'a self, req: GrantRequest<'a>) -> GrantFuture<'a> {
        Box::pin(async move {
            let scopes: Vec<String> = req.scopes.iter().filter(|s| !USER_ONLY.contains(&s.as_str())).cloned().collect();
            let audience = resolve_audience(&req).await?;
            let (tenant_id, partner_id) = match &req.issuer.tenant {
                Some(t) => (Some(t.id.as_str()), Some(t.partner_id.as_str())),
                None => (req.app.tenant_id.as_deref(), req.app.partner_id.as_deref()),
            };
            let spec = AccessTokenSpec {
                issuer: &req.issuer.url,
                app: req.app,
                subject: Subject::Client,
                audience,
                scopes: &scopes,
                tenant_id,
                partner_id,
                now: req.now,
            };
            let claims = access_token_claims(&spec);
            let access_token = sign_access_token(&req.svc.keys, req.app, &claims)?;
            Ok(TokenResponse {
                access_token,
                token_type: "Bearer",
                expires_in: req.app.token_lifetime,
                scope: Some(scopes.join(" ")),
                refresh_token: None,
                id_token: None,
            })
        })
    }
}
