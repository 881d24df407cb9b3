//! A compound change of one peer (the REST `PATCH` of a peer) is one command: carried out
//! whole, or refused with nothing changed — whichever part refuses.
#![allow(clippy::unwrap_used)]

use caucus_core::sim::Sim;
use caucus_core::{Actor, Command, PeerPatch};
use caucus_proto::{ErrorCode, Location, PeerId, RoleName};

fn patch(peer: PeerId) -> PeerPatch {
    PeerPatch {
        peer,
        role: None,
        location: None,
        name: None,
        metadata: None,
        force: true,
    }
}

/// Run `patch` as the server, expecting a refusal.
fn refuse(sim: &mut Sim, patch: PeerPatch) -> caucus_core::Denial {
    sim.run(Actor::Server, Command::PatchPeer(patch))
        .expect_err("the patch should be refused")
}

#[test]
fn a_role_location_and_name_change_is_carried_out_whole() {
    let mut sim = Sim::new();
    sim.join("host", "host");
    let ana = sim.join("ana", "guest");
    let rooms = sim.open_rooms(1, &[]);
    sim.run(
        Actor::Server,
        Command::PatchPeer(PeerPatch {
            role: Some("moderator".into()),
            location: Some(Location::Breakout(rooms[0])),
            name: Some("Ana M.".into()),
            ..patch(ana)
        }),
    )
    .unwrap();
    let info = sim.session.peer_info(ana).unwrap();
    assert_eq!(
        (info.role, info.location, info.name),
        (
            RoleName::from("moderator"),
            Location::Breakout(rooms[0]),
            "Ana M.".to_owned()
        )
    );
}

#[test]
fn a_refused_part_leaves_every_other_part_undone() {
    let mut sim = Sim::new();
    sim.join("host", "host");
    let ana = sim.join("ana", "guest");
    let rooms = sim.open_rooms(1, &[]);
    let before = sim.session.peer_info(ana).unwrap();
    let version = sim.session.breakouts().version();

    // The last part is bad: an empty name.
    let refused = refuse(
        &mut sim,
        PeerPatch {
            role: Some("moderator".into()),
            location: Some(Location::Breakout(rooms[0])),
            name: Some("   ".into()),
            ..patch(ana)
        },
    );
    assert_eq!(
        (refused.code, refused.field.as_deref()),
        (ErrorCode::InvalidName, Some("name"))
    );
    // A middle part is bad: no such room.
    let refused = refuse(
        &mut sim,
        PeerPatch {
            role: Some("moderator".into()),
            location: Some(Location::Breakout(caucus_proto::BreakoutId::new(99))),
            name: Some("Ana M.".into()),
            ..patch(ana)
        },
    );
    assert_eq!(
        (refused.code, refused.field.as_deref()),
        (ErrorCode::UnknownBreakout, Some("location"))
    );
    // The first part is bad: an unknown role.
    let refused = refuse(
        &mut sim,
        PeerPatch {
            role: Some("ghost".into()),
            location: Some(Location::Breakout(rooms[0])),
            ..patch(ana)
        },
    );
    assert_eq!(refused.field.as_deref(), Some("role"));

    assert_eq!(sim.session.peer_info(ana).unwrap(), before);
    assert_eq!(sim.session.breakouts().version(), version);
}

#[test]
fn the_whole_change_is_checked_against_the_state_it_leads_to() {
    let mut sim = Sim::new();
    sim.join("host", "host");
    let ana = sim.join("ana", "moderator");
    let ben = sim.join("ben", "guest");
    let rooms = sim.open_rooms(1, &[(ben, 0)]);
    // The room holds one peer: ben is there. As a moderator ana would take no place, but as a
    // guest she would: her move with that role change is refused, and her role stays.
    sim.run(
        Actor::Server,
        Command::Breakouts {
            version: None,
            op: caucus_core::BreakoutOp::Update {
                breakout: rooms[0],
                update: caucus_core::RoomUpdate {
                    capacity: Some(Some(1)),
                    ..Default::default()
                },
            },
        },
    )
    .unwrap();
    let refused = refuse(
        &mut sim,
        PeerPatch {
            role: Some("guest".into()),
            location: Some(Location::Breakout(rooms[0])),
            ..patch(ana)
        },
    );
    assert_eq!(refused.code, ErrorCode::BreakoutFull);
    assert_eq!(
        sim.session.peer_info(ana).unwrap().role,
        RoleName::from("moderator")
    );
}

#[test]
fn without_force_each_part_is_asked_of_the_peer() {
    let mut sim = Sim::new();
    let host = sim.join("host", "host");
    let ana = sim.join("ana", "guest");
    let rooms = sim.open_rooms(1, &[]);
    sim.by(
        host,
        Command::PatchPeer(PeerPatch {
            role: Some("moderator".into()),
            location: Some(Location::Breakout(rooms[0])),
            force: false,
            ..patch(ana)
        }),
    )
    .unwrap();
    assert_eq!(sim.session.requests_for(ana).len(), 2);
    let info = sim.session.peer_info(ana).unwrap();
    assert_eq!((info.role, info.location), ("guest".into(), Location::Main));
}
