//! The login flow: a small state machine kept in the server-side login
//! request, so MFA, federation and the device page plug in as steps.
//!
//! | step            | form field | next |
//! |-----------------|------------|------|
//! | identifier      | `username` (and `tenant` on the platform issuer) | password (whether or not the user exists) |
//! | password        | `password` | change_password if it is older than `max_age_days`; else done |
//! | change_password | `new_password`, `confirm_password` | done (policy and history checked) |
//! | consent         | `decision` = `allow` or `deny` | done, or `access_denied` to the client |
//!
//! "Done" is `finish`: a new SSO session, then `authorize::complete`, which
//! starts the consent step itself when the app asks for admin or SCIM
//! scopes the user has not approved.
//!
//! Every POST must present the login request id also held in the
//! `sk_login` cookie (the browser that started the flow) and the page's
//! `csrf_token`. Failures never say whether the user exists: unknown,
//! suspended and locked users get the wrong-password message after the
//! same argon2 work.

use std::net::IpAddr;

use crate::admin::AdminError;
use crate::app::Services;
use crate::authn::password_change;
use crate::authn::{lockout, password, secret, session};
use crate::directory::{self, Actor, Writer};
use crate::domain::Timestamp;
use crate::domain::application::Application;
use crate::domain::consent::{Consent, needs_consent};
use crate::domain::oidc::{LoginRequest, LoginStep, Session};
use crate::domain::settings::Branding;
use crate::domain::tenant::Tenant;
use crate::domain::user::UserAttributes;
use crate::domain::user::{User, UserStatus};
use crate::ids::new_id;
use crate::oauth::Issuer;
use crate::oauth::authorize::{self, Browser, Outcome, issuer_path};
use crate::store::Scope;
use crate::store::{StoreError, Tx};

pub const WRONG_CREDENTIALS: &str = "The username or password is incorrect.";
const EXPIRED: &str =
    "This sign-in has expired or was started in another browser. Go back to the application and start again.";
const BAD_FORM: &str = "The form has expired. Go back to the application and start again.";
const PASSWORD_EXPIRED: &str = "Your password has expired. Choose a new one to continue.";

/// What the login page shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginPage {
    pub step: LoginStep,
    pub action: String,
    pub request_id: String,
    pub csrf_token: String,
    pub username: Option<String>,
    pub error: Option<String>,
    pub tenant_name: String,
    pub app_name: String,
    pub branding: Branding,
    /// The platform issuer asks which tenant the user belongs to.
    pub ask_tenant: bool,
    pub tenant_slug: Option<String>,
    /// Consent step: the scopes the app asks the user to approve.
    pub scopes: Vec<String>,
}

#[derive(Debug)]
pub enum FlowOutcome {
    Page { page: Box<LoginPage>, status: u16 },
    Done(Outcome),
}

