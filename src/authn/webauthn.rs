//! WebAuthn passkeys (webauthn-rs): registration, authentication as a
//! second factor, and passwordless sign-in with discoverable credentials.
//!
//! The relying party is the issuer: its id is the host of the issuer URL
//! (`public_url`, or the tenant's custom domain when the issuer is served
//! there) and its origin the URL's origin. The browser receives the options
//! as WebAuthn's JSON (`PublicKeyCredential.parse…OptionsFromJSON`) and
//! answers with `credential.toJSON()`. A ceremony's state waits in the
//! store between the two, used once. webauthn-rs requires user
//! verification for passkeys, refuses a signature counter that did not move
//! forward (a cloned authenticator), and hands back the updated counter.

use url::Url;
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::oauth::Issuer;

/// Why a ceremony failed; shown to the user as one generic message.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("the issuer URL cannot be a WebAuthn relying party")]
    RelyingParty,
    #[error("the browser's answer is malformed")]
    Malformed,
    #[error("the passkey could not be verified: {0}")]
    Rejected(String),
    /// The signature counter did not move forward: a copy of the credential
    /// is in use somewhere (WebAuthn §6.1.1).
    #[error("the signature counter went backwards: the credential may be cloned")]
    Cloned,
    #[error("stored WebAuthn data is unreadable")]
    Stored,
}

/// The relying party of `issuer`.
fn relying_party(issuer: &Issuer) -> Result<Webauthn, PasskeyError> {
    let url = Url::parse(&issuer.url).map_err(|_| PasskeyError::RelyingParty)?;
    let host = url.host_str().ok_or(PasskeyError::RelyingParty)?;
    let origin = Url::parse(&url.origin().ascii_serialization()).map_err(|_| PasskeyError::RelyingParty)?;
    let name = match &issuer.tenant {
        Some(t) => t.branding.display_name.clone().unwrap_or_else(|| t.name.clone()),
        None => "ScaiKey".into(),
    };
    WebauthnBuilder::new(host, &origin)
        .map_err(|_| PasskeyError::RelyingParty)?
        .rp_name(&name)
        .build()
        .map_err(|_| PasskeyError::RelyingParty)
}

/// Whether passkeys work on `issuer`'s pages: browsers accept only a
/// domain name as relying party id, never an IP address.
pub fn available(issuer: &Issuer) -> bool {
    Url::parse(&issuer.url).is_ok_and(|u| matches!(u.host(), Some(url::Host::Domain(_))))
        && relying_party(issuer).is_ok()
}

/// The WebAuthn user handle of a user: stable, opaque, derived from the id
/// (so nothing more is stored, and a passwordless answer names its user).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("webauthn-user:{user_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.as_ref().get(..16).unwrap_or(&[0u8; 16]));
    Uuid::from_bytes(bytes)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|_| PasskeyError::Stored)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(text).map_err(|_| PasskeyError::Stored)
}

fn refused(e: webauthn_rs::prelude::WebauthnError) -> PasskeyError {
    match e {
        webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise => PasskeyError::Cloned,
        e => PasskeyError::Rejected(e.to_string()),
    }
}

fn answer<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PasskeyError> {
    if text.len() > 64 * 1024 {
        return Err(PasskeyError::Malformed);
    }
    serde_json::from_str(text).map_err(|_| PasskeyError::Malformed)
}

/// A stored passkey, parsed.
pub fn parse(stored: &str) -> Result<Passkey, PasskeyError> {
    from_json(stored)
}

