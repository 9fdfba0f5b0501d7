//! The device page (`{issuer}/device`, RFC 8628 §3.3): the user types the
//! code their device shows (or follows `verification_uri_complete`), signs
//! in through the login flow — MFA included — unless this browser already
//! holds a session, and then approves or denies the device by name. The
//! approval records the session's user, `auth_time` and `amr` on the code;
//! the device's next poll redeems it.

use std::net::IpAddr;

use crate::app::Services;
use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::domain::oidc::{AuthorizeParams, DeviceCode, LoginPurpose, LoginRequest, LoginState};
use crate::ids::new_id;
use crate::oauth::Issuer;
use crate::oauth::authorize::{self, Browser, LOGIN_REQUEST_TTL, Outcome};
use crate::oauth::device::{normalize_user_code, user_code_hash};
use crate::store::StoreError;

use super::{Effect, Loaded, Next, Transition, param};

pub const WRONG_CODE: &str = "That code is not valid. Check the code your device shows and try again.";

/// What typing a code leads to.
#[derive(Debug)]
pub enum Entry {
    /// The code page again, with a message and status.
    Again { error: &'static str, status: u16 },
    /// On to the sign-in (or straight to the approval).
    Go(Outcome),
}

/// `POST {issuer}/device`: the user typed `user_code`.
pub async fn enter(
    svc: &Services,
    issuer: &Issuer,
    typed: &str,
    browser: &Browser<'_>,
    client_ip: Option<IpAddr>,
) -> Result<Entry, StoreError> {
    // Every attempt counts against the address: codes cannot be enumerated.
    let allowed = match client_ip {
        Some(ip) => svc.login_limiter.allow(ip, svc.clock.now()).await,
        None => true,
    };
    if !allowed {
        return Ok(Entry::Again { error: "Too many attempts. Wait a minute and try again.", status: 429 });
    }
    let Some(code) = normalize_user_code(typed) else { return Ok(Entry::Again { error: WRONG_CODE, status: 200 }) };
    let now = svc.clock.now();
    let mut tx = svc.store.write(issuer.scope()).await?;
    let device: DeviceCode = match tx.device_by_user_code_hash(&user_code_hash(&code), now).await {
        Ok(d) if d.status == "pending" => d,
        Ok(_) | Err(StoreError::NotFound) => {
            tx.commit().await?;
            return Ok(Entry::Again { error: WRONG_CODE, status: 200 });
        }
        Err(e) => return Err(e),
    };
    let app: Application = tx.app_by_id_any_scope(&device.app_id).await?;
    if !issuer.serves(&app) {
        tx.commit().await?;
        return Ok(Entry::Again { error: WRONG_CODE, status: 200 });
    }
    // A browser already signed in here goes straight to the approval.
    let signed_in = authorize::current_session(&mut tx, browser, issuer.realm(), now).await?;
    let request = LoginRequest {
        id: new_id("lrq", now),
        tenant_id: issuer.tenant.as_ref().map(|t| t.id.clone()),
        partner_id: issuer.tenant.as_ref().map(|t| t.partner_id.clone()),
        app_id: Some(app.id.clone()),
        purpose: LoginPurpose::Device { device_id: device.id.clone() },
        params: AuthorizeParams {
            client_id: app.client_id.clone(),
            redirect_uri: String::new(),
            scope: device.scope.split_whitespace().map(str::to_owned).collect(),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: None,
            max_age: None,
            login_hint: None,
        },
        state: match &signed_in {
            Some(s) => LoginState::DeviceConfirm { user_id: s.user_id.clone() },
            None => LoginState::Identifier,
        },
        version: 0,
        csrf_hash: String::new(),
        created_at: now,
        expires_at: now.plus_seconds(LOGIN_REQUEST_TTL).min(device.expires_at),
    };
    tx.insert(&request).await?;
    tx.commit().await?;
    Ok(Entry::Go(authorize::to_login_page(issuer, &request.id)))
}

/// `DeviceConfirm`: the signed-in user approves (`decision=allow`) or denies
/// the device; the browser must still hold that user's session.
pub async fn confirm(
    svc: &Services,
    issuer: &Issuer,
    loaded: &Loaded,
    user_id: &str,
    form: &[(String, String)],
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<Transition, StoreError> {
    let LoginPurpose::Device { device_id } = &loaded.request.purpose else {
        return Ok(Transition::to(Next::Done(Outcome::ErrorPage { status: 400, message: super::EXPIRED.into() })));
    };
    let mut tx = svc.store.read(issuer.scope()).await?;
    let session = authorize::current_session(&mut tx, browser, issuer.realm(), now).await?;
    tx.commit().await?;
    let Some(session) = session.filter(|s| s.user_id == user_id) else {
        return Ok(Transition::to(Next::Done(Outcome::ErrorPage { status: 400, message: super::EXPIRED.into() })));
    };
    let allow = param(form, "decision") == Some("allow");
    let (heading, message) = if allow {
        ("Device connected", "You can close this page and return to your device.")
    } else {
        ("Device not connected", "The device was denied access. You can close this page.")
    };
    Ok(Transition {
        effects: vec![Effect::DecideDevice { device_id: device_id.clone(), approved: allow.then_some(session) }],
        next: Next::Done(Outcome::Message { heading: heading.into(), message: message.into() }),
    })
}
