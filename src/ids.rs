//! Identifiers: a type prefix, ten base-36 characters of creation time in
//! microseconds, then sixteen random base-36 characters (`usr_…`). The time
//! part makes ids sort in creation order, so keyset pagination by id lists
//! oldest first; the random part (82 bits) makes them unguessable.
//! `client_id` is 32 random characters with no prefix (SPEC §1).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::domain::Timestamp;

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `n` characters drawn uniformly from `[0-9a-z]` (rejection sampling, no modulo bias).
pub fn random_base36(n: usize) -> String {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        if rng.fill(&mut buf).is_err() {
            continue;
        }
        for b in buf {
            // 252 = 36 * 7: bytes above it would favour the first letters.
            if b < 252 && out.len() < n {
                out.push(char::from(digit(u64::from(b))));
            }
        }
    }
    out
}

/// Random bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    while SystemRandom::new().fill(&mut buf).is_err() {}
    buf
}

fn digit(v: u64) -> u8 {
    ALPHABET.get((v % 36) as usize).copied().unwrap_or(b'0')
}

fn time_part(now: Timestamp) -> String {
    let mut v = now.unix_micros().max(0) as u64;
    let mut chars = [b'0'; 10];
    for slot in chars.iter_mut().rev() {
        *slot = digit(v);
        v /= 36;
    }
    String::from_utf8_lossy(&chars).into_owned()
}

/// A new id such as `usr_0k3j5d9x2a7f8g9h1j2k3l4m5n`.
pub fn new_id(prefix: &str, now: Timestamp) -> String {
    format!("{prefix}_{}{}", time_part(now), random_base36(16))
}

pub fn new_client_id() -> String {
    random_base36(32)
}

/// True when `id` has the given prefix and the shape of one of our ids.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| rest.len() >= 16 && rest.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_time() {
        let a = new_id("usr", Timestamp::from_unix_micros(1_000).unwrap());
        let b = new_id("usr", Timestamp::from_unix_micros(2_000).unwrap());
        assert!(a < b);
        assert!(has_prefix(&a, "usr"));
        assert!(!has_prefix(&a, "grp"));
        assert_eq!(a.len(), 4 + 26);
    }

    #[test]
    fn client_ids_are_32_base36() {
        let c = new_client_id();
        assert_eq!(c.len(), 32);
        assert!(c.bytes().all(|b| ALPHABET.contains(&b)));
    }
}
