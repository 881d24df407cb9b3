//! Paths a happy network never takes: a peer whose client goes silent times out without
//! disturbing anyone else; a lost packet is recovered by NACK and retransmission; a
//! publisher and a subscriber that number the same codec differently still talk.

mod common;

use std::time::Duration;

use caucus_media::{DisconnectReason, EngineEvent, MediaKind};
use common::{DropRule, Net, Spec};

#[test]
fn silent_client_times_out_and_others_are_unaffected() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("bob", Spec::audio_only());
    net.join("carol", Spec::audio_only());
    let tracks = net.tracks_of("alice");
    net.subscribe("bob", &tracks);
    net.subscribe("carol", &tracks);
    net.run_for(common::TICK * 4);
    net.send_round(&["alice"]);

    // Carol's network disappears: no more STUN, no more RTCP.
    let carol = net.key("carol");
    let addr = net.client("carol").addr;
    net.blackholed.push(addr);
    let since = net.now;
    let deadline = net.now + Duration::from_secs(60);
    let mut bob_before = net.client("bob").received.len();
    while !net
        .events_since(since)
        .any(|e| matches!(e, EngineEvent::PeerDisconnected { peer, .. } if *peer == carol))
    {
        assert!(net.now < deadline, "carol never timed out");
        net.send_round(&["alice"]);
        net.run_for(Duration::from_millis(15));
        // Bob keeps receiving all along.
        let got = net.client("bob").received.len();
        assert!(
            got >= bob_before + 2,
            "bob starved while carol was timing out"
        );
        bob_before = got;
    }
    let reason = net
        .events_since(since)
        .find_map(|e| match e {
            EngineEvent::PeerDisconnected { peer, reason } if *peer == carol => {
                Some(reason.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(reason, DisconnectReason::IceDisconnected);
    assert!(!net.engine.has_peer(carol));
    assert!(net.engine.has_peer(net.key("bob")));
    assert!(net.engine.has_peer(net.key("alice")));
    let timed_out_after = net.now - since;
    assert!(
        timed_out_after < Duration::from_secs(40),
        "{timed_out_after:?}"
    );

    for _ in 0..5 {
        net.send_round(&["alice"]);
    }
    assert_eq!(
        net.client("bob").got("alice", "video").len(),
        net.client("alice").sent["video"] as usize
    );
}

#[test]
fn lost_video_packet_is_recovered_by_nack() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join(
        "bob",
        Spec {
            recv_video: 1,
            ..Spec::default()
        },
    );
    let video = net.track("alice", MediaKind::Video);
    net.subscribe("bob", &[video]);
    for _ in 0..5 {
        net.send("alice", MediaKind::Video);
        net.tick();
    }
    let last = (*net.client("bob").got("alice", "video").last().unwrap()).clone();
    let to = net.client("bob").addr;
    // Drop the next video packet on its way from the engine to bob.
    net.drop_rule = Some(DropRule {
        to,
        ssrc: last.ssrc,
        seq: (last.seq + 1) as u16,
        dropped: 0,
    });
    for _ in 0..20 {
        net.send("alice", MediaKind::Video);
        net.run_for(Duration::from_millis(20));
    }
    assert_eq!(
        net.drop_rule.as_ref().unwrap().dropped,
        1,
        "the packet was dropped"
    );
    let bob = net.client("bob");
    let mut payloads: Vec<String> = bob
        .got("alice", "video")
        .iter()
        .map(|r| r.payload.clone())
        .collect();
    let lost = "alice/video/5".to_string();
    assert!(
        payloads.contains(&lost),
        "the retransmission arrived: {payloads:?}"
    );
    payloads.sort_by_key(|p| p.rsplit('/').next().unwrap().parse::<u32>().unwrap());
    payloads.dedup();
    assert_eq!(payloads.len(), 25, "nothing missing in the end");
    let recovered = bob
        .got("alice", "video")
        .into_iter()
        .find(|r| r.payload == lost)
        .unwrap();
    assert_eq!(
        recovered.seq,
        last.seq + 1,
        "same sequence number as the lost one"
    );
}

#[test]
fn payload_types_are_mapped_between_different_numberings() {
    let mut net = Net::new();
    net.join(
        "alice",
        Spec {
            pts: Some((100, 101, 102)),
            ..Spec::publisher()
        },
    );
    net.join(
        "bob",
        Spec {
            recv_audio: 1,
            recv_video: 1,
            pts: Some((120, 121, 122)),
            ..Spec::default()
        },
    );
    let tracks = net.tracks_of("alice");
    net.subscribe("bob", &tracks);
    for _ in 0..5 {
        net.send_round(&["alice"]);
    }
    let bob = net.client("bob");
    let audio = bob.got("alice", "audio");
    let video = bob.got("alice", "video");
    assert_eq!((audio.len(), video.len()), (5, 5));
    assert!(audio.iter().all(|r| r.pt == 120), "{:?}", audio[0]);
    assert!(video.iter().all(|r| r.pt == 121), "{:?}", video[0]);
    assert_eq!(net.engine.counters().forwarding_errors, 0);
}
