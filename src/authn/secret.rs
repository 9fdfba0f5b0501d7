//! Opaque high-entropy secrets (client secrets, SCIM tokens): 256 random bits
//! shown once, stored as SHA-256. A slow hash adds nothing for secrets that
//! cannot be guessed, and a fast one keeps the token endpoint fast; hashes
//! are compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::ids::random_bytes;

/// A new secret, with a readable prefix (`sks_` client secret, `sct_` SCIM token).
pub fn generate(prefix: &str) -> String {
    let bytes: [u8; 32] = random_bytes();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash(secret: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    format!("sha256:{}", URL_SAFE_NO_PAD.encode(d.as_ref()))
}

/// Constant-time check of `presented` against a stored hash.
pub fn matches(presented: &str, stored_hash: &str) -> bool {
    hash(presented).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_against_their_hash_only() {
        let s = generate("sks_");
        let h = hash(&s);
        assert!(!h.contains(&s));
        assert!(matches(&s, &h));
        assert!(!matches(&generate("sks_"), &h));
    }
}
