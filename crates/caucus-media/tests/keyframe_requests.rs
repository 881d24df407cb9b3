//! Scenario 4: a PLI from subscriber bob reaches publisher alice, throttled to one per
//! 500 ms per track.

mod common;

use std::time::Duration;

use common::{Net, Spec};
use str0m::media::KeyframeRequestKind;

#[test]
fn pli_from_subscriber_reaches_publisher_and_is_throttled() {
    let mut net = Net::new();
    net.join("alice", Spec::publisher());
    net.join("bob", Spec::audio_only());
    net.join("dave", Spec::audio_only());
    let tracks = net.tracks_of("alice");
    net.subscribe("bob", &tracks);
    net.subscribe("dave", &tracks);
    for _ in 0..5 {
        net.send_round(&["alice"]);
    }
    // Let the keyframe requests of the subscriptions themselves age out.
    net.run_for(Duration::from_secs(1));

    let alice_video = net.client("alice").video_mid.unwrap();
    let bob_video = net.client("bob").got("alice", "video")[0].mid.unwrap();
    let dave_video = net.client("dave").got("alice", "video")[0].mid.unwrap();
    let before = net.client("alice").keyframe_requests.len();
    let throttled_before = net.engine.counters().keyframe_requests_throttled;

    net.request_keyframe("bob", bob_video, KeyframeRequestKind::Pli);
    net.run_for(common::TICK * 4);
    let alice = net.client("alice");
    assert_eq!(
        alice.keyframe_requests.len(),
        before + 1,
        "bob's PLI reached alice"
    );
    let (_, mid, kind) = alice.keyframe_requests[before];
    assert_eq!((mid, kind), (alice_video, KeyframeRequestKind::Pli));

    // A storm inside the window: bob again, and dave. Alice sees none of it.
    for _ in 0..3 {
        net.request_keyframe("bob", bob_video, KeyframeRequestKind::Pli);
        net.request_keyframe("dave", dave_video, KeyframeRequestKind::Pli);
        net.run_for(Duration::from_millis(100));
    }
    assert_eq!(net.client("alice").keyframe_requests.len(), before + 1);
    assert!(net.engine.counters().keyframe_requests_throttled >= throttled_before + 3);

    // After the window a request goes through again.
    net.run_for(Duration::from_millis(300));
    net.request_keyframe("dave", dave_video, KeyframeRequestKind::Pli);
    net.run_for(common::TICK * 4);
    assert_eq!(net.client("alice").keyframe_requests.len(), before + 2);
}
