//! What the login page shows for a state.

use crate::domain::consent::needs_consent;
use crate::domain::idp::IdentityProvider;
use crate::domain::settings::Branding;
use crate::oauth::Issuer;

use super::Loaded;

#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginPage {
    /// The state's name (`identifier`, `password`, …): which form to show.
    pub step: &'static str,
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
    /// The tenant's IdPs, offered as links on the first steps.
    pub idps: Vec<IdpLink>,
    /// The MFA steps' QR code, secret and recovery codes.
    pub mfa: Option<super::mfa::MfaPage>,
    /// Passkeys are offered (a tenant issuer, whose host can be a WebAuthn relying party).
    pub passkeys: bool,
    /// Where the page's script gets WebAuthn options.
    pub passkey_options: String,
}

/// One IdP's link on the login page (its id in the URL, SPEC "Hosted pages").
#[derive(Debug, Clone, serde::Serialize)]
pub struct IdpLink {
    pub id: String,
    pub name: String,
    pub href: String,
}

impl IdpLink {
    pub fn new(issuer: &Issuer, request_id: &str, idp: &IdentityProvider) -> Self {
        Self {
            id: idp.id.clone(),
            name: idp.name.clone(),
            href: format!("{}?request={request_id}", issuer.endpoint(&format!("/login/idp/{}", idp.id))),
        }
    }
}

pub fn build(
    issuer: &Issuer,
    loaded: &Loaded,
    csrf_token: String,
    error: Option<&str>,
    idps: Vec<IdpLink>,
) -> LoginPage {
    LoginPage {
        step: loaded.request.state.name(),
        action: issuer.endpoint("/login"),
        request_id: loaded.request.id.clone(),
        csrf_token,
        username: loaded.request.params.login_hint.clone(),
        error: error.map(str::to_owned),
        tenant_name: match &issuer.tenant {
            Some(t) => t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()),
            None => "ScaiKey".into(),
        },
        app_name: loaded.app.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| "your account".into()),
        branding: issuer.tenant.as_ref().map(|t| t.branding.clone()).unwrap_or_default(),
        ask_tenant: issuer.tenant.is_none(),
        tenant_slug: loaded.tenant.as_ref().filter(|_| issuer.tenant.is_none()).map(|t| t.slug.clone()),
        scopes: loaded.request.params.scope.iter().filter(|s| needs_consent(s)).cloned().collect(),
        idps,
        mfa: None,
        passkeys: issuer.tenant.is_some() && crate::authn::webauthn::available(issuer),
        passkey_options: issuer.endpoint("/login/passkey"),
    }
}
