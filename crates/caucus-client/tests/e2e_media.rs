//! Media behaviours against the real server: mute, renegotiation both ways, reconnect.

mod common;

use caucus_client::{ClientEvent, ClientOptions};
use caucus_proto::{ServerEvent, Source};
use common::{AUDIO_SECOND, T, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_silences_one_source_and_unmuting_brings_it_back() {
    let world = World::start("mute").await;
    let (host, _he) = world.join("hana", "host").await;
    let (guest, mut events) = world.join("gus", "guest").await;
    let hana = host.peer_id();
    let audio = host.publish_audio().await.expect("audio");
    host.publish_video().await.expect("video");
    guest
        .wait_received(hana, Source::Audio, 10, T)
        .await
        .expect("audio flows");

    host.mute(Source::Audio, true).await.expect("mute");
    events
        .wait_server(
            |e| match e {
                ServerEvent::TrackMuted {
                    track_id, muted, ..
                } if *track_id == audio => Some(*muted),
                _ => None,
            },
            T,
        )
        .await
        .map(|muted| assert!(muted))
        .expect("the guest is told");
    assert!(host.published()[&Source::Audio].muted);
    guest
        .wait_silent_from_source(hana, Source::Audio, T)
        .await
        .expect("audio stops");
    guest
        .wait_receiving_from(hana, Source::Video, T)
        .await
        .expect("video goes on");

    host.mute(Source::Audio, false).await.expect("unmute");
    guest
        .wait_receiving_from(hana, Source::Audio, T)
        .await
        .expect("audio resumes");
    let s = guest.received_from(hana, Source::Audio).expect("stats");
    assert_eq!(s.lost, 0, "a paused sender numbers nothing: {s:?}");

    host.stop(Source::Video).await.expect("stop video");
    guest
        .wait_silent_from_source(hana, Source::Video, T)
        .await
        .expect("video stops");
    assert_eq!(host.track_id(Source::Video), None);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_without_free_slots_is_renegotiated_by_the_server() {
    let world = World::start("slots").await;
    let (host, _he) = world.join("hana", "host").await;
    // No receive slots: the guest's only m-lines are the two it offers to send on.
    let options = ClientOptions::default().with_slots(0, 0);
    let (guest, mut events) = world.join_with("gus", "guest", options).await;
    host.publish_audio().await.expect("audio");
    host.publish_video().await.expect("video");
    events
        .wait_for(|e| matches!(e, ClientEvent::Renegotiated), T)
        .await
        .expect("the server offers new m-lines and the guest answers");
    for source in [Source::Audio, Source::Video] {
        let s = guest
            .wait_received(host.peer_id(), source, 30, T)
            .await
            .expect("media arrives on the new m-lines");
        assert_eq!(s.lost, 0, "{s:?}");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_no_m_lines_at_all_is_renegotiated_too() {
    let world = World::start("bare").await;
    let (host, _he) = world.join("hana", "host").await;
    let options = ClientOptions::default().with_slots(0, 0).with_send(&[]);
    let (guest, mut events) = world.join_with("gus", "guest", options).await;
    host.publish_audio().await.expect("audio");
    events
        .wait_for(|e| matches!(e, ClientEvent::Renegotiated), T)
        .await
        .expect("the server offers a receive m-line");
    guest
        .wait_received(host.peer_id(), Source::Audio, 10, T)
        .await
        .expect("audio arrives");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_share_is_offered_by_the_client() {
    let world = World::start("screen").await;
    let (host, _he) = world.join("hana", "host").await;
    let (guest, _ge) = world.join("gus", "guest").await;
    assert!(!host.published().contains_key(&Source::Screen));
    let screen = host
        .publish_screen()
        .await
        .expect("a new sending m-line, then publish");
    assert_eq!(host.published()[&Source::Screen].track_id, screen);
    let s = guest
        .wait_received(host.peer_id(), Source::Screen, 8, T)
        .await
        .expect("the screen arrives");
    assert!(s.keyframe_packets > 0);
    assert_eq!(s.track_id, Some(screen));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_resumes_the_same_peer_on_both_sides() {
    let world = World::start("reconnect").await;
    let (mut host, _he) = world.join("hana", "host").await;
    let (mut guest, mut guest_events) = world.join("gus", "guest").await;
    let (hana, gus) = (host.peer_id(), guest.peer_id());
    let first_audio = host.publish_audio().await.expect("audio");
    guest
        .wait_received(hana, Source::Audio, 10, T)
        .await
        .expect("audio flows");

    // The guest drops and comes back: same peer, and the host's audio finds it again.
    guest.reconnect().await.expect("guest reconnects");
    assert_eq!(guest.peer_id(), gus);
    assert!(guest.resumed());
    guest_events
        .wait_for(|e| matches!(e, ClientEvent::Disconnected { .. }), T)
        .await
        .expect("the old connection's end is announced");
    guest.reset_received();
    let s = guest
        .wait_received(hana, Source::Audio, AUDIO_SECOND, T)
        .await
        .expect("audio after the guest's reconnect");
    assert_eq!(s.lost, 0, "{s:?}");

    // The host drops and comes back: it publishes again, with a new track.
    host.reconnect().await.expect("host reconnects");
    assert_eq!(host.peer_id(), hana);
    assert!(host.resumed());
    let second_audio = host.track_id(Source::Audio).expect("published again");
    assert_ne!(second_audio, first_audio);
    guest.reset_received();
    let s = guest
        .wait_received(hana, Source::Audio, AUDIO_SECOND, T)
        .await
        .expect("audio after the host's reconnect");
    assert_eq!(s.track_id, Some(second_audio));
    world.stop().await;
}
