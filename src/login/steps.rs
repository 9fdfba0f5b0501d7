//! The steps: each reads the form for its state and answers with a
//! `Transition`. They run outside any transaction (reads open their own
//! short ones), so slow work never holds the database's writer lock.

use crate::app::Services;
use crate::authn::{lockout, password, password_change};
use crate::domain::Timestamp;
use crate::domain::oidc::LoginState;
use crate::domain::user::{User, UserStatus};
use crate::oauth::Issuer;
use crate::oauth::authorize::{self, Browser, Outcome};
use crate::store::StoreError;

use super::{Effect, Loaded, Next, Transition, param};

pub const WRONG_CREDENTIALS: &str = "The username or password is incorrect.";
const PASSWORD_EXPIRED: &str = "Your password has expired. Choose a new one to continue.";

fn render(error: &str) -> Transition {
    Transition::to(Next::Render { error: Some(error.into()), status: 200 })
}

pub async fn run(
    svc: &Services,
    issuer: &Issuer,
    loaded: &mut Loaded,
    form: &[(String, String)],
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<Transition, StoreError> {
    match loaded.request.state.clone() {
        // A form posted while at the upstream (the user came back) starts over.
        LoginState::Identifier | LoginState::Upstream { .. } => identifier(svc, issuer, loaded, form, now).await,
        LoginState::Password { user_id } => password(svc, issuer, loaded, user_id, form, now).await,
        LoginState::DirectoryPassword { idp_id } => {
            super::directory::password(svc, issuer, loaded, &idp_id, form).await
        }
        LoginState::ChangePassword { user_id } => Ok(change_password(svc, issuer, user_id, form).await),
        LoginState::Consent { user_id } => consent(svc, issuer, loaded, user_id, form, browser, now).await,
        LoginState::Mfa { user_id, amr, .. } => match param(form, "passkey").filter(|p| !p.is_empty()) {
            Some(answer) => super::passkey::second_factor(svc, issuer, loaded, &user_id, &amr, answer, now).await,
            None => super::mfa::verify(svc, issuer, &user_id, &amr, form, now).await,
        },
        LoginState::EnrollTotp { user_id, amr, secret_sealed, optional } => {
            super::mfa::enroll(svc, &user_id, &amr, &secret_sealed, optional, form, now).await
        }
        LoginState::RecoveryCodes { user_id, amr, .. } => Ok(Transition::to(Next::Finish { user_id, amr })),
        LoginState::DeviceConfirm { user_id } => {
            super::device::confirm(svc, issuer, loaded, &user_id, form, browser, now).await
        }
    }
}

/// The user names themself (and, on the platform issuer, their tenant).
async fn identifier(
    svc: &Services,
    issuer: &Issuer,
    loaded: &mut Loaded,
    form: &[(String, String)],
    now: Timestamp,
) -> Result<Transition, StoreError> {
    // A passkey chosen on the identifier page (autofill or the button) signs in without a password.
    if let Some(answer) = param(form, "passkey").filter(|p| !p.is_empty()) {
        return super::passkey::first_factor(svc, issuer, loaded, answer, now).await;
    }
    let username = param(form, "username").map(str::trim).unwrap_or_default();
    if username.is_empty() || username.chars().count() > 256 {
        return Ok(render("Enter your username."));
    }
    let mut tx = svc.store.read(issuer.scope()).await?;
    if issuer.tenant.is_none() {
        // Platform issuer (GLOBAL apps): the user names their tenant. An
        // unknown tenant continues like an unknown user, revealing nothing.
        let slug = param(form, "tenant").map(str::trim).unwrap_or_default().to_lowercase();
        if slug.is_empty() {
            tx.commit().await?;
            return Ok(render("Enter your organization."));
        }
        loaded.tenant = match tx.tenant_by_slug(&slug).await {
            Ok(t) => Some(std::sync::Arc::new(t)),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        loaded.request.tenant_id = loaded.tenant.as_ref().map(|t| t.id.clone());
        loaded.request.partner_id = loaded.tenant.as_ref().map(|t| t.partner_id.clone());
    }
    // Home-realm discovery: an email of an IdP's domain goes to that IdP.
    if let (Some(t), Some((_, domain))) = (&loaded.tenant, username.rsplit_once('@'))
        && let Some(idp) = tx.idp_for_domain(&t.id, domain).await?
    {
        tx.commit().await?;
        loaded.request.params.login_hint = Some(username.to_owned());
        return Ok(super::upstream::begin(svc, issuer, &idp, Some(username)).await);
    }
    // Users of an LDAP / AD directory sign in with its password.
    if let Some(t) = &loaded.tenant
        && let Some(idp) = super::directory::idp_for(&mut tx, &t.id, username).await?
    {
        tx.commit().await?;
        loaded.request.params.login_hint = Some(username.to_owned());
        return Ok(Transition::to(Next::Goto(LoginState::DirectoryPassword { idp_id: idp.id })));
    }
    let user_id = match &loaded.tenant {
        Some(t) => match tx.user_by_name(&t.id, username).await {
            Ok(u) => Some(u.id),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    tx.commit().await?;
    loaded.request.params.login_hint = Some(username.to_owned());
    Ok(Transition::to(Next::Goto(LoginState::Password { user_id })))
}

/// The password, checked with the same argon2 work whatever is wrong.
async fn password(
    svc: &Services,
    issuer: &Issuer,
    loaded: &Loaded,
    user_id: Option<String>,
    form: &[(String, String)],
    now: Timestamp,
) -> Result<Transition, StoreError> {
    let presented = param(form, "password").unwrap_or_default().to_owned();
    let found = match &user_id {
        Some(id) => {
            let mut tx = svc.store.read(issuer.scope()).await?;
            let user = match tx.get::<User>(id).await {
                Ok(u) => Some(u),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e),
            };
            let lock = match &user {
                Some(u) => tx.lockout_state(&u.id).await?.1,
                None => None,
            };
            tx.commit().await?;
            user.map(|u| (u, lock))
        }
        None => None,
    };
    let stored =
        found.as_ref().and_then(|(u, _)| u.password_hash.clone()).unwrap_or_else(|| password::DUMMY_HASH.clone());
    let password_ok =
        !presented.is_empty() && presented.len() <= 1024 && password::verify(presented.clone(), stored.clone()).await;
    let (Some((user, locked_until)), Some(tenant)) = (found, loaded.tenant.as_ref()) else {
        return Ok(render(WRONG_CREDENTIALS));
    };
    let locked = lockout::is_locked(locked_until, now);
    let usable = user.status == UserStatus::Active && !locked && user.password_hash.is_some();
    if !(password_ok && usable) {
        tracing::info!(target: "audit", action = "login.failure", tenant_id = %user.tenant_id, "failed sign-in");
        // Failures while locked are not counted: the lock runs its course.
        let effects = if locked { vec![] } else { vec![Effect::PasswordFailed { user_id: user.id }] };
        return Ok(Transition { effects, next: Next::Render { error: Some(WRONG_CREDENTIALS.into()), status: 200 } });
    }
    let rehash = if password::needs_rehash(&stored) { password::hash(presented).await.ok() } else { None };
    let effects = vec![Effect::PasswordOk { user_id: user.id.clone(), rehash }];
    let next = if password_change::is_expired(&tenant.settings.password_policy, &user, now) {
        Next::Goto(LoginState::ChangePassword { user_id: user.id })
    } else {
        Next::Authenticated { user_id: user.id, amr: vec!["pwd".into()] }
    };
    Ok(Transition { effects, next })
}

/// The page of the `ChangePassword` state says why it is shown.
pub fn message_for(state: &LoginState) -> Option<&'static str> {
    matches!(state, LoginState::ChangePassword { .. }).then_some(PASSWORD_EXPIRED)
}

/// The user proved their expired password; they choose a new one.
async fn change_password(svc: &Services, issuer: &Issuer, user_id: String, form: &[(String, String)]) -> Transition {
    let new = param(form, "new_password").unwrap_or_default().to_owned();
    if param(form, "confirm_password") != Some(new.as_str()) {
        return render("The two passwords differ.");
    }
    let current = async {
        let mut tx = svc.store.read(issuer.scope()).await?;
        let u: User = tx.get(&user_id).await?;
        tx.commit().await?;
        Ok::<_, StoreError>(u.password_hash)
    }
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| password::DUMMY_HASH.clone());
    if new.len() <= 1024 && password::verify(new.clone(), current).await {
        return render("Choose a password you have not used before.");
    }
    Transition {
        effects: vec![Effect::SetPassword { user_id: user_id.clone(), password: new }],
        next: Next::Authenticated { user_id, amr: vec!["pwd".into()] },
    }
}

/// The signed-in user answers the consent page; the browser must still hold
/// that user's live session.
async fn consent(
    svc: &Services,
    issuer: &Issuer,
    loaded: &Loaded,
    user_id: String,
    form: &[(String, String)],
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<Transition, StoreError> {
    let mut tx = svc.store.read(issuer.scope()).await?;
    let session = authorize::current_session(&mut tx, browser, issuer.realm(), now).await?;
    tx.commit().await?;
    if session.is_none_or(|s| s.user_id != user_id) {
        return Ok(Transition::to(Next::Done(Outcome::ErrorPage { status: 400, message: super::EXPIRED.into() })));
    }
    if param(form, "decision") != Some("allow") {
        let app_id = loaded.app.as_ref().map(|a| a.id.as_str()).unwrap_or_default();
        tracing::info!(target: "audit", action = "consent.deny", user_id = %user_id, app_id = %app_id, "consent refused");
        let p = &loaded.request.params;
        let denied = "the user did not approve the requested access";
        let to_client = authorize::error_redirect(&p.redirect_uri, issuer, "access_denied", denied, p.state.as_deref());
        return Ok(Transition::to(Next::Done(to_client)));
    }
    Ok(Transition { effects: vec![Effect::Consent { user_id }], next: Next::Consented })
}
