//! Token signing with key pairs parsed once (aws-lc-rs): jsonwebtoken's
//! `EncodingKey` re-parses the RSA key on every signature and reaches about
//! 40 % of this rate (see DEPENDENCIES.md). A compact JWS is
//! `b64(header).b64(payload).b64(signature)`; ES256 signatures are the fixed
//! 64-byte r‖s form JWS requires.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::domain::application::SigningAlg;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("key generation failed")]
    Generate,
    #[error("stored private key is invalid")]
    BadKey,
    #[error("signing failed")]
    Sign,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private key with its `kid` and public JWK.
pub struct SigningKeyPair {
    pub kid: String,
    pub alg: SigningAlg,
    pub public_jwk: Value,
    pair: Pair,
}

impl SigningKeyPair {
    /// A new key; returns it with its PKCS#8 DER for sealed storage.
    pub fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), SigningError> {
        let der = match alg {
            SigningAlg::RS256 => {
                let k = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| SigningError::Generate)?;
                let der = k.as_der().map_err(|_| SigningError::Generate)?;
                der.as_ref().to_vec()
            }
            SigningAlg::ES256 => {
                let k = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| SigningError::Generate)?;
                k.to_pkcs8v1().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
            SigningAlg::EdDSA => {
                let k = Ed25519KeyPair::generate().map_err(|_| SigningError::Generate)?;
                k.to_pkcs8v1().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
        };
        Ok((Self::from_pkcs8(alg, &der)?, der))
    }

    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self, SigningError> {
        let (pair, mut jwk) = match alg {
            SigningAlg::RS256 => {
                let k = RsaKeyPair::from_pkcs8(der).map_err(|_| SigningError::BadKey)?;
                let public = k.public_key();
                let n = public.modulus().big_endian_without_leading_zero().to_vec();
                let e = public.exponent().big_endian_without_leading_zero().to_vec();
                (Pair::Rsa(k), json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)}))
            }
            SigningAlg::ES256 => {
                let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| SigningError::BadKey)?;
                let point = k.public_key().as_ref();
                let (x, y) = match (point.get(1..33), point.get(33..65)) {
                    (Some(x), Some(y)) => (x.to_vec(), y.to_vec()),
                    _ => return Err(SigningError::BadKey),
                };
                (Pair::Ec(k), json!({"kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y)}))
            }
            SigningAlg::EdDSA => {
                let k = Ed25519KeyPair::from_pkcs8(der).map_err(|_| SigningError::BadKey)?;
                let x = k.public_key().as_ref().to_vec();
                (Pair::Ed(k), json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)}))
            }
        };
        let kid = thumbprint(&jwk);
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("kid".into(), Value::String(kid.clone()));
            obj.insert("use".into(), Value::String("sig".into()));
            obj.insert("alg".into(), Value::String(alg.as_str()));
        }
        Ok(Self { kid, alg, public_jwk: jwk, pair })
    }

    fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, SigningError> {
        match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig).map_err(|_| SigningError::Sign)?;
                Ok(sig)
            }
            Pair::Ec(k) => Ok(k.sign(&SystemRandom::new(), msg).map_err(|_| SigningError::Sign)?.as_ref().to_vec()),
            Pair::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }

    /// A compact JWS of `claims` with header `typ`.
    pub fn sign_jwt(&self, typ: &str, claims: &Value) -> Result<String, SigningError> {
        // Serialized and encoded straight into one buffer: this runs once
        // per token, and a map for the header and a string per part were
        // a dozen allocations of a token's few dozen.
        let header = serde_json::to_vec(&JwsHeader { alg: self.alg.jws_name(), typ, kid: &self.kid });
        let payload = serde_json::to_vec(claims);
        let (Ok(header), Ok(payload)) = (header, payload) else { return Err(SigningError::Sign) };
        // Base64 is 4/3 of its input; 348 more hold the two dots, rounding
        // up and the longest signature (RS256's 256 bytes, 342 characters).
        let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 348);
        URL_SAFE_NO_PAD.encode_string(&header, &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let sig = self.sign_bytes(out.as_bytes())?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
        Ok(out)
    }
}

/// The protected header of our tokens (RFC 7515 §4.1).
#[derive(serde::Serialize)]
struct JwsHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in
/// lexicographic order, without whitespace.
fn thumbprint(jwk: &Value) -> String {
    let get = |k: &str| jwk.get(k).and_then(Value::as_str).unwrap_or_default();
    let canonical = match get("kty") {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, get("e"), get("n")),
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, get("crv"), get("x"), get("y")),
        _ => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, get("crv"), get("x")),
    };
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn verify(alg: SigningAlg) {
        let (k, der) = SigningKeyPair::generate(alg).unwrap();
        let again = SigningKeyPair::from_pkcs8(alg, &der).unwrap();
        assert_eq!(k.kid, again.kid, "kid is a stable thumbprint");
        let jwt = k.sign_jwt("at+jwt", &json!({"sub": "x"})).unwrap();
        let (signed, sig) = jwt.rsplit_once('.').unwrap();
        let (header, payload) = signed.split_once('.').unwrap();
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": k.kid}), "the protected header");
        let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(payload, json!({"sub": "x"}));
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        match &k.pair {
            Pair::Rsa(p) => {
                let comps = aws_lc_rs::signature::RsaPublicKeyComponents {
                    n: p.public_key().modulus().big_endian_without_leading_zero(),
                    e: p.public_key().exponent().big_endian_without_leading_zero(),
                };
                comps.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &sig).unwrap();
            }
            Pair::Ec(p) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p.public_key().as_ref())
                .verify(signed.as_bytes(), &sig)
                .unwrap(),
            Pair::Ed(p) => {
                UnparsedPublicKey::new(&ED25519, p.public_key().as_ref()).verify(signed.as_bytes(), &sig).unwrap()
            }
        }
    }

    #[test]
    fn rs256_signs_verifiably() {
        verify(SigningAlg::RS256);
    }
    #[test]
    fn es256_signs_verifiably() {
        verify(SigningAlg::ES256);
    }
    #[test]
    fn eddsa_signs_verifiably() {
        verify(SigningAlg::EdDSA);
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // The example key of RFC 7638 §3.1.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(thumbprint(&jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
