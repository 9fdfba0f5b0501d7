//! The login flow as typed steps. A login request holds a `LoginState` with
//! the data of its step; a step reads the form and returns what to do —
//! effects to apply and where to go next — and one `finish` turns an
//! authenticated user into a session and then into whatever started the
//! flow (today an authorization request; the device and account pages
//! later). MFA, upstream IdPs and LDAP bind add states and steps here
//! without touching the others.
//!
//! | state | form fields | next |
//! |---|---|---|
//! | `Identifier` | `username` (and `tenant` on the platform issuer) | `Password` (whether or not the user exists) |
//! | `Password { user_id }` | `password` | `ChangePassword` when older than `max_age_days`; else authenticated (`pwd`) |
//! | `ChangePassword { user_id }` | `new_password`, `confirm_password` | authenticated (policy and history checked) |
//! | `Consent { user_id }` | `decision` = `allow` / `deny` | back to the client with a code, or `access_denied` |
//! | `DirectoryPassword { idp_id }` | `password` | authenticated (`pwd`) by a bind against the LDAP / AD directory |
//! | `Upstream { idp_id, pending }` | (the IdP's callback: `code`, `state`) | authenticated (`fed`) as the linked or provisioned user |
//! | `Mfa { user_id, amr }` | `code` (TOTP) or `recovery_code` | signed in (`+otp`, `mfa`) — see `mfa.rs` |
//! | `EnrollTotp { user_id, amr, … }` | `code` (the first), or `skip` when optional | `RecoveryCodes` |
//! | `RecoveryCodes { user_id, amr, … }` | (continue) | signed in |
//! | `DeviceConfirm { user_id }` | `decision` = `allow` / `deny` | the device code approved or denied (`device.rs`) |
//!
//! Every first factor ends in `Authenticated`, where the tenant's MFA
//! policy (`mfa.rs`) sends the user to a second factor or straight on.
//!
//! The identifier step sends an email whose domain belongs to one of the
//! tenant's IdPs straight to it (home-realm discovery), and each IdP is a
//! link on the page (`/login/idp/{idp_id}`); both enter `Upstream` (see
//! `upstream.rs`). The callback runs the same three phases as a POST.
//!
//! Each POST runs in three phases: a read of the request (this browser's,
//! by the `sk_login` cookie, with the page's `csrf_token`); the step itself
//! outside any transaction (argon2 — and later upstream HTTP or LDAP —
//! never holds SQLite's writer lock); then one write transaction that
//! applies the step only if the request is still at the version it read
//! (compare-and-set), its effects, and the next state or `finish`.
//! Failures never say whether the user exists: unknown, suspended and
//! locked users get the wrong-password message after the same argon2 work.

mod device;
mod directory;
mod effects;
mod mfa;
mod page;
mod passkey;
mod saml;
mod steps;
mod upstream;

use std::net::IpAddr;

use scaikey_connectors::UpstreamIdentity;

use crate::app::Services;
use crate::authn::{secret, session};
use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::domain::idp::IdentityProvider;
use crate::domain::oidc::{LoginPurpose, LoginRequest, LoginState};
use crate::domain::tenant::Tenant;
use crate::oauth::Issuer;
use crate::oauth::authorize::{Browser, Outcome};
use crate::store::{StoreError, Tx};

pub use device::{Entry as DeviceEntry, enter as enter_device_code};
pub use effects::self_service;
pub use mfa::{factor_context as totp_factor_context, seal_factor_secret as seal_totp_secret};
pub use page::{IdpLink, LoginPage};
pub use passkey::{options as passkey_options, passkeys_of};
pub use saml::{acs as saml_acs, metadata as saml_metadata, resume as saml_resume};
pub use steps::WRONG_CREDENTIALS;
pub use upstream::{callback as upstream_callback, start as start_upstream};

const EXPIRED: &str =
    "This sign-in has expired or was started in another browser. Go back to the application and start again.";
const BAD_FORM: &str = "The form has expired. Go back to the application and start again.";

/// What the HTTP layer shows.
#[derive(Debug)]
pub enum FlowOutcome {
    Page { page: Box<LoginPage>, status: u16 },
    Done(Outcome),
}

