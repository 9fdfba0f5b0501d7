//! Checking an upstream id_token (OIDC Core §3.1.3.7): the signature with a
//! key of the upstream's JWKS and the algorithm that key is for, then the
//! claims against what this login expects. Unsigned (`none`) and HMAC
//! tokens are refused: an HMAC key would be our client secret, which a
//! token forger at another tenant of the same upstream could share.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::ConnectorError;

/// Algorithms accepted from an upstream.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How much the upstream's clock may differ from ours, in seconds.
pub const CLOCK_SKEW: i64 = 120;

/// What one login expects of its id_token.
pub struct Expected<'a> {
    /// Our client id at the upstream: `aud` must contain it.
    pub client_id: &'a str,
    /// The nonce drawn for this login.
    pub nonce: &'a str,
    /// The current time (seconds since the epoch).
    pub now: i64,
}

fn rejected(msg: &str) -> ConnectorError {
    ConnectorError::Rejected(msg.to_owned())
}

/// The `kid` and `alg` of a token, before anything is trusted.
pub fn header(token: &str) -> Result<(Option<String>, Algorithm), ConnectorError> {
    // `alg: none` is not an `Algorithm`, so it fails here.
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| rejected("the id_token is not a signed JWT with a supported algorithm"))?;
    if !ASYMMETRIC.contains(&header.alg) {
        return Err(rejected("the id_token is signed with an algorithm that is not accepted (HMAC or none)"));
    }
    Ok((header.kid, header.alg))
}

/// The key of `keys` that may verify a token with `kid` and `alg`.
pub fn find_key<'k>(keys: &'k JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'k Jwk> {
    let usable = |k: &&Jwk| {
        let alg_ok = k.common.key_algorithm.is_none_or(|a| a.to_string() == format!("{alg:?}"));
        let use_ok = k.common.public_key_use.as_ref().is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature);
        alg_ok && use_ok && key_fits(k, alg)
    };
    match kid {
        Some(kid) => keys.keys.iter().filter(usable).find(|k| k.common.key_id.as_deref() == Some(kid)),
        // Without a kid, only an unambiguous key is used.
        None => {
            let mut candidates = keys.keys.iter().filter(usable);
            let first = candidates.next();
            if candidates.next().is_some() { None } else { first }
        }
    }
}

