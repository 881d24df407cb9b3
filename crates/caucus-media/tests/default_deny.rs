//! Scenario 2: default deny. Nothing is forwarded without a subscription, even when the
//! subscriber has free slots, and removing a subscription stops forwarding at once.

mod common;

use caucus_media::{EngineEvent, MediaKind};
use common::{Net, Spec};

#[test]
fn nothing_flows_without_subscription_and_removal_stops_at_once() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    // Bob offers a receive-slot pool: the engine could forward without renegotiating,
    // so only the subscription set decides.
    net.join(
        "bob",
        Spec {
            audio: true,
            recv_audio: 1,
            recv_video: 1,
            ..Spec::default()
        },
    );

    for _ in 0..10 {
        net.send_round(&["alice"]);
    }
    assert!(net.client("bob").received.is_empty(), "default deny");
    let unrouted = net.engine.counters().rtp_unrouted;
    assert!(
        unrouted >= 20,
        "alice's packets were received and dropped: {unrouted}"
    );

    // Subscribing to one's own tracks is ignored.
    let own = net.track("bob", MediaKind::Audio);
    net.subscribe("bob", &[own]);
    net.send("bob", MediaKind::Audio);
    net.run_for(common::TICK * 4);
    assert!(net.client("bob").received.is_empty());

    // Subscribe: the pool's slots are used, no SDP round trip.
    let tracks = net.tracks_of("alice");
    net.subscribe("bob", &tracks);
    assert_eq!(net.offers, 0, "pool slots need no offer");
    for _ in 0..10 {
        net.send_round(&["alice"]);
    }
    assert_eq!(net.client("bob").got("alice", "audio").len(), 10);
    assert_eq!(net.client("bob").got("alice", "video").len(), 10);

    // Unsubscribe from video only, then from everything: forwarding stops with the very
    // next packet, no signaling in between.
    net.subscribe("bob", &tracks[..1]);
    for _ in 0..5 {
        net.send_round(&["alice"]);
    }
    assert_eq!(net.client("bob").got("alice", "audio").len(), 15);
    assert_eq!(net.client("bob").got("alice", "video").len(), 10);

    let bob = net.key("bob");
    let since = net.now;
    net.subscribe("bob", &[]);
    let freed = net
        .events_since(since)
        .filter(|e| {
            matches!(e, EngineEvent::SlotAssigned { subscriber, track: None, .. } if *subscriber == bob)
        })
        .count();
    assert_eq!(freed, 1, "the audio slot is announced free");
    let before = net.client("bob").received.len();
    for _ in 0..10 {
        net.send_round(&["alice"]);
    }
    net.run_for(common::TICK * 10);
    assert_eq!(
        net.client("bob").received.len(),
        before,
        "nothing after removal"
    );
    assert_eq!(net.offers, 0);
}
