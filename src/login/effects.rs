//! What a transition changes, in the write transaction of the submit: the
//! lockout counter, a rehashed or new password, a consent; and the ends of
//! the flow — `finish` (a new SSO session, then the authorization request),
//! `consented` and `conclude`.

use crate::admin::AdminError;
use crate::app::Services;
use crate::authn::session;
use crate::directory::{self, Actor, Writer};
use crate::domain::Timestamp;
use crate::domain::consent::{Consent, needs_consent};
use crate::domain::factor::{Factor, TOTP};
use crate::domain::oidc::{LoginPurpose, LoginRequest, LoginState, Session};
use crate::domain::tenant::Tenant;
use crate::domain::user::{User, UserAttributes};
use crate::ids::new_id;
use crate::oauth::Issuer;
use crate::oauth::authorize::{self, Browser, Outcome, issuer_path, with_query};
use crate::store::{Scope, StoreError, Tx};

use super::{Effect, FlowOutcome, Loaded, expired};

/// Applies one effect; `Ok(Err(message))` is a refusal to show the user.
pub async fn apply(
    svc: &Services,
    tx: &mut Tx,
    loaded: &Loaded,
    effect: Effect,
    now: Timestamp,
) -> Result<Result<(), String>, StoreError> {
    match effect {
        Effect::TotpUsed { factor_id, step } => {
            // Two submits of one code (or a replay within its step): one wins.
            if !tx.use_totp_step(&factor_id, step, now).await? {
                return Ok(Err(super::mfa::CODE_USED.into()));
            }
        }
        Effect::RecoveryCodeUsed { user_id, code_hash } => {
            if !tx.use_recovery_code(&user_id, &code_hash, now).await? {
                return Ok(Err(super::mfa::WRONG_CODE.into()));
            }
            let left = tx.recovery_codes_left(&user_id).await?;
            tracing::info!(target: "audit", action = "user.recovery_code_used", user_id = %user_id, left, "recovery code used at sign-in");
        }
        Effect::EnrollTotp { user_id, secret, step, codes } => {
            let user: User = tx.get(&user_id).await?;
            let factor_id = new_id("fac", now);
            let factor = Factor {
                id: factor_id.clone(),
                tenant_id: user.tenant_id.clone(),
                partner_id: user.partner_id.clone(),
                user_id: user.id.clone(),
                kind: TOTP.into(),
                name: "Authenticator app".into(),
                secret_sealed: Some(super::mfa::seal_factor_secret(svc.keys.sealer(), &factor_id, &secret)),
                last_step: Some(step),
                created_at: now,
                last_used_at: Some(now),
                credential_id: None,
                passkey: None,
            };
            let writer = self_service(&user, now);
            directory::factors::enroll(tx, &writer, &user, &factor).await.map_err(admin_to_store)?;
            directory::factors::replace_recovery_codes(tx, &user, &codes, now).await?;
        }
        Effect::DecideDevice { device_id, approved } => {
            let decided = match &approved {
                Some(s) => tx.device_decide(&device_id, Some((&s.user_id, &s.id, s.auth_time, &s.amr))).await?,
                None => tx.device_decide(&device_id, None).await?,
            };
            if !decided {
                return Ok(Err("This device code has expired or was already used. Start again on the device.".into()));
            }
            let action = if approved.is_some() { "device.approve" } else { "device.deny" };
            tracing::info!(target: "audit", action, device_id = %device_id, "device code decided");
        }
        Effect::PasskeyUsed { factor_id, passkey } => {
            tx.passkey_used(&factor_id, &passkey, now).await?;
        }
        Effect::PasskeyCloned { user_id, factor_id } => {
            let user: User = tx.get(&user_id).await?;
            let reason = Some("signature counter went backwards: the passkey may be cloned");
            match directory::factors::remove(tx, &self_service(&user, now), &user, &factor_id, reason).await {
                Ok(_) => {
                    tracing::warn!(target: "audit", action = "user.factor.remove", user_id = %user_id, factor_id = %factor_id, "passkey removed: its signature counter went backwards")
                }
                Err(AdminError::NotFound) => {}
                Err(e) => return Err(admin_to_store(e)),
            }
        }
        Effect::PasswordFailed { user_id } => {
            if let Some(tenant) = &loaded.tenant
                && tx.record_login_failure(&user_id, &tenant.settings.lockout, now).await?
            {
                tracing::warn!(target: "audit", action = "user.locked", user_id = %user_id, "account locked after failed logins");
            }
        }
        Effect::PasswordOk { user_id, rehash } => {
            tx.clear_lockout(&user_id).await?;
            if let Some(hash) = rehash {
                let user: User = tx.get(&user_id).await?;
                tx.set_password_hash(&user_id, &hash, user.password_changed_at.unwrap_or(now)).await?;
            }
        }
        Effect::SetPassword { user_id, password } => {
            // The user changes their own password through the one write path
            // (policy, history, audit, event).
            let user: User = tx.get(&user_id).await?;
            let writer = self_service(&user, now);
            let change = UserAttributes { password: Some(password), ..Default::default() };
            match directory::users::update(tx, &writer, &user_id, change, None).await {
                Ok(_) => {
                    tracing::info!(target: "audit", action = "user.password_change", user_id = %user_id, "expired password changed at sign-in");
                }
                Err(AdminError::Invalid(fields)) => {
                    let reasons: Vec<String> = fields.into_iter().map(|f| f.message).collect();
                    return Ok(Err(format!("The new password {}.", reasons.join("; "))));
                }
                Err(e) => {
                    tracing::error!(error = %e, "password change at sign-in failed");
                    return Ok(Err("The password could not be changed. Try again.".into()));
                }
            }
        }
        Effect::Consent { user_id } => {
            let Some(app) = &loaded.app else { return Ok(Err(super::EXPIRED.into())) };
            let approved: Vec<String> =
                loaded.request.params.scope.iter().filter(|s| needs_consent(s)).cloned().collect();
            match tx.consent_of(&user_id, &app.id).await? {
                Some(mut c) => {
                    for s in approved {
                        if !c.scopes.contains(&s) {
                            c.scopes.push(s);
                        }
                    }
                    c.updated_at = now;
                    tx.update(&c).await?;
                }
                None => {
                    let user: User = tx.get(&user_id).await?;
                    let c = Consent {
                        id: new_id("cns", now),
                        tenant_id: user.tenant_id,
                        partner_id: user.partner_id,
                        user_id: user.id,
                        app_id: app.id.clone(),
                        scopes: approved,
                        created_at: now,
                        updated_at: now,
                    };
                    tx.insert(&c).await?;
                }
            }
            tracing::info!(target: "audit", action = "consent.grant", user_id = %user_id, app_id = %app.id, "scopes approved");
        }
    }
    Ok(Ok(()))
}

