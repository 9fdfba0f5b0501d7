//! User passwords: argon2id with OWASP's parameters (m = 19 MiB, t = 2,
//! p = 1). Hashing costs ~18 ms of CPU, so it runs on the blocking pool and
//! never stalls the threads that serve token requests.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::ids::random_bytes;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await.map_err(|_| HashError)?
}

pub fn hash_now(password: &str) -> Result<String, HashError> {
    let salt_bytes: [u8; 16] = random_bytes();
    hasher().hash_password_with_salt(password.as_bytes(), &salt_bytes).map(|h| h.to_string()).map_err(|_| HashError)
}

/// The PHC prefix of the current parameters; other hashes are upgraded at login.
const CURRENT_PARAMS: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

pub fn needs_rehash(phc: &str) -> bool {
    !phc.starts_with(CURRENT_PARAMS)
}

/// A hash nothing matches, verified against when there is no real one so a
/// missing user costs the same time as a wrong password.
pub static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_now("no user has this password").unwrap_or_default());

/// Whether `password` matches `phc`. The comparison inside argon2 is constant-time.
pub async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || hasher().verify_password(password.as_bytes(), phc.as_str()).is_ok())
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), h.clone()).await);
        assert!(!verify("wrong".into(), h).await);
    }
}
