//! How media reaches the engine: the transports and the local addresses clients are told.

use std::fmt;
use std::net::SocketAddr;

use str0m::Candidate;
use str0m::net::{Protocol, TcpType};

use crate::error::MediaError;

/// The transport a datagram travelled on between a client and the engine.
///
/// `Tcp` is ICE over TCP (RFC 6544): the shell accepts the client's connection, strips the
/// RFC 4571 length prefix from each frame and hands the engine the datagram inside, exactly
/// as it does for UDP; the engine routes both the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub(crate) fn to_str0m(self) -> Protocol {
        match self {
            Transport::Udp => Protocol::Udp,
            Transport::Tcp => Protocol::Tcp,
        }
    }

    /// str0m's TLS-wrapped TCP flavours never occur here (no such candidate is offered), and
    /// would be TCP streams to the shell anyway.
    pub(crate) fn from_str0m(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Udp => Transport::Udp,
            Protocol::Tcp | Protocol::SslTcp | Protocol::Tls => Transport::Tcp,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
    }
}

/// One address the engine tells every client (a host candidate in every SDP answer) and
/// accepts traffic on.
///
/// Several are normal: an IPv4 and an IPv6 address, a private and a public address of a
/// 1:1 NAT, a UDP port and a passive TCP port for clients that cannot send UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalCandidate {
    /// What the client is told and what the shell passes as the `destination` of traffic
    /// that arrived for it.
    pub address: SocketAddr,
    pub transport: Transport,
}

impl LocalCandidate {
    pub fn udp(address: SocketAddr) -> Self {
        LocalCandidate {
            address,
            transport: Transport::Udp,
        }
    }

    pub fn tcp(address: SocketAddr) -> Self {
        LocalCandidate {
            address,
            transport: Transport::Tcp,
        }
    }

    /// The str0m candidate: a UDP host candidate, or a *passive* TCP one (the client opens
    /// the connection; the server never dials out).
    pub(crate) fn to_str0m(self) -> Result<Candidate, MediaError> {
        let built = match self.transport {
            Transport::Udp => Candidate::host(self.address, "udp"),
            Transport::Tcp => Candidate::builder()
                .tcp()
                .host(self.address)
                .tcptype(TcpType::Passive)
                .build(),
        };
        built.map_err(|e| MediaError::Negotiation(format!("local candidate {self}: {e}")))
    }
}

impl fmt::Display for LocalCandidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.transport, self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_candidates_are_passive_and_rank_below_udp() {
        let udp = LocalCandidate::udp("192.0.2.1:7882".parse().unwrap())
            .to_str0m()
            .unwrap();
        let tcp = LocalCandidate::tcp("192.0.2.1:7881".parse().unwrap())
            .to_str0m()
            .unwrap();
        assert!(tcp.to_sdp_string().contains("tcptype passive"), "{tcp:?}");
        assert_eq!(tcp.proto(), Protocol::Tcp);
        assert!(
            udp.prio() > tcp.prio(),
            "a client able to use UDP prefers it"
        );
    }
}
