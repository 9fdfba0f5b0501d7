//! The second factor in the login flow, by the tenant's `mfa_policy`:
//!
//! | policy | user with a TOTP factor | user without |
//! |---|---|---|
//! | `off` | signed in after the first factor | signed in |
//! | `optional` | asked for a code | offered enrollment (skippable) |
//! | `required` | asked for a code | enrolls before any code or token is issued |
//!
//! A first factor that already carried MFA (a trusted upstream's `mfa`)
//! needs no second. A TOTP code is accepted once per time step (replay
//! refused by a compare-and-set on the factor's last step); a recovery code
//! once; wrong codes count toward the lockout like wrong passwords.
//! Enrollment shows the secret as a QR code (SVG) and as text, confirms it
//! with a first code, then shows ten recovery codes once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::app::Services;
use crate::authn::{lockout, recovery, totp};
use crate::domain::Timestamp;
use crate::domain::factor::{Factor, PASSKEY, TOTP};
use crate::domain::oidc::LoginState;
use crate::domain::settings::MfaPolicy;
use crate::keys::seal::Sealer;
use crate::oauth::Issuer;
use crate::store::{StoreError, Tx};

use super::{Effect, Loaded, Next, Transition, param};

pub const WRONG_CODE: &str = "The code is incorrect.";
pub const CODE_USED: &str = "That code was already used. Wait for the next one.";

/// What the MFA steps show besides the form.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MfaPage {
    /// The `otpauth://` QR code, as a data: URI of an SVG.
    pub qr: Option<String>,
    /// The TOTP secret in base32, to type in.
    pub secret: Option<String>,
    pub recovery_codes: Vec<String>,
    /// Enrollment can be skipped (`optional` policy).
    pub optional: bool,
    /// The `mfa` step asks for a TOTP code, offers the user's passkey.
    pub totp: bool,
    pub passkey: bool,
}

fn context(user_id: &str) -> String {
    format!("totp-enroll:{user_id}")
}

/// Where a user whose first factor (`amr`) is proven goes next: `None`
/// to be signed in, or an MFA state.
pub async fn gate(
    svc: &Services,
    tx: &mut Tx,
    loaded: &Loaded,
    user_id: &str,
    amr: &[String],
) -> Result<Option<LoginState>, StoreError> {
    let policy = loaded.tenant.as_ref().map(|t| t.settings.mfa_policy).unwrap_or_default();
    if policy == MfaPolicy::Off || amr.iter().any(|a| a == "mfa") {
        return Ok(None);
    }
    let amr = amr.to_vec();
    let mut methods: Vec<String> = tx.factors_of(user_id).await?.into_iter().map(|f| f.kind).collect();
    methods.sort_unstable();
    methods.dedup();
    if !methods.is_empty() {
        return Ok(Some(LoginState::Mfa { user_id: user_id.into(), amr, methods }));
    }
    let secret_sealed = svc.keys.sealer().seal(&context(user_id), &totp::new_secret());
    Ok(Some(LoginState::EnrollTotp {
        user_id: user_id.into(),
        amr,
        secret_sealed,
        optional: policy == MfaPolicy::Optional,
    }))
}

/// The factors' part of the page for `state`.
pub fn page(sealer: &Sealer, state: &LoginState, issuer_name: &str, account: &str) -> Option<MfaPage> {
    match state {
        LoginState::EnrollTotp { user_id, secret_sealed, optional, .. } => {
            let secret = sealer.open(&context(user_id), secret_sealed).ok()?;
            let (_, svg) = totp::enrollment(&secret, issuer_name, account)?;
            Some(MfaPage {
                qr: Some(format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))),
                secret: Some(totp::base32(&secret)),
                recovery_codes: Vec::new(),
                optional: *optional,
                ..Default::default()
            })
        }
        LoginState::Mfa { methods, .. } => Some(MfaPage {
            // Requests stored before passkeys name no methods: TOTP.
            totp: methods.is_empty() || methods.iter().any(|m| m == TOTP),
            passkey: methods.iter().any(|m| m == PASSKEY),
            ..Default::default()
        }),
        LoginState::RecoveryCodes { user_id, codes_sealed, .. } => {
            let codes = sealer.open_string(&context(user_id), codes_sealed).ok()?;
            Some(MfaPage { recovery_codes: codes.split(' ').map(str::to_owned).collect(), ..Default::default() })
        }
        _ => None,
    }
}