/// A change a step asks for, applied in the write transaction.
#[derive(Debug)]
pub enum Effect {
    /// A wrong password for this user (counted toward the lockout).
    PasswordFailed { user_id: String },
    /// The right password: the failure count is cleared, and an outdated
    /// hash is replaced by `rehash` (computed outside the transaction).
    PasswordOk { user_id: String, rehash: Option<String> },
    /// The user sets a new password (policy and history through the write path).
    SetPassword { user_id: String, password: String },
    /// The user approved the app's admin and SCIM scopes.
    Consent { user_id: String },
    /// A TOTP code of `factor_id` for time `step` was right (accepted once).
    TotpUsed { factor_id: String, step: i64 },
    /// A recovery code was right (used once).
    RecoveryCodeUsed { user_id: String, code_hash: String },
    /// A TOTP authenticator is confirmed: the factor and new recovery codes.
    EnrollTotp { user_id: String, secret: Vec<u8>, step: i64, codes: Vec<String> },
    /// A passkey was verified: its record with the counter moved forward.
    PasskeyUsed { factor_id: String, passkey: String },
    /// A passkey's signature counter went backwards (a cloned credential):
    /// the factor is removed, so the copy cannot count its way past the check.
    PasskeyCloned { user_id: String, factor_id: String },
    /// The user approved the device code with this session, or denied it (`None`).
    DecideDevice { device_id: String, approved: Option<crate::domain::oidc::Session> },
}

/// Where the flow goes after a step.
#[derive(Debug)]
pub enum Next {
    /// The same state again, with a message.
    Render { error: Option<String>, status: u16 },
    /// Another state, rendered.
    Goto(LoginState),
    /// The first factor is proven: the tenant's MFA policy decides whether
    /// a second is asked for (or enrolled) before `Finish`.
    Authenticated { user_id: String, amr: Vec<String> },
    /// The user is who they say: a session, then whatever started the flow.
    Finish { user_id: String, amr: Vec<String> },
    /// The signed-in user approved the app's scopes: back to the client.
    Consented,
    /// The flow ends here (consent refused).
    Done(Outcome),
    /// Another state, entered by sending the browser to `location` (an upstream IdP).
    Redirect { state: LoginState, location: String },
    /// The upstream vouched for `identity`: the linked, linkable or new user.
    Federated { idp: Box<IdentityProvider>, identity: Box<UpstreamIdentity> },
    /// Back to the first step, with a message (an upstream sign-in failed).
    Restart { error: String },
}

/// A step's answer.
#[derive(Debug)]
pub struct Transition {
    pub effects: Vec<Effect>,
    pub next: Next,
}

impl Transition {
    fn to(next: Next) -> Self {
        Self { effects: Vec::new(), next }
    }
}

/// A login request with what it belongs to.
#[derive(Clone)]
pub struct Loaded {
    pub request: LoginRequest,
    /// The issuer's tenant, or on the platform issuer the one the user named.
    pub tenant: Option<std::sync::Arc<Tenant>>,
    /// The app of an authorization request (`None` for the account page).
    pub app: Option<Application>,
}

