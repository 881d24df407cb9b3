//! The breakout set's `version` only grows for the life of a room: each session starts in a
//! block of versions the shell reserved above every earlier one, and ends rather than leave it.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{Actor, BreakoutOp, Command, SessionConfig, builtin};
use caucus_proto::{BreakoutOptions, ErrorCode, ServerEvent};

fn sim_in_block(floor: u64, ceiling: u64) -> Sim {
    let config = SessionConfig {
        version_floor: floor,
        version_ceiling: ceiling,
        ..SessionConfig::default()
    };
    Sim::with(builtin::breakout_template(), config)
}

fn version(sim: &Sim) -> u64 {
    sim.session.breakouts().version()
}

fn set_countdown(sim: &mut Sim, version: Option<u64>, countdown_s: u32) -> Result<(), ErrorCode> {
    let options = BreakoutOptions {
        countdown_s,
        ..sim.session.breakouts().options().clone()
    };
    sim.run(
        Actor::Server,
        Command::Breakouts {
            version,
            op: BreakoutOp::SetOptions(options),
        },
    )
    .map(|_| ())
    .map_err(|d| d.code)
}

#[test]
fn a_session_starts_at_its_floor_and_a_version_of_an_earlier_session_is_stale() {
    // The first session of the room used versions 1..=3.
    let mut first = sim_in_block(0, 1000);
    let host = first.join("hana", "host");
    for s in 1..=3 {
        set_countdown(&mut first, None, s).unwrap();
    }
    let old = version(&first);
    assert_eq!(old, 3);

    // The next session starts above the first one's block: what it shows is larger than
    // anything the first showed, and the old version is refused, though the counter would
    // have climbed back to it.
    let mut next = sim_in_block(1000, 2000);
    let host2 = next.join("hana", "host");
    assert_eq!(version(&next), 1000);
    let told = next.take_inbox(host2);
    let joined_version = told
        .iter()
        .find_map(|e| match &**e {
            ServerEvent::Joined { breakouts, .. } => Some(breakouts.version),
            _ => None,
        })
        .unwrap();
    assert!(joined_version > old);
    assert_eq!(
        set_countdown(&mut next, Some(old), 5),
        Err(ErrorCode::StaleVersion)
    );
    for s in 1..=3 {
        let v = version(&next);
        set_countdown(&mut next, Some(v), s).unwrap();
    }
    assert_eq!(version(&next), 1003);
    assert_eq!(
        set_countdown(&mut next, Some(old), 5),
        Err(ErrorCode::StaleVersion)
    );
    let _ = host;
}

#[test]
fn a_session_that_used_up_its_block_ends_instead_of_repeating_a_version() {
    let mut sim = sim_in_block(10, 13);
    let host = sim.join("hana", "host");
    for s in 1..=3 {
        set_countdown(&mut sim, None, s).unwrap();
    }
    assert_eq!(version(&sim), 13);
    assert!(!sim.session.is_ended());
    // The next change would show version 14, which the next session may show too.
    set_countdown(&mut sim, None, 4).unwrap();
    assert_eq!(version(&sim), 13);
    assert!(sim.session.is_ended());
    assert!(sim.was_told(host, |e| matches!(e, ServerEvent::SessionEnded { .. })));
    assert!(sim.disconnected.contains(&host));
}

#[test]
fn timers_bump_within_the_block_too() {
    let mut sim = sim_in_block(500, 600);
    let host = sim.join("hana", "host");
    let guest = sim.join("gus", "guest");
    sim.open_rooms(1, &[(guest, 0)]);
    let opened = version(&sim);
    sim.breakouts(
        Actor::Server,
        BreakoutOp::Close {
            countdown_s: Some(30),
            breakout: None,
        },
    )
    .unwrap();
    sim.advance(Duration::from_secs(30));
    let closed = version(&sim);
    assert!(closed > opened && opened > 500 && closed <= 600);
    let _ = host;
}
