//! The allocation against a scripted TURN server: each test answers the client's requests as
//! a TURN server would (or would not) and checks what the client sends and concludes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::wire::{self, Builder, Message};
use super::*;

const SERVER: &str = "192.0.2.10:3478";
const RELAYED: &str = "192.0.2.10:50000";
const PEER: &str = "198.51.100.7:7882";
const REALM: &str = "turn.example.org";

fn server() -> TurnServer {
    TurnServer {
        addr: SERVER.parse().unwrap(),
        host: "192.0.2.10".into(),
        transport: TurnTransport::Udp,
        username: "1733612400:ana".into(),
        password: "minted".into(),
    }
}

fn key() -> [u8; 16] {
    wire::long_term_key("1733612400:ana", REALM, "minted")
}

/// The client's next message to the server, parsed into (method, class, transaction).
fn next(a: &mut Allocation) -> (Vec<u8>, u16, [u8; 12]) {
    let bytes = a.poll_transmit().expect("a message for the server");
    let m = Message::parse(&bytes).expect("the client sends STUN");
    let (method, transaction) = (m.method, m.transaction);
    (bytes, method, transaction)
}

fn unauthorized(transaction: [u8; 12], method: u16, nonce: &str) -> Vec<u8> {
    Builder::new(method, wire::ERROR, transaction)
        .attr(wire::ERROR_CODE, &[0, 0, 4, 1, b'U', b'n', b'a', b'u'])
        .attr(wire::REALM, REALM.as_bytes())
        .attr(wire::NONCE, nonce.as_bytes())
        .finish(None)
}

fn allocated(transaction: [u8; 12], lifetime: u32) -> Vec<u8> {
    Builder::new(wire::ALLOCATE, wire::SUCCESS, transaction)
        .xor_address(wire::XOR_RELAYED_ADDRESS, RELAYED.parse().unwrap())
        .u32(wire::LIFETIME, lifetime)
        .finish(Some(&key()))
}

fn success(method: u16, transaction: [u8; 12]) -> Vec<u8> {
    Builder::new(method, wire::SUCCESS, transaction).finish(Some(&key()))
}

/// Allocates through the 401 challenge; returns the allocation and the time.
fn allocate() -> (Allocation, Instant) {
    let now = Instant::now();
    let mut a = Allocation::new(server(), now);
    let (bytes, method, t) = next(&mut a);
    assert_eq!(method, wire::ALLOCATE);
    assert!(
        !Message::parse(&bytes).unwrap().has_integrity(),
        "the first try is unsigned"
    );
    assert_eq!(
        a.handle_input(&unauthorized(t, wire::ALLOCATE, "n1"), now),
        None
    );
    let (bytes, method, t) = next(&mut a);
    assert_eq!(method, wire::ALLOCATE);
    let signed = Message::parse(&bytes).unwrap();
    assert!(
        signed.integrity_ok(&key()),
        "signed with MD5(user:realm:password)"
    );
    assert_eq!(
        signed.text(wire::USERNAME).as_deref(),
        Some("1733612400:ana")
    );
    assert_eq!(signed.text(wire::NONCE).as_deref(), Some("n1"));
    a.handle_input(&allocated(t, 600), now);
    assert_eq!(a.relayed(), Some(RELAYED.parse().unwrap()));
    (a, now)
}

#[test]
fn allocates_after_the_challenge_then_permits_binds_and_relays_both_ways() {
    let (mut a, now) = allocate();
    let peer: SocketAddr = PEER.parse().unwrap();

    // Data before the permission waits for it.
    a.send_to(peer, b"first", now);
    let (_, method, t) = next(&mut a);
    assert_eq!(method, wire::CREATE_PERMISSION);
    assert!(
        a.poll_transmit().is_none(),
        "nothing goes before the permission"
    );
    a.handle_input(&success(wire::CREATE_PERMISSION, t), now);
    // Granted: the queued datagram as a Send indication, and a ChannelBind.
    let (bytes, method, _) = next(&mut a);
    assert_eq!(method, wire::SEND);
    let send = Message::parse(&bytes).unwrap();
    assert_eq!(send.xor_address(wire::XOR_PEER_ADDRESS), Some(peer));
    assert_eq!(send.attr(wire::DATA_ATTR), Some(&b"first"[..]));
    let (bytes, method, t) = next(&mut a);
    assert_eq!(method, wire::CHANNEL_BIND);
    let bind = Message::parse(&bytes).unwrap();
    assert_eq!(bind.attr(wire::CHANNEL_NUMBER), Some(&[0x40, 0, 0, 0][..]));
    a.handle_input(&success(wire::CHANNEL_BIND, t), now);
    // Bound: ChannelData both ways.
    a.send_to(peer, b"second", now);
    assert_eq!(
        a.poll_transmit(),
        Some(wire::channel_data(0x4000, b"second", false))
    );
    let got = a.handle_input(&wire::channel_data(0x4000, b"back", false), now);
    assert_eq!(got, Some((peer, b"back".to_vec())));
    // A Data indication too.
    let data = Builder::new(wire::DATA, wire::INDICATION, [9; 12])
        .xor_address(wire::XOR_PEER_ADDRESS, peer)
        .attr(wire::DATA_ATTR, b"indicated")
        .finish(None);
    assert_eq!(
        a.handle_input(&data, now),
        Some((peer, b"indicated".to_vec()))
    );
    let stats = a.stats();
    assert_eq!(
        (stats.sent, stats.sent_on_channels, stats.received),
        (2, 1, 2)
    );
}

