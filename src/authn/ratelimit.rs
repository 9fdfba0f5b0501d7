//! Per-IP rate limiting of password attempts, in memory per replica (a
//! shared limit would need the database on the hot path; lockout, which is
//! per user, is the shared defence).

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginLimiter(DefaultKeyedRateLimiter<IpAddr>);

impl LoginLimiter {
    /// `per_minute` attempts per address, with bursts of up to the same number.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::keyed(Quota::per_minute(n)))
    }

    pub fn allow(&self, ip: IpAddr) -> bool {
        self.0.check_key(&limit_key(ip)).is_ok()
    }
}

/// IPv4 addresses count one by one; IPv6 by /64, the smallest prefix an ISP
/// hands a subscriber, who can otherwise rotate through 2^64 addresses.
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address() {
        let l = LoginLimiter::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.allow(a) && l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_limit() {
        let l = LoginLimiter::new(2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.allow(a) && l.allow(b));
        assert!(!l.allow(a));
        assert!(l.allow(other));
    }
}