pub(super) fn with(amr: &[String], more: &[&str]) -> Vec<String> {
    let mut out = amr.to_vec();
    for m in more {
        if !out.iter().any(|a| a == m) {
            out.push((*m).to_owned());
        }
    }
    out
}

fn wrong(user_id: &str, locked: bool) -> Transition {
    // Failures while locked are not counted: the lock runs its course.
    let effects = if locked { vec![] } else { vec![Effect::PasswordFailed { user_id: user_id.into() }] };
    Transition { effects, next: Next::Render { error: Some(WRONG_CODE.into()), status: 200 } }
}

/// `Mfa`: a TOTP code (`code`) or a recovery code (`recovery_code`).
pub async fn verify(
    svc: &Services,
    issuer: &Issuer,
    user_id: &str,
    amr: &[String],
    form: &[(String, String)],
    now: Timestamp,
) -> Result<Transition, StoreError> {
    let mut tx = svc.store.read(issuer.scope()).await?;
    let factors: Vec<Factor> = tx.factors_of(user_id).await?;
    let locked = lockout::is_locked(tx.lockout_state(user_id).await?.1, now);
    if let Some(code) = param(form, "recovery_code").map(str::trim).filter(|c| !c.is_empty()) {
        let hash = recovery::hash(code);
        let unused = tx.recovery_code_unused(user_id, &hash).await?;
        tx.commit().await?;
        if locked || !unused {
            return Ok(wrong(user_id, locked));
        }
        return Ok(Transition {
            effects: vec![Effect::RecoveryCodeUsed { user_id: user_id.into(), code_hash: hash }],
            next: Next::Finish { user_id: user_id.into(), amr: with(amr, &["otp", "mfa"]) },
        });
    }
    tx.commit().await?;
    let code = param(form, "code").unwrap_or_default();
    let sealer = svc.keys.sealer();
    let matched = factors.iter().filter(|f| f.kind == TOTP).find_map(|f| {
        let secret = sealer.open(&factor_context(&f.id), f.secret_sealed.as_deref()?).ok()?;
        totp::check(&secret, code, now.unix_seconds()).map(|step| (f.id.clone(), step))
    });
    match matched {
        Some((factor_id, step)) if !locked => Ok(Transition {
            effects: vec![Effect::TotpUsed { factor_id, step }],
            next: Next::Finish { user_id: user_id.into(), amr: with(amr, &["otp", "mfa"]) },
        }),
        _ => Ok(wrong(user_id, locked)),
    }
}

/// `EnrollTotp`: a first code confirms the authenticator; or `skip` when optional.
pub async fn enroll(
    svc: &Services,
    user_id: &str,
    amr: &[String],
    secret_sealed: &str,
    optional: bool,
    form: &[(String, String)],
    now: Timestamp,
) -> Result<Transition, StoreError> {
    if optional && param(form, "skip").is_some() {
        return Ok(Transition::to(Next::Finish { user_id: user_id.into(), amr: amr.to_vec() }));
    }
    let sealer = svc.keys.sealer();
    let Ok(secret) = sealer.open(&context(user_id), secret_sealed) else {
        return Ok(Transition::to(Next::Restart { error: "The enrollment expired. Sign in again.".into() }));
    };
    let Some(step) = totp::check(&secret, param(form, "code").unwrap_or_default(), now.unix_seconds()) else {
        return Ok(Transition::to(Next::Render {
            error: Some(format!("{WRONG_CODE} Enter the code your authenticator app shows now.")),
            status: 200,
        }));
    };
    let codes = recovery::generate();
    let codes_sealed = sealer.seal(&context(user_id), codes.join(" ").as_bytes());
    Ok(Transition {
        effects: vec![Effect::EnrollTotp { user_id: user_id.into(), secret, step, codes }],
        next: Next::Goto(LoginState::RecoveryCodes {
            user_id: user_id.into(),
            amr: with(amr, &["otp", "mfa"]),
            codes_sealed,
        }),
    })
}

/// The context a TOTP factor's secret is sealed under.
pub fn factor_context(factor_id: &str) -> String {
    format!("totp:{factor_id}")
}

/// Seals a confirmed TOTP secret for its factor.
pub fn seal_factor_secret(sealer: &Sealer, factor_id: &str, secret: &[u8]) -> String {
    sealer.seal(&factor_context(factor_id), secret)
}
