//! The one token issuer. Grants decide *who* and *what* — the client
//! itself, or a user with their session, `auth_time` and `amr` (and, for a
//! token exchange, the actor in `act`) — and hand that decision here; only
//! this module signs tokens, starts or rotates refresh-token families, and
//! reads the user's groups and roles at issuance. No grant signs its own.

use serde_json::Value;

use crate::app::Services;
use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::domain::user::User;
use crate::store::Tx;

use super::grants::refresh_token::{new_refresh_token, wants_refresh};
use super::tokens::{
    AccessTokenSpec, Subject, TokenResponse, UserTokenSpec, access_token_claims, issue_user_tokens, sign_access_token,
};
use super::user_claims::groups_and_roles;
use super::{Issuer, OAuthError};

/// RFC 8693 §3: the token type of an issued access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What a refresh token does alongside the access token.
pub enum Refresh<'a> {
    /// None (token exchange; apps without the refresh grant).
    Never,
    /// A new family, if the app may have one (`offline_access` or a confidential client).
    Start { code_id: Option<&'a str> },
    /// The next token of `family_id`, carrying the family's `granted` scopes.
    Rotate { family_id: &'a str, code_id: Option<&'a str>, granted: &'a [String] },
}

/// A user's tokens, decided by a grant.
pub struct ForUser<'a> {
    pub user: &'a User,
    /// The SSO session the tokens descend from (`sid`).
    pub session_id: &'a str,
    pub auth_time: Timestamp,
    pub amr: &'a [String],
    pub nonce: Option<&'a str>,
    pub scopes: Vec<String>,
    /// `aud` of the access token; empty: the app itself.
    pub audience: Vec<String>,
    /// RFC 8693 `act`: who acts for the user (nested for chains).
    pub act: Option<Value>,
    /// An ID token when `openid` is granted (not for a token exchange).
    pub id_token: bool,
    pub refresh: Refresh<'a>,
    /// A cap below the app's `token_lifetime` (an agent's `max_token_lifetime`).
    pub lifetime_cap: Option<i64>,
}

/// Issued tokens, and the access token's `jti` (codes remember it to revoke
/// it on replay; refresh tokens to revoke it with their family).
pub struct Issued {
    pub response: TokenResponse,
    pub access_jti: String,
}

/// The client's own token (`client_credentials`): nothing is read or written.
pub fn for_client(
    svc: &Services,
    issuer: &Issuer,
    app: &Application,
    scopes: &[String],
    audience: Vec<String>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let (tenant_id, partner_id) = match &issuer.tenant {
        Some(t) => (Some(t.id.as_str()), Some(t.partner_id.as_str())),
        None => (app.tenant_id.as_deref(), app.partner_id.as_deref()),
    };
    let spec = AccessTokenSpec {
        issuer: &issuer.url,
        app,
        subject: Subject::Client,
        audience,
        scopes,
        tenant_id,
        partner_id,
        act: None,
        lifetime: app.token_lifetime,
        now,
    };
    let access_token = sign_access_token(&svc.keys, app, &access_token_claims(&spec))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: app.token_lifetime,
        scope: Some(scopes.join(" ")),
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
    })
}

/// A user's tokens, in the grant's transaction (the refresh token row is
/// written there, so it commits or rolls back with the grant's own changes).
pub async fn for_user(
    tx: &mut Tx,
    svc: &Services,
    issuer: &Issuer,
    app: &Application,
    d: ForUser<'_>,
    now: Timestamp,
) -> Result<Issued, OAuthError> {
    let (groups, roles) = groups_and_roles(tx, d.user).await?;
    let lifetime = d.lifetime_cap.map_or(app.token_lifetime, |cap| cap.min(app.token_lifetime));
    let tokens = issue_user_tokens(
        &svc.keys,
        &UserTokenSpec {
            issuer: &issuer.url,
            app,
            user: d.user,
            scopes: &d.scopes,
            groups,
            roles,
            auth_time: d.auth_time,
            amr: d.amr,
            session_id: d.session_id,
            nonce: d.nonce,
            audience: d.audience,
            act: d.act.clone(),
            id_token: d.id_token,
            lifetime,
            now,
        },
    )?;
    let refresh = match d.refresh {
        Refresh::Never => None,
        Refresh::Start { code_id } if wants_refresh(app, &d.scopes) => Some((None, code_id, d.scopes.clone())),
        Refresh::Start { .. } => None,
        Refresh::Rotate { family_id, code_id, granted } => Some((Some(family_id), code_id, granted.to_vec())),
    };
    let refresh_token = match refresh {
        Some((family_id, code_id, granted)) => {
            let (token, row) = new_refresh_token(
                app,
                d.user,
                d.session_id,
                code_id,
                family_id,
                &granted,
                d.auth_time,
                d.amr,
                &tokens.access_jti,
                now,
            );
            tx.insert(&row).await?;
            Some(token)
        }
        None => None,
    };
    Ok(Issued {
        response: TokenResponse {
            access_token: tokens.access_token,
            token_type: "Bearer",
            expires_in: lifetime,
            scope: Some(d.scopes.join(" ")),
            refresh_token,
            id_token: tokens.id_token,
            issued_token_type: d.act.is_some().then_some(ACCESS_TOKEN_TYPE),
        },
        access_jti: tokens.access_jti,
    })
}
