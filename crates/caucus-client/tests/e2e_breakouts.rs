//! Two breakout rooms run by a moderator, against the real server, judged by the media each
//! participant actually receives: rooms are isolated from each other, a `main_stage` room keeps
//! watching the host while an isolated one does not, and closing with a countdown brings
//! everyone back to main, where guests lose their breakout-time tracks and watch the host again.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use caucus_client::{Client, ClientEvent, EventStream};
use caucus_proto::event::{RequestKind, RequestOutcome, TrackEndReason};
use caucus_proto::signal::BreakoutUpdate;
use caucus_proto::{Location, PeerId, ServerEvent, Source, TrackId, Visibility};
use common::{
    AUDIO_SECOND, T, World, packets_from, senders, talk, wait_acting_as, wait_more, wait_moved,
    wait_track_ended,
};

struct Guest {
    client: Client,
    events: EventStream,
    room: Location,
    /// The audio and video tracks it published in its room.
    tracks: Vec<TrackId>,
}

impl Guest {
    fn id(&self) -> PeerId {
        self.client.peer_id()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_breakout_rooms_are_isolated_from_each_other_and_only_the_main_stage_room_watches_the_host()
 {
    let world = World::start("breakouts").await;
    let (host, mut host_events) = world.join("hana", "host").await;
    let (moderator, mut moderator_events) = world.join("mo", "moderator").await;
    let mut guests = Vec::new();
    for user in ["ana", "ben", "cai", "dee"] {
        let (client, events) = world.join(user, "guest").await;
        guests.push((client, events));
    }
    let hana = host.peer_id();
    talk(&host).await;
    for (guest, _) in &guests {
        for source in [Source::Audio, Source::Video] {
            guest
                .wait_receiving_from(hana, source, T)
                .await
                .expect("guests watch the host in main");
        }
    }

    // Two rooms; room 1 keeps watching the host, room 2 is isolated.
    let rooms = moderator.create_breakouts(2, None).await.expect("create");
    assert_eq!(rooms.len(), 2);
    let (room1, room2) = (Location::Breakout(rooms[0]), Location::Breakout(rooms[1]));
    moderator
        .update_breakout(
            rooms[0],
            BreakoutUpdate {
                visibility: Some(Visibility::MainStage {
                    roles: vec!["host".into()],
                }),
                ..BreakoutUpdate::default()
            },
        )
        .await
        .expect("room 1 watches the main stage");
    moderator.open_breakouts(None).await.expect("open");

    // Guests 1–3 are moved by force.
    for (i, to) in [(0, room1), (1, room1), (2, room2)] {
        let id = guests[i].0.peer_id();
        let request = moderator.move_peer(id, to, true).await.expect("move");
        assert_eq!(request, None, "a forced move needs no answer");
    }
    // Guest 4 is asked, and accepts.
    let dee = guests[3].0.peer_id();
    let request = moderator
        .move_peer(dee, room2, false)
        .await
        .expect("move request")
        .expect("an unforced move is a request");
    let asked = guests[3]
        .1
        .wait_server(
            |e| match e {
                ServerEvent::RequestReceived { request: r } if r.id == request => Some(r.clone()),
                _ => None,
            },
            T,
        )
        .await
        .expect("guest 4 is asked");
    assert_eq!(asked.kind, RequestKind::Move { to: room2 });
    assert_eq!((asked.from, asked.target), (Some(moderator.peer_id()), dee));
    guests[3]
        .0
        .wait_receiving_from(hana, Source::Audio, T)
        .await
        .expect("until it accepts, guest 4 stays in main with the host");
    guests[3]
        .0
        .respond_request(request, true)
        .await
        .expect("guest 4 accepts");
    let outcome = moderator_events
        .wait_server(
            |e| match e {
                ServerEvent::RequestResolved {
                    request_id,
                    outcome,
                } if *request_id == request => Some(*outcome),
                _ => None,
            },
            T,
        )
        .await
        .expect("the moderator learns the answer");
    assert_eq!(outcome, RequestOutcome::Accepted);

    let mut guests: Vec<Guest> = guests
        .into_iter()
        .zip([room1, room1, room2, room2])
        .map(|((client, events), room)| Guest {
            client,
            events,
            room,
            tracks: Vec::new(),
        })
        .collect();
    for g in &mut guests {
        let me = g.id();
        assert_eq!(wait_moved(&mut g.events, me, g.room).await, Location::Main);
        wait_acting_as(&mut g.events, "breakout").await;
    }
    // Room 2 stops receiving the host. From here on its count of the host's packets is frozen.
    for g in guests.iter().filter(|g| g.room == room2) {
        g.client
            .wait_silent_from(hana, T)
            .await
            .expect("the isolated room no longer receives the host");
    }
    let frozen: Vec<(u64, u64)> = guests
        .iter()
        .map(|g| {
            (
                packets_from(&g.client, hana, Source::Audio),
                packets_from(&g.client, hana, Source::Video),
            )
        })
        .collect();

    // Everyone talks in its room (as `breakout`, guests may).
    for g in &mut guests {
        let (audio, video) = talk(&g.client).await;
        g.tracks = vec![audio, video];
    }
    // A sustained window: two seconds of each room mate's audio, and video alongside.
    let mate_of = |i: usize| i ^ 1;
    for (i, g) in guests.iter().enumerate() {
        let mate = guests[mate_of(i)].id();
        g.client
            .wait_received(mate, Source::Audio, 2 * AUDIO_SECOND, T)
            .await
            .unwrap_or_else(|e| panic!("guest {} hears its room mate: {e}", i + 1));
        g.client
            .wait_received(mate, Source::Video, 60, T)
            .await
            .unwrap_or_else(|e| panic!("guest {} sees its room mate: {e}", i + 1));
    }
    for (i, g) in guests.iter().enumerate() {
        let mate = guests[mate_of(i)].id();
        let expected: BTreeSet<PeerId> = [hana, mate].into();
        assert_eq!(
            senders(&g.client),
            expected,
            "guest {} received from exactly the host (earlier or still) and its room mate",
            i + 1
        );
        for source in [Source::Audio, Source::Video] {
            let s = g.client.received_from(mate, source).unwrap();
            assert_eq!(
                s.lost,
                0,
                "guest {} lost {source} of its mate: {s:?}",
                i + 1
            );
        }
        let report = g.client.receive_report();
        assert_eq!(report.undecodable + report.mislabeled, 0, "{report:?}");
    }
    // Room 1 still watches the host, through the move and now; room 2 got nothing more.
    for (i, g) in guests.iter().enumerate() {
        if g.room == room1 {
            for source in [Source::Audio, Source::Video] {
                g.client
                    .wait_receiving_from(hana, source, T)
                    .await
                    .unwrap_or_else(|e| panic!("guest {} still watches the host: {e}", i + 1));
            }
            let s = g.client.received_from(hana, Source::Audio).unwrap();
            assert_eq!(
                s.lost, 0,
                "the move into a main-stage room is seamless: {s:?}"
            );
        } else {
            let now = (
                packets_from(&g.client, hana, Source::Audio),
                packets_from(&g.client, hana, Source::Video),
            );
            assert_eq!(now, frozen[i], "guest {} (room 2) received the host", i + 1);
        }
    }
    // Main does not receive the rooms.
    assert_eq!(senders(&host), BTreeSet::new(), "the host received a room");
    assert_eq!(
        senders(&moderator),
        [hana].into(),
        "the moderator received a room"
    );

    // Close every room with a two-second countdown.
    moderator
        .close_breakouts(Some(2), None)
        .await
        .expect("close with a countdown");
    for events in [&mut host_events, &mut moderator_events]
        .into_iter()
        .chain(guests.iter_mut().map(|g| &mut g.events))
    {
        let countdown = events
            .wait_server(
                |e| match e {
                    ServerEvent::BreakoutsClosing {
                        breakout_id: None,
                        countdown_ms,
                    } => Some(*countdown_ms),
                    _ => None,
                },
                T,
            )
            .await
            .expect("everyone sees the countdown");
        assert_eq!(countdown, 2000);
    }
    // During the countdown, the rooms still talk.
    for (i, g) in guests.iter().enumerate() {
        g.client
            .wait_receiving_from(guests[mate_of(i)].id(), Source::Audio, T)
            .await
            .unwrap_or_else(|e| panic!("guest {} hears its mate while closing: {e}", i + 1));
    }

    // Back in main: moved, a guest again, breakout-time tracks revoked.
    for g in &mut guests {
        let me = g.id();
        assert_eq!(wait_moved(&mut g.events, me, Location::Main).await, g.room);
        wait_acting_as(&mut g.events, "guest").await;
    }
    let mut seen = BTreeSet::new();
    while seen.len() < guests.len() {
        let moves = moderator_events
            .wait_server(
                |e| match e {
                    ServerEvent::PeersMoved { moves } => Some(moves.clone()),
                    _ => None,
                },
                T,
            )
            .await
            .expect("the moderator sees everyone return");
        for g in moves.into_iter().filter(|g| g.to == Location::Main) {
            seen.extend(g.peers);
        }
    }
    assert_eq!(seen, guests.iter().map(Guest::id).collect());
    for g in &mut guests {
        let me = g.id();
        for track in g.tracks.clone() {
            let reason = wait_track_ended(&mut g.events, me, track).await;
            assert_eq!(reason, TrackEndReason::RoleRevoked, "{me}'s {track}");
        }
    }
    // Main-room routing again: every guest receives the host, and no longer its mate.
    for (i, g) in guests.iter().enumerate() {
        for source in [Source::Audio, Source::Video] {
            g.client
                .wait_receiving_from(hana, source, T)
                .await
                .unwrap_or_else(|e| panic!("guest {} watches the host again: {e}", i + 1));
        }
        g.client
            .wait_silent_from(guests[mate_of(i)].id(), T)
            .await
            .unwrap_or_else(|e| panic!("guest {} still receives its mate: {e}", i + 1));
    }
    // The SDK stopped sending: over a further half second, nothing more leaves a guest.
    let sent_packets = |c: &Client| -> Vec<u64> { c.sent().values().map(|s| s.packets).collect() };
    let sent: Vec<Vec<u64>> = guests.iter().map(|g| sent_packets(&g.client)).collect();
    wait_more(&guests[0].client, hana, Source::Audio, AUDIO_SECOND / 2).await;
    for (i, g) in guests.iter().enumerate() {
        assert!(g.client.published().is_empty(), "guest {} publishes", i + 1);
        assert_eq!(
            sent_packets(&g.client),
            sent[i],
            "guest {} still sends",
            i + 1
        );
    }
    for g in &mut guests {
        assert!(
            !g.events
                .drain()
                .iter()
                .any(|e| matches!(e, ClientEvent::Disconnected { .. })),
            "the moves kept the connection"
        );
    }
    assert!(
        host_events
            .drain()
            .iter()
            .all(|e| !matches!(e, ClientEvent::Disconnected { .. })),
        "the host kept its connection"
    );
    world.stop().await;
}
