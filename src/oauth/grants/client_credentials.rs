//! `client_credentials` (RFC 6749 §4.4): a confidential WEB or SERVICE app
//! gets a token for itself. `sub` is the client (RFC 9068 §2.2); `aud` is the
//! app itself unless `audience` / `resource` name registered target apps.

use crate::domain::application::{AppType, Application};
use crate::oauth::endpoint::resolve_audience;

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
            crate::oauth::issue::for_client(req.svc, req.issuer, req.app, &scopes, audience, req.now)
        })
    }
}
