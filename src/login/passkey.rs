//! Passkeys in the login flow. The page's script asks `POST {issuer}/login/passkey`
//! for options (bound to this browser's login request and its CSRF token),
//! lets the browser sign them, and posts the answer as the `passkey` field
//! of the step's form:
//!
//! - on the identifier step, a discoverable credential signs the user in
//!   without a password (`amr: ["hwk", "mfa"]`: a device the user holds,
//!   unlocked by user verification);
//! - on the `mfa` step, one of the user's passkeys is the second factor
//!   (`+hwk`, `mfa`); a failure counts toward the lockout like a wrong code.
//!
//! Each ceremony's state waits in the store, keyed by the login request,
//! and is taken once. A passkey whose signature counter went backwards is
//! a cloned credential: refused, and removed (audited), so the copy cannot
//! retry until its counter passes the original's.

use crate::app::Services;
use crate::authn::{lockout, webauthn};
use crate::domain::Timestamp;
use crate::domain::factor::{Ceremony, Factor, PASSKEY};
use crate::domain::oidc::LoginState;
use crate::domain::user::{User, UserStatus};
use crate::oauth::Issuer;
use crate::oauth::authorize::Browser;
use crate::store::StoreError;

use super::{Effect, Loaded, Next, Transition, param};

/// Seconds a ceremony's options stay answerable.
const CEREMONY_TTL: i64 = 300;
const DISCOVER: &str = "discover";
const AUTHENTICATE: &str = "authenticate";
pub const NOT_VERIFIED: &str = "The passkey could not be verified. Try again or use another way to sign in.";

fn render(error: &str) -> Transition {
    Transition::to(Next::Render { error: Some(error.into()), status: 200 })
}

/// The user's passkeys, parsed (an unreadable record is skipped and logged).
pub fn passkeys_of(factors: &[Factor]) -> Vec<(String, webauthn_rs::prelude::Passkey)> {
    factors
        .iter()
        .filter(|f| f.kind == PASSKEY)
        .filter_map(|f| match webauthn::parse(f.passkey.as_deref().unwrap_or_default()) {
            Ok(p) => Some((f.id.clone(), p)),
            Err(e) => {
                tracing::error!(factor_id = %f.id, error = %e, "stored passkey unreadable");
                None
            }
        })
        .collect()
}

/// `POST {issuer}/login/passkey`: WebAuthn options for the login request's
/// step, as JSON; `Err((status, message))` when there are none to give.
pub async fn options(
    svc: &Services,
    issuer: &Issuer,
    form: &[(String, String)],
    browser: &Browser<'_>,
) -> Result<Result<String, (u16, &'static str)>, StoreError> {
    let now = svc.clock.now();
    let request_id = param(form, "request").unwrap_or_default();
    let mut tx = svc.store.write(issuer.scope()).await?;
    let Some(loaded) = super::load(&mut tx, issuer, request_id, Some(browser), now, false).await? else {
        tx.commit().await?;
        return Ok(Err((400, "the sign-in has expired")));
    };
    let csrf_ok = param(form, "csrf_token").is_some_and(|c| {
        !loaded.request.csrf_hash.is_empty() && crate::authn::secret::matches(c, &loaded.request.csrf_hash)
    });
    let Some(tenant) = loaded.tenant.as_ref().filter(|_| csrf_ok && issuer.tenant.is_some()) else {
        tx.commit().await?;
        return Ok(Err((400, "the form has expired")));
    };
    let started = match &loaded.request.state {
        LoginState::Identifier => webauthn::start_discovery(issuer).map(|o| (DISCOVER, o)),
        LoginState::Mfa { user_id, .. } => {
            let passkeys: Vec<_> = passkeys_of(&tx.factors_of(user_id).await?).into_iter().map(|(_, p)| p).collect();
            if passkeys.is_empty() {
                tx.commit().await?;
                return Ok(Err((409, "no passkey is registered")));
            }
            webauthn::start_authentication(issuer, &passkeys).map(|o| (AUTHENTICATE, o))
        }
        _ => {
            tx.commit().await?;
            return Ok(Err((409, "this step takes no passkey")));
        }
    };
    let (kind, (options, state)) = match started {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "passkey options refused");
            tx.commit().await?;
            return Ok(Err((409, "passkeys are not available here")));
        }
    };
    let challenge = Ceremony::new((&tenant.id, &tenant.partner_id), &loaded.request.id, kind, state, now, CEREMONY_TTL);
    tx.put_ceremony(&challenge).await?;
    tx.commit().await?;
    Ok(Ok(options))
}

/// Takes the login request's ceremony of `kind` (once).
async fn take(
    svc: &Services,
    issuer: &Issuer,
    loaded: &Loaded,
    kind: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let mut tx = svc.store.write(issuer.scope()).await?;
    let c = tx.take_ceremony(&loaded.request.id, kind, now).await?;
    tx.commit().await?;
    Ok(c.map(|c| c.state))
}

