//! A guest inside a breakout room loses its connection and comes back within the grace: the
//! server resumes the same peer in the same room, and once it publishes again its room mate
//! receives it again — judged by the media that arrives.

#![allow(clippy::unwrap_used)]

mod common;

use caucus_client::{Client, ClientEvent, ClientOptions, EventStream};
use caucus_proto::event::{PeerInfo, TrackEndReason};
use caucus_proto::{Location, PeerId, ServerEvent, Source, TrackId};
use common::{AUDIO_SECOND, T, World, senders, talk, wait_acting_as, wait_moved, wait_track_ended};

/// A moderator in main, and two guests talking in one breakout room.
struct Room {
    world: World,
    moderator: Client,
    room: Location,
    /// (client, events, token, [audio, video])
    guests: Vec<(Client, EventStream, String, [TrackId; 2])>,
}

async fn two_guests_talking_in_a_room(name: &str) -> Room {
    let world = World::start(name).await;
    let (moderator, _events) = world.join("mo", "moderator").await;
    let rooms = moderator.create_breakouts(1, None).await.expect("create");
    moderator.open_breakouts(None).await.expect("open");
    let room = Location::Breakout(rooms[0]);
    let mut guests = Vec::new();
    for user in ["ana", "ben"] {
        let token = world.server.join_token(&world.room, user, "guest");
        let (client, mut events) = connect(&world, &token).await;
        moderator
            .move_peer(client.peer_id(), room, true)
            .await
            .expect("move");
        wait_moved(&mut events, client.peer_id(), room).await;
        wait_acting_as(&mut events, "breakout").await;
        let (audio, video) = talk(&client).await;
        guests.push((client, events, token, [audio, video]));
    }
    for (me, other) in [(0, 1), (1, 0)] {
        let from = guests[other].0.peer_id();
        for source in [Source::Audio, Source::Video] {
            guests[me]
                .0
                .wait_receiving_from(from, source, T)
                .await
                .expect("room mates receive each other");
        }
    }
    Room {
        world,
        moderator,
        room,
        guests,
    }
}

async fn connect(world: &World, token: &str) -> (Client, EventStream) {
    Client::connect(
        &world.server.signaling_url(),
        token,
        ClientOptions::default(),
    )
    .await
    .expect("join")
}

/// The `joined` event of a resumed join: the peer as the server kept it.
async fn wait_resumed_join(events: &mut EventStream) -> (PeerInfo, bool) {
    events
        .wait_server(
            |e| match e {
                ServerEvent::Joined {
                    peer,
                    is_breakout,
                    resumed: true,
                    ..
                } => Some((peer.clone(), *is_breakout)),
                _ => None,
            },
            T,
        )
        .await
        .expect("a `joined` event with resumed: true")
}

/// Waits until `peer` publishes `source` again; returns the new track.
async fn wait_published(events: &mut EventStream, peer: PeerId, source: Source) -> TrackId {
    events
        .wait_server(
            |e| match e {
                ServerEvent::TrackPublished { peer_id, track }
                    if *peer_id == peer && track.source == source =>
                {
                    Some(track.id)
                }
                _ => None,
            },
            T,
        )
        .await
        .unwrap_or_else(|e| panic!("no track_published of {peer}'s {source}: {e}"))
}

