//! Verifying our own JWTs (admin API bearer tokens; later userinfo and
//! introspection). The key is chosen by `kid` among published keys and the
//! header's `alg` must equal that key's algorithm, so `alg: none`, HS256
//! keyed with a public key, or an unknown `kid` never verify.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::domain::Timestamp;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("token expired or not yet valid")]
    Expired,
    #[error("wrong token type")]
    WrongType,
}

/// A published public key.
#[derive(Clone)]
pub struct VerifyKey {
    pub kid: String,
    pub alg: String,
    material: Material,
}

#[derive(Clone)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Vec<u8>),
    Ed(Vec<u8>),
}

fn field(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok()
}

impl VerifyKey {
    pub fn from_jwk(jwk: &Value) -> Option<Self> {
        let kid = jwk.get("kid")?.as_str()?.to_owned();
        let alg = jwk.get("alg")?.as_str()?.to_owned();
        let material = match jwk.get("kty")?.as_str()? {
            "RSA" => Material::Rsa { n: field(jwk, "n")?, e: field(jwk, "e")? },
            "EC" => {
                let mut point = vec![4u8];
                point.extend(field(jwk, "x")?);
                point.extend(field(jwk, "y")?);
                Material::Ec(point)
            }
            "OKP" => Material::Ed(field(jwk, "x")?),
            _ => return None,
        };
        Some(Self { kid, alg, material })
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.material {
            Material::Rsa { n, e } => {
                RsaPublicKeyComponents { n, e }.verify(&RSA_PKCS1_2048_8192_SHA256, msg, sig).is_ok()
            }
            Material::Ec(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(msg, sig).is_ok(),
            Material::Ed(x) => UnparsedPublicKey::new(&ED25519, x).verify(msg, sig).is_ok(),
        }
    }
}

fn decode_json(part: &str) -> Result<Value, VerifyError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| VerifyError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed)
}

/// Verifies a compact JWS of type `typ` against `keys` at time `now` and
/// returns its claims, allowing `leeway` seconds of clock skew on `exp` and
/// `nbf` (the caller's setting, at most 5 s).
pub fn verify_jwt(
    keys: &[VerifyKey],
    token: &str,
    typ: &str,
    now: Timestamp,
    leeway: i64,
) -> Result<Value, VerifyError> {
    verify_jwt_at(keys, token, typ, Some((now, leeway)))
}

/// Like `verify_jwt`; with `now = None` the time window is not checked (an
/// expired `id_token_hint` still identifies its session at logout).
pub fn verify_jwt_at(
    keys: &[VerifyKey],
    token: &str,
    typ: &str,
    now: Option<(Timestamp, i64)>,
) -> Result<Value, VerifyError> {
    if token.len() > 16 * 1024 {
        return Err(VerifyError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(VerifyError::Malformed);
    };
    let header = decode_json(h)?;
    let kid = header.get("kid").and_then(Value::as_str).ok_or(VerifyError::UnknownKey)?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(VerifyError::Malformed)?;
    let key = keys.iter().find(|k| k.kid == kid).ok_or(VerifyError::UnknownKey)?;
    if key.alg != alg {
        return Err(VerifyError::Signature);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| VerifyError::Malformed)?;
    let signed_len = h.len() + 1 + p.len();
    let signed = token.get(..signed_len).ok_or(VerifyError::Malformed)?;
    if !key.verify(signed.as_bytes(), &sig) {
        return Err(VerifyError::Signature);
    }
    if !header.get("typ").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(typ)) {
        return Err(VerifyError::WrongType);
    }
    let claims = decode_json(p)?;
    let Some((now, leeway)) = now else { return Ok(claims) };
    let now = now.unix_seconds();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(VerifyError::Malformed)?;
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    // `exp` is the first second the token is no longer valid (RFC 7519 §4.1.4).
    if now >= exp.saturating_add(leeway) || now.saturating_add(leeway) < nbf {
        return Err(VerifyError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::SigningAlg;
    use crate::keys::signing::SigningKeyPair;
    use serde_json::json;

    fn setup(alg: SigningAlg) -> (SigningKeyPair, Vec<VerifyKey>) {
        let (k, _) = SigningKeyPair::generate(alg).unwrap();
        let vk = VerifyKey::from_jwk(&k.public_jwk).unwrap();
        (k, vec![vk])
    }

    fn now() -> Timestamp {
        Timestamp::from_unix_micros(1_000_000_000_000_000).unwrap()
    }

    #[test]
    fn accepts_own_tokens_of_every_alg() {
        for alg in crate::keys::ALGORITHMS {
            let (k, keys) = setup(alg);
            let t = k.sign_jwt("at+jwt", &json!({"exp": now().unix_seconds() + 10, "sub": "x"})).unwrap();
            assert_eq!(verify_jwt(&keys, &t, "at+jwt", now(), 5).unwrap()["sub"], "x");
        }
    }

    #[test]
    fn refuses_forgeries_expiry_and_wrong_type() {
        let (k, keys) = setup(SigningAlg::RS256);
        let exp = now().unix_seconds() + 10;
        let good = k.sign_jwt("at+jwt", &json!({"exp": exp})).unwrap();
        let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let claims = good.split('.').nth(1).unwrap();
        // alg none
        let none = format!("{}.{claims}.", b64(json!({"alg": "none", "typ": "at+jwt", "kid": k.kid})));
        assert!(verify_jwt(&keys, &none, "at+jwt", now(), 5).is_err());
        // HS256 claimed on an RSA key
        let hs = format!("{}.{claims}.AAAA", b64(json!({"alg": "HS256", "typ": "at+jwt", "kid": k.kid})));
        assert_eq!(verify_jwt(&keys, &hs, "at+jwt", now(), 5), Err(VerifyError::Signature));
        // unknown kid
        let other = format!("{}.{claims}.AAAA", b64(json!({"alg": "RS256", "typ": "at+jwt", "kid": "nope"})));
        assert_eq!(verify_jwt(&keys, &other, "at+jwt", now(), 5), Err(VerifyError::UnknownKey));
        // tampered payload
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], b64(json!({"exp": exp, "sub": "admin"})), parts[2]);
        assert_eq!(verify_jwt(&keys, &tampered, "at+jwt", now(), 5), Err(VerifyError::Signature));
        // expired
        assert_eq!(verify_jwt(&keys, &good, "at+jwt", now().plus_seconds(100), 5), Err(VerifyError::Expired));
        // the leeway is exactly what the caller allows
        assert!(verify_jwt(&keys, &good, "at+jwt", now().plus_seconds(14), 5).is_ok());
        assert_eq!(verify_jwt(&keys, &good, "at+jwt", now().plus_seconds(15), 5), Err(VerifyError::Expired));
        assert_eq!(verify_jwt(&keys, &good, "at+jwt", now().plus_seconds(10), 0), Err(VerifyError::Expired));
        // an ID token is not an access token
        let id = k.sign_jwt("JWT", &json!({"exp": exp})).unwrap();
        assert_eq!(verify_jwt(&keys, &id, "at+jwt", now(), 5), Err(VerifyError::WrongType));
    }
}