/// The user acting on their own account.
pub fn self_service(user: &User, now: Timestamp) -> Writer<'static> {
    Writer {
        actor: Actor::User(user.id.clone()),
        authority: Scope::Tenant(user.tenant_id.clone()),
        request_id: None,
        now,
    }
}

/// A write-path refusal where none is expected (the user's own enrollment):
/// a store error, so the transaction rolls back.
fn admin_to_store(e: AdminError) -> StoreError {
    match e {
        AdminError::NotFound => StoreError::NotFound,
        other => StoreError::Database(sqlx::Error::Protocol(other.to_string())),
    }
}

fn with_cookies(outcome: Outcome, mut cookies: Vec<String>) -> Outcome {
    match outcome {
        Outcome::Redirect { location, set_cookies } => {
            cookies.extend(set_cookies);
            Outcome::Redirect { location, set_cookies: cookies }
        }
        other => other,
    }
}

fn clear_login_cookie(issuer: &Issuer) -> String {
    session::clear_cookie(session::LOGIN_COOKIE, &issuer_path(issuer), issuer.url.starts_with("https://"))
}

/// Sign-in succeeded: a new SSO session (never a pre-login id), then the
/// authorization request that started the flow (which may itself ask for
/// consent).
pub async fn finish(
    svc: &Services,
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &Loaded,
    user_id: &str,
    amr: Vec<String>,
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    let (Some(tenant), Ok(user)) = (loaded.tenant.as_ref(), tx.get::<User>(user_id).await) else {
        return Ok(expired());
    };
    let (session, cookie) = start_session(svc, tx, issuer, tenant, &user, amr, now).await?;
    if let (LoginPurpose::Device { .. }, Some(_)) = (&loaded.request.purpose, &loaded.app) {
        // Signed in on the device page: on to the approval, with the session.
        tx.move_login(&loaded.request, &LoginState::DeviceConfirm { user_id: user.id.clone() }).await?;
        let location = with_query(&issuer.endpoint("/login"), &[("request", &loaded.request.id)]);
        return Ok(FlowOutcome::Done(Outcome::Redirect { location, set_cookies: vec![cookie] }));
    }
    tx.delete::<LoginRequest>(&loaded.request.id).await?;
    let outcome = match (&loaded.request.purpose, &loaded.app) {
        (LoginPurpose::Authorize, Some(app)) => {
            authorize::complete(tx, issuer, app, &loaded.request.params, &session, false, now).await?
        }
        (LoginPurpose::Account, _) => {
            Outcome::Redirect { location: issuer.endpoint("/account"), set_cookies: Vec::new() }
        }
        (LoginPurpose::Authorize | LoginPurpose::Device { .. }, _) => return Ok(expired()),
    };
    // The login cookie is cleared first: a consent step sets a new one after it.
    Ok(FlowOutcome::Done(with_cookies(outcome, vec![clear_login_cookie(issuer), cookie])))
}

