//! The account page's forms (`POST {issuer}/account`, field `action`) and
//! the passkey options its script asks for (`POST {issuer}/account/passkey`).
//!
//! | action | fields | effect |
//! |---|---|---|
//! | `totp_start` | | a new TOTP secret shown as a QR code, waiting (sealed) for its first code |
//! | `totp_confirm` | `code` | the authenticator added (and recovery codes, if the user had none) |
//! | `passkey_register` | `passkey` (the browser's answer), `name` | the passkey added |
//! | `rename_factor` | `factor_id`, `name` | renamed |
//! | `remove_factor` | `factor_id` | removed (not the last one where MFA is required) |
//! | `regenerate_codes` | | ten new recovery codes, shown once |
//! | `change_password` | `current_password`, `new_password`, `confirm_password` | the password changed (policy and history) |

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::admin::AdminError;
use crate::app::Services;
use crate::authn::{password, totp, webauthn};
use crate::directory::{self, factors};
use crate::domain::factor::{Ceremony, Factor, PASSKEY, TOTP};
use crate::domain::oidc::Session;
use crate::domain::settings::MfaPolicy;
use crate::domain::user::{User, UserAttributes};
use crate::ids::new_id;
use crate::oauth::Issuer;
use crate::oauth::authorize::Browser;
use crate::store::{StoreError, Tx};

use super::view::{self, Flash, TotpView};
use super::{AccountOutcome, csrf_ok, current, recent, start_login};

const CEREMONY_TTL: i64 = 600;

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn notice(text: &str) -> Flash {
    Flash { notice: Some(text.into()), ..Default::default() }
}

fn error(text: String) -> Flash {
    Flash { error: Some(text), ..Default::default() }
}

/// A write-path refusal, in words for the page.
fn refusal(e: AdminError) -> Result<Flash, StoreError> {
    match e {
        AdminError::Invalid(fields) => {
            let reasons: Vec<String> = fields.into_iter().map(|f| f.message).collect();
            Ok(error(format!("Not changed: {}.", reasons.join("; "))))
        }
        AdminError::NotFound => Ok(error("That no longer exists.".into())),
        e => Err(StoreError::Database(sqlx::Error::Protocol(e.to_string()))),
    }
}

fn totp_context(session: &Session) -> String {
    format!("totp-account:{}", session.id)
}