/// `receiver` gets a second of `peer`'s new `track` (counted from zero), without loss.
async fn receives_new_track(receiver: &Client, peer: PeerId, source: Source, track: TrackId) {
    let packets = match source {
        Source::Audio => AUDIO_SECOND,
        _ => 45,
    };
    let s = receiver
        .wait_received(peer, source, packets, T)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{} receives {peer}'s {source} again: {e}",
                receiver.peer_id()
            )
        });
    assert_eq!(s.track_id, Some(track), "{s:?}");
    assert_eq!(s.lost, 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_reconnecting_inside_a_breakout_is_resumed_there_and_heard_again() {
    let Room {
        world,
        moderator,
        room,
        mut guests,
    } = two_guests_talking_in_a_room("reconnect-in-room").await;
    let (mut ben, mut ben_events, _, _) = guests.pop().unwrap();
    let (mut ana, mut ana_events, _, old_tracks) = guests.pop().unwrap();
    let ana_id = ana.peer_id();
    ana_events.clear();
    ben_events.clear();

    ana.reconnect().await.expect("ana reconnects");
    assert_eq!(ana.peer_id(), ana_id, "the same peer");
    assert!(ana.resumed());
    ana_events
        .wait_for(|e| matches!(e, ClientEvent::Disconnected { .. }), T)
        .await
        .expect("the old connection's end is announced");
    let (me, is_breakout) = wait_resumed_join(&mut ana_events).await;
    assert!(is_breakout, "joined says: in a breakout");
    assert_eq!(me.id, ana_id);
    assert_eq!(me.location, room, "still in the same room");
    assert_eq!(me.role.as_str(), "guest");
    assert_eq!(me.acting_role.as_str(), "breakout");

    // Her old tracks ended; the SDK published new ones, and ben receives those.
    for track in old_tracks {
        assert_eq!(
            wait_track_ended(&mut ben_events, ana_id, track).await,
            TrackEndReason::Disconnected
        );
    }
    let new_audio = wait_published(&mut ben_events, ana_id, Source::Audio).await;
    let new_video = wait_published(&mut ben_events, ana_id, Source::Video).await;
    assert_eq!(ana.track_id(Source::Audio), Some(new_audio));
    assert_eq!(ana.track_id(Source::Video), Some(new_video));
    assert!(!old_tracks.contains(&new_audio) && !old_tracks.contains(&new_video));
    ben.reset_received();
    ana.reset_received();
    receives_new_track(&ben, ana_id, Source::Audio, new_audio).await;
    receives_new_track(&ben, ana_id, Source::Video, new_video).await;
    // And she receives the room again on her new connection.
    let s = ana
        .wait_received(ben.peer_id(), Source::Audio, AUDIO_SECOND, T)
        .await
        .expect("ana hears ben again");
    assert_eq!(s.lost, 0, "{s:?}");
    assert!(
        senders(&moderator).is_empty(),
        "main does not hear the room"
    );

    // The same holds the other way round, for the peer that stayed.
    let ben_id = ben.peer_id();
    ben.reconnect().await.expect("ben reconnects");
    assert_eq!((ben.peer_id(), ben.resumed()), (ben_id, true));
    let (me, is_breakout) = wait_resumed_join(&mut ben_events).await;
    assert!(is_breakout);
    assert_eq!(me.location, room);
    ana.reset_received();
    let ben_audio = ben.track_id(Source::Audio).expect("republished");
    receives_new_track(&ana, ben_id, Source::Audio, ben_audio).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_whose_client_dies_in_a_breakout_joins_again_with_its_token_into_the_same_room() {
    let Room {
        world,
        moderator,
        room,
        mut guests,
    } = two_guests_talking_in_a_room("rejoin-in-room").await;
    let (ben, mut ben_events, _, _) = guests.pop().unwrap();
    let (ana, _ana_events, token, old_tracks) = guests.pop().unwrap();
    let ana_id = ana.peer_id();

    // The client dies: no `leave`.
    ana.close();
    let gone = ben_events
        .wait_server(
            |e| match e {
                ServerEvent::PeerUpdated { peer } if peer.id == ana_id && !peer.connected => {
                    Some(peer.location)
                }
                _ => None,
            },
            T,
        )
        .await
        .expect("ben sees ana disconnected");
    assert_eq!(gone, room, "she keeps her place while away");
    for track in old_tracks {
        assert_eq!(
            wait_track_ended(&mut ben_events, ana_id, track).await,
            TrackEndReason::Disconnected
        );
    }
    ben.wait_silent_from(ana_id, T)
        .await
        .expect("her media stops");

    // A new client with the same token: the same peer, in the same room.
    let (ana, mut ana_events) = connect(&world, &token).await;
    assert_eq!(ana.peer_id(), ana_id);
    assert!(ana.resumed());
    let (me, is_breakout) = wait_resumed_join(&mut ana_events).await;
    assert!(is_breakout);
    assert_eq!((me.id, me.location), (ana_id, room));
    assert_eq!(me.acting_role.as_str(), "breakout");
    // Nothing is published until she publishes again (as `breakout`, she may).
    assert!(ana.published().is_empty());
    let (audio, video) = talk(&ana).await;
    ben.reset_received();
    receives_new_track(&ben, ana_id, Source::Audio, audio).await;
    receives_new_track(&ben, ana_id, Source::Video, video).await;
    receives_new_track(
        &ana,
        ben.peer_id(),
        Source::Audio,
        ben.track_id(Source::Audio).unwrap(),
    )
    .await;
    assert!(
        senders(&moderator).is_empty(),
        "main does not hear the room"
    );
    world.stop().await;
}
