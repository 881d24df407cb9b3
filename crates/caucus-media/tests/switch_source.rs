//! Scenario 3: bob's subscription moves from alice to carol. The same slots are reused
//! with no renegotiation, and bob sees one continuous RTP stream per slot.

mod common;

use std::time::Duration;

use caucus_media::MediaKind;
use common::{DropRule, Net, Spec};

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

/// A slot given to another track forgets what it sent for the previous one. Bob's slot
/// shows alice's video; her last packet before the switch is lost on the way, so carol's
/// first packet on the same stream shows bob a gap and he NACKs its sequence number. The
/// packet belongs to a track that is no longer his: nothing of alice may come back. A
/// packet of carol's lost afterwards is still recovered: the slot answers NACKs for what
/// it sent since the switch.
#[test]
fn a_reused_slot_does_not_resend_its_previous_track() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("carol", Spec::publisher());
    net.join(
        "bob",
        Spec {
            recv_video: 1,
            ..Spec::default()
        },
    );
    let alice = net.track("alice", MediaKind::Video);
    let carol = net.track("carol", MediaKind::Video);
    net.subscribe("bob", &[alice]);
    for _ in 0..5 {
        net.send("alice", MediaKind::Video);
        net.tick();
    }
    let last = (*net
        .client("bob")
        .got("alice", "video")
        .last()
        .expect("alice's video"))
    .clone();
    let to = net.client("bob").addr;
    // alice/video/5 leaves the engine for bob and is lost.
    net.drop_rule = Some(DropRule {
        to,
        ssrc: last.ssrc,
        seq: (last.seq + 1) as u16,
        dropped: 0,
    });
    net.send("alice", MediaKind::Video);
    net.tick();
    assert_eq!(net.drop_rule.as_ref().map(|r| r.dropped), Some(1));

    let switched = net.now;
    net.subscribe("bob", &[carol]);
    assert_eq!(net.offers, 0, "the pool's slot is reused: no offer");
    // carol/video/3 is lost too: the slot's own packet, which a NACK must recover.
    net.drop_rule = Some(DropRule {
        to,
        ssrc: last.ssrc,
        seq: (last.seq + 2 + 3) as u16,
        dropped: 0,
    });
    for _ in 0..20 {
        net.send("carol", MediaKind::Video);
        net.run_for(Duration::from_millis(20));
    }
    assert_eq!(net.drop_rule.as_ref().map(|r| r.dropped), Some(1));

    let bob = net.client("bob");
    let late: Vec<_> = bob
        .got("alice", "video")
        .into_iter()
        .filter(|r| r.at > switched)
        .map(|r| (r.at - switched, r.payload.clone()))
        .collect();
    assert!(
        late.is_empty(),
        "alice's packets after her track left bob's slot: {late:?}"
    );
    let recovered = bob
        .got("carol", "video")
        .into_iter()
        .find(|r| r.payload == "carol/video/3")
        .map(|r| r.seq);
    assert_eq!(
        recovered,
        Some(last.seq + 5),
        "carol's lost packet is resent on the slot's stream"
    );
}