/// A new SSO session for `user` (never a pre-login id) and its cookie.
pub async fn start_session(
    svc: &Services,
    tx: &mut Tx,
    issuer: &Issuer,
    tenant: &Tenant,
    user: &User,
    amr: Vec<String>,
    now: Timestamp,
) -> Result<(Session, String), StoreError> {
    let (cookie_value, token_hash) = session::new_secret();
    let session = Session {
        id: new_id("ses", now),
        token_hash,
        tenant_id: user.tenant_id.clone(),
        partner_id: user.partner_id.clone(),
        user_id: user.id.clone(),
        auth_time: now,
        amr,
        created_at: now,
        expires_at: now.plus_seconds(i64::from(tenant.settings.session_timeout)),
        ended_at: None,
    };
    tx.insert(&session).await?;
    tracing::info!(target: "audit", action = "login.success", user_id = %user.id, "signed in");
    let cookie = session::set_cookie(
        &session::session_cookie_name(issuer.realm()),
        &cookie_value,
        &issuer_path(issuer),
        svc.base_url().starts_with("https://"),
        Some(i64::from(tenant.settings.session_timeout)),
    );
    Ok((session, cookie))
}

/// Consent given: the authorization request completes with it.
pub async fn consented(
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &Loaded,
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    let (Some(session), Some(app)) = (authorize::current_session(tx, browser, issuer.realm(), now).await?, &loaded.app)
    else {
        return Ok(expired());
    };
    tx.delete::<LoginRequest>(&loaded.request.id).await?;
    let outcome = authorize::complete(tx, issuer, app, &loaded.request.params, &session, true, now).await?;
    Ok(FlowOutcome::Done(with_cookies(outcome, vec![clear_login_cookie(issuer)])))
}

/// The flow ends without a sign-in (consent refused).
pub async fn conclude(
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &Loaded,
    outcome: Outcome,
) -> Result<FlowOutcome, StoreError> {
    tx.delete::<LoginRequest>(&loaded.request.id).await?;
    Ok(FlowOutcome::Done(with_cookies(outcome, vec![clear_login_cookie(issuer)])))
}
