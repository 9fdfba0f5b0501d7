//! `authorization_code` (RFC 6749 §4.1.3, RFC 7636, OIDC Core §3.1.3).
//! A code is single-use, short-lived, and bound to its client, redirect_uri
//! and PKCE challenge. A second use revokes everything the first issued
//! (RFC 6749 §4.1.2: the code was stolen or replayed).

use crate::authn::secret;
use crate::domain::application::{AppType, Application, GRANT_AUTHORIZATION_CODE};
use crate::domain::oidc::AuthorizationCode;
use crate::domain::user::{User, UserStatus};
use crate::oauth::OAuthError;
use crate::oauth::issue::{self, ForUser, Refresh};
use crate::oauth::pkce;
use crate::store::StoreError;

use super::{Grant, GrantFuture, GrantRequest};

pub struct AuthorizationCodeGrant;

pub fn invalid_grant(d: &str) -> OAuthError {
    OAuthError { error: "invalid_grant", description: d.into() }
}

impl Grant for AuthorizationCodeGrant {
    fn grant_type(&self) -> &'static str {
        GRANT_AUTHORIZATION_CODE
    }

    fn app_types(&self) -> &'static [AppType] {
        &[AppType::Web, AppType::Spa, AppType::Native]
    }

    fn default_scopes(&self, _app: &Application) -> Vec<String> {
        Vec::new()
    }

    fn uses_request_scope(&self) -> bool {
        false
    }

    fn issue<'a>(&'a self, req: GrantRequest<'a>) -> GrantFuture<'a> {
        Box::pin(async move {
            let code = req.param("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
            let mut tx = req.svc.store.write(req.issuer.scope()).await?;
            let row: AuthorizationCode = match tx.code_by_hash(&secret::hash(code)).await {
                Ok(r) => r,
                Err(StoreError::NotFound) => return Err(invalid_grant("the code is invalid")),
                Err(e) => return Err(e.into()),
            };
            if row.app_id != req.app.id {
                return Err(invalid_grant("the code was issued to another client"));
            }
            if row.used_at.is_some() {
                // Replay: revoke the tokens of the first exchange.
                let until = req.now.plus_seconds(86_400);
                if let Some(jti) = &row.access_jti {
                    tx.revoke_jti(jti, until).await?;
                }
                for family in tx.families_of_code(&row.id).await? {
                    tx.revoke_family(&family, req.now, until).await?;
                }
                tx.commit().await?;
                tracing::warn!(target: "audit", action = "code.replayed", client_id = %req.app.client_id, "authorization code reused; its tokens are revoked");
                return Err(invalid_grant("the code was already used"));
            }
            if row.expires_at <= req.now {
                return Err(invalid_grant("the code has expired"));
            }
            if req.param("redirect_uri") != Some(row.params.redirect_uri.as_str()) {
                return Err(invalid_grant("redirect_uri does not match the authorization request"));
            }
            match (&row.params.code_challenge, req.param("code_verifier")) {
                (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
                (Some(_), _) => return Err(invalid_grant("the code_verifier does not match")),
                (None, Some(_)) => return Err(invalid_grant("no code_challenge was sent for this code")),
                (None, None) => {}
            }
            let user: User = tx.get(&row.user_id).await?;
            if user.status != UserStatus::Active {
                return Err(invalid_grant("the account is not active"));
            }
            let issued = issue::for_user(
                &mut tx,
                req.svc,
                req.issuer,
                req.app,
                ForUser {
                    user: &user,
                    session_id: &row.session_id,
                    auth_time: row.params.auth_time,
                    amr: &row.params.amr,
                    nonce: row.params.nonce.as_deref(),
                    scopes: row.params.scope.clone(),
                    audience: Vec::new(),
                    act: None,
                    id_token: true,
                    refresh: Refresh::Start { code_id: Some(&row.id) },
                    lifetime_cap: None,
                },
                req.now,
            )
            .await?;
            if !tx.use_code(&row.id, &issued.access_jti, req.now).await? {
                return Err(invalid_grant("the code was already used"));
            }
            tx.commit().await?;
            Ok(issued.response)
        })
    }
}