/// The signed-in session allowed to change the account, or where to go instead.
async fn authorized(
    svc: &Services,
    issuer: &Issuer,
    form: &[(String, String)],
    browser: &Browser<'_>,
) -> Result<Result<Session, AccountOutcome>, StoreError> {
    if issuer.tenant.is_none() {
        return Ok(Err(AccountOutcome::NotFound));
    }
    let Some(session) = current(svc, issuer, browser).await? else {
        return Ok(Err(AccountOutcome::Redirect(start_login(svc, issuer, None).await?)));
    };
    if !csrf_ok(&session, param(form, "csrf_token")) {
        return Ok(Err(AccountOutcome::Json { status: 400, body: r#"{"error":"the form has expired"}"#.into() }));
    }
    if !recent(&session, svc.clock.now()) {
        let mut tx = svc.store.read(issuer.scope()).await?;
        let user: User = tx.get(&session.user_id).await?;
        tx.commit().await?;
        return Ok(Err(AccountOutcome::Redirect(start_login(svc, issuer, Some(user.user_name)).await?)));
    }
    Ok(Ok(session))
}

/// `POST {issuer}/account`
pub async fn submit(
    svc: &Services,
    issuer: &Issuer,
    form: &[(String, String)],
    browser: &Browser<'_>,
) -> Result<AccountOutcome, StoreError> {
    let session = match authorized(svc, issuer, form, browser).await? {
        Ok(s) => s,
        Err(outcome) => return Ok(outcome),
    };
    let flash = match param(form, "action").unwrap_or_default() {
        "totp_start" => offer_totp(svc, issuer, &session, &totp::new_secret()).await?,
        "totp_confirm" => totp_confirm(svc, issuer, &session, param(form, "code").unwrap_or_default()).await?,
        "passkey_register" => passkey_register(svc, issuer, &session, form).await?,
        "rename_factor" => {
            let (id, name) = (param(form, "factor_id").unwrap_or_default(), param(form, "name").unwrap_or_default());
            let (mut tx, user, w) = as_user(svc, &session).await?;
            let r = factors::rename(&mut tx, &w, &user, id, name).await.map(|_| notice("Renamed."));
            settle(tx, r).await?
        }
        "remove_factor" => remove_factor(svc, issuer, &session, param(form, "factor_id").unwrap_or_default()).await?,
        "regenerate_codes" => {
            let (mut tx, user, w) = as_user(svc, &session).await?;
            let r = factors::regenerate_recovery_codes(&mut tx, &w, &user).await;
            let r =
                r.map(|codes| Flash { new_codes: codes, ..notice("New recovery codes. The old ones no longer work.") });
            settle(tx, r).await?
        }
        "change_password" => change_password(svc, &session, form).await?,
        _ => error("Unknown action.".into()),
    };
    Ok(AccountOutcome::Page(Box::new(view::build(svc, issuer, &session, flash).await?)))
}

/// A write transaction with the session's user, acting as themself.
async fn as_user(svc: &Services, session: &Session) -> Result<(Tx, User, directory::Writer<'static>), StoreError> {
    let mut tx = svc.store.write(crate::store::Scope::Tenant(session.tenant_id.clone())).await?;
    let user: User = tx.get(&session.user_id).await?;
    let writer = crate::login::self_service(&user, svc.clock.now());
    Ok((tx, user, writer))
}

/// Commits a change, or rolls it back and says why.
async fn settle(tx: Tx, r: Result<Flash, AdminError>) -> Result<Flash, StoreError> {
    match r {
        Ok(flash) => {
            tx.commit().await?;
            Ok(flash)
        }
        Err(e) => refusal(e),
    }
}

async fn totp_confirm(svc: &Services, issuer: &Issuer, session: &Session, code: &str) -> Result<Flash, StoreError> {
    let now = svc.clock.now();
    let mut tx = svc.store.write(crate::store::Scope::Tenant(session.tenant_id.clone())).await?;
    let pending = tx.take_ceremony(&session.id, TOTP, now).await?;
    let secret = pending.and_then(|c| svc.keys.sealer().open(&totp_context(session), &c.state).ok());
    let Some(secret) = secret else {
        tx.commit().await?;
        return Ok(error("The setup expired. Start again.".into()));
    };
    let Some(step) = totp::check(&secret, code, now.unix_seconds()) else {
        // The same secret stays on offer for another try.
        tx.commit().await?;
        let mut again = offer_totp(svc, issuer, session, &secret).await?;
        again.error = Some("The code is incorrect. Enter the code your authenticator app shows now.".into());
        return Ok(again);
    };
    let user: User = tx.get(&session.user_id).await?;
    let factor_id = new_id("fac", now);
    let factor = Factor {
        id: factor_id.clone(),
        tenant_id: user.tenant_id.clone(),
        partner_id: user.partner_id.clone(),
        user_id: user.id.clone(),
        kind: TOTP.into(),
        name: "Authenticator app".into(),
        secret_sealed: Some(crate::login::seal_totp_secret(svc.keys.sealer(), &factor_id, &secret)),
        last_step: Some(step),
        created_at: now,
        last_used_at: None,
        credential_id: None,
        passkey: None,
    };
    finish_enrollment(svc, tx, &user, &factor, "Authenticator app added.").await
}

/// Offers `secret` as a new authenticator (QR code and text); it waits,
/// sealed, for its first code.
async fn offer_totp(svc: &Services, issuer: &Issuer, session: &Session, secret: &[u8]) -> Result<Flash, StoreError> {
    let now = svc.clock.now();
    let mut tx = svc.store.write(crate::store::Scope::Tenant(session.tenant_id.clone())).await?;
    let user: User = tx.get(&session.user_id).await?;
    let sealed = svc.keys.sealer().seal(&totp_context(session), secret);
    let owner = (session.tenant_id.as_str(), session.partner_id.as_str());
    tx.put_ceremony(&Ceremony::new(owner, &session.id, TOTP, sealed, now, CEREMONY_TTL)).await?;
    tx.commit().await?;
    let label = issuer.tenant.as_ref().map(|t| t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()));
    let Some((_, svg)) = totp::enrollment(secret, &label.unwrap_or_default(), &user.user_name) else {
        return Ok(error("The authenticator could not be set up. Try again.".into()));
    };
    Ok(Flash {
        totp: Some(TotpView {
            qr: format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg)),
            secret: totp::base32(secret),
        }),
        ..Default::default()
    })
}

/// Adds `factor`; a user's first factor also gets recovery codes, shown once.
async fn finish_enrollment(
    svc: &Services,
    mut tx: Tx,
    user: &User,
    factor: &Factor,
    done: &str,
) -> Result<Flash, StoreError> {
    let writer = crate::login::self_service(user, svc.clock.now());
    if let Err(e) = factors::enroll(&mut tx, &writer, user, factor).await {
        return match e {
            AdminError::Conflict { .. } => Ok(error("That passkey is already registered.".into())),
            e => refusal(e),
        };
    }
    let mut flash = notice(done);
    if tx.recovery_codes_left(&user.id).await? == 0 {
        match factors::regenerate_recovery_codes(&mut tx, &writer, user).await {
            Ok(codes) => flash.new_codes = codes,
            Err(e) => return refusal(e),
        }
    }
    tx.commit().await?;
    Ok(flash)
}

