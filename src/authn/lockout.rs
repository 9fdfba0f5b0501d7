//! Per-user lockout (tenant `lockout` settings): `threshold` failures in a
//! row lock the account for `duration` seconds. A locked account answers
//! exactly like a wrong password, after the same hashing work, so neither
//! the message nor the timing tells an attacker anything. Failures are
//! counted by one SQL statement (`Tx::record_login_failure`), so parallel
//! wrong passwords lock the account at exactly the threshold.

use crate::domain::Timestamp;

/// Whether the account is locked at `now`.
pub fn is_locked(locked_until: Option<Timestamp>, now: Timestamp) -> bool {
    locked_until.is_some_and(|t| t > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_until_the_instant_passes() {
        let now = Timestamp::from_unix_micros(1_000_000_000).unwrap();
        let until = Some(now.plus_seconds(60));
        assert!(is_locked(until, now.plus_seconds(59)));
        assert!(!is_locked(until, now.plus_seconds(60)));
        assert!(!is_locked(None, now));
    }
}
