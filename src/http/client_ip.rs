//! The client's address for per-IP limits. `X-Forwarded-For` is believed
//! only when the connection comes from a configured `trusted_proxies` range;
//! then the header is read from the right (the nearest hop first), skipping
//! further trusted proxies, and the first untrusted address is the client.
//! Anyone else could write any address into the header.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client of a request that arrived with its peer address (axum's
/// `ConnectInfo`); `None` for one that did not (in-process calls).
pub fn of_request(req: &axum::extract::Request, trusted: &[IpNet]) -> Option<IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| client_ip(c.0.ip(), req.headers(), trusted))
}

/// The request's `Cookie` header, if readable.
pub fn cookies(headers: &HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::COOKIE).and_then(|v| v.to_str().ok())
}

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    hops.iter().rev().find(|ip| !is_trusted(ip)).copied().unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let h = headers("198.51.100.7, 10.9.9.9");
        assert_eq!(client_ip(proxy, &h, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
        // A client writing the header itself changes nothing.
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
        // Spoofed entries to the left of the nearest untrusted hop are ignored.
        let h = headers("1.1.1.1, 198.51.100.7");
        assert_eq!(client_ip(proxy, &h, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
        // Garbage falls back to the peer.
        assert_eq!(client_ip(proxy, &headers("nonsense"), &trusted), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[]), proxy);
    }
}