/// `POST {issuer}/account/passkey`: registration options for a new passkey.
pub async fn passkey_options(
    svc: &Services,
    issuer: &Issuer,
    form: &[(String, String)],
    browser: &Browser<'_>,
) -> Result<AccountOutcome, StoreError> {
    let session = match authorized(svc, issuer, form, browser).await? {
        Ok(s) => s,
        Err(AccountOutcome::Redirect(_)) => {
            return Ok(AccountOutcome::Json { status: 401, body: r#"{"error":"sign in again"}"#.into() });
        }
        Err(outcome) => return Ok(outcome),
    };
    let now = svc.clock.now();
    let mut tx = svc.store.write(issuer.scope()).await?;
    let user: User = tx.get(&session.user_id).await?;
    let existing: Vec<_> =
        crate::login::passkeys_of(&tx.factors_of(&user.id).await?).into_iter().map(|(_, p)| p).collect();
    let display = user.display_name.clone().unwrap_or_else(|| user.user_name.clone());
    let (options, state) = match webauthn::start_registration(issuer, &user.id, &user.user_name, &display, &existing) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "passkey registration options refused");
            tx.commit().await?;
            return Ok(AccountOutcome::Json {
                status: 409,
                body: r#"{"error":"passkeys are not available here"}"#.into(),
            });
        }
    };
    let owner = (user.tenant_id.as_str(), user.partner_id.as_str());
    tx.put_ceremony(&Ceremony::new(owner, &session.id, "register", state, now, CEREMONY_TTL)).await?;
    tx.commit().await?;
    Ok(AccountOutcome::Json { status: 200, body: options })
}

async fn passkey_register(
    svc: &Services,
    issuer: &Issuer,
    session: &Session,
    form: &[(String, String)],
) -> Result<Flash, StoreError> {
    let now = svc.clock.now();
    let mut tx = svc.store.write(issuer.scope()).await?;
    let Some(pending) = tx.take_ceremony(&session.id, "register", now).await? else {
        tx.commit().await?;
        return Ok(error("The passkey setup expired. Try again.".into()));
    };
    let answer = param(form, "passkey").unwrap_or_default();
    let (passkey, stored) = match webauthn::finish_registration(issuer, answer, &pending.state) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, user_id = %session.user_id, "passkey registration refused");
            tx.commit().await?;
            return Ok(error("The passkey could not be registered. Try again.".into()));
        }
    };
    let user: User = tx.get(&session.user_id).await?;
    let name = param(form, "name").map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Passkey");
    let factor = Factor {
        id: new_id("fac", now),
        tenant_id: user.tenant_id.clone(),
        partner_id: user.partner_id.clone(),
        user_id: user.id.clone(),
        kind: PASSKEY.into(),
        name: name.chars().filter(|c| !c.is_control()).take(64).collect(),
        secret_sealed: None,
        last_step: None,
        created_at: now,
        last_used_at: None,
        credential_id: Some(webauthn::credential_id(&passkey)),
        passkey: Some(stored),
    };
    finish_enrollment(svc, tx, &user, &factor, "Passkey added.").await
}

async fn remove_factor(
    svc: &Services,
    issuer: &Issuer,
    session: &Session,
    factor_id: &str,
) -> Result<Flash, StoreError> {
    let required = issuer.tenant.as_ref().is_some_and(|t| t.settings.mfa_policy == MfaPolicy::Required);
    let (mut tx, user, w) = as_user(svc, session).await?;
    if required && tx.factors_of(&user.id).await?.len() <= 1 {
        let why = "your organization requires a second factor; add another first";
        return settle(tx, Err(AdminError::field("factor_id", why))).await;
    }
    let r = factors::remove(&mut tx, &w, &user, factor_id, None).await.map(|_| notice("Removed."));
    settle(tx, r).await
}

async fn change_password(svc: &Services, session: &Session, form: &[(String, String)]) -> Result<Flash, StoreError> {
    let current = param(form, "current_password").unwrap_or_default().to_owned();
    let new = param(form, "new_password").unwrap_or_default().to_owned();
    if param(form, "confirm_password") != Some(new.as_str()) {
        return Ok(error("The two new passwords differ.".into()));
    }
    // argon2 outside any transaction.
    let mut tx = svc.store.read(crate::store::Scope::Tenant(session.tenant_id.clone())).await?;
    let user: User = tx.get(&session.user_id).await?;
    tx.commit().await?;
    let stored = user.password_hash.clone().unwrap_or_else(|| password::DUMMY_HASH.clone());
    if current.is_empty() || current.len() > 1024 || !password::verify(current, stored).await {
        return Ok(error("The current password is incorrect.".into()));
    }
    let (mut tx, user, w) = as_user(svc, session).await?;
    let change = UserAttributes { password: Some(new), ..Default::default() };
    let r = directory::users::update(&mut tx, &w, &user.id, change, None).await.map(|_| notice("Password changed."));
    settle(tx, r).await
}
