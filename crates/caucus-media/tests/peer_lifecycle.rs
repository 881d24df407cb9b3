//! Peers leaving and publishing late: `remove_peer` ends tracks and frees slots, freed
//! slots are reused, and a client-initiated re-offer publishes a new track.

mod common;

use caucus_media::{EngineEvent, MediaKind};
use common::{Net, Spec};

#[test]
fn removed_publisher_ends_tracks_and_frees_slots_for_reuse() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("carol", Spec::publisher());
    net.join("bob", Spec::audio_only());
    let alice_tracks = net.tracks_of("alice");
    net.subscribe("bob", &alice_tracks);
    for _ in 0..3 {
        net.send_round(&["alice"]);
    }
    assert_eq!(net.client("bob").got("alice", "video").len(), 3);

    let (alice, bob) = (net.key("alice"), net.key("bob"));
    let since = net.now;
    net.engine.remove_peer(net.now, alice);
    net.pump();
    assert!(!net.engine.has_peer(alice));
    let ended: Vec<_> = net
        .events_since(since)
        .filter_map(|e| match e {
            EngineEvent::TrackEnded { peer, track } if *peer == alice => Some(*track),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 2);
    let freed = net
        .events_since(since)
        .filter(|e| matches!(e, EngineEvent::SlotAssigned { subscriber, track: None, .. } if *subscriber == bob))
        .count();
    assert_eq!(freed, 2, "bob's two slots are free");

    // Alice's client keeps talking; the engine no longer knows her address.
    let unknown_before = net.engine.counters().dropped_unknown_source;
    for _ in 0..3 {
        net.send_round(&["alice"]);
    }
    net.run_for(common::TICK * 200);
    assert!(net.engine.counters().dropped_unknown_source > unknown_before);
    assert_eq!(net.client("bob").got("alice", "video").len(), 3);

    // Carol fills the freed slots without renegotiation.
    let offers = net.offers;
    let carol_tracks = net.tracks_of("carol");
    net.subscribe("bob", &carol_tracks);
    assert_eq!(net.offers, offers);
    for _ in 0..3 {
        net.send_round(&["carol"]);
    }
    assert_eq!(net.client("bob").got("carol", "audio").len(), 3);
    assert_eq!(net.client("bob").got("carol", "video").len(), 3);
}

#[test]
fn client_offer_publishes_a_new_track() {
    let mut net = Net::new();
    net.join("dave", Spec::audio_only());
    net.join("bob", Spec::audio_only());
    net.client_adds_video("dave");
    let video = net.track("dave", MediaKind::Video);
    net.subscribe("bob", &[video]);
    net.run_for(common::TICK * 4);
    for _ in 0..4 {
        net.send("dave", MediaKind::Video);
        net.send("dave", MediaKind::Audio);
        net.tick();
    }
    let bob = net.client("bob");
    assert_eq!(bob.got("dave", "video").len(), 4);
    assert!(
        bob.got("dave", "audio").is_empty(),
        "only what was asked for"
    );
}

/// A publisher's tracks end in the order of their keys, whatever the order of the engine's
/// maps: the same inputs give the same events in the same order (the simulation replays a
/// run from its seed). Twelve publishers, each leaving with two tracks.
#[test]
fn a_removed_publisher_ends_its_tracks_in_key_order() {
    let mut net = Net::new();
    let names: Vec<String> = (0..12).map(|i| format!("p{i}")).collect();
    for name in &names {
        net.join(name, Spec::publisher());
    }
    for name in &names {
        let key = net.key(name);
        let since = net.now;
        net.engine.remove_peer(net.now, key);
        net.pump();
        let ended: Vec<_> = net
            .events_since(since)
            .filter_map(|e| match e {
                EngineEvent::TrackEnded { peer, track } if *peer == key => Some(*track),
                _ => None,
            })
            .collect();
        let mut sorted = ended.clone();
        sorted.sort();
        assert_eq!(ended.len(), 2, "{name}");
        assert_eq!(ended, sorted, "{name}: tracks ended in key order");
    }
}
