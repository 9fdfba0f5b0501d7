//! Per-user lockout (tenant `lockout` settings): `threshold` failures in a
//! row lock the account for `duration` seconds. A locked account answers
//! exactly like a wrong password, after the same hashing work, so neither
//! the message nor the timing tells an attacker anything.

use crate::domain::Timestamp;
use crate::domain::settings::Lockout;

/// Whether the account is locked at `now`.
pub fn is_locked(locked_until: Option<Timestamp>, now: Timestamp) -> bool {
    locked_until.is_some_and(|t| t > now)
}

/// The counters after one more failure: (failures, locked until).
pub fn after_failure(policy: &Lockout, failures: i64, now: Timestamp) -> (i64, Option<Timestamp>) {
    let failures = failures + 1;
    if policy.threshold > 0 && failures >= i64::from(policy.threshold) {
        (0, Some(now.plus_seconds(i64::from(policy.duration))))
    } else {
        (failures, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_at_the_threshold_for_the_duration() {
        let p = Lockout { threshold: 3, duration: 60 };
        let now = Timestamp::from_unix_micros(1_000_000_000).unwrap();
        assert_eq!(after_failure(&p, 0, now), (1, None));
        let (n, until) = after_failure(&p, 2, now);
        assert_eq!(n, 0);
        assert!(is_locked(until, now.plus_seconds(59)));
        assert!(!is_locked(until, now.plus_seconds(60)));
        assert_eq!(after_failure(&Lockout { threshold: 0, duration: 60 }, 99, now).1, None);
    }
}
