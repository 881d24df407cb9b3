//! Which peer a datagram belongs to, in O(1): by source address, else by STUN ufrag.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::ids::PeerKey;
use crate::stun_username::local_ufrag;
use crate::transport::Transport;

/// Where a datagram came from: UDP and ICE-TCP sources are different peers' even when the
/// address is the same.
type Source = (Transport, SocketAddr);

/// The demultiplexing table of the one shared UDP socket.
///
/// Two maps replace str0m's `Rtc::accepts` scan over every peer (see `examples/chat.rs`):
/// - **ufrag → peer**, filled by `add_peer` from the local ICE credentials. Routes the
///   first STUN binding requests, before the client's address is known.
/// - **address → peer**, learned when the peer's `Rtc` *transmits* to an address. str0m
///   (ICE-lite) only answers binding requests that passed `MESSAGE-INTEGRITY`, so a
///   transmit is proof the address belongs to that peer; a spoofed STUN with a guessed
///   ufrag teaches nothing. DTLS/SRTP then route by address alone.
#[derive(Debug, Default)]
pub(crate) struct Demux {
    by_ufrag: HashMap<String, PeerKey>,
    by_addr: HashMap<Source, PeerKey>,
    addrs_of: HashMap<PeerKey, Vec<Source>>,
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Peer(PeerKey),
    Unknown,
}

impl Demux {
    pub(crate) fn route(&self, transport: Transport, source: SocketAddr, datagram: &[u8]) -> Route {
        if let Some(peer) = self.by_addr.get(&(transport, source)) {
            return Route::Peer(*peer);
        }
        match local_ufrag(datagram).and_then(|u| self.by_ufrag.get(u)) {
            Some(peer) => Route::Peer(*peer),
            None => Route::Unknown,
        }
    }

    pub(crate) fn insert_ufrag(&mut self, ufrag: String, peer: PeerKey) {
        self.by_ufrag.insert(ufrag, peer);
    }

    /// Records that `peer` sends to `addr`. Cheap when already known (the common case:
    /// called for every transmit).
    pub(crate) fn learn_addr(&mut self, transport: Transport, addr: SocketAddr, peer: PeerKey) {
        let addr = (transport, addr);
        if self.by_addr.get(&addr) == Some(&peer) {
            return;
        }
        // The address moved from another peer (client NAT rebinding onto a port a gone
        // client used): the newest verified owner wins.
        if let Some(previous) = self.by_addr.insert(addr, peer)
            && let Some(list) = self.addrs_of.get_mut(&previous)
        {
            list.retain(|a| *a != addr);
        }
        self.addrs_of.entry(peer).or_default().push(addr);
    }

    pub(crate) fn remove_peer(&mut self, peer: PeerKey) {
        self.by_ufrag.retain(|_, p| *p != peer);
        for addr in self.addrs_of.remove(&peer).unwrap_or_default() {
            if self.by_addr.get(&addr) == Some(&peer) {
                self.by_addr.remove(&addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_addresses_route_and_are_forgotten_with_the_peer() {
        let mut demux = Demux::default();
        let a: SocketAddr = "1.1.1.1:1000".parse().unwrap();
        let b: SocketAddr = "1.1.1.2:1000".parse().unwrap();
        let udp = Transport::Udp;
        demux.learn_addr(udp, a, PeerKey(1));
        demux.learn_addr(udp, b, PeerKey(2));
        assert_eq!(demux.route(udp, a, &[0x80, 0, 0]), Route::Peer(PeerKey(1)));
        demux.learn_addr(udp, a, PeerKey(2));
        assert_eq!(demux.route(udp, a, &[0x80, 0, 0]), Route::Peer(PeerKey(2)));
        demux.remove_peer(PeerKey(1));
        assert_eq!(demux.route(udp, a, &[0x80, 0, 0]), Route::Peer(PeerKey(2)));
        demux.remove_peer(PeerKey(2));
        assert_eq!(demux.route(udp, a, &[0x80, 0, 0]), Route::Unknown);
        assert_eq!(demux.route(udp, b, &[0x80, 0, 0]), Route::Unknown);
    }

    #[test]
    fn a_tcp_source_is_not_the_udp_source_of_the_same_address() {
        let mut demux = Demux::default();
        let a: SocketAddr = "1.1.1.1:1000".parse().unwrap();
        demux.learn_addr(Transport::Tcp, a, PeerKey(1));
        assert_eq!(
            demux.route(Transport::Tcp, a, &[0x80, 0, 0]),
            Route::Peer(PeerKey(1))
        );
        assert_eq!(
            demux.route(Transport::Udp, a, &[0x80, 0, 0]),
            Route::Unknown
        );
    }
}
