//! The differential check: the same people reaching the same breakout rooms by moves (room 0)
//! and by fresh joins into pre-assigned rooms (room 1) receive exactly the same set of
//! (publisher, source) once settled.

use std::collections::BTreeSet;
use std::time::Duration;

use caucus_sim::{Plan, World};

/// A client's name without its room prefix (`r0-guest3` → `guest3`).
fn person(name: &str) -> &str {
    name.split_once('-').map_or(name, |(_, rest)| rest)
}

#[test]
fn moves_and_fresh_joins_reach_the_same_tracks() {
    for seed in 0..8 {
        let plan = Plan::twin(seed);
        let settled = plan.duration - Duration::from_secs(1);
        let (findings, received) = World::new(plan).run_received();
        let failures = findings.failures();
        assert!(failures.is_empty(), "seed {seed}: {failures:?}");
        let sets = |room: &str| {
            received
                .iter()
                .filter(|(name, _)| name.starts_with(room))
                .map(|(name, packets)| {
                    let got: BTreeSet<(String, &str)> = packets
                        .iter()
                        .filter(|p| p.at >= settled)
                        .map(|p| (person(&p.from).to_owned(), p.kind.label()))
                        .collect();
                    (person(name).to_owned(), got)
                })
                .collect::<Vec<_>>()
        };
        let (moved, joined) = (sets("r0-"), sets("r1-"));
        // A guest receives the moderator only in a breakout room (in main it subscribes to
        // hosts only): the first guest shares room 0 with the moderator.
        for (room, sets) in [("moved", &moved), ("joined", &joined)] {
            assert!(
                sets.iter().any(|(name, got)| name.starts_with("guest")
                    && got.iter().any(|(from, _)| from.starts_with("moderator"))),
                "seed {seed}: nobody {room} reached a breakout room"
            );
        }
        assert_eq!(moved, joined, "seed {seed}: moves and fresh joins differ");
    }
}