#[test]
fn a_second_401_is_a_refusal_with_its_code() {
    let now = Instant::now();
    let mut a = Allocation::new(server(), now);
    let (_, _, t) = next(&mut a);
    a.handle_input(&unauthorized(t, wire::ALLOCATE, "n1"), now);
    let (_, _, t) = next(&mut a);
    a.handle_input(&unauthorized(t, wire::ALLOCATE, "n2"), now);
    assert!(
        matches!(a.failure(), Some(TurnError::Refused { code: 401, .. })),
        "{:?}",
        a.failure()
    );
    assert!(a.poll_transmit().is_none(), "no third try");
}

#[test]
fn a_stale_nonce_is_retried_with_the_new_one() {
    let (mut a, now) = allocate();
    a.send_to(PEER.parse().unwrap(), b"x", now);
    let (_, method, t) = next(&mut a);
    assert_eq!(method, wire::CREATE_PERMISSION);
    let stale = Builder::new(wire::CREATE_PERMISSION, wire::ERROR, t)
        .attr(wire::ERROR_CODE, &[0, 0, 4, 38])
        .attr(wire::REALM, REALM.as_bytes())
        .attr(wire::NONCE, b"n2")
        .finish(Some(&key()));
    a.handle_input(&stale, now);
    let (bytes, method, _) = next(&mut a);
    assert_eq!(method, wire::CREATE_PERMISSION);
    let retry = Message::parse(&bytes).unwrap();
    assert_eq!(retry.text(wire::NONCE).as_deref(), Some("n2"));
    assert!(retry.integrity_ok(&key()));
}

#[test]
fn forged_or_unexpected_answers_are_dropped() {
    let now = Instant::now();
    let mut a = Allocation::new(server(), now);
    let (_, _, t) = next(&mut a);
    a.handle_input(&unauthorized(t, wire::ALLOCATE, "n1"), now);
    let (_, _, t) = next(&mut a);
    // A success signed with another key, one for another transaction, one unsigned.
    let forged = Builder::new(wire::ALLOCATE, wire::SUCCESS, t)
        .xor_address(wire::XOR_RELAYED_ADDRESS, "203.0.113.66:1".parse().unwrap())
        .finish(Some(b"not the key"));
    a.handle_input(&forged, now);
    a.handle_input(&allocated([0; 12], 600), now);
    let unsigned = Builder::new(wire::ALLOCATE, wire::SUCCESS, t)
        .xor_address(wire::XOR_RELAYED_ADDRESS, "203.0.113.66:1".parse().unwrap())
        .finish(None);
    a.handle_input(&unsigned, now);
    assert_eq!(a.relayed(), None);
    assert_eq!(a.stats().ignored_answers, 3);
    // Garbage of every length: no panic, nothing concluded.
    for n in 0..64 {
        let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 1) as u8).collect();
        assert_eq!(a.handle_input(&junk, now), None);
    }
    assert_eq!(
        a.handle_input(&wire::channel_data(0x4000, b"unbound", false), now),
        None
    );
    // The real answer still works.
    a.handle_input(&allocated(t, 600), now);
    assert_eq!(a.relayed(), Some(RELAYED.parse().unwrap()));
}

#[test]
fn refreshes_before_the_lifetime_ends_and_deallocates_on_close() {
    let (mut a, now) = allocate();
    let refresh_at = a.poll_timeout().expect("a refresh is due");
    assert_eq!(refresh_at, now + Duration::from_secs(540));
    a.handle_timeout(refresh_at);
    let (bytes, method, t) = next(&mut a);
    assert_eq!(method, wire::REFRESH);
    assert_eq!(
        Message::parse(&bytes).unwrap().u32(wire::LIFETIME),
        Some(600)
    );
    a.handle_input(&success(wire::REFRESH, t), refresh_at);
    assert!(a.relayed().is_some());

    a.close(refresh_at);
    let (bytes, method, _) = next(&mut a);
    assert_eq!(method, wire::REFRESH);
    assert_eq!(Message::parse(&bytes).unwrap().u32(wire::LIFETIME), Some(0));
}

#[test]
fn udp_requests_are_retransmitted_then_given_up() {
    let now = Instant::now();
    let mut a = Allocation::new(server(), now);
    let first = a.poll_transmit().unwrap();
    let mut at = now;
    let mut copies = 0;
    while a.failure().is_none() {
        at = a.poll_timeout().expect("a timer runs");
        a.handle_timeout(at);
        while let Some(bytes) = a.poll_transmit() {
            assert_eq!(bytes, first, "the same request again");
            copies += 1;
        }
    }
    assert!(copies >= 3, "{copies} retransmissions");
    assert!(matches!(a.failure(), Some(TurnError::Timeout { .. })));
    assert_eq!(at, now + REQUEST_TIMEOUT);
}

#[test]
fn turn_urls_parse_with_their_transport() {
    assert_eq!(
        parse_url("turn:turn.example.org:3478?transport=udp"),
        Some(("turn.example.org".into(), 3478, TurnTransport::Udp))
    );
    assert_eq!(
        parse_url("turn:[2001:db8::1]:443?transport=tcp"),
        Some(("2001:db8::1".into(), 443, TurnTransport::Tcp))
    );
    assert_eq!(
        parse_url("turn:host"),
        Some(("host".into(), 3478, TurnTransport::Udp))
    );
    assert_eq!(
        parse_url("turns:turn.example.org:443?transport=tcp"),
        Some(("turn.example.org".into(), 443, TurnTransport::Tls))
    );
    assert_eq!(
        parse_url("turns:host"),
        Some(("host".into(), 5349, TurnTransport::Tls))
    );
    assert_eq!(parse_url("turns:host:443?transport=udp"), None);
    assert_eq!(parse_url("stun:host:3478"), None);
    assert_eq!(parse_url("turn::3478"), None);
    assert_eq!(parse_url("turn:host:x"), None);
}
