//! What the account page shows: the user, their factors, the recovery
//! codes left, the apps they can open, and the outcome of the last action.

use serde::Serialize;

use crate::app::Services;
use crate::domain::factor::{PASSKEY, TOTP};
use crate::domain::oidc::Session;
use crate::domain::settings::Branding;
use crate::domain::user::User;
use crate::oauth::Issuer;
use crate::oauth::authorize::{is_assigned, with_query};
use crate::store::StoreError;

#[derive(Debug, Clone, Serialize)]
pub struct FactorView {
    pub id: String,
    pub kind: String,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub created: String,
    pub last_used: Option<String>,
}

/// An app of the launcher: opening it sends the user to the app's
/// `initiate_login_uri` with `iss` (OIDC Core §4).
#[derive(Debug, Clone, Serialize)]
pub struct AppLink {
    pub name: String,
    pub logo_uri: Option<String>,
    pub href: String,
}

/// A TOTP authenticator being added: its QR code and secret.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TotpView {
    pub qr: String,
    pub secret: String,
}

/// The outcome of an action, shown once.
#[derive(Debug, Clone, Default)]
pub struct Flash {
    pub notice: Option<String>,
    pub error: Option<String>,
    pub new_codes: Vec<String>,
    pub totp: Option<TotpView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountPage {
    pub tenant_name: String,
    pub branding: Branding,
    pub action: String,
    /// Where the script gets WebAuthn options; `None` where passkeys cannot work (an IP address).
    pub passkey_options_url: Option<String>,
    pub logout_url: String,
    pub csrf_token: String,
    pub display_name: String,
    pub user_name: String,
    pub email: Option<String>,
    pub factors: Vec<FactorView>,
    pub recovery_codes_left: i64,
    pub can_change_password: bool,
    pub apps: Vec<AppLink>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub new_codes: Vec<String>,
    pub totp: Option<TotpView>,
}

fn day(t: crate::domain::Timestamp) -> String {
    t.rfc3339().chars().take(10).collect()
}

pub async fn build(
    svc: &Services,
    issuer: &Issuer,
    session: &Session,
    flash: Flash,
) -> Result<AccountPage, StoreError> {
    let mut tx = svc.store.read(issuer.scope()).await?;
    let user: User = tx.get(&session.user_id).await?;
    let factors = tx.factors_of(&user.id).await?;
    let left = tx.recovery_codes_left(&user.id).await?;
    let mut apps = Vec::new();
    for app in tx.launchable_apps(&user.tenant_id, &user.partner_id).await? {
        if issuer.serves(&app) && is_assigned(&mut tx, &app, &user).await? {
            let Some(uri) = &app.initiate_login_uri else { continue };
            apps.push(AppLink {
                name: app.name.clone(),
                logo_uri: app.logo_uri.clone(),
                href: with_query(uri, &[("iss", &issuer.url)]),
            });
        }
    }
    tx.commit().await?;
    let tenant = issuer.tenant.as_ref();
    Ok(AccountPage {
        tenant_name: tenant
            .map(|t| t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()))
            .unwrap_or_default(),
        branding: tenant.map(|t| t.branding.clone()).unwrap_or_default(),
        action: issuer.endpoint("/account"),
        passkey_options_url: crate::authn::webauthn::available(issuer).then(|| issuer.endpoint("/account/passkey")),
        logout_url: issuer.endpoint("/oauth/logout"),
        csrf_token: super::csrf_token(session),
        display_name: user.display_name.clone().unwrap_or_else(|| user.user_name.clone()),
        user_name: user.user_name.clone(),
        email: user.email.clone(),
        factors: factors
            .iter()
            .filter(|f| f.kind == TOTP || f.kind == PASSKEY)
            .map(|f| FactorView {
                id: f.id.clone(),
                kind: f.kind.clone(),
                name: f.name.clone(),
                created: day(f.created_at),
                last_used: f.last_used_at.map(day),
            })
            .collect(),
        recovery_codes_left: left,
        can_change_password: user.password_hash.is_some(),
        apps,
        notice: flash.notice,
        error: flash.error,
        new_codes: flash.new_codes,
        totp: flash.totp,
    })
}
