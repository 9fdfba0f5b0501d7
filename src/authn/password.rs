//! User passwords: argon2id with OWASP's parameters (m = 19 MiB, t = 2,
//! p = 1). Hashing costs ~18 ms of CPU and 19 MiB of memory, so it runs on
//! the blocking pool (never stalling the threads that serve token
//! requests) and at most one hash per core runs at once: a login storm
//! queues instead of multiplying memory and starving everything else.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::ids::random_bytes;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// One permit per core: how many hashes may run at once.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map(usize::from).unwrap_or(1))
});

/// Hashes in progress now, and the most seen at once (a gauge, and the
/// bound's test).
static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static MOST_IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `job` on the blocking pool once a hashing permit is free.
async fn bounded<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    use std::sync::atomic::Ordering;
    let _permit = HASHING.acquire().await.ok()?;
    let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    MOST_IN_FLIGHT.fetch_max(now, Ordering::SeqCst);
    metrics::gauge!("scaikey_password_hashes_in_flight").set(now as f64);
    let out = tokio::task::spawn_blocking(job).await.ok();
    let left = IN_FLIGHT.fetch_sub(1, Ordering::SeqCst) - 1;
    metrics::gauge!("scaikey_password_hashes_in_flight").set(left as f64);
    out
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: String) -> Result<String, HashError> {
    bounded(move || hash_now(&password)).await.ok_or(HashError)?
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
    bounded(move || hasher().verify_password(password.as_bytes(), phc.as_str()).is_ok()).await.unwrap_or(false)
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_cores() {
        let h = hash("storm".into()).await.unwrap();
        let jobs: Vec<_> = (0..12).map(|_| tokio::spawn(verify("storm".into(), h.clone()))).collect();
        for j in jobs {
            assert!(j.await.unwrap(), "queued hashes wait, they are not refused");
        }
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        let most = MOST_IN_FLIGHT.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=cores).contains(&most), "{most} hashes ran at once on {cores} cores");
    }
}
