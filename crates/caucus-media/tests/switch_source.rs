//! Scenario 3: bob's subscription moves from alice to carol. The same slots are reused
//! with no renegotiation, and bob sees one continuous RTP stream per slot.

mod common;

use common::{Net, Spec};

#[test]
fn switching_publisher_reuses_slots_with_continuous_sequence_numbers() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("carol", Spec::publisher());
    net.join("bob", Spec::audio_only());

    let alice = net.tracks_of("alice");
    let carol = net.tracks_of("carol");
    net.subscribe("bob", &alice);
    assert_eq!(net.offers, 1);
    net.run_for(common::TICK * 4);
    for _ in 0..10 {
        net.send_round(&["alice", "carol"]);
    }
    let carol_kf_before = net.client("carol").keyframe_requests.len();

    net.subscribe("bob", &carol);
    assert_eq!(net.offers, 1, "the freed slots are reused: no new offer");
    for _ in 0..10 {
        net.send_round(&["alice", "carol"]);
    }

    let bob = net.client("bob");
    for kind in ["audio", "video"] {
        let stream: Vec<_> = bob.received.iter().filter(|r| r.kind() == kind).collect();
        let froms: Vec<&str> = stream.iter().map(|r| r.from()).collect();
        let mut expected = vec!["alice"; 10];
        expected.extend(vec!["carol"; 10]);
        assert_eq!(froms, expected, "{kind}: alice then carol, nothing mixed");
        assert!(
            stream
                .iter()
                .all(|r| r.ssrc == stream[0].ssrc && r.mid == stream[0].mid),
            "{kind}: one slot, one SSRC"
        );
        let seqs: Vec<u64> = stream.iter().map(|r| r.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{kind}: continuous sequence across the switch: {seqs:?}"
        );
        let ts: Vec<u32> = stream.iter().map(|r| r.ts).collect();
        assert!(
            ts.windows(2).all(|w| w[1].wrapping_sub(w[0]) < 90_000),
            "{kind}: timestamps move forward a little, no jump: {ts:?}"
        );
    }
    assert_eq!(
        bob.got("carol", "video")[0].payload,
        "carol/video/10",
        "the first of carol's packets after the switch"
    );
    assert!(
        net.client("carol").keyframe_requests.len() > carol_kf_before,
        "carol is asked for a keyframe when bob starts showing her video"
    );
}
