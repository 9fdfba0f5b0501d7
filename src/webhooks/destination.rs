//! Where a webhook may be sent. Receivers are untrusted: loopback, private,
//! link-local, shared and other non-public addresses are refused unless
//! `SCAIKEY_WEBHOOKS_ALLOW_PRIVATE` is set. The check runs at send time on
//! the addresses the connection will use — a resolver that refuses a name
//! resolving to any such address, plus the same check on IP-literal hosts —
//! so a name that resolved to a public address when the URL was saved and
//! to 127.0.0.1 now (DNS rebinding) gets nowhere.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                || first == 0x0064)
        }
    }
}

/// Why a destination is refused, or `None` when it may be used: checks a
/// URL whose host is an IP literal (names are checked by [`GuardedResolver`]).
pub fn refuse_literal(url: &url::Url, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return None,
        None => return Some("the URL has no host".into()),
    };
    (!is_public(ip)).then(|| format!("{ip} is not a public address"))
}

/// A resolver that refuses names resolving to a non-public address.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!("{} resolves to {}, which is not a public address", name.as_str(), bad.ip()).into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
        let url = url::Url::parse("http://[::1]:8080/hook").unwrap();
        assert!(refuse_literal(&url, false).is_some());
        assert!(refuse_literal(&url, true).is_none());
        assert!(refuse_literal(&url::Url::parse("https://hooks.example.com/x").unwrap(), false).is_none());
    }
}
