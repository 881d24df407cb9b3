//! Smoke test against the real server: a host publishes audio and video, a guest receives both,
//! in order and without loss, over real UDP on loopback.

mod common;

use caucus_client::ClientEvent;
use caucus_proto::{ServerEvent, Source};
use common::{AUDIO_SECOND, T, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_receives_the_hosts_audio_and_video_without_loss() {
    let world = World::start("smoke").await;
    let (host, _host_events) = world.join("hana", "host").await;
    let (guest, mut guest_events) = world.join("gus", "guest").await;
    assert_ne!(host.peer_id(), guest.peer_id());

    let audio_track = host.publish_audio().await.expect("host publishes audio");
    let video_track = host.publish_video().await.expect("host publishes video");
    assert_eq!(host.track_id(Source::Audio), Some(audio_track));

    // The guest is told about both tracks, and which of its slots carries them.
    for track in [audio_track, video_track] {
        guest_events
            .wait_server(
                |e| match e {
                    ServerEvent::TrackPublished { peer_id, track: t } if t.id == track => {
                        Some(*peer_id)
                    }
                    _ => None,
                },
                T,
            )
            .await
            .expect("track_published");
        guest_events
            .wait_for(
                |e| matches!(e, ClientEvent::Slot { track: Some(t), .. } if t.track_id == track),
                T,
            )
            .await
            .expect("a slot shows the track");
    }

    let audio = guest
        .wait_received(host.peer_id(), Source::Audio, 2 * AUDIO_SECOND, T)
        .await
        .expect("audio arrives");
    let video = guest
        .wait_received(host.peer_id(), Source::Video, 60, T)
        .await
        .expect("video arrives");
    for (name, s) in [("audio", &audio), ("video", &video)] {
        assert_eq!(s.lost, 0, "{name}: {s:?}");
        assert_eq!(s.duplicates, 0, "{name}: {s:?}");
        assert!(s.latency.p95().is_some(), "{name}: latency measured");
    }
    assert_eq!(audio.track_id, Some(audio_track));
    assert_eq!(video.track_id, Some(video_track));
    assert!(
        video.keyframe_packets > 0,
        "the first picture is a keyframe"
    );

    let report = guest.receive_report();
    assert_eq!(report.undecodable, 0, "{report:?}");
    assert_eq!(report.mislabeled, 0, "{report:?}");
    assert_eq!(report.streams.len(), 2, "only the host's two streams");
    // The host subscribes to no guest, and the guest sends nothing.
    assert!(host.received().is_empty(), "{:?}", host.received());
    let sent = host.sent();
    assert!(sent[&Source::Audio].packets >= audio.packets);

    world.stop().await;
}
