//! `{issuer}/account`: a signed-in user's own page — their second factors
//! (TOTP authenticators and passkeys: listed, added, renamed, removed),
//! recovery codes (regenerated, shown once), a password change, and the app
//! launcher (the tenant's and its partner's apps with an
//! `initiate_login_uri` that the user is assigned to).
//!
//! The page is reached through the login flow like any app: without a live
//! SSO session of this tenant, `GET /account` starts a login request whose
//! purpose is the account page, and its `finish` comes back here. Changes
//! need a recent sign-in (`REAUTH_SECONDS`; older sessions sign in again,
//! MFA included) and the page's CSRF token, derived from the session so a
//! page of another session cannot post here. Every change goes through the
//! write path (audited, `user.updated` events).

mod actions;
mod view;

use subtle::ConstantTimeEq;

use crate::app::Services;
use crate::authn::secret;
use crate::domain::Timestamp;
use crate::domain::oidc::{AuthorizeParams, LoginPurpose, LoginRequest, LoginState, Session};
use crate::ids::new_id;
use crate::oauth::Issuer;
use crate::oauth::authorize::{self, Browser, LOGIN_REQUEST_TTL, Outcome};
use crate::store::StoreError;

pub use actions::{passkey_options, submit};
pub use view::{AccountPage, AppLink, FactorView};

/// Seconds after sign-in within which the account can be changed.
pub const REAUTH_SECONDS: i64 = 900;

/// What the HTTP layer shows.
#[derive(Debug)]
pub enum AccountOutcome {
    Page(Box<AccountPage>),
    Redirect(Outcome),
    /// A JSON answer for the page's script (passkey options).
    Json {
        status: u16,
        body: String,
    },
    NotFound,
}

/// The page's CSRF token: a hash of the session's own (hashed) cookie secret.
pub fn csrf_token(session: &Session) -> String {
    secret::hash(&format!("account-csrf:{}", session.token_hash))
}

fn csrf_ok(session: &Session, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| p.as_bytes().ct_eq(csrf_token(session).as_bytes()).into())
}

/// The live session of this tenant's SSO cookie.
async fn current(svc: &Services, issuer: &Issuer, browser: &Browser<'_>) -> Result<Option<Session>, StoreError> {
    let mut tx = svc.store.read(issuer.scope()).await?;
    let s = authorize::current_session(&mut tx, browser, issuer.realm(), svc.clock.now()).await?;
    tx.commit().await?;
    Ok(s)
}

/// Starts a login whose end is the account page (a fresh sign-in even
/// under a live session: the page asks for one before changes).
pub async fn start_login(svc: &Services, issuer: &Issuer, login_hint: Option<String>) -> Result<Outcome, StoreError> {
    let Some(tenant) = &issuer.tenant else {
        return Ok(Outcome::ErrorPage { status: 404, message: "There is no such page.".into() });
    };
    let now = svc.clock.now();
    let request = LoginRequest {
        id: new_id("lrq", now),
        tenant_id: Some(tenant.id.clone()),
        partner_id: Some(tenant.partner_id.clone()),
        app_id: None,
        purpose: LoginPurpose::Account,
        params: AuthorizeParams {
            client_id: String::new(),
            redirect_uri: String::new(),
            scope: Vec::new(),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: None,
            max_age: None,
            login_hint,
        },
        state: LoginState::Identifier,
        version: 0,
        csrf_hash: String::new(),
        created_at: now,
        expires_at: now.plus_seconds(LOGIN_REQUEST_TTL),
    };
    let mut tx = svc.store.write(issuer.scope()).await?;
    tx.insert(&request).await?;
    tx.commit().await?;
    Ok(authorize::to_login_page(issuer, &request.id))
}

/// `GET {issuer}/account`: the page, or a sign-in first.
pub async fn show(svc: &Services, issuer: &Issuer, browser: &Browser<'_>) -> Result<AccountOutcome, StoreError> {
    if issuer.tenant.is_none() {
        return Ok(AccountOutcome::NotFound);
    }
    match current(svc, issuer, browser).await? {
        Some(session) => {
            Ok(AccountOutcome::Page(Box::new(view::build(svc, issuer, &session, Default::default()).await?)))
        }
        None => Ok(AccountOutcome::Redirect(start_login(svc, issuer, None).await?)),
    }
}

/// Whether `session` signed in recently enough to change the account.
fn recent(session: &Session, now: Timestamp) -> bool {
    now.unix_seconds() - session.auth_time.unix_seconds() <= REAUTH_SECONDS
}
