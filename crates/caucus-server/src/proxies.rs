//! The reverse proxies trusted to say who their clients are (`trusted_proxies`): one list for
//! the three places that need it — admission (a trusted address is not limited per address and
//! has headroom past the global limit), the HTTP rate limits and the access log (both by the
//! client a trusted proxy forwards in `X-Forwarded-For`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::HeaderMap;

/// The trusted addresses, in canonical form (an IPv4-mapped IPv6 address is its IPv4 one).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    addrs: Vec<IpAddr>,
}

impl TrustedProxies {
    pub fn new(addrs: &[IpAddr]) -> Arc<Self> {
        let mut addrs: Vec<IpAddr> = addrs.iter().map(|ip| ip.to_canonical()).collect();
        addrs.sort_unstable();
        addrs.dedup();
        Arc::new(Self { addrs })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.addrs.contains(&ip.to_canonical())
    }

    /// The client of a request that came from `peer`: `peer` itself, or behind a trusted
    /// proxy the nearest untrusted hop it forwards; `None` for a trusted proxy's own request
    /// (no `X-Forwarded-For`), which rate limits leave alone.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        // Proxies append; read from the nearest hop back, skipping our own proxies. A hop that
        // does not parse ends the walk: whatever lies before it is the client's to invent.
        let mut hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        hops.reverse();
        for hop in hops {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                break;
            };
            let ip = ip.to_canonical();
            if !self.contains(ip) {
                return Some(ip);
            }
        }
        // Only trusted hops, or a malformed one: limit by the proxy, so that garbage in the
        // header cannot buy an unlimited pass.
        headers.contains_key("x-forwarded-for").then_some(peer)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("header"));
        headers
    }

    fn v4(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_direct_client_is_itself_whatever_it_forwards() {
        let client = v4("198.51.100.7");
        assert_eq!(
            TrustedProxies::new(&[PROXY]).client_of(client, &xff("203.0.113.1")),
            Some(client)
        );
    }

    #[test]
    fn through_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::new(&[PROXY, v4("10.0.0.2")]);
        assert_eq!(
            trusted.client_of(PROXY, &xff("203.0.113.1, 198.51.100.7, 10.0.0.2")),
            Some(v4("198.51.100.7")),
            "a client cannot hide behind an address it writes itself"
        );
    }

    #[test]
    fn the_proxy_hosts_own_requests_are_not_limited_but_garbage_is() {
        let trusted = TrustedProxies::new(&[PROXY]);
        assert_eq!(trusted.client_of(PROXY, &HeaderMap::new()), None);
        assert_eq!(trusted.client_of(PROXY, &xff("not-an-ip")), Some(PROXY));
    }

    #[test]
    fn a_mapped_address_is_trusted_as_itself() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        assert!(TrustedProxies::new(&[mapped]).contains(PROXY));
        assert!(TrustedProxies::new(&[PROXY]).contains(mapped));
    }
}
