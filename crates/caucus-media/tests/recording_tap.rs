//! The recording tap: a recording gets exactly the packets of the tracks in its current set,
//! decrypted and as the publisher sent them; video joining a set gets a keyframe request.

mod common;

use caucus_media::{Codec, MediaKind, RecordingKey};
use common::{Net, Spec};

const REC: RecordingKey = RecordingKey(7);
const OTHER: RecordingKey = RecordingKey(8);

fn payloads(net: &Net, recording: RecordingKey, kind: MediaKind) -> Vec<String> {
    net.recorded
        .iter()
        .filter(|p| p.recording == recording && p.kind == kind)
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}

#[test]
fn a_recording_receives_exactly_its_tracks() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("bob", Spec::publisher());
    let alice_audio = net.track("alice", MediaKind::Audio);
    let alice_video = net.track("alice", MediaKind::Video);

    // Nothing is recorded by default, even with nobody subscribed.
    net.send_round(&["alice", "bob"]);
    assert!(net.recorded.is_empty(), "default deny");

    net.engine.set_recording(net.now, REC, &[alice_audio]);
    net.pump();
    for _ in 0..5 {
        net.send_round(&["alice", "bob"]);
    }
    assert_eq!(payloads(&net, REC, MediaKind::Video), Vec::<String>::new());
    let audio = payloads(&net, REC, MediaKind::Audio);
    assert_eq!(
        audio,
        (1..6)
            .map(|n| format!("alice/audio/{n}"))
            .collect::<Vec<_>>()
    );
    let first = &net.recorded[0];
    assert_eq!((first.track, first.codec), (alice_audio, Codec::Opus));
    assert!(first.marker);
    let seqs: Vec<u64> = net.recorded.iter().map(|p| p.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "the publisher's own numbering: {seqs:?}"
    );
    let stamps: Vec<u32> = net.recorded.iter().map(|p| p.timestamp).collect();
    assert!(stamps.windows(2).all(|w| w[1] == w[0] + 960), "{stamps:?}");

    // Video joins the set: the publisher is asked for a keyframe at once.
    let asked_before = net.client("alice").keyframe_requests.len();
    net.engine
        .set_recording(net.now, REC, &[alice_audio, alice_video]);
    net.pump();
    net.settle();
    assert!(
        net.client("alice").keyframe_requests.len() > asked_before,
        "keyframe requested"
    );
    net.recorded.clear();
    net.send_round(&["alice", "bob"]);
    let video: Vec<_> = net
        .recorded
        .iter()
        .filter(|p| p.kind == MediaKind::Video)
        .collect();
    assert_eq!(video.len(), 1);
    assert_eq!((video[0].track, video[0].codec), (alice_video, Codec::Vp8));
    assert_eq!(
        net.engine.recording_tracks(REC),
        vec![alice_audio, alice_video]
    );

    // An empty set ends the recording: nothing more comes out.
    net.engine.set_recording(net.now, REC, &[]);
    net.recorded.clear();
    net.send_round(&["alice", "bob"]);
    assert!(net.recorded.is_empty());
    assert!(net.engine.recording_tracks(REC).is_empty());
}

#[test]
fn paused_tracks_are_not_recorded_and_two_recordings_each_get_a_copy() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    let alice_audio = net.track("alice", MediaKind::Audio);
    net.engine.set_recording(net.now, REC, &[alice_audio]);
    net.engine.set_recording(net.now, OTHER, &[alice_audio]);
    net.pump();
    net.send_round(&["alice"]);
    assert_eq!(payloads(&net, REC, MediaKind::Audio), vec!["alice/audio/0"]);
    assert_eq!(
        payloads(&net, OTHER, MediaKind::Audio),
        vec!["alice/audio/0"]
    );

    net.engine.set_track_paused(alice_audio, true);
    net.recorded.clear();
    net.send_round(&["alice"]);
    assert!(net.recorded.is_empty(), "a muted track is not recorded");
    net.engine.set_track_paused(alice_audio, false);
    net.send_round(&["alice"]);
    assert_eq!(net.recorded.len(), 2);
    assert_eq!(net.engine.counters().rtp_recorded, 4);
}

#[test]
fn a_track_that_ends_leaves_every_recording() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    let tracks = net.tracks_of("alice");
    net.engine.set_recording(net.now, REC, &tracks);
    net.pump();
    assert_eq!(net.engine.recording_tracks(REC).len(), 2);
    let key = net.key("alice");
    net.engine.remove_peer(net.now, key);
    net.pump();
    assert!(net.engine.recording_tracks(REC).is_empty());
    // Unknown tracks are ignored.
    net.engine.set_recording(net.now, REC, &tracks);
    assert!(net.engine.recording_tracks(REC).is_empty());
}

#[test]
fn a_swallowed_keyframe_request_is_repeated_until_the_recording_gets_its_keyframe() {
    use std::time::Duration;
    let mut net = Net::new();
    net.join(
        "alice",
        Spec {
            simulcast: Some(&["l", "h"]),
            ..Spec::publisher()
        },
    );
    let video = net.track("alice", MediaKind::Video);
    let frame = |net: &mut Net, keyframe: bool| {
        net.send_layer("alice", "l", keyframe, (320, 180));
        net.send_layer("alice", "h", keyframe, (1280, 720));
        net.run_for(Duration::from_millis(30));
    };
    let asked_h = |net: &Net| {
        net.client("alice")
            .keyframe_rids
            .iter()
            .filter(|(_, rid)| rid.is_some_and(|r| r.to_string() == "h"))
            .count()
    };
    frame(&mut net, true);
    // A first recording asks for a keyframe of the top layer and gets one at once.
    net.engine.set_recording(net.now, OTHER, &[video]);
    net.pump();
    frame(&mut net, true);
    // A second recording within the throttle window: its own request is swallowed…
    let before = asked_h(&net);
    net.engine.set_recording(net.now, REC, &[video]);
    net.pump();
    net.settle();
    assert_eq!(asked_h(&net), before, "throttled");
    // …and repeated once the window has passed, while only delta frames come.
    for _ in 0..30 {
        frame(&mut net, false);
    }
    let repeated = asked_h(&net);
    assert!(
        repeated > before,
        "the request is repeated until a keyframe comes"
    );
    // A keyframe of the recorded layer ends the repetition.
    frame(&mut net, true);
    let after_keyframe = asked_h(&net);
    for _ in 0..30 {
        frame(&mut net, false);
    }
    assert_eq!(
        asked_h(&net),
        after_keyframe,
        "no more requests once it came"
    );
}
