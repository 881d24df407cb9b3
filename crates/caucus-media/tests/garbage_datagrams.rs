//! Scenario 5: garbage and odd datagrams are dropped and counted, nobody is
//! disconnected, and alice → bob forwarding carries on.

mod common;

use std::net::SocketAddr;

use caucus_media::{EngineEvent, Transport};
use common::{Net, Spec, server_addr};

/// xorshift64*: seeded, printed on failure.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn stun_request(username: &str) -> Vec<u8> {
    let mut attr = vec![0x00, 0x06];
    attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attr.extend_from_slice(username.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    msg.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    msg.extend_from_slice(&[9; 12]);
    msg.extend_from_slice(&attr);
    msg
}

#[test]
fn garbage_is_dropped_counted_and_forwarding_continues() {
    let seed = 0x5eed_cafe_u64;
    println!("seed = {seed:#x}");
    let mut rng = Rng(seed);

    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("bob", Spec::audio_only());
    let tracks = net.tracks_of("alice");
    net.subscribe("bob", &tracks);
    net.run_for(common::TICK * 4);
    for _ in 0..5 {
        net.send_round(&["alice"]);
    }
    let before = net.engine.counters();

    let alice_addr = net.client("alice").addr;
    let bob_addr = net.client("bob").addr;
    let stranger: SocketAddr = "6.6.6.6:6666".parse().unwrap();
    let known = [alice_addr, bob_addr, stranger];
    let now = net.now;

    let mut odd: Vec<(SocketAddr, Vec<u8>)> = vec![
        (stranger, vec![]),
        (alice_addr, vec![]),
        (alice_addr, vec![0xff; 3]),
        // Truncated STUN: a binding request header cut short.
        (stranger, stun_request("x:y")[..10].to_vec()),
        (alice_addr, stun_request("x:y")[..19].to_vec()),
        // Well-formed STUN with unknown ufrag, from a stranger and from alice.
        (stranger, stun_request("nosuchufrag:abc")),
        (alice_addr, stun_request("nosuchufrag:abc")),
        // RTP-, RTCP- and DTLS-looking junk from known and unknown addresses.
        (stranger, [&[0x80, 0x60][..], &rng.bytes(40)].concat()),
        (alice_addr, [&[0x80, 0x60][..], &rng.bytes(40)].concat()),
        (bob_addr, [&[0x80, 0xc8][..], &rng.bytes(40)].concat()),
        (alice_addr, [&[22, 0xfe, 0xfd][..], &rng.bytes(60)].concat()),
        (bob_addr, [&[23, 0xfe, 0xfd][..], &rng.bytes(30)].concat()),
    ];
    for _ in 0..300 {
        let len = (rng.next() % 300) as usize;
        let from = known[(rng.next() % 3) as usize];
        odd.push((from, rng.bytes(len)));
    }

    for (i, (from, bytes)) in odd.iter().enumerate() {
        net.engine
            .handle_receive(now, Transport::Udp, *from, server_addr(), bytes);
        net.pump();
        if i % 25 == 0 {
            net.send_round(&["alice"]);
        }
    }
    net.run_for(common::TICK * 4);
    let sent_during = odd.len().div_ceil(25);

    for _ in 0..5 {
        net.send_round(&["alice"]);
    }
    net.run_for(common::TICK * 4);

    let c = net.engine.counters();
    assert!(c.dropped_garbage > before.dropped_garbage, "{c:?}");
    assert!(
        c.dropped_unknown_source > before.dropped_unknown_source,
        "{c:?}"
    );
    assert!(c.datagrams_in - before.datagrams_in >= odd.len() as u64);
    assert!(
        !net.events
            .iter()
            .any(|(_, e)| matches!(e, EngineEvent::PeerDisconnected { .. })),
        "seed {seed:#x}: nobody was disconnected"
    );
    let total = 5 + sent_during + 5;
    for kind in ["audio", "video"] {
        let got = net.client("bob").got("alice", kind);
        assert_eq!(
            got.len(),
            total,
            "seed {seed:#x}: every {kind} packet still arrives"
        );
        assert!(got.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    }
}