/// The credential id as stored and looked up (base64url).
pub fn credential_id(passkey: &Passkey) -> String {
    use base64::Engine;
    let id: &[u8] = passkey.cred_id().as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// Options for registering a new passkey (excluding the user's others), and
/// the state to keep: `(options JSON, state JSON)`.
pub fn start_registration(
    issuer: &Issuer,
    user_id: &str,
    user_name: &str,
    display_name: &str,
    existing: &[Passkey],
) -> Result<(String, String), PasskeyError> {
    let rp = relying_party(issuer)?;
    let exclude: Vec<CredentialID> = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (options, state) = rp
        .start_passkey_registration(user_handle(user_id), user_name, display_name, Some(exclude))
        .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    // webauthn-rs leaves the credential non-discoverable; a passkey that
    // signs in without a username must be a resident (discoverable) one.
    let mut options = serde_json::to_value(&options).map_err(|_| PasskeyError::Stored)?;
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(|v| v.as_object_mut()) {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    Ok((to_json(&options)?, to_json(&state)?))
}

/// The new passkey, as stored JSON, from the browser's answer.
pub fn finish_registration(issuer: &Issuer, response: &str, state: &str) -> Result<(Passkey, String), PasskeyError> {
    let rp = relying_party(issuer)?;
    let response: RegisterPublicKeyCredential = answer(response)?;
    let state: PasskeyRegistration = from_json(state)?;
    let passkey =
        rp.finish_passkey_registration(&response, &state).map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    let stored = to_json(&passkey)?;
    Ok((passkey, stored))
}

/// Options for proving one of `passkeys` (a second factor).
pub fn start_authentication(issuer: &Issuer, passkeys: &[Passkey]) -> Result<(String, String), PasskeyError> {
    let rp = relying_party(issuer)?;
    let (options, state) =
        rp.start_passkey_authentication(passkeys).map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    Ok((to_json(&options)?, to_json(&state)?))
}

/// Checks the browser's answer against the user's passkeys; the one used,
/// with its counter moved forward, as stored JSON.
pub fn finish_authentication(
    issuer: &Issuer,
    response: &str,
    state: &str,
    passkeys: &[Passkey],
) -> Result<(String, String), PasskeyError> {
    let rp = relying_party(issuer)?;
    let response: PublicKeyCredential = answer(response)?;
    let state: PasskeyAuthentication = from_json(state)?;
    let result =
        rp.finish_passkey_authentication(&response, &state).map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    let mut used = passkeys.iter().find(|p| p.cred_id() == result.cred_id()).cloned().ok_or(PasskeyError::Stored)?;
    used.update_credential(&result);
    Ok((credential_id(&used), to_json(&used)?))
}

/// Options for a passwordless sign-in: any discoverable credential of this
/// relying party (the browser offers them, also as autofill).
pub fn start_discovery(issuer: &Issuer) -> Result<(String, String), PasskeyError> {
    let rp = relying_party(issuer)?;
    let (options, state) = rp.start_discoverable_authentication().map_err(|e| PasskeyError::Rejected(e.to_string()))?;
    Ok((to_json(&options)?, to_json(&state)?))
}

/// Who a passwordless answer claims to be: `(user handle, credential id)`,
/// not yet verified.
pub fn identify(response: &str) -> Result<(Uuid, String), PasskeyError> {
    use base64::Engine;
    let response: PublicKeyCredential = answer(response)?;
    let handle = response.get_user_unique_id().and_then(|b| Uuid::from_slice(b).ok()).ok_or(PasskeyError::Malformed)?;
    Ok((handle, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(response.get_credential_id())))
}

/// The credential id an answer names (base64url), not yet verified.
pub fn identify_credential(response: &str) -> Result<String, PasskeyError> {
    use base64::Engine;
    let response: PublicKeyCredential = answer(response)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(response.get_credential_id()))
}

/// Verifies a passwordless answer against the credential it named; the
/// credential with its counter moved forward, as stored JSON.
pub fn finish_discovery(
    issuer: &Issuer,
    response: &str,
    state: &str,
    passkey: &Passkey,
) -> Result<String, PasskeyError> {
    let rp = relying_party(issuer)?;
    let response: PublicKeyCredential = answer(response)?;
    let state: DiscoverableAuthentication = from_json(state)?;
    let result = rp.finish_discoverable_authentication_v2(&response, state, passkey).map_err(refused)?;
    let mut used = passkey.clone();
    used.update_credential(&result);
    to_json(&used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(url: &str) -> Issuer {
        Issuer { url: url.into(), tenant: None }
    }

    #[test]
    fn the_relying_party_is_the_issuer_host() {
        let (options, state) =
            start_registration(&issuer("https://id.example.com/api/v1/auth/tenants/acme"), "usr_1", "ann", "Ann", &[])
                .unwrap();
        let v: serde_json::Value = serde_json::from_str(&options).unwrap();
        assert_eq!(v["publicKey"]["rp"]["id"], "id.example.com");
        assert_eq!(v["publicKey"]["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(v["publicKey"]["authenticatorSelection"]["residentKey"], "required", "discoverable");
        assert!(state.len() > 20);
        assert!(available(&issuer("http://localhost:8080/api/v1/auth/tenants/acme")));
        assert!(!available(&issuer("http://127.0.0.1:8080/api/v1/auth/tenants/acme")), "an IP is no RP id");
        assert!(!available(&issuer("http://[::1]:8080/api/v1/auth/tenants/acme")));
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("usr_a"), user_handle("usr_a"));
        assert_ne!(user_handle("usr_a"), user_handle("usr_b"));
    }

    #[test]
    fn malformed_and_oversized_answers_are_refused() {
        assert!(matches!(identify("{}"), Err(PasskeyError::Malformed)));
        assert!(matches!(identify(&"x".repeat(70_000)), Err(PasskeyError::Malformed)));
    }
}
