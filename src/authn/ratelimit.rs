//! Per-address rate limiting of password and code attempts. In memory per
//! replica by default; with `redis_url` set, one limit shared by every
//! replica through Redis (a fixed one-minute window per address:
//! `INCR` + `EXPIRE`, one round trip), falling back to the in-memory limit
//! while Redis does not answer — an outage never opens the door wider than
//! one replica's own limit. Lockout, per user, is the shared defence either
//! way.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginLimiter {
    per_minute: u32,
    local: DefaultKeyedRateLimiter<IpAddr>,
    shared: Option<Shared>,
}

struct Shared {
    redis: redis::aio::ConnectionManager,
    /// Key prefix (tests keep theirs apart).
    prefix: String,
}

impl LoginLimiter {
    /// `per_minute` attempts per address, with bursts of up to the same number.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self { per_minute: n.get(), local: RateLimiter::keyed(Quota::per_minute(n)), shared: None }
    }

    /// The same limit shared through Redis at `url` (keys under `prefix`).
    pub async fn with_redis(per_minute: u32, url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let redis = redis::aio::ConnectionManager::new(client).await?;
        let mut limiter = Self::new(per_minute);
        limiter.shared = Some(Shared { redis, prefix: prefix.to_owned() });
        Ok(limiter)
    }

    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Whether `ip` may make another attempt at `now` (counted).
    pub async fn allow(&self, ip: IpAddr, now: crate::domain::Timestamp) -> bool {
        let key = limit_key(ip);
        let Some(shared) = &self.shared else { return self.local.check_key(&key).is_ok() };
        let minute = now.unix_seconds().div_euclid(60);
        let name = format!("{}:{key}:{minute}", shared.prefix);
        let mut conn = shared.redis.clone();
        let counted: Result<(u64,), redis::RedisError> =
            redis::pipe().atomic().incr(&name, 1u64).expire(&name, 120).ignore().query_async(&mut conn).await;
        match counted {
            Ok((n,)) => n <= u64::from(self.per_minute),
            Err(e) => {
                tracing::warn!(error = %e, "Redis rate limit unavailable; using this replica's limit");
                self.local.check_key(&key).is_ok()
            }
        }
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
    use crate::domain::Timestamp;

    fn now() -> Timestamp {
        Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap()
    }

    #[tokio::test]
    async fn limits_per_address() {
        let l = LoginLimiter::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.allow(a, now()).await && l.allow(a, now()).await);
        assert!(!l.allow(a, now()).await);
        assert!(l.allow(b, now()).await);
    }

    #[tokio::test]
    async fn ipv6_addresses_of_one_slash_64_share_a_limit() {
        let l = LoginLimiter::new(2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.allow(a, now()).await && l.allow(b, now()).await);
        assert!(!l.allow(a, now()).await);
        assert!(l.allow(other, now()).await);
    }

    /// Two replicas' limiters on one Redis (127.0.0.1:6379, as on the test
    /// machine; `SCAIKEY_TEST_REDIS_URL` elsewhere) share one count per
    /// address and minute.
    #[tokio::test]
    async fn replicas_share_a_limit_through_redis() {
        let url = std::env::var("SCAIKEY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("scaikey-test:{}", crate::ids::random_base36(10));
        let connect = || LoginLimiter::with_redis(3, &url, &prefix);
        let (a, b) = match (connect().await, connect().await) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => panic!("Redis is required at {url} (tests/prepare.sh starts one): {e}"),
        };
        assert!(a.is_shared());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(a.allow(ip, now()).await && b.allow(ip, now()).await && a.allow(ip, now()).await);
        assert!(!b.allow(ip, now()).await, "the fourth attempt, on the other replica, is refused");
        let next_minute = now().plus_seconds(60);
        assert!(a.allow(ip, next_minute).await, "a new window");
        assert!(b.allow("192.0.2.8".parse().unwrap(), now()).await, "another address");
    }
}
