//! RFC 8628 device authorization: `POST {issuer}/oauth/device_authorization`
//! gives a device a `device_code` to poll the token endpoint with and a
//! `user_code` for its user to type on `{issuer}/device`. Both are stored
//! only as hashes. User codes are 8 letters from an alphabet without vowels
//! and without look-alikes (no 0/O, 1/I), shown as `XXXX-XXXX`: 20^8 ≈ 2.6·10^10
//! codes, of which a handful are live, and typing them is rate-limited per
//! address (`login_limiter`), so guessing one is hopeless.

use serde::Serialize;

use crate::app::Services;
use crate::authn::secret;
use crate::domain::application::{AppType, GRANT_DEVICE_CODE};
use crate::domain::oidc::DeviceCode;
use crate::ids::new_id;

use super::client_auth::{self, ClientCredentials};
use super::endpoint::TokenRequest;
use super::{Issuer, OAuthError};

/// Seconds a device code lives.
pub const DEVICE_CODE_TTL: i64 = 600;
/// Seconds between polls (RFC 8628 §3.2 default).
pub const POLL_INTERVAL: i64 = 5;
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

#[derive(Debug, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// A new user code, `XXXX-XXXX`, every letter equally likely: random bytes
/// at or above the largest multiple of the alphabet's size are drawn again
/// (256 = 12 · 20 + 16, so a plain modulo would favour the first 16 letters).
pub fn new_user_code() -> String {
    let unbiased_below = 256 - 256 % ALPHABET.len();
    let mut letters = String::with_capacity(8);
    while letters.len() < 8 {
        let bytes: [u8; 16] = crate::ids::random_bytes();
        for b in bytes.map(usize::from).into_iter().filter(|b| *b < unbiased_below) {
            if letters.len() < 8 {
                letters.push(char::from(*ALPHABET.get(b % ALPHABET.len()).unwrap_or(&b'B')));
            }
        }
    }
    format!("{}-{}", letters.get(..4).unwrap_or_default(), letters.get(4..).unwrap_or_default())
}

/// The canonical form of a typed user code (case, spaces and dashes
/// ignored), or `None` when it cannot be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let letters: String =
        typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (letters.len() == 8 && letters.bytes().all(|b| ALPHABET.contains(&b))).then_some(letters)
}

/// The stored hash of a user code.
pub fn user_code_hash(normalized: &str) -> String {
    secret::hash(&format!("user-code:{normalized}"))
}

pub async fn authorize(svc: &Services, issuer: &Issuer, req: TokenRequest) -> Result<DeviceAuthorization, OAuthError> {
    let form = &req.form;
    for (i, (k, _)) in form.iter().enumerate() {
        if form.iter().skip(i + 1).any(|(k2, _)| k2 == k) {
            return Err(OAuthError::invalid_request(format!("parameter {k} is repeated")));
        }
    }
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let creds: ClientCredentials =
        client_auth::from_request(req.authorization.as_deref(), param("client_id"), param("client_secret"))?;
    let app = client_auth::authenticate(&svc.store, &svc.caches, issuer, &creds).await?;
    if app.app_type == AppType::Service || !app.allows_grant(GRANT_DEVICE_CODE) {
        return Err(OAuthError::unauthorized_client("the client may not use the device authorization grant"));
    }
    let requested: Vec<&str> = param("scope").unwrap_or("openid").split_whitespace().collect();
    let scope: Vec<String> = app.allowed_scopes.iter().filter(|s| requested.contains(&s.as_str())).cloned().collect();
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope("none of the requested scopes is allowed for this client"));
    }
    let now = svc.clock.now();
    let device_code = secret::generate("skd_");
    let user_code = new_user_code();
    let row = DeviceCode {
        id: new_id("dvc", now),
        tenant_id: issuer.tenant.as_ref().map(|t| t.id.clone()),
        partner_id: issuer.tenant.as_ref().map(|t| t.partner_id.clone()),
        app_id: app.id.clone(),
        device_code_hash: secret::hash(&device_code),
        user_code_hash: user_code_hash(&normalize_user_code(&user_code).unwrap_or_default()),
        scope: scope.join(" "),
        status: "pending".into(),
        user_id: None,
        session_id: None,
        auth_time: None,
        amr: Vec::new(),
        poll_interval: POLL_INTERVAL,
        last_polled_at: None,
        created_at: now,
        expires_at: now.plus_seconds(DEVICE_CODE_TTL),
    };
    let mut tx = svc.store.write(issuer.scope()).await?;
    tx.insert(&row).await?;
    tx.commit().await?;
    tracing::info!(target: "audit", action = "device.authorize", client_id = %app.client_id, "device code issued");
    let page = issuer.endpoint("/device");
    Ok(DeviceAuthorization {
        verification_uri_complete: super::authorize::with_query(&page, &[("user_code", &user_code)]),
        verification_uri: page,
        device_code,
        user_code,
        expires_in: DEVICE_CODE_TTL,
        interval: POLL_INTERVAL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_unambiguous_and_normalize() {
        for _ in 0..200 {
            let c = new_user_code();
            assert_eq!(c.len(), 9);
            assert!(!c.contains(['0', 'O', '1', 'I', 'A', 'E', 'U']), "{c}");
            assert_eq!(normalize_user_code(&c.to_lowercase().replace('-', " ")).map(|n| n.len()), Some(8));
        }
        assert_eq!(normalize_user_code("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert!(normalize_user_code("BCDF-GHJ0").is_none() && normalize_user_code("BCDF").is_none());
    }

    #[test]
    fn every_user_code_letter_is_equally_likely() {
        // 400,000 letters: 20,000 of each expected, σ ≈ 138. A modulo of the
        // random bytes would give the first 16 letters 13/256 and the last
        // four 12/256 of the draws (20,313 against 18,750: a ratio of 1.08).
        let mut counts = std::collections::HashMap::new();
        for _ in 0..50_000 {
            for c in new_user_code().chars().filter(|c| *c != '-') {
                *counts.entry(c).or_insert(0u32) += 1;
            }
        }
        assert_eq!(counts.len(), ALPHABET.len());
        let (min, max) = (counts.values().min().unwrap(), counts.values().max().unwrap());
        assert!(f64::from(*max) / f64::from(*min) < 1.05, "{counts:?}");
    }
}
