//! A move into a breakout room and back, against the real server: routing follows the
//! location at once, over the same connections.

mod common;

use caucus_proto::{Location, ServerEvent, Source};
use common::{T, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_moved_into_a_breakout_talk_there_and_lose_it_back_in_main() {
    let world = World::start("split").await;
    let (host, _he) = world.join("hana", "host").await;
    let (ana, mut ana_events) = world.join("ana", "guest").await;
    let (ben, _be) = world.join("ben", "guest").await;
    let hana = host.peer_id();
    host.publish_audio().await.expect("host audio");
    ben.wait_received(hana, Source::Audio, 10, T)
        .await
        .expect("guests hear the host in main");

    let rooms = host.create_breakouts(1, None).await.expect("create");
    host.open_breakouts(None).await.expect("open");
    let room = Location::Breakout(rooms[0]);
    for guest in [&ana, &ben] {
        let request = host
            .move_peer(guest.peer_id(), room, true)
            .await
            .expect("forced move");
        assert_eq!(request, None, "a forced move needs no answer");
    }
    ana_events
        .wait_server(
            |e| match e {
                ServerEvent::RoleChanged { acting_role, .. } => {
                    (acting_role.as_str() == "breakout").then_some(())
                }
                _ => None,
            },
            T,
        )
        .await
        .expect("ana acts as `breakout` in the room");

    // The room is isolated: the host's audio stops reaching the guests.
    ben.wait_silent_from(hana, T)
        .await
        .expect("the host is not heard in the room");
    // In the room a guest may talk, and the other hears it.
    ana.publish_audio()
        .await
        .expect("the breakout role may publish");
    ben.wait_received(ana.peer_id(), Source::Audio, 10, T)
        .await
        .expect("ben hears ana in the room");
    assert!(
        host.received_from(ana.peer_id(), Source::Audio).is_none(),
        "the host, in main, does not hear the room"
    );

    // Back in main, ana is a guest again: her track is revoked and the host is heard again.
    host.move_peer(ana.peer_id(), Location::Main, true)
        .await
        .expect("move back");
    ben.wait_silent_from(ana.peer_id(), T)
        .await
        .expect("ana's audio stops reaching the room");
    ana.wait_receiving_from(hana, Source::Audio, T)
        .await
        .expect("ana hears the host again");
    ana_events
        .wait_server(
            |e| match e {
                ServerEvent::TrackUnpublished { peer_id, .. } if *peer_id == ana.peer_id() => {
                    Some(())
                }
                _ => None,
            },
            T,
        )
        .await
        .expect("ana's track ends: guests may not publish in main");
    assert_eq!(ana.track_id(Source::Audio), None, "and her client stops it");
    world.stop().await;
}
