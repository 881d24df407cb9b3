//! Signaling stays inside the room, like media: no event names a peer or a track its receiver
//! may not know of (`caucus_core::knowledge` states the rule; the `Sim` checks every effect).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{Actor, Assignee, BreakoutOp, Command, Outcome};
use caucus_proto::event::TrackEndReason;
use caucus_proto::{BreakoutId, Location, PeerId, ServerEvent, Source, TrackId};

const SERVER: Actor = Actor::Server;

fn publish(sim: &mut Sim, peer: PeerId, source: Source) -> TrackId {
    match sim.by(
        peer,
        Command::Publish {
            source,
            muted: false,
        },
    ) {
        Ok(Outcome::Published { track }) => track,
        other => panic!("publishing answered {other:?}"),
    }
}

/// Guests with the tracks each publishes.
type Guests = Vec<(PeerId, Vec<TrackId>)>;

/// A host and `per_room` guests in each of two open rooms, every guest talking on camera and
/// microphone. Returns the rooms and, per room, its guests with their tracks.
fn two_rooms_with_tracks(sim: &mut Sim, per_room: usize) -> (Vec<BreakoutId>, Vec<Guests>) {
    sim.join("hana", "host");
    let guests: Vec<PeerId> = (0..per_room * 2)
        .map(|i| sim.join(&format!("guest{i}"), "guest"))
        .collect();
    let plan: Vec<(PeerId, usize)> = guests.iter().map(|g| (*g, g.get() as usize % 2)).collect();
    let rooms = sim.open_rooms(2, &plan);
    let mut by_room = vec![Vec::new(), Vec::new()];
    for (g, i) in plan {
        assert_eq!(
            sim.peer(g).unwrap().location(),
            Location::Breakout(rooms[i])
        );
        let tracks = vec![
            publish(sim, g, Source::Audio),
            publish(sim, g, Source::Video),
        ];
        by_room[i].push((g, tracks));
    }
    (rooms, by_room)
}

/// The tracks of other rooms that `guest` was told ended.
fn told_of_foreign_tracks(
    sim: &mut Sim,
    guest: PeerId,
    foreign: &[(PeerId, Vec<TrackId>)],
) -> Vec<String> {
    sim.take_inbox(guest)
        .iter()
        .filter_map(|e| match &**e {
            ServerEvent::TrackUnpublished {
                peer_id, track_id, ..
            }
            | ServerEvent::TrackMuted {
                peer_id, track_id, ..
            } if foreign
                .iter()
                .any(|(p, ts)| p == peer_id && ts.contains(track_id)) =>
            {
                Some(format!("{e:?}"))
            }
            _ => None,
        })
        .collect()
}

fn check_closing(per_room: usize, close: impl FnOnce(&mut Sim)) {
    let mut sim = Sim::new();
    let (_, by_room) = two_rooms_with_tracks(&mut sim, per_room);
    for (g, _) in by_room.iter().flatten() {
        sim.take_inbox(*g);
    }
    close(&mut sim);
    for (i, room) in by_room.iter().enumerate() {
        let other = &by_room[1 - i];
        for (g, own) in room {
            let loc = sim.peer(*g).unwrap().location();
            assert_eq!(loc, Location::Main, "{g} is back in main");
            let inbox = sim.inbox.get(g).cloned().unwrap_or_default();
            // It hears that its own tracks ended (a guest may not publish in main)…
            for t in own {
                assert!(
                    inbox.iter().any(|e| matches!(&**e,
                        ServerEvent::TrackUnpublished { peer_id, track_id, reason }
                            if peer_id == g && track_id == t
                                && *reason == TrackEndReason::RoleRevoked)),
                    "{g} is told its own {t} ended"
                );
            }
            // …and its room-mates' tracks, which it knew…
            for (mate, tracks) in room.iter().filter(|(m, _)| m != g) {
                for t in tracks {
                    assert!(
                        inbox.iter().any(|e| matches!(&**e,
                            ServerEvent::TrackUnpublished { peer_id, track_id, .. }
                                if peer_id == mate && track_id == t)),
                        "{g} is told {mate}'s {t} ended"
                    );
                }
            }
            // …but nothing about the other room's tracks, which it never knew.
            let foreign = told_of_foreign_tracks(&mut sim, *g, other);
            assert!(
                foreign.is_empty(),
                "{g} was told about tracks of the other room: {foreign:#?}"
            );
        }
    }
    assert_eq!(sim.unknown_named, Vec::<String>::new());
}

#[test]
fn closing_all_now_tells_each_guest_only_of_its_own_rooms_tracks() {
    check_closing(2, |sim| {
        sim.breakouts(
            SERVER,
            BreakoutOp::Close {
                countdown_s: Some(0),
                breakout: None,
            },
        )
        .unwrap();
    });
}

#[test]
fn a_countdown_that_runs_out_tells_each_guest_only_of_its_own_rooms_tracks() {
    check_closing(2, |sim| {
        sim.breakouts(
            SERVER,
            BreakoutOp::Close {
                countdown_s: Some(10),
                breakout: None,
            },
        )
        .unwrap();
        sim.advance(Duration::from_secs(10));
    });
}

/// More than 32 peers at once take the bulk path (every desired set recomputed).
#[test]
fn a_bulk_close_tells_each_guest_only_of_its_own_rooms_tracks() {
    check_closing(20, |sim| {
        sim.breakouts(
            SERVER,
            BreakoutOp::Close {
                countdown_s: Some(0),
                breakout: None,
            },
        )
        .unwrap();
    });
}

#[test]
fn moving_everyone_back_by_assignment_tells_each_guest_only_of_its_own_rooms_tracks() {
    check_closing(2, |sim| {
        let everyone: Vec<PeerId> = sim
            .session
            .peers()
            .filter(|p| p.location().is_breakout())
            .map(|p| p.id())
            .collect();
        let assignments = everyone
            .into_iter()
            .map(|p| (Assignee::Peer(p), Location::Main))
            .collect();
        sim.breakouts(SERVER, BreakoutOp::Assign { assignments })
            .unwrap();
    });
}

/// A guest planned into a room that joins while rooms are open lands there directly; when the
/// rooms close, guests of the other room are not told of its tracks either.
#[test]
fn a_newcomer_placed_straight_into_a_room_stays_unknown_to_the_other_room() {
    let mut sim = Sim::new();
    let (rooms, by_room) = two_rooms_with_tracks(&mut sim, 1);
    let late_user = caucus_proto::UserId::from("late");
    let mut pre = std::collections::BTreeMap::new();
    pre.insert(late_user, caucus_core::BreakoutRef::Id(rooms[0]));
    sim.breakouts(SERVER, BreakoutOp::SetPreassignments { by_user_id: pre })
        .unwrap();
    let late = sim.join("late", "guest");
    assert_eq!(
        sim.peer(late).unwrap().location(),
        Location::Breakout(rooms[0])
    );
    let track = publish(&mut sim, late, Source::Audio);
    let (other_guest, _) = by_room[1][0];
    sim.take_inbox(other_guest);
    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(0),
            breakout: None,
        },
    )
    .unwrap();
    let foreign = told_of_foreign_tracks(&mut sim, other_guest, &[(late, vec![track])]);
    assert!(foreign.is_empty(), "{foreign:#?}");
    assert_eq!(sim.unknown_named, Vec::<String>::new());
}
