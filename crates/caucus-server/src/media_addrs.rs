//! Which addresses the media plane binds and which it tells clients.
//!
//! Each bound socket (UDP, or an ICE-TCP listener) gets the candidates of its address
//! family: the `advertise` IPs of that family with the socket's port (behind a 1:1 NAT,
//! the public address and, for clients inside, the private one), else the bound IP, else —
//! bound to `0.0.0.0` or `[::]` — the addresses of the host's interfaces. A client is told
//! every candidate of every socket, and traffic for any of them reaches the engine.

use std::net::{IpAddr, SocketAddr};

/// The candidate addresses of a socket bound at `bound` (its real port, after binding).
///
/// `interfaces` are the host's addresses (`interface_addresses`); they are used only for
/// an unspecified bind without an advertised IP of that family. Loopback addresses are
/// told only when the host has nothing else of that family (a laptop offline), and IPv6
/// link-local ones never (they need a scope the client cannot know).
pub fn candidates(
    bound: SocketAddr,
    advertise: &[IpAddr],
    interfaces: &[IpAddr],
) -> Vec<SocketAddr> {
    let same_family = |ip: &&IpAddr| ip.is_ipv4() == bound.is_ipv4();
    let with_port = |ip: &IpAddr| SocketAddr::new(*ip, bound.port());
    let advertised: Vec<SocketAddr> = advertise
        .iter()
        .filter(same_family)
        .map(with_port)
        .collect();
    if !advertised.is_empty() {
        return advertised;
    }
    if !bound.ip().is_unspecified() {
        return vec![bound];
    }
    let usable: Vec<&IpAddr> = interfaces
        .iter()
        .filter(same_family)
        .filter(|ip| !is_ipv6_link_local(ip) && !ip.is_unspecified() && !ip.is_multicast())
        .collect();
    let outside: Vec<SocketAddr> = usable
        .iter()
        .copied()
        .filter(|ip| !ip.is_loopback())
        .map(with_port)
        .collect();
    if outside.is_empty() {
        usable.into_iter().map(with_port).collect()
    } else {
        outside
    }
}

fn is_ipv6_link_local(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// The addresses of the host's interfaces (empty, with a warning, if they cannot be read).
pub fn interface_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.into_iter().map(|i| i.ip()).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the host's addresses");
            Vec::new()
        }
    }
}

/// Serde for a list of addresses that the file may give as one string (`"0.0.0.0:7882"`),
/// a comma-separated string (as environment variables must) or an array.
pub mod list {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<T: Display, S: Serializer>(items: &[T], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(items.iter().map(ToString::to_string))
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        struct List<T>(std::marker::PhantomData<T>);
        impl<'de, T: FromStr> Visitor<'de> for List<T>
        where
            T::Err: Display,
        {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an address, comma-separated addresses or an array of addresses")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
                v.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| {
                        item.parse()
                            .map_err(|e| E::custom(format!("{item:?}: {e}")))
                    })
                    .collect()
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    out.push(
                        item.trim()
                            .parse()
                            .map_err(|e| de::Error::custom(format!("{item:?}: {e}")))?,
                    );
                }
                Ok(out)
            }
        }
        d.deserialize_any(List(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn advertised_ips_of_the_socket_family_take_its_port() {
        let advertise = ips(&["10.0.0.5", "203.0.113.7", "2001:db8::5"]);
        assert_eq!(
            candidates("0.0.0.0:7882".parse().unwrap(), &advertise, &[]),
            addrs(&["10.0.0.5:7882", "203.0.113.7:7882"])
        );
        assert_eq!(
            candidates("[::]:7882".parse().unwrap(), &advertise, &[]),
            addrs(&["[2001:db8::5]:7882"])
        );
    }

    #[test]
    fn a_specific_bind_is_its_own_candidate() {
        assert_eq!(
            candidates(
                "192.0.2.4:7881".parse().unwrap(),
                &ips(&["2001:db8::5"]),
                &[]
            ),
            addrs(&["192.0.2.4:7881"])
        );
    }

    #[test]
    fn an_unspecified_bind_tells_the_interfaces_but_loopback_only_when_alone() {
        let host = ips(&["127.0.0.1", "192.0.2.4", "::1", "fe80::1", "2001:db8::4"]);
        assert_eq!(
            candidates("0.0.0.0:7882".parse().unwrap(), &[], &host),
            addrs(&["192.0.2.4:7882"])
        );
        assert_eq!(
            candidates("[::]:7882".parse().unwrap(), &[], &host),
            addrs(&["[2001:db8::4]:7882"])
        );
        assert_eq!(
            candidates(
                "0.0.0.0:7882".parse().unwrap(),
                &[],
                &ips(&["127.0.0.1", "::1"])
            ),
            addrs(&["127.0.0.1:7882"])
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Holder {
        #[serde(with = "super::list")]
        media: Vec<SocketAddr>,
    }

    #[test]
    fn a_list_is_a_string_a_comma_separated_string_or_an_array() {
        for (text, expected) in [
            ("\"127.0.0.1:7882\"", addrs(&["127.0.0.1:7882"])),
            (
                "\"0.0.0.0:7882, [::]:7882\"",
                addrs(&["0.0.0.0:7882", "[::]:7882"]),
            ),
            (
                "[\"0.0.0.0:7882\", \"[::]:7882\"]",
                addrs(&["0.0.0.0:7882", "[::]:7882"]),
            ),
        ] {
            let h: Holder = serde_json::from_str(&format!("{{\"media\": {text}}}")).unwrap();
            assert_eq!(h.media, expected, "{text}");
        }
        let bad = serde_json::from_str::<Holder>("{\"media\": \"7882\"}").unwrap_err();
        assert!(bad.to_string().contains("\"7882\""), "{bad}");
    }
}
