//! User passwords: argon2id with m = 12 MiB, t = 3, p = 1 — one of OWASP's
//! equivalent configurations (the same work as m = 19 MiB, t = 2), chosen
//! for memory: a login storm multiplies the memory of each hash in flight
//! (`scaikey bench`, 200 connections signing in: 75 MB at peak, against
//! 90 MB with 19 MiB). Hashing costs ~20 ms of CPU and 12 MiB, so it runs on
//! the hashing pool (`super::hashing`): never on the threads that serve
//! token requests, at most one hash per core at once (a login storm queues
//! instead of multiplying memory and starving everything else), with each
//! pool thread's memory block reused.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};

use super::hashing;
use crate::ids::random_bytes;

fn params() -> Params {
    Params::new(12_288, 3, 1, None).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// A PHC string (`$argon2id$v=19$m=12288,t=3,p=1$…`).
pub async fn hash(password: String) -> Result<String, HashError> {
    hashing::run(move |memory| hash_with(memory, &password)).await.ok_or(HashError)?
}

/// Hashes on the calling thread with memory of its own (start-up and the
/// benchmark's reference rate; requests use `hash`).
pub fn hash_now(password: &str) -> Result<String, HashError> {
    hash_with(&mut Vec::new(), password)
}

fn hash_with(memory: &mut Vec<Block>, password: &str) -> Result<String, HashError> {
    let salt: [u8; 16] = random_bytes();
    let params = params();
    let mut out = [0u8; 32];
    let blocks = hashing::at_least(memory, params.block_count());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
        .map_err(|_| HashError)?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|_| HashError)?,
        salt: Some(Salt::new(&salt).map_err(|_| HashError)?),
        hash: Some(Output::new(&out).map_err(|_| HashError)?),
    };
    Ok(phc.to_string())
}

/// The PHC prefix of the current parameters; other hashes are upgraded at login.
const CURRENT_PARAMS: &str = "$argon2id$v=19$m=12288,t=3,p=1$";

pub fn needs_rehash(phc: &str) -> bool {
    !phc.starts_with(CURRENT_PARAMS)
}

/// A hash nothing matches, verified against when there is no real one so a
/// missing user costs the same time as a wrong password.
pub static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_now("no user has this password").unwrap_or_default());

/// The most memory a stored hash may ask of a verification (64 MiB): a
/// corrupted or hostile PHC string cannot make a login allocate more.
const MAX_BLOCKS: usize = 65_536;

/// Whether `password` matches `phc`, recomputed with the PHC's own
/// algorithm, version, parameters and salt; the comparison is constant-time.
pub async fn verify(password: String, phc: String) -> bool {
    hashing::run(move |memory| verify_with(memory, &password, &phc)).await.unwrap_or(false)
}

fn verify_with(memory: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(algorithm) = Algorithm::new(parsed.algorithm.as_str()) else { return false };
    let Ok(version) = parsed.version.map_or(Ok(Version::V0x13), Version::try_from) else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    if params.block_count() > MAX_BLOCKS || expected.len() > 64 {
        return false;
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else { return false };
    let blocks = hashing::at_least(memory, params.block_count());
    let computed =
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(password.as_bytes(), salt, out, blocks);
    computed.is_ok() && Output::new(out).is_ok_and(|o| &o == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"));
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
        let cores = hashing::threads();
        let most = hashing::MOST_IN_FLIGHT.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=cores).contains(&most), "{most} hashes ran at once on {cores} cores");
    }

    #[tokio::test]
    async fn hashes_of_the_argon2_crate_and_ours_verify_each_other() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password_with_salt(b"shared secret", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert!(theirs.starts_with(CURRENT_PARAMS) && !needs_rehash(&theirs));
        assert!(verify("shared secret".into(), theirs.clone()).await);
        assert!(!verify("shared secreT".into(), theirs).await);
        let ours = hash("shared secret".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"shared secret", &parsed).is_ok());
        // Hashes of other parameters still verify, and are due for a rehash:
        // argon2i with less memory, and the earlier default (m = 19 MiB, t = 2).
        for (algorithm, m, t) in [(Algorithm::Argon2i, 4096, 3), (Algorithm::Argon2id, 19_456, 2)] {
            let other = Argon2::new(algorithm, Version::V0x13, Params::new(m, t, 1, None).unwrap())
                .hash_password_with_salt(b"other", b"0123456789abcdef")
                .unwrap()
                .to_string();
            assert!(needs_rehash(&other), "{other}");
            assert!(verify("other".into(), other).await);
        }
    }

    #[tokio::test]
    async fn a_stored_hash_cannot_ask_for_more_than_64_mib() {
        let huge =
            "$argon2id$v=19$m=1048576,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$n6E4PdNk1mq1b5Ybq1nZc3Nsb8oU1o+xO6e0RWf6m3M";
        assert!(!verify("anything".into(), huge.into()).await);
        assert!(!verify("anything".into(), "not a phc string".into()).await);
    }

    #[tokio::test]
    async fn hashing_threads_yield_to_request_threads() {
        hash("warm the pool".into()).await.unwrap();
        let mut idle = 0;
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim().starts_with("argon2-") {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap();
                let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
                // Field 41 of stat, `policy`: 5 is SCHED_IDLE.
                assert_eq!(fields[38], "5", "scheduling policy of {}", comm.trim());
                idle += 1;
            }
        }
        assert_eq!(idle, hashing::threads());
    }
}
