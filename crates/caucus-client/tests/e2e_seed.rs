//! The seed scenario on the built-in `breakout` template, against the real server: host,
//! co-host and moderator see and hear each other; guests receive the host and the co-host
//! only; a guest's publish is refused with `publish_not_allowed`.

mod common;

use std::collections::BTreeSet;

use caucus_client::Client;
use caucus_proto::{ErrorCode, PeerId, Source};
use common::{AUDIO_SECOND, T, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_sees_itself_and_guests_watch_host_and_co_host() {
    let world = World::start("seed").await;
    let (host, _e1) = world.join("hana", "host").await;
    let (co_host, _e2) = world.join("cole", "co-host").await;
    let (moderator, _e3) = world.join("mo", "moderator").await;
    let (ana, _e4) = world.join("ana", "guest").await;
    let (ben, _e5) = world.join("ben", "guest").await;

    for stage in [&host, &co_host, &moderator] {
        stage
            .publish_audio()
            .await
            .expect("the stage may publish audio");
        stage
            .publish_video()
            .await
            .expect("the stage may publish video");
    }
    for guest in [&ana, &ben] {
        for source in [Source::Audio, Source::Video] {
            let err = guest
                .publish(source)
                .await
                .expect_err("guests may not publish");
            assert_eq!(err.code(), Some(ErrorCode::PublishNotAllowed), "{err}");
        }
        assert!(guest.published().is_empty());
        assert!(guest.sent().values().all(|s| s.packets == 0));
    }

    let stage = [&host, &co_host, &moderator];
    // Everyone on stage sees and hears the other two.
    for me in stage {
        let others: Vec<PeerId> = stage
            .iter()
            .map(|c| c.peer_id())
            .filter(|p| *p != me.peer_id())
            .collect();
        receives_exactly(me, &others).await;
    }
    // Guests receive the host and the co-host, not the moderator (nor each other).
    for guest in [&ana, &ben] {
        receives_exactly(guest, &[host.peer_id(), co_host.peer_id()]).await;
    }

    world.stop().await;
}

/// Waits for a second of audio and video from each of `from`, and then checks that nothing
/// arrived from anyone else and nothing was lost. The second of waiting is what gives an
/// unwanted stream time to show up: no sleep needed.
async fn receives_exactly(client: &Client, from: &[PeerId]) {
    for peer in from {
        for (source, packets) in [(Source::Audio, AUDIO_SECOND), (Source::Video, 45)] {
            client
                .wait_received(*peer, source, packets, T)
                .await
                .unwrap_or_else(|e| panic!("{} from {peer}: {e}", client.peer_id()));
        }
    }
    let received = client.received();
    let senders: BTreeSet<PeerId> = received.keys().map(|(p, _)| *p).collect();
    let expected: BTreeSet<PeerId> = from.iter().copied().collect();
    assert_eq!(senders, expected, "{} receives from", client.peer_id());
    for ((peer, source), s) in &received {
        assert_eq!(
            s.lost,
            0,
            "{} lost {source} of {peer}: {s:?}",
            client.peer_id()
        );
    }
    let report = client.receive_report();
    assert_eq!(report.undecodable + report.mislabeled, 0, "{report:?}");
}