/// A passwordless sign-in on the identifier step.
pub async fn first_factor(
    svc: &Services,
    issuer: &Issuer,
    loaded: &mut Loaded,
    answer: &str,
    now: Timestamp,
) -> Result<Transition, StoreError> {
    let Some(tenant) = loaded.tenant.clone().filter(|_| issuer.tenant.is_some()) else {
        return Ok(render(NOT_VERIFIED));
    };
    let Some(state) = take(svc, issuer, loaded, DISCOVER, now).await? else { return Ok(render(NOT_VERIFIED)) };
    let Ok((handle, credential_id)) = webauthn::identify(answer) else { return Ok(render(NOT_VERIFIED)) };
    let mut tx = svc.store.read(issuer.scope()).await?;
    let Some(factor) = tx.factor_by_credential(&tenant.id, &credential_id).await? else {
        tx.commit().await?;
        return Ok(render(NOT_VERIFIED));
    };
    let user: User = tx.get(&factor.user_id).await?;
    let locked = lockout::is_locked(tx.lockout_state(&user.id).await?.1, now);
    tx.commit().await?;
    // The credential must be the user's the authenticator names, and the user able to sign in.
    if webauthn::user_handle(&user.id) != handle || user.status != UserStatus::Active || locked {
        return Ok(render(NOT_VERIFIED));
    }
    let Some((_, passkey)) = passkeys_of(std::slice::from_ref(&factor)).pop() else {
        return Ok(render(NOT_VERIFIED));
    };
    match webauthn::finish_discovery(issuer, answer, &state, &passkey) {
        Ok(updated) => {
            tracing::info!(target: "audit", action = "login.passkey", user_id = %user.id, "passwordless sign-in");
            loaded.request.params.login_hint = Some(user.user_name.clone());
            Ok(Transition {
                effects: vec![Effect::PasskeyUsed { factor_id: factor.id, passkey: updated }],
                next: Next::Authenticated { user_id: user.id, amr: vec!["hwk".into(), "mfa".into()] },
            })
        }
        Err(e) => {
            tracing::info!(target: "audit", action = "login.failure", user_id = %user.id, error = %e, "passkey refused");
            let effects = match e {
                webauthn::PasskeyError::Cloned => {
                    vec![Effect::PasskeyCloned { user_id: user.id, factor_id: factor.id }]
                }
                _ => Vec::new(),
            };
            Ok(Transition { effects, next: Next::Render { error: Some(NOT_VERIFIED.into()), status: 200 } })
        }
    }
}

/// One of the user's passkeys as the second factor (`mfa` step).
pub async fn second_factor(
    svc: &Services,
    issuer: &Issuer,
    loaded: &Loaded,
    user_id: &str,
    amr: &[String],
    answer: &str,
    now: Timestamp,
) -> Result<Transition, StoreError> {
    let state = take(svc, issuer, loaded, AUTHENTICATE, now).await?;
    let mut tx = svc.store.read(issuer.scope()).await?;
    let passkeys = passkeys_of(&tx.factors_of(user_id).await?);
    let locked = lockout::is_locked(tx.lockout_state(user_id).await?.1, now);
    tx.commit().await?;
    let keys: Vec<_> = passkeys.iter().map(|(_, p)| p.clone()).collect();
    let verified = state.as_deref().map(|s| webauthn::finish_authentication(issuer, answer, s, &keys));
    match verified {
        Some(Ok((credential_id, updated))) if !locked => {
            let factor_id = passkeys
                .iter()
                .find(|(_, p)| webauthn::credential_id(p) == credential_id)
                .map(|(id, _)| id.clone())
                .unwrap_or_default();
            Ok(Transition {
                effects: vec![Effect::PasskeyUsed { factor_id, passkey: updated }],
                next: Next::Finish { user_id: user_id.into(), amr: super::mfa::with(amr, &["hwk", "mfa"]) },
            })
        }
        other => {
            // Failures count toward the lockout (not while locked: the lock runs its course).
            let mut effects = if locked { vec![] } else { vec![Effect::PasswordFailed { user_id: user_id.into() }] };
            if let Some(Err(e)) = other {
                tracing::info!(target: "audit", action = "login.failure", user_id = %user_id, error = %e, "passkey refused");
                if matches!(e, webauthn::PasskeyError::Cloned) {
                    // Which passkey answered: the one the browser named.
                    let named = webauthn::identify_credential(answer).unwrap_or_default();
                    if let Some((factor_id, _)) = passkeys.iter().find(|(_, p)| webauthn::credential_id(p) == named) {
                        effects.push(Effect::PasskeyCloned { user_id: user_id.into(), factor_id: factor_id.clone() });
                    }
                }
            }
            Ok(Transition { effects, next: Next::Render { error: Some(NOT_VERIFIED.into()), status: 200 } })
        }
    }
}
