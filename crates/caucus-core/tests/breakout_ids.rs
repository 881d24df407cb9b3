//! Breakout ids have their own counter: a session's first rooms are `b1`, `b2`… however many
//! peers, tracks and requests came before; ids stay unique within the session, and rooms
//! created after a restored plan never take one of its ids.
#![allow(clippy::unwrap_used)]

use caucus_core::sim::Sim;
use caucus_core::{Actor, BreakoutOp, Command, SavedPlan, SavedRoom};
use caucus_proto::{BreakoutId, Source, Visibility};

fn ids(sim: &Sim) -> Vec<BreakoutId> {
    sim.session.breakouts().rooms().map(|r| r.id()).collect()
}

#[test]
fn the_first_rooms_are_b1_and_b2_whatever_was_issued_before() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    sim.join("gus", "guest");
    sim.join("ida", "guest");
    sim.by(
        host,
        Command::Publish {
            source: Source::Audio,
            muted: false,
        },
    )
    .unwrap();
    let rooms = sim.create_rooms(2);
    assert_eq!(rooms, [BreakoutId::new(1), BreakoutId::new(2)]);
    assert_eq!(rooms[0].to_string(), "b1");
    // A removed room's id is not issued again within the session.
    sim.breakouts(Actor::Server, BreakoutOp::Remove { breakout: rooms[1] })
        .unwrap();
    assert_eq!(sim.create_rooms(1), [BreakoutId::new(3)]);
    assert_eq!(ids(&sim), [BreakoutId::new(1), BreakoutId::new(3)]);
    // Peers still count on their own: the next peer is not held back by the rooms.
    let late = sim.join("late", "guest");
    assert!(late.get() > 4, "{late}");
}

#[test]
fn rooms_created_after_a_restored_plan_follow_every_saved_id() {
    let mut sim = Sim::new();
    let saved = |id: u64, name: &str| SavedRoom {
        id: BreakoutId::new(id),
        name: name.into(),
        capacity: None,
        password: None,
        visibility: Visibility::Isolated,
    };
    let skipped = sim
        .session
        .restore_breakouts(
            sim.now,
            SavedPlan {
                // The third repeats a name and is left out; its id stays taken all the same.
                rooms: vec![saved(2, "Design"), saved(5, "Ideas"), saved(9, "design")],
                ..SavedPlan::default()
            },
        )
        .unwrap();
    sim.drain();
    assert_eq!(skipped.len(), 1);
    assert_eq!(ids(&sim), [BreakoutId::new(2), BreakoutId::new(5)]);
    let created = sim.create_rooms(2);
    assert_eq!(created, [BreakoutId::new(10), BreakoutId::new(11)]);
}
