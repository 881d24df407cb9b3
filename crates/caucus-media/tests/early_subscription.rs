//! Slots from the receive-slot pool exist from `add_peer` on: a subscription set right
//! after `add_peer`, before the connection is up, takes them without any offer, and
//! media flows as soon as the connection is up.

mod common;

use caucus_media::{EngineEvent, MediaKind};
use common::{Net, Spec};

#[test]
fn subscribing_right_after_add_peer_uses_the_pool_without_an_offer() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    let tracks = net.tracks_of("alice");

    net.join_start(
        "bob",
        Spec {
            recv_audio: 1,
            recv_video: 1,
            ..Spec::default()
        },
    );
    let bob = net.key("bob");
    net.subscribe("bob", &tracks);
    assert_eq!(net.offers, 0, "the pool's slots are used: no NeedsOffer");
    assert!(
        !net.events
            .iter()
            .any(|(_, e)| *e == EngineEvent::PeerConnected { peer: bob }),
        "the subscription really came before the connection"
    );
    // The slot mapping is announced at once.
    let assigned = net
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(e, EngineEvent::SlotAssigned { subscriber, track: Some(_), .. } if *subscriber == bob)
        })
        .count();
    assert_eq!(assigned, 2);

    // Alice keeps sending while bob connects; nothing is written for him before that.
    net.send_round(&["alice"]);
    net.wait_connected("bob");
    for _ in 0..5 {
        net.send_round(&["alice"]);
    }
    let got = net.client("bob");
    assert!(got.got("alice", "audio").len() >= 5, "{:?}", got.sources());
    assert!(got.got("alice", "video").len() >= 5);
    assert_eq!(net.offers, 0);
    assert_eq!(net.engine.counters().forwarding_errors, 0);
    let _ = MediaKind::Audio;
}
