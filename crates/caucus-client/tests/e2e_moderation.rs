//! What a moderator does to other peers — from wherever it stands — judged by the media that
//! arrives: listen-in, broadcast, remote mute, removal, and a role change that revokes tracks.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use caucus_client::{Client, ClientEvent, EventStream};
use caucus_proto::event::{LeaveReason, TrackEndReason};
use caucus_proto::{BreakoutId, Location, PeerId, ServerEvent, Source, TrackId};
use common::{
    AUDIO_SECOND, T, World, packets_from, senders, talk, wait_acting_as, wait_more, wait_moved,
    wait_track_ended,
};

/// A guest standing in a breakout room, publishing audio and video there.
struct Talker {
    client: Client,
    events: EventStream,
    audio: TrackId,
    video: TrackId,
}

impl Talker {
    fn id(&self) -> PeerId {
        self.client.peer_id()
    }
}

/// `manager` opens one room per entry of `rooms` and moves each entry's guests there (forced);
/// once they act as `breakout`, they publish audio and video.
async fn guests_talking_in_rooms(
    world: &World,
    manager: &Client,
    rooms: &[&[&str]],
) -> (Vec<BreakoutId>, Vec<Vec<Talker>>) {
    let ids = manager
        .create_breakouts(u32::try_from(rooms.len()).unwrap(), None)
        .await
        .expect("create");
    manager.open_breakouts(None).await.expect("open");
    let mut all = Vec::new();
    for (room, users) in ids.iter().zip(rooms) {
        let mut talkers = Vec::new();
        for user in *users {
            let (client, mut events) = world.join(user, "guest").await;
            let to = Location::Breakout(*room);
            manager
                .move_peer(client.peer_id(), to, true)
                .await
                .expect("move");
            wait_moved(&mut events, client.peer_id(), to).await;
            wait_acting_as(&mut events, "breakout").await;
            let (audio, video) = talk(&client).await;
            talkers.push(Talker {
                client,
                events,
                audio,
                video,
            });
        }
        all.push(talkers);
    }
    (ids, all)
}

