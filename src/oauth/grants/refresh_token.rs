//! `refresh_token` (RFC 6749 §6) with rotation: every use returns a new
//! refresh token of the same family and retires the old one; presenting a
//! retired token again means it was copied, so the whole family is revoked
//! (OAuth 2.0 Security BCP §4.14). A refresh follows the present: it
//! re-reads the user (suspension, group changes), the app's assignments
//! (a user removed from `assigned_users`/`assigned_groups` gets
//! `invalid_grant`) and the app's `allowed_scopes` (scopes the app lost are cut).

use crate::authn::secret;
use crate::domain::Timestamp;
use crate::domain::application::{AppType, Application, GRANT_REFRESH_TOKEN};
use crate::domain::oidc::RefreshToken;
use crate::domain::user::{User, UserStatus};
use crate::ids::new_id;
use crate::oauth::issue::{self, ForUser, Refresh};
use crate::store::StoreError;

use super::authorization_code::invalid_grant;
use super::{Grant, GrantFuture, GrantRequest};

/// Refresh tokens go to apps that registered the grant, when the client asks
/// for `offline_access` or is confidential (it can keep the token safe).
pub fn wants_refresh(app: &Application, scopes: &[String]) -> bool {
    app.allows_grant(GRANT_REFRESH_TOKEN)
        && (scopes.iter().any(|s| s == "offline_access") || app.app_type.is_confidential())
}

/// A new refresh token (the secret) and its row.
#[allow(clippy::too_many_arguments)]
pub fn new_refresh_token(
    app: &Application,
    user: &User,
    session_id: &str,
    code_id: Option<&str>,
    family_id: Option<&str>,
    scopes: &[String],
    auth_time: Timestamp,
    amr: &[String],
    access_jti: &str,
    now: Timestamp,
) -> (String, RefreshToken) {
    let token = secret::generate("skr_");
    let id = new_id("rft", now);
    let row = RefreshToken {
        family_id: family_id.map(str::to_owned).unwrap_or_else(|| id.clone()),
        id,
        token_hash: secret::hash(&token),
        tenant_id: user.tenant_id.clone(),
        partner_id: user.partner_id.clone(),
        app_id: app.id.clone(),
        user_id: user.id.clone(),
        session_id: session_id.to_owned(),
        code_id: code_id.map(str::to_owned),
        access_jti: Some(access_jti.to_owned()),
        scope: scopes.join(" "),
        auth_time,
        amr: amr.to_vec(),
        created_at: now,
        expires_at: now.plus_seconds(app.refresh_token_lifetime),
        rotated_at: None,
        revoked_at: None,
    };
    (token, row)
}

pub struct RefreshTokenGrant;

impl Grant for RefreshTokenGrant {
    fn grant_type(&self) -> &'static str {
        GRANT_REFRESH_TOKEN
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
            let presented = req
                .param("refresh_token")
                .ok_or_else(|| crate::oauth::OAuthError::invalid_request("refresh_token is required"))?;
            let mut tx = req.svc.store.write(req.issuer.scope()).await?;
            let row = match tx.refresh_by_hash(&secret::hash(presented)).await {
                Ok(r) => r,
                Err(StoreError::NotFound) => return Err(invalid_grant("the refresh token is invalid")),
                Err(e) => return Err(e.into()),
            };
            if row.app_id != req.app.id {
                return Err(invalid_grant("the refresh token was issued to another client"));
            }
            if row.revoked_at.is_some() || row.expires_at <= req.now {
                return Err(invalid_grant("the refresh token is no longer valid"));
            }
            if row.rotated_at.is_some() {
                tx.revoke_family(&row.family_id, req.now, req.now.plus_seconds(86_400)).await?;
                tx.commit().await?;
                tracing::warn!(target: "audit", action = "refresh.reused", client_id = %req.app.client_id, user_id = %row.user_id, "rotated refresh token reused; family revoked");
                return Err(invalid_grant("the refresh token was already used"));
            }
            let user: User = tx.get(&row.user_id).await?;
            if user.status != UserStatus::Active {
                tx.revoke_family(&row.family_id, req.now, req.now.plus_seconds(86_400)).await?;
                tx.commit().await?;
                return Err(invalid_grant("the account is not active"));
            }
            if !crate::oauth::authorize::is_assigned(&mut tx, req.app, &user).await? {
                tx.revoke_family(&row.family_id, req.now, req.now.plus_seconds(86_400)).await?;
                tx.commit().await?;
                return Err(invalid_grant("the user is no longer assigned to this application"));
            }
            // What the app may still be granted today, not what it could then.
            let granted: Vec<String> = row
                .scope
                .split_whitespace()
                .filter(|s| req.app.allowed_scopes.iter().any(|a| a == s))
                .map(str::to_owned)
                .collect();
            if granted.is_empty() {
                return Err(invalid_grant("the application no longer allows the granted scopes"));
            }
            let scopes = match req.param("scope") {
                None => granted.clone(),
                Some(s) => {
                    let asked: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
                    if asked.iter().any(|a| !granted.contains(a)) {
                        return Err(crate::oauth::OAuthError::invalid_scope("a refresh cannot widen the scope"));
                    }
                    asked
                }
            };
            if !tx.rotate_refresh(&row.id, req.now).await? {
                return Err(invalid_grant("the refresh token was already used"));
            }
            let issued = issue::for_user(
                &mut tx,
                req.svc,
                req.issuer,
                req.app,
                ForUser {
                    user: &user,
                    session_id: &row.session_id,
                    auth_time: row.auth_time,
                    amr: &row.amr,
                    nonce: None,
                    scopes,
                    audience: Vec::new(),
                    act: None,
                    id_token: true,
                    refresh: Refresh::Rotate {
                        family_id: &row.family_id,
                        code_id: row.code_id.as_deref(),
                        granted: &granted,
                    },
                    lifetime_cap: None,
                },
                req.now,
            )
            .await?;
            tx.commit().await?;
            Ok(issued.response)
        })
    }
}
