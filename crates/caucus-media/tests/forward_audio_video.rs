//! Scenario 1: A publishes audio and video, B subscribes, B receives A's packets.

mod common;

use caucus_media::{EngineEvent, MediaKind};
use common::{Net, Spec};

#[test]
fn subscriber_receives_publisher_audio_and_video() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("bob", Spec::audio_only());

    let tracks = net.tracks_of("alice");
    net.subscribe("bob", &tracks);
    assert_eq!(
        net.offers, 1,
        "bob had no slots, so the engine must offer once"
    );
    net.run_for(common::TICK * 4);

    for _ in 0..20 {
        net.send_round(&["alice"]);
    }
    net.run_for(common::TICK * 4);

    let bob = net.client("bob");
    for kind in ["audio", "video"] {
        let got = bob.got("alice", kind);
        let payloads: Vec<&str> = got.iter().map(|r| r.payload.as_str()).collect();
        let expected: Vec<String> = (0..20).map(|n| format!("alice/{kind}/{n}")).collect();
        assert_eq!(
            payloads, expected,
            "bob's {kind} from alice, in order, none lost"
        );
        // One outgoing stream per slot, consecutive sequence numbers.
        assert!(
            got.windows(2).all(|w| w[1].seq == w[0].seq + 1),
            "{kind} seq: {got:?}"
        );
        assert!(got.iter().all(|r| r.ssrc == got[0].ssrc));
        assert!(got.iter().all(|r| r.mid.is_some()));
    }
    // The audio-level header extension is passed through.
    assert!(
        bob.got("alice", "audio")
            .iter()
            .all(|r| r.audio_level == Some(-30))
    );
    // Alice gets nothing: she subscribed to nothing.
    assert!(net.client("alice").received.is_empty());

    // The slot mapping was announced for both of bob's new m-lines.
    let assigned: Vec<_> = net
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EngineEvent::SlotAssigned {
                subscriber,
                track: Some(t),
                ..
            } if *subscriber == net.key("bob") => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(assigned.len(), 2);
    assert!(tracks.iter().all(|t| assigned.contains(t)));

    let c = net.engine.counters();
    assert!(c.rtp_forwarded >= 40, "{c:?}");
    assert_eq!(c.forwarding_errors, 0, "{c:?}");
    assert_eq!(c.dropped_garbage, 0);
    let _ = MediaKind::Audio;
}