fn expired() -> FlowOutcome {
    FlowOutcome::Done(Outcome::ErrorPage { status: 400, message: EXPIRED.into() })
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

struct Loaded {
    request: LoginRequest,
    /// The issuer's tenant, or on the platform issuer the one the user named.
    tenant: Option<Tenant>,
    app: Application,
}

async fn load(
    tx: &mut Tx,
    issuer: &Issuer,
    request_id: &str,
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<Option<Loaded>, StoreError> {
    // The login request must be this browser's own (cookie set at authorize).
    if session::cookie(browser.cookies, session::LOGIN_COOKIE) != Some(request_id)
        || !crate::ids::has_prefix(request_id, "lrq")
    {
        return Ok(None);
    }
    let request: LoginRequest = match tx.get_for_update(request_id).await {
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
        (None, Some(id)) => Some(tx.get::<Tenant>(id).await?),
        (None, None) => None,
    };
    let app: Application = match tx.app_by_id_any_scope(&request.app_id).await {
        Ok(a) if issuer.serves(&a) => a,
        Ok(_) | Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(Loaded { request, tenant, app }))
}

/// Renders the current step with a fresh CSRF token.
async fn render(
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    error: Option<&str>,
    status: u16,
) -> Result<FlowOutcome, StoreError> {
    let csrf = secret::generate("");
    loaded.request.csrf_hash = secret::hash(&csrf);
    tx.update(&loaded.request).await?;
    Ok(FlowOutcome::Page {
        page: Box::new(LoginPage {
            step: loaded.request.step,
            action: issuer.endpoint("/login"),
            request_id: loaded.request.id.clone(),
            csrf_token: csrf,
            username: loaded.request.params.login_hint.clone(),
            error: error.map(str::to_owned),
            tenant_name: match (&issuer.tenant, &loaded.tenant) {
                (Some(t), _) => t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()),
                _ => "ScaiKey".into(),
            },
            app_name: loaded.app.name.clone(),
            branding: issuer.tenant.as_ref().map(|t| t.branding.clone()).unwrap_or_default(),
            ask_tenant: issuer.tenant.is_none(),
            tenant_slug: loaded.tenant.as_ref().filter(|_| issuer.tenant.is_none()).map(|t| t.slug.clone()),
            scopes: loaded.request.params.scope.iter().filter(|s| needs_consent(s)).cloned().collect(),
        }),
        status,
    })
}

/// `GET /login?request=…`
pub async fn show(
    svc: &Services,
    issuer: &Issuer,
    request_id: &str,
    browser: &Browser<'_>,
) -> Result<FlowOutcome, StoreError> {
    let now = svc.clock.now();
    let mut tx = svc.store.write(issuer.scope()).await?;
    let Some(mut loaded) = load(&mut tx, issuer, request_id, browser, now).await? else {
        tx.commit().await?;
        return Ok(expired());
    };
    let out = render(&mut tx, issuer, &mut loaded, None, 200).await?;
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
    let mut tx = svc.store.write(issuer.scope()).await?;
    let Some(mut loaded) = load(&mut tx, issuer, request_id, browser, now).await? else {
        tx.commit().await?;
        return Ok(expired());
    };
    let csrf_ok = param(form, "csrf_token")
        .is_some_and(|c| !loaded.request.csrf_hash.is_empty() && secret::matches(c, &loaded.request.csrf_hash));
    if !csrf_ok {
        tx.commit().await?;
        return Ok(FlowOutcome::Done(Outcome::ErrorPage { status: 400, message: BAD_FORM.into() }));
    }
    let out = match loaded.request.step {
        LoginStep::Identifier => identifier_step(&mut tx, issuer, &mut loaded, form).await?,
        LoginStep::Password => {
            if client_ip.is_some_and(|ip| !svc.login_limiter.allow(ip)) {
                let out =
                    render(&mut tx, issuer, &mut loaded, Some("Too many attempts. Wait a minute and try again."), 429)
                        .await?;
                tx.commit().await?;
                return Ok(out);
            }
            password_step(svc, &mut tx, issuer, &mut loaded, form, now).await?
        }
        LoginStep::ChangePassword => change_password_step(svc, &mut tx, issuer, &mut loaded, form, now).await?,
        LoginStep::Consent => consent_step(&mut tx, issuer, &mut loaded, form, browser, now).await?,
    };
    tx.commit().await?;
    Ok(out)
}

async fn identifier_step(
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    form: &[(String, String)],
) -> Result<FlowOutcome, StoreError> {
    let username = param(form, "username").map(str::trim).unwrap_or_default();
    if username.is_empty() || username.chars().count() > 256 {
        return render(tx, issuer, loaded, Some("Enter your username."), 200).await;
    }
    if issuer.tenant.is_none() {
        // Platform issuer (GLOBAL apps): the user names their tenant. An
        // unknown tenant continues like an unknown user, revealing nothing.
        let slug = param(form, "tenant").map(str::trim).unwrap_or_default().to_lowercase();
        if slug.is_empty() {
            return render(tx, issuer, loaded, Some("Enter your organization."), 200).await;
        }
        loaded.tenant = match tx.tenant_by_slug(&slug).await {
            Ok(t) => Some(t),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        loaded.request.tenant_id = loaded.tenant.as_ref().map(|t| t.id.clone());
        loaded.request.partner_id = loaded.tenant.as_ref().map(|t| t.partner_id.clone());
    }
    let user_id = match &loaded.tenant {
        Some(t) => match tx.user_by_name(&t.id, username).await {
            Ok(u) => Some(u.id),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    loaded.request.user_id = user_id;
    loaded.request.params.login_hint = Some(username.to_owned());
    loaded.request.step = LoginStep::Password;
    render(tx, issuer, loaded, None, 200).await
}

async fn password_step(
    svc: &Services,
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    form: &[(String, String)],
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    let presented = param(form, "password").unwrap_or_default().to_owned();
    let user: Option<User> = match &loaded.request.user_id {
        Some(id) => match tx.get(id).await {
            Ok(u) => Some(u),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| password::DUMMY_HASH.clone());
    // Always the same argon2 work, whatever is wrong.
    let password_ok =
        !presented.is_empty() && presented.len() <= 1024 && password::verify(presented.clone(), stored.clone()).await;
    let (Some(user), Some(tenant)) = (user, loaded.tenant.clone()) else {
        return render(tx, issuer, loaded, Some(WRONG_CREDENTIALS), 200).await;
    };
    let (_, locked_until) = tx.lockout_state(&user.id).await?;
    let usable =
        user.status == UserStatus::Active && !lockout::is_locked(locked_until, now) && user.password_hash.is_some();
    if !(password_ok && usable) {
        if !lockout::is_locked(locked_until, now) {
            let locked = tx.record_login_failure(&user.id, &tenant.settings.lockout, now).await?;
            if locked {
                tracing::warn!(target: "audit", action = "user.locked", user_id = %user.id, "account locked after failed logins");
            }
        }
        tracing::info!(target: "audit", action = "login.failure", tenant_id = %user.tenant_id, "failed sign-in");
        return render(tx, issuer, loaded, Some(WRONG_CREDENTIALS), 200).await;
    }
    tx.clear_lockout(&user.id).await?;
    if password::needs_rehash(&stored)
        && let Ok(h) = password::hash(presented).await
    {
        tx.set_password_hash(&user.id, &h, user.password_changed_at.unwrap_or(now)).await?;
    }
    if password_change::is_expired(&tenant.settings.password_policy, &user, now) {
        loaded.request.step = LoginStep::ChangePassword;
        return render(tx, issuer, loaded, Some(PASSWORD_EXPIRED), 200).await;
    }
    finish(svc, tx, issuer, loaded, &user, &tenant, now).await
}

/// The user proved their expired password; they choose a new one under the
/// tenant's policy (rules and history) before the sign-in finishes.
async fn change_password_step(
    svc: &Services,
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    form: &[(String, String)],
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    let (Some(user_id), Some(tenant)) = (loaded.request.user_id.clone(), loaded.tenant.clone()) else {
        return Ok(expired());
    };
    let user: User = tx.get(&user_id).await?;
    let new = param(form, "new_password").unwrap_or_default().to_owned();
    if param(form, "confirm_password") != Some(new.as_str()) {
        return render(tx, issuer, loaded, Some("The two passwords differ."), 200).await;
    }
    let current = user.password_hash.clone().unwrap_or_else(|| password::DUMMY_HASH.clone());
    if new.len() <= 1024 && password::verify(new.clone(), current).await {
        return render(tx, issuer, loaded, Some("Choose a password you have not used before."), 200).await;
    }
    // The user changes their own password through the one write path
    // (policy, history, audit, event).
    let writer = Writer {
        actor: Actor::User(user.id.clone()),
        authority: Scope::Tenant(user.tenant_id.clone()),
        request_id: None,
        now,
    };
    let change = UserAttributes { password: Some(new), ..Default::default() };
    let user = match directory::users::update(tx, &writer, &user.id, change, None).await {
        Ok(u) => u,
        Err(AdminError::Invalid(fields)) => {
            let reasons: Vec<String> = fields.into_iter().map(|f| f.message).collect();
            let message = format!("The new password {}.", reasons.join("; "));
            return render(tx, issuer, loaded, Some(&message), 200).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "password change at sign-in failed");
            return Ok(expired());
        }
    };
    tracing::info!(target: "audit", action = "user.password_change", user_id = %user.id, "expired password changed at sign-in");
    finish(svc, tx, issuer, loaded, &user, &tenant, now).await
}

/// The signed-in user approves or refuses the admin or SCIM scopes the app
/// asks for. The browser must still hold that user's live session.
async fn consent_step(
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    form: &[(String, String)],
    browser: &Browser<'_>,
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    let Some(session) = authorize::current_session(tx, browser, issuer.realm(), now).await? else {
        return Ok(expired());
    };
    if loaded.request.user_id.as_deref() != Some(session.user_id.as_str()) {
        return Ok(expired());
    }
    let params = loaded.request.params.clone();
    tx.delete::<LoginRequest>(&loaded.request.id).await?;
    let secure = issuer.url.starts_with("https://");
    let clear = session::clear_cookie(session::LOGIN_COOKIE, &issuer_path(issuer), secure);
    if param(form, "decision") != Some("allow") {
        tracing::info!(target: "audit", action = "consent.deny", user_id = %session.user_id, app_id = %loaded.app.id, "consent refused");
        return Ok(FlowOutcome::Done(with_cookies(
            authorize::error_redirect(
                &params.redirect_uri,
                issuer,
                "access_denied",
                "the user did not approve the requested access",
                params.state.as_deref(),
            ),
            vec![clear],
        )));
    }
    let approved: Vec<String> = params.scope.iter().filter(|s| needs_consent(s)).cloned().collect();
    match tx.consent_of(&session.user_id, &loaded.app.id).await? {
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
            let c = Consent {
                id: new_id("cns", now),
                tenant_id: session.tenant_id.clone(),
                partner_id: session.partner_id.clone(),
                user_id: session.user_id.clone(),
                app_id: loaded.app.id.clone(),
                scopes: approved,
                created_at: now,
                updated_at: now,
            };
            tx.insert(&c).await?;
        }
    }
    tracing::info!(target: "audit", action = "consent.grant", user_id = %session.user_id, app_id = %loaded.app.id, "scopes approved");
    let outcome = authorize::complete(tx, issuer, &loaded.app, &params, &session, true, now).await?;
    Ok(FlowOutcome::Done(with_cookies(outcome, vec![clear])))
}

fn with_cookies(outcome: Outcome, cookies: Vec<String>) -> Outcome {
    match outcome {
        Outcome::Redirect { location, mut set_cookies } => {
            set_cookies.extend(cookies);
            Outcome::Redirect { location, set_cookies }
        }
        other => other,
    }
}

/// Sign-in succeeded: a new SSO session (never reuse a pre-login id), then
/// whatever started the flow (today an authorization request).
async fn finish(
    svc: &Services,
    tx: &mut Tx,
    issuer: &Issuer,
    loaded: &mut Loaded,
    user: &User,
    tenant: &Tenant,
    now: Timestamp,
) -> Result<FlowOutcome, StoreError> {
    let (cookie_value, token_hash) = session::new_secret();
    let session = Session {
        id: new_id("ses", now),
        token_hash,
        tenant_id: user.tenant_id.clone(),
        partner_id: user.partner_id.clone(),
        user_id: user.id.clone(),
        auth_time: now,
        amr: vec!["pwd".into()],
        created_at: now,
        expires_at: now.plus_seconds(i64::from(tenant.settings.session_timeout)),
        ended_at: None,
    };
    tx.insert(&session).await?;
    tx.delete::<LoginRequest>(&loaded.request.id).await?;
    tracing::info!(target: "audit", action = "login.success", user_id = %user.id, "signed in");
    let outcome = authorize::complete(tx, issuer, &loaded.app, &loaded.request.params, &session, false, now).await?;
    let secure = svc.base_url().starts_with("https://");
    let path = issuer_path(issuer);
    // The login cookie is cleared first: a consent step sets a new one after it.
    let mut cookies = vec![
        session::clear_cookie(session::LOGIN_COOKIE, &path, secure),
        session::set_cookie(
            &session::session_cookie_name(issuer.realm()),
            &cookie_value,
            &path,
            secure,
            Some(i64::from(tenant.settings.session_timeout)),
        ),
    ];
    Ok(FlowOutcome::Done(match outcome {
        Outcome::Redirect { location, set_cookies } => {
            cookies.extend(set_cookies);
            Outcome::Redirect { location, set_cookies: cookies }
        }
        other => other,
    }))
}