/// Every talker of a room hears and sees every other one.
async fn room_mates_receive_each_other(room: &[Talker]) {
    for me in room {
        for other in room.iter().filter(|o| o.id() != me.id()) {
            for source in [Source::Audio, Source::Video] {
                me.client
                    .wait_receiving_from(other.id(), source, T)
                    .await
                    .unwrap_or_else(|e| panic!("{} from {}: {e}", me.id(), other.id()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_listening_in_hears_a_room_without_being_heard_there_until_it_stops() {
    let world = World::start("listen-in").await;
    let (moderator, mut moderator_events) = world.join("mo", "moderator").await;
    let mo = moderator.peer_id();
    talk(&moderator).await;
    let (rooms, mut talkers) =
        guests_talking_in_rooms(&world, &moderator, &[&["ana", "ben"]]).await;
    let room = talkers.remove(0);
    let (ana, ben) = (&room[0], &room[1]);
    room_mates_receive_each_other(&room).await;
    wait_more(&ben.client, ana.id(), Source::Audio, AUDIO_SECOND / 2).await;
    assert_eq!(
        senders(&moderator),
        BTreeSet::new(),
        "from main, the room is not heard"
    );

    moderator
        .listen_in(Some(rooms[0]))
        .await
        .expect("listen in");
    let listening = moderator_events
        .wait_server(
            |e| match e {
                ServerEvent::ListeningTo { breakout_id } => Some(*breakout_id),
                _ => None,
            },
            T,
        )
        .await
        .expect("listening_to");
    assert_eq!(listening, Some(rooms[0]));
    for talker in &room {
        moderator
            .wait_received(talker.id(), Source::Audio, AUDIO_SECOND, T)
            .await
            .expect("the listener hears the room");
        moderator
            .wait_received(talker.id(), Source::Video, 30, T)
            .await
            .expect("and sees it");
        let s = moderator.received_from(talker.id(), Source::Audio).unwrap();
        assert_eq!(s.lost, 0, "{s:?}");
    }
    let expected: BTreeSet<PeerId> = [ana.id(), ben.id()].into();
    assert_eq!(senders(&moderator), expected);
    // The room never received the listener, though `breakout` subscribes to moderators.
    for talker in &room {
        assert_eq!(
            senders(&talker.client),
            [ana.id(), ben.id()]
                .into_iter()
                .filter(|p| *p != talker.id())
                .collect(),
            "{} received the listener",
            talker.id()
        );
        assert!(talker.client.received_from(mo, Source::Audio).is_none());
    }

    moderator.listen_in(None).await.expect("stop listening");
    let listening = moderator_events
        .wait_server(
            |e| match e {
                ServerEvent::ListeningTo { breakout_id } => Some(*breakout_id),
                _ => None,
            },
            T,
        )
        .await
        .expect("listening_to");
    assert_eq!(listening, None);
    for talker in &room {
        moderator
            .wait_silent_from(talker.id(), T)
            .await
            .expect("the room's media stops at the former listener");
    }
    let heard = packets_from(&moderator, ana.id(), Source::Audio);
    wait_more(&ben.client, ana.id(), Source::Audio, AUDIO_SECOND / 2).await;
    assert_eq!(
        packets_from(&moderator, ana.id(), Source::Audio),
        heard,
        "the room talks on, unheard"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcasting_host_is_heard_in_every_room_but_seen_only_in_main() {
    let world = World::start("broadcast").await;
    let (host, _host_events) = world.join("hana", "host").await;
    let (cai, _cai_events) = world.join("cai", "guest").await;
    let hana = host.peer_id();
    talk(&host).await;
    let (_rooms, talkers) = guests_talking_in_rooms(&world, &host, &[&["ana"], &["ben"]]).await;
    let in_rooms: Vec<&Talker> = talkers.iter().flatten().collect();
    for t in &in_rooms {
        t.client
            .wait_silent_from(hana, T)
            .await
            .expect("isolated rooms do not receive the host");
    }
    // Nobody in a room receives the host's video from now on.
    let video: Vec<u64> = in_rooms
        .iter()
        .map(|t| packets_from(&t.client, hana, Source::Video))
        .collect();

    host.set_broadcasting(true).await.expect("broadcast on");
    for t in &in_rooms {
        t.client
            .wait_receiving_from(hana, Source::Audio, T)
            .await
            .expect("the broadcast is heard in every room");
        wait_more(&t.client, hana, Source::Audio, AUDIO_SECOND).await;
    }
    for (t, before) in in_rooms.iter().zip(&video) {
        assert_eq!(
            packets_from(&t.client, hana, Source::Video),
            *before,
            "{} saw the broadcaster's video",
            t.id()
        );
        // Rooms stay isolated from each other.
        assert_eq!(senders(&t.client), [hana].into(), "{}", t.id());
    }
    // In main, the host is seen and heard as always.
    for source in [Source::Audio, Source::Video] {
        cai.wait_receiving_from(hana, source, T)
            .await
            .expect("main watches the host");
    }

    host.set_broadcasting(false).await.expect("broadcast off");
    for t in &in_rooms {
        t.client
            .wait_silent_from(hana, T)
            .await
            .expect("the rooms no longer hear the host");
    }
    cai.wait_receiving_from(hana, Source::Audio, T)
        .await
        .expect("main still hears the host");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_in_main_mutes_a_talking_guest_in_a_room_and_its_mates_stop_hearing_it() {
    let world = World::start("remote-mute").await;
    let (moderator, _moderator_events) = world.join("mo", "moderator").await;
    let mo = moderator.peer_id();
    let (_rooms, mut talkers) =
        guests_talking_in_rooms(&world, &moderator, &[&["ana", "ben"]]).await;
    let mut room = talkers.remove(0);
    room_mates_receive_each_other(&room).await;
    let (ana_id, ana_audio) = (room[0].id(), room[0].audio);
    wait_more(&room[1].client, ana_id, Source::Audio, AUDIO_SECOND / 2).await;

    moderator
        .mute_peer(ana_id, Some(Source::Audio))
        .await
        .expect("mute");
    for t in &mut room {
        let (muted, by) = t
            .events
            .wait_server(
                |e| match e {
                    ServerEvent::TrackMuted {
                        peer_id,
                        track_id,
                        muted,
                        by,
                    } if *peer_id == ana_id && *track_id == ana_audio => Some((*muted, *by)),
                    _ => None,
                },
                T,
            )
            .await
            .unwrap_or_else(|e| panic!("{} is told of the mute: {e}", t.id()));
        assert!(muted);
        assert_eq!(by, Some(mo), "the mute names who did it");
    }
    let (ana, ben) = (&room[0], &room[1]);
    ben.client
        .wait_silent_from_source(ana_id, Source::Audio, T)
        .await
        .expect("ana's audio stops reaching ben");
    // Only the audio: her video goes on, and she still hears ben.
    wait_more(&ben.client, ana_id, Source::Video, 30).await;
    ana.client
        .wait_receiving_from(ben.id(), Source::Audio, T)
        .await
        .expect("ana still hears ben");
    assert!(
        ana.client.published()[&Source::Audio].muted,
        "ana's SDK shows her muted"
    );
    let sent = ana.client.sent()[&Source::Audio].packets;
    wait_more(&ben.client, ana_id, Source::Video, 15).await;
    assert_eq!(
        ana.client.sent()[&Source::Audio].packets,
        sent,
        "a muted SDK sends no audio"
    );
    let video = ben.client.received_from(ana_id, Source::Video).unwrap();
    assert_eq!(video.track_id, Some(ana.video), "{video:?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_guest_is_told_and_disconnected_and_its_room_mates_stop_receiving_it() {
    let world = World::start("removal").await;
    let (moderator, mut moderator_events) = world.join("mo", "moderator").await;
    let (rooms, mut talkers) =
        guests_talking_in_rooms(&world, &moderator, &[&["ana", "ben"]]).await;
    let mut room = talkers.remove(0);
    room_mates_receive_each_other(&room).await;
    let ana_id = room[0].id();

    moderator
        .remove_peer(ana_id, Some("off topic".into()))
        .await
        .expect("remove");
    let reason = room[0]
        .events
        .wait_server(
            |e| match e {
                ServerEvent::Removed { reason } => Some(reason.clone()),
                _ => None,
            },
            T,
        )
        .await
        .expect("ana is told");
    assert_eq!(reason, "off topic");
    room[0]
        .events
        .wait_for(|e| matches!(e, ClientEvent::Disconnected { .. }), T)
        .await
        .expect("then her socket closes");
    assert!(
        room[0].client.ping().await.is_err(),
        "the removed client's connection is gone"
    );
    for events in [&mut room[1].events, &mut moderator_events] {
        let reason = events
            .wait_server(
                |e| match e {
                    ServerEvent::PeerLeft { peer_id, reason } if *peer_id == ana_id => {
                        Some(*reason)
                    }
                    _ => None,
                },
                T,
            )
            .await
            .expect("the others see her leave");
        assert_eq!(reason, LeaveReason::Removed);
    }
    let ben = &room[1];
    ben.client
        .wait_silent_from(ana_id, T)
        .await
        .expect("ana's media stops reaching ben");
    room[0]
        .client
        .wait_silent_from(ben.id(), T)
        .await
        .expect("and the room's media stops reaching ana");
    // A sustained window: the moderator listens in and hears ben talk on; ana is gone.
    let heard = packets_from(&ben.client, ana_id, Source::Audio);
    moderator
        .listen_in(Some(rooms[0]))
        .await
        .expect("listen in");
    wait_more(&moderator, ben.id(), Source::Audio, AUDIO_SECOND / 2).await;
    assert_eq!(packets_from(&ben.client, ana_id, Source::Audio), heard);
    assert!(moderator.received_from(ana_id, Source::Audio).is_none());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoting_a_publishing_moderator_to_guest_revokes_its_tracks_at_every_subscriber() {
    let world = World::start("demote").await;
    let (host, mut host_events) = world.join("hana", "host").await;
    let (co_host, _co_host_events) = world.join("cole", "co-host").await;
    let (moderator, mut moderator_events) = world.join("mo", "moderator").await;
    let mo = moderator.peer_id();
    let (audio, video) = talk(&moderator).await;
    for subscriber in [&host, &co_host] {
        for source in [Source::Audio, Source::Video] {
            subscriber
                .wait_receiving_from(mo, source, T)
                .await
                .expect("the stage receives the moderator");
        }
    }

    let request = host
        .change_role(mo, "guest", true)
        .await
        .expect("change role");
    assert_eq!(request, None, "forced");
    let may_publish = moderator_events
        .wait_server(
            |e| match e {
                ServerEvent::RoleChanged {
                    role, may_publish, ..
                } if role.as_str() == "guest" => Some(may_publish.clone()),
                _ => None,
            },
            T,
        )
        .await
        .expect("the moderator is told its new role");
    assert!(may_publish.is_empty(), "{may_publish:?}");
    for track in [audio, video] {
        assert_eq!(
            wait_track_ended(&mut moderator_events, mo, track).await,
            TrackEndReason::RoleRevoked
        );
        assert_eq!(
            wait_track_ended(&mut host_events, mo, track).await,
            TrackEndReason::RoleRevoked
        );
    }
    for subscriber in [&host, &co_host] {
        subscriber
            .wait_silent_from(mo, T)
            .await
            .expect("its media stops reaching the stage");
    }
    // Its SDK stopped the sources: nothing more is sent, and nothing more arrives.
    assert!(moderator.published().is_empty());
    let sent: Vec<u64> = moderator.sent().values().map(|s| s.packets).collect();
    let heard = packets_from(&host, mo, Source::Video);
    co_host.publish_audio().await.expect("co-host audio");
    wait_more(&host, co_host.peer_id(), Source::Audio, AUDIO_SECOND / 2).await;
    assert_eq!(
        moderator
            .sent()
            .values()
            .map(|s| s.packets)
            .collect::<Vec<_>>(),
        sent,
        "the demoted moderator still sends"
    );
    assert_eq!(packets_from(&host, mo, Source::Video), heard);
    world.stop().await;
}