fn expired() -> FlowOutcome {
    FlowOutcome::Done(Outcome::ErrorPage { status: 400, message: EXPIRED.into() })
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Loads this browser's login request; `lock` holds its row until commit.
/// `browser` is `None` only where the request was found by another proof
/// (a SAML RelayState at the ACS, which no cookie reaches).
async fn load(
    tx: &mut Tx,
    issuer: &Issuer,
    request_id: &str,
    browser: Option<&Browser<'_>>,
    now: Timestamp,
    lock: bool,
) -> Result<Option<Loaded>, StoreError> {
    // The login request must be this browser's own (cookie set at authorize).
    if browser.is_some_and(|b| session::cookie(b.cookies, session::LOGIN_COOKIE) != Some(request_id))
        || !crate::ids::has_prefix(request_id, "lrq")
    {
        return Ok(None);
    }
    let found = if lock { tx.get_for_update(request_id).await } else { tx.get(request_id).await };
    let request: LoginRequest = match found {
        Ok(r) => r,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    if request.expires_at <= now {
        return Ok(None);
    }
    let tenant = match (&issuer.tenant, &request.tenant_id) {
        (Some(t), Some(id)) if *id == t.id => Some(t.clone()),
        (Some(_), _) => return Ok(None),
        (None, Some(id)) => Some(std::sync::Arc::new(tx.get::<Tenant>(id).await?)),
        (None, None) => None,
    };
    let app = match (&request.purpose, &request.app_id) {
        (LoginPurpose::Authorize | LoginPurpose::Device { .. }, Some(app_id)) => {
            match tx.app_by_id_any_scope(app_id).await {
                Ok(a) if issuer.serves(&a) => Some(a),
                Ok(_) | Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        // The account page is a tenant issuer's, and has no app.
        (LoginPurpose::Account, None) if issuer.tenant.is_some() => None,
        _ => return Ok(None),
    };
    Ok(Some(Loaded { request, tenant, app }))
}

/// Stores `loaded` (its state, with a fresh CSRF token) if the request is
/// still at `version`, and renders it; `expired` when another submit won.
async fn save_and_render(
    svc: &Services,
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    version: i64,
    error: Option<&str>,
    status: u16,
) -> Result<FlowOutcome, StoreError> {
    let csrf = secret::generate("");
    loaded.request.csrf_hash = secret::hash(&csrf);
    if !tx.advance_login(&loaded.request, version).await? {
        return Ok(expired());
    }
    // The tenant's IdPs are offered on the steps before anyone is signed in.
    let offers_idps = matches!(
        loaded.request.state,
        LoginState::Identifier | LoginState::Password { .. } | LoginState::DirectoryPassword { .. }
    );
    let idps = match (&issuer.tenant, offers_idps) {
        (Some(t), true) => {
            tx.login_idps(&t.id).await?.iter().map(|i| page::IdpLink::new(issuer, &loaded.request.id, i)).collect()
        }
        _ => Vec::new(),
    };
    let mut page = page::build(issuer, loaded, csrf, error, idps);
    let account = loaded.request.params.login_hint.clone().unwrap_or_else(|| page.tenant_name.clone());
    page.mfa = mfa::page(svc.keys.sealer(), &loaded.request.state, &page.tenant_name, &account);
    Ok(FlowOutcome::Page { page: Box::new(page), status })
}

/// `GET /login?request=…`
pub async fn show(
    svc: &Services,
    issuer: &Issuer,
    request_id: &str,
    browser: &Browser<'_>,
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    // Locked: two loads of the page at once both render (the later token wins).
    let mut tx = svc.store.write(issuer.scope()).await?;
    let Some(mut loaded) = load(&mut tx, issuer, request_id, Some(browser), now, true).await? else {
        tx.commit().await?;
        return Ok(expired());
    };
    let version = loaded.request.version;
    let out = save_and_render(svc, &mut tx, issuer, &mut loaded, version, None, 200).await?;
    tx.commit().await?;
    Ok(out)
}

/// `POST /login`
pub async fn submit(
    svc: &Services,
    issuer: &Issuer,
    form: &[(String, String)],
    browser: &Browser<'_>,
    client_ip: Option<IpAddr>,
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    let request_id = param(form, "request").unwrap_or_default();

    // 1. Read: this browser's request, and the page's CSRF token.
    let Some(mut loaded) = read(svc, issuer, request_id, browser, now).await? else { return Ok(expired()) };
    let csrf_ok = param(form, "csrf_token")
        .is_some_and(|c| !loaded.request.csrf_hash.is_empty() && secret::matches(c, &loaded.request.csrf_hash));
    if !csrf_ok {
        return Ok(FlowOutcome::Done(Outcome::ErrorPage { status: 400, message: BAD_FORM.into() }));
    }
    let version = loaded.request.version;

    // 2. The step, outside any transaction.
    let limited = matches!(
        loaded.request.state,
        LoginState::Password { .. } | LoginState::DirectoryPassword { .. } | LoginState::Mfa { .. }
    ) && match client_ip {
        Some(ip) => !svc.login_limiter.allow(ip, now).await,
        None => false,
    };
    let transition = if limited {
        Transition::to(Next::Render {
            error: Some("Too many attempts. Wait a minute and try again.".into()),
            status: 429,
        })
    } else {
        steps::run(svc, issuer, &mut loaded, form, browser, now).await?
    };

    // 3. Write: compare-and-set, effects, then the next state or finish.
    write(svc, issuer, &mut loaded, version, transition, browser, now).await
}

/// Phase 1 of a step: this browser's login request, read.
async fn read(
    svc: &Services,
    issuer: &Issuer,
    request_id: &str,
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<Option<Loaded>, StoreError> {
    let mut tx = svc.store.read(issuer.scope()).await?;
    let loaded = load(&mut tx, issuer, request_id, Some(browser), now, false).await?;
    tx.commit().await?;
    Ok(loaded)
}

/// Phase 3 of a step: one write transaction applying `transition` if the
/// request is still at `version`.
async fn write(
    svc: &Services,
    issuer: &Issuer,
    loaded: &mut Loaded,
    version: i64,
    transition: Transition,
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    let mut tx = svc.store.write(issuer.scope()).await?;
    let out = apply(svc, &mut tx, issuer, loaded, version, transition, browser, now).await?;
    tx.commit().await?;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    svc: &Services,
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    version: i64,
    transition: Transition,
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    // Claim the request first: a concurrent submit of the same page loses
    // here, before any effect of its step is applied.
    let csrf = secret::generate("");
    loaded.request.csrf_hash = secret::hash(&csrf);
    if !tx.advance_login(&loaded.request, version).await? {
        return Ok(expired());
    }
    let version = version + 1;
    let mut failed = None;
    for effect in transition.effects {
        if let Err(message) = effects::apply(svc, tx, loaded, effect, now).await? {
            failed = Some(message);
        }
    }
    if let Some(message) = failed {
        return save_and_render(svc, tx, issuer, loaded, version, Some(&message), 200).await;
    }
    match transition.next {
        Next::Render { error, status } => {
            save_and_render(svc, tx, issuer, loaded, version, error.as_deref(), status).await
        }
        Next::Goto(state) => {
            let message = steps::message_for(&state);
            loaded.request.state = state;
            save_and_render(svc, tx, issuer, loaded, version, message, 200).await
        }
        Next::Authenticated { user_id, amr } => match mfa::gate(svc, tx, loaded, &user_id, &amr).await? {
            Some(state) => {
                loaded.request.state = state;
                save_and_render(svc, tx, issuer, loaded, version, None, 200).await
            }
            None => effects::finish(svc, tx, issuer, loaded, &user_id, amr, now).await,
        },
        Next::Finish { user_id, amr } => effects::finish(svc, tx, issuer, loaded, &user_id, amr, now).await,
        Next::Consented => effects::consented(tx, issuer, loaded, browser, now).await,
        Next::Done(outcome) => effects::conclude(tx, issuer, loaded, outcome).await,
        Next::Redirect { state, location } => {
            loaded.request.state = state;
            if !tx.advance_login(&loaded.request, version).await? {
                return Ok(expired());
            }
            Ok(FlowOutcome::Done(Outcome::Redirect { location, set_cookies: Vec::new() }))
        }
        Next::Federated { idp, identity } => match crate::federation::jit::resolve(tx, &idp, &identity, now).await? {
            Ok(user_id) => {
                // A directory bind is a password; any other upstream a federation.
                let mut amr = vec![if idp.kind == "ldap" { "pwd" } else { "fed" }.to_owned()];
                // The upstream's MFA counts only where the tenant trusts it.
                if idp.trust_upstream_mfa && identity.amr.iter().any(|m| m == "mfa") {
                    amr.push("mfa".into());
                }
                match mfa::gate(svc, tx, loaded, &user_id, &amr).await? {
                    Some(state) => {
                        loaded.request.state = state;
                        save_and_render(svc, tx, issuer, loaded, version, None, 200).await
                    }
                    None => effects::finish(svc, tx, issuer, loaded, &user_id, amr, now).await,
                }
            }
            Err(message) => {
                loaded.request.state = LoginState::Identifier;
                save_and_render(svc, tx, issuer, loaded, version, Some(message), 403).await
            }
        },
        Next::Restart { error } => {
            loaded.request.state = LoginState::Identifier;
            save_and_render(svc, tx, issuer, loaded, version, Some(&error), 200).await
        }
    }
}