/// Whether the key's type can verify `alg` (an RSA key never verifies ES256).
fn key_fits(key: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    matches!(
        (&key.algorithm, alg),
        (P::RSA(_), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
            | (P::RSA(_), Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512)
            | (P::EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
            | (P::OctetKeyPair(_), Algorithm::EdDSA)
    )
}

/// Verifies the signature of `token` with `key` and returns its claims.
/// Time and audience are checked by [`check_claims`], against our clock.
pub fn verify_signature(token: &str, key: &Jwk, alg: Algorithm) -> Result<Map<String, Value>, ConnectorError> {
    let decoding = DecodingKey::from_jwk(key).map_err(|_| rejected("the upstream's signing key is unusable"))?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation)
        .map_err(|_| rejected("the id_token's signature is not valid"))?;
    Ok(data.claims)
}

fn number(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// Checks `aud`, `azp`, `exp`, `iat`, `nbf`, `nonce` and that `sub` is
/// present. The issuer is checked by the caller (its rule depends on the
/// upstream: Entra's issuer is per tenant).
pub fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), ConnectorError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(rejected("the id_token has no audience")),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(rejected("the id_token was issued to another client (aud)"));
    }
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != expected.client_id => {
            return Err(rejected("the id_token was issued to another client (azp)"));
        }
        None if audiences.len() > 1 => return Err(rejected("the id_token has several audiences and no azp")),
        _ => {}
    }
    let exp = number(claims, "exp").ok_or_else(|| rejected("the id_token has no expiry"))?;
    if exp + CLOCK_SKEW <= expected.now {
        return Err(rejected("the id_token has expired"));
    }
    let iat = number(claims, "iat").ok_or_else(|| rejected("the id_token has no issue time"))?;
    if iat - CLOCK_SKEW > expected.now {
        return Err(rejected("the id_token was issued in the future"));
    }
    if number(claims, "nbf").is_some_and(|nbf| nbf - CLOCK_SKEW > expected.now) {
        return Err(rejected("the id_token is not valid yet"));
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or_default();
    if !constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) || expected.nonce.is_empty() {
        return Err(rejected("the id_token's nonce does not match this login"));
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => Ok(()),
        _ => Err(rejected("the id_token has no usable subject")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    /// An ES256 key pair for tests, with its JWK.
    pub struct TestKey {
        pub encoding: EncodingKey,
        pub jwk: Value,
    }

    impl TestKey {
        pub fn new(kid: &str) -> Self {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
            let point = pair.public_key().as_ref();
            let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])});
            Self { encoding: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
        }

        pub fn sign(&self, claims: &Value) -> String {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = self.jwk["kid"].as_str().map(str::to_owned);
            jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
        }

        pub fn set(&self) -> JwkSet {
            serde_json::from_value(json!({"keys": [self.jwk]})).unwrap()
        }
    }

    pub const NOW: i64 = 1_800_000_000;

    pub fn claims() -> Value {
        json!({"iss": "https://idp.test", "aud": "scaikey", "sub": "u1", "nonce": "n0nce",
               "iat": NOW - 10, "exp": NOW + 300, "email": "ada@acme.test"})
    }

    fn expected() -> Expected<'static> {
        Expected { client_id: "scaikey", nonce: "n0nce", now: NOW }
    }

    fn verify(key: &TestKey, set: &JwkSet, token: &str) -> Result<Map<String, Value>, ConnectorError> {
        let _ = key;
        let (kid, alg) = header(token)?;
        let jwk = find_key(set, kid.as_deref(), alg).ok_or_else(|| rejected("unknown key"))?;
        let claims = verify_signature(token, jwk, alg)?;
        check_claims(&claims, &expected())?;
        Ok(claims)
    }

    fn with(key: &str, value: Value) -> Value {
        let mut c = claims();
        c[key] = value;
        c
    }

    #[test]
    fn a_good_token_passes() {
        let k = TestKey::new("k1");
        let out = verify(&k, &k.set(), &k.sign(&claims())).unwrap();
        assert_eq!(out["email"], "ada@acme.test");
    }

    #[test]
    fn wrong_audience_nonce_and_times_are_rejected() {
        let k = TestKey::new("k1");
        for (key, value) in [
            ("aud", json!("another-client")),
            ("aud", json!(["scaikey", "other"])),
            ("azp", json!("other")),
            ("nonce", json!("replayed")),
            ("exp", json!(NOW - CLOCK_SKEW - 1)),
            ("iat", json!(NOW + CLOCK_SKEW + 60)),
            ("nbf", json!(NOW + CLOCK_SKEW + 60)),
            ("sub", json!("")),
        ] {
            let err = verify(&k, &k.set(), &k.sign(&with(key, value.clone()))).unwrap_err();
            assert!(matches!(err, ConnectorError::Rejected(_)), "{key}={value}: {err}");
        }
        // Several audiences are fine when azp names us.
        let mut c = with("aud", json!(["scaikey", "other"]));
        c["azp"] = json!("scaikey");
        assert!(verify(&k, &k.set(), &k.sign(&c)).is_ok());
    }

    #[test]
    fn none_and_hmac_are_refused() {
        let k = TestKey::new("k1");
        let body = B64.encode(claims().to_string());
        let none = format!("{}.{body}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(verify(&k, &k.set(), &none).is_err());
        let hmac = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"client-secret"),
        )
        .unwrap();
        let err = verify(&k, &k.set(), &hmac).unwrap_err();
        assert!(err.to_string().contains("HMAC"), "{err}");
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let k = TestKey::new("k1");
        let token = k.sign(&claims());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = B64.encode(with("sub", json!("admin")).to_string());
        assert!(verify(&k, &k.set(), &parts.join(".")).is_err());
        // Signed by another key under the same kid.
        let other = TestKey::new("k1");
        assert!(verify(&k, &k.set(), &other.sign(&claims())).is_err());
        // A kid the upstream does not publish.
        let stranger = TestKey::new("k9");
        assert!(verify(&k, &k.set(), &stranger.sign(&claims())).is_err());
    }
}
