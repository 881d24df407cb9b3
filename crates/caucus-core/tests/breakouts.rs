//! Stories of the breakout set: every behaviour `docs/product.md` lists, with simulated time.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{
    Actor, Assignee, BreakoutOp, BreakoutRef, Command, Outcome, RoomPassword, RoomUpdate,
    SavedPlan, SavedRoom,
};
use caucus_proto::event::{MoveGroup, RoomState};
use caucus_proto::{
    BreakoutId, BreakoutOptions, ErrorCode, Location, PeerId, Phase, ServerEvent, Source,
    Visibility,
};

const SERVER: Actor = Actor::Server;

fn create(sim: &mut Sim, count: u32) -> Vec<BreakoutId> {
    sim.create_rooms(count)
}

fn assign(sim: &mut Sim, pairs: &[(PeerId, BreakoutId)]) {
    let assignments = pairs
        .iter()
        .map(|(p, b)| (Assignee::Peer(*p), Location::Breakout(*b)))
        .collect();
    sim.breakouts(SERVER, BreakoutOp::Assign { assignments })
        .unwrap();
}

fn options(sim: &mut Sim, f: impl FnOnce(&mut BreakoutOptions)) {
    let mut o = sim.session.breakouts().options().clone();
    f(&mut o);
    sim.breakouts(SERVER, BreakoutOp::SetOptions(o)).unwrap();
}

fn open(sim: &mut Sim) {
    sim.breakouts(SERVER, BreakoutOp::Open { duration_s: None })
        .unwrap();
}

fn loc(sim: &Sim, p: PeerId) -> Location {
    sim.peer(p).unwrap().location()
}

fn talk(sim: &mut Sim, p: PeerId) {
    sim.by(
        p,
        Command::Publish {
            source: Source::Audio,
            muted: false,
        },
    )
    .unwrap();
}

fn guests(sim: &mut Sim, n: usize) -> Vec<PeerId> {
    (0..n)
        .map(|i| sim.join(&format!("guest{i}"), "guest"))
        .collect()
}

#[test]
fn create_by_count_and_by_name_rename_remove_and_capacity() {
    let mut sim = Sim::new();
    let rooms = create(&mut sim, 3);
    let names: Vec<_> = sim
        .session
        .breakouts()
        .rooms()
        .map(|r| r.name().to_owned())
        .collect();
    assert_eq!(names, ["Room 1", "Room 2", "Room 3"]);

    let named = sim
        .breakouts(
            SERVER,
            BreakoutOp::Create {
                count: 1,
                names: vec!["Design".into()],
                capacity: Some(4),
            },
        )
        .unwrap();
    let Outcome::BreakoutsCreated { rooms: more } = named else {
        panic!()
    };
    assert_eq!(more.len(), 2, "one named room and one counted room");
    assert_eq!(
        sim.session.breakouts().room(more[0]).unwrap().name(),
        "Design"
    );
    assert_eq!(
        sim.session.breakouts().room(more[1]).unwrap().name(),
        "Room 4"
    );
    assert_eq!(
        sim.session.breakouts().room(more[0]).unwrap().capacity(),
        Some(4)
    );

    let dup = sim
        .breakouts(
            SERVER,
            BreakoutOp::Create {
                count: 0,
                names: vec!["design".into()],
                capacity: None,
            },
        )
        .unwrap_err();
    assert_eq!(dup.code, ErrorCode::DuplicateName);

    let rename = RoomUpdate {
        name: Some("Ideas".into()),
        capacity: Some(Some(2)),
        ..RoomUpdate::default()
    };
    sim.breakouts(
        SERVER,
        BreakoutOp::Update {
            breakout: rooms[0],
            update: rename,
        },
    )
    .unwrap();
    let r = sim.session.breakouts().room(rooms[0]).unwrap();
    assert_eq!((r.name(), r.capacity()), ("Ideas", Some(2)));

    let clash = RoomUpdate {
        name: Some("IDEAS".into()),
        ..RoomUpdate::default()
    };
    let err = sim
        .breakouts(
            SERVER,
            BreakoutOp::Update {
                breakout: rooms[1],
                update: clash,
            },
        )
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::DuplicateName, Some("name"))
    );

    sim.breakouts(SERVER, BreakoutOp::Remove { breakout: rooms[2] })
        .unwrap();
    assert!(sim.session.breakouts().room(rooms[2]).is_none());
    let gone = sim
        .breakouts(SERVER, BreakoutOp::Remove { breakout: rooms[2] })
        .unwrap_err();
    assert_eq!(gone.code, ErrorCode::UnknownBreakout);

    let zero = sim.breakouts(
        SERVER,
        BreakoutOp::Create {
            count: 1,
            names: vec![],
            capacity: Some(0),
        },
    );
    assert_eq!(zero.unwrap_err().code, ErrorCode::InvalidValue);
}

#[test]
fn manual_assignment_plans_then_open_moves_everyone() {
    let mut sim = Sim::new();
    let g = guests(&mut sim, 4);
    let rooms = create(&mut sim, 2);
    assign(
        &mut sim,
        &[(g[0], rooms[0]), (g[1], rooms[0]), (g[2], rooms[1])],
    );
    assert!(
        g.iter().all(|p| loc(&sim, *p) == Location::Main),
        "draft: nobody moves yet"
    );
    let view = sim.session.breakouts_view(sim.now);
    assert_eq!(view.phase, Phase::Draft);
    assert_eq!(view.rooms[0].assigned, vec![g[0], g[1]]);
    assert!(view.rooms.iter().all(|r| r.state == RoomState::Closed));

    open(&mut sim);
    assert_eq!(loc(&sim, g[0]), Location::Breakout(rooms[0]));
    assert_eq!(loc(&sim, g[1]), Location::Breakout(rooms[0]));
    assert_eq!(loc(&sim, g[2]), Location::Breakout(rooms[1]));
    assert_eq!(
        loc(&sim, g[3]),
        Location::Main,
        "unassigned peers stay in main"
    );
    assert!(
        sim.was_told(g[3], |e| matches!(e, ServerEvent::PeersMoved { moves }
            if MoveGroup::moves(moves).count() == 3 && moves.len() == 2))
    );
    assert_eq!(sim.lifecycle_named("breakouts.opened").len(), 1);
    assert_eq!(sim.lifecycle_named("peer.moved").len(), 3);
    let view = sim.session.breakouts_view(sim.now);
    assert_eq!(view.rooms[0].peers, vec![g[0], g[1]]);
    assert!(view.rooms.iter().all(|r| r.state == RoomState::Open));

    // Assigning while open with auto-move moves at once.
    assign(&mut sim, &[(g[3], rooms[1])]);
    assert_eq!(loc(&sim, g[3]), Location::Breakout(rooms[1]));
}

#[test]
fn auto_assign_is_even_seeded_and_leaves_managers_out() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let moderator = sim.join("mo", "moderator");
    let g = guests(&mut sim, 10);
    let rooms = create(&mut sim, 3);
    let auto = |seed| BreakoutOp::AutoAssign {
        exclude_roles: None,
        seed,
        keep_previous: false,
    };
    sim.breakouts(SERVER, auto(42)).unwrap();
    let plan = |sim: &Sim| {
        sim.session
            .breakouts_view(sim.now)
            .rooms
            .iter()
            .map(|r| r.assigned.clone())
            .collect::<Vec<_>>()
    };
    let first = plan(&sim);
    let mut sizes: Vec<usize> = first.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [3, 3, 4], "even split of ten guests");
    let everyone: Vec<PeerId> = first.iter().flatten().copied().collect();
    assert!(
        !everyone.contains(&host) && !everyone.contains(&moderator),
        "managers are excluded by default"
    );
    assert_eq!(everyone.len(), g.len());

    sim.breakouts(SERVER, auto(42)).unwrap();
    assert_eq!(plan(&sim), first, "same seed, same grouping");
    sim.breakouts(SERVER, auto(43)).unwrap();
    assert_ne!(plan(&sim), first, "another seed, another grouping");

    // Excluding guests explicitly and including managers.
    sim.breakouts(
        SERVER,
        BreakoutOp::AutoAssign {
            exclude_roles: Some(vec!["guest".into()]),
            seed: 1,
            keep_previous: false,
        },
    )
    .unwrap();
    let assigned: Vec<PeerId> = plan(&sim).into_iter().flatten().collect();
    assert!(assigned.contains(&host) && assigned.contains(&moderator));

    // Unknown roles are refused with the field at fault.
    let err = sim
        .breakouts(
            SERVER,
            BreakoutOp::AutoAssign {
                exclude_roles: Some(vec!["ghost".into()]),
                seed: 1,
                keep_previous: false,
            },
        )
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::UnknownRole, Some("exclude_roles[0]"))
    );
    let _ = rooms;
}

#[test]
fn auto_assign_can_keep_the_previous_grouping() {
    let mut sim = Sim::new();
    let g = guests(&mut sim, 6);
    let rooms = create(&mut sim, 2);
    sim.breakouts(
        SERVER,
        BreakoutOp::AutoAssign {
            exclude_roles: None,
            seed: 9,
            keep_previous: false,
        },
    )
    .unwrap();
    let before = sim.session.breakouts_view(sim.now).rooms;
    open(&mut sim);
    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(0),
            breakout: None,
        },
    )
    .unwrap();
    // Two newcomers; keep the groups and place only them.
    let late1 = sim.join("late1", "guest");
    let late2 = sim.join("late2", "guest");
    sim.breakouts(
        SERVER,
        BreakoutOp::AutoAssign {
            exclude_roles: None,
            seed: 5,
            keep_previous: true,
        },
    )
    .unwrap();
    let after = sim.session.breakouts_view(sim.now).rooms;
    for (b, a) in before.iter().zip(&after) {
        for p in &b.assigned {
            assert!(a.assigned.contains(p), "{p} kept its room");
        }
    }
    let sizes: Vec<usize> = after.iter().map(|r| r.assigned.len()).collect();
    assert_eq!(sizes, [4, 4], "newcomers fill the rooms evenly");
    assert!(after.iter().any(|r| r.assigned.contains(&late1)));
    assert!(after.iter().any(|r| r.assigned.contains(&late2)));
    let _ = (g, rooms);
}

#[test]
fn capacity_is_enforced_for_assignment_and_auto_assign() {
    let mut sim = Sim::new();
    let g = guests(&mut sim, 5);
    let rooms = match sim
        .breakouts(
            SERVER,
            BreakoutOp::Create {
                count: 2,
                names: vec![],
                capacity: Some(2),
            },
        )
        .unwrap()
    {
        Outcome::BreakoutsCreated { rooms } => rooms,
        _ => unreachable!(),
    };
    let err = sim
        .breakouts(
            SERVER,
            BreakoutOp::Assign {
                assignments: g[..3]
                    .iter()
                    .map(|p| (Assignee::Peer(*p), Location::Breakout(rooms[0])))
                    .collect(),
            },
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BreakoutFull);
    assert!(
        sim.session.breakouts_view(sim.now).rooms[0]
            .assigned
            .is_empty(),
        "a refusal changes nothing"
    );
    let err = sim
        .breakouts(
            SERVER,
            BreakoutOp::AutoAssign {
                exclude_roles: None,
                seed: 1,
                keep_previous: false,
            },
        )
        .unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::CapacityExceeded,
        "five guests do not fit in 2 × 2"
    );
}

/// A room's capacity is for its participants: the people who run the rooms enter a full one
/// (to help, by "Claim and go there") and take no place in it, so a student still fits beside
/// them; a student is refused a full room all the same.
#[test]
fn managers_enter_full_rooms_and_take_no_place() {
    let mut sim = Sim::new();
    let mo = sim.join("mo", "moderator");
    let g = guests(&mut sim, 3);
    let rooms = create(&mut sim, 2);
    for b in &rooms {
        sim.breakouts(
            SERVER,
            BreakoutOp::Update {
                breakout: *b,
                update: RoomUpdate {
                    capacity: Some(Some(1)),
                    ..Default::default()
                },
            },
        )
        .unwrap();
    }
    assign(&mut sim, &[(g[0], rooms[0])]);
    open(&mut sim);
    assert_eq!(loc(&sim, g[0]), Location::Breakout(rooms[0]));

    // The moderator moves itself into the full room.
    sim.by(
        mo,
        Command::MovePeer {
            peer: mo,
            to: Location::Breakout(rooms[0]),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, mo), Location::Breakout(rooms[0]));
    // A student is still refused it.
    let full = sim
        .by(
            mo,
            Command::MovePeer {
                peer: g[1],
                to: Location::Breakout(rooms[0]),
                force: true,
            },
        )
        .unwrap_err();
    assert_eq!(full.code, ErrorCode::BreakoutFull);

    // In the other room the moderator stands first, and a student still fits beside it.
    sim.by(
        mo,
        Command::MovePeer {
            peer: mo,
            to: Location::Breakout(rooms[1]),
            force: true,
        },
    )
    .unwrap();
    sim.by(
        mo,
        Command::MovePeer {
            peer: g[1],
            to: Location::Breakout(rooms[1]),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, g[1]), Location::Breakout(rooms[1]));
    // Its capacity cannot go below the students in it, whoever else stands there.
    sim.breakouts(
        SERVER,
        BreakoutOp::Update {
            breakout: rooms[1],
            update: RoomUpdate {
                capacity: Some(Some(1)),
                ..Default::default()
            },
        },
    )
    .unwrap();
}

#[test]
fn self_select_respects_options_capacity_and_passwords() {
    let mut sim = Sim::new();
    let g = guests(&mut sim, 3);
    let rooms = match sim
        .breakouts(
            SERVER,
            BreakoutOp::Create {
                count: 2,
                names: vec![],
                capacity: Some(1),
            },
        )
        .unwrap()
    {
        Outcome::BreakoutsCreated { rooms } => rooms,
        _ => unreachable!(),
    };
    let pw = RoomUpdate {
        password: Some(Some("s3cret".into())),
        ..RoomUpdate::default()
    };
    sim.breakouts(
        SERVER,
        BreakoutOp::Update {
            breakout: rooms[1],
            update: pw,
        },
    )
    .unwrap();
    let choose = |b, password: Option<&str>| Command::JoinBreakout {
        breakout: b,
        password: password.map(Into::into),
    };

    let err = sim.by(g[0], choose(rooms[0], None)).unwrap_err();
    assert_eq!(err.code, ErrorCode::SelfSelectDisabled);
    options(&mut sim, |o| o.allow_self_select = true);
    let err = sim.by(g[0], choose(rooms[0], None)).unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::BreakoutsNotOpen,
        "rooms must be open to enter"
    );
    options(&mut sim, |o| o.auto_move_on_open = false);
    open(&mut sim);
    sim.by(g[0], choose(rooms[0], None)).unwrap();
    assert_eq!(loc(&sim, g[0]), Location::Breakout(rooms[0]));
    let err = sim.by(g[1], choose(rooms[0], None)).unwrap_err();
    assert_eq!(err.code, ErrorCode::BreakoutFull);
    let err = sim.by(g[1], choose(rooms[1], Some("wrong"))).unwrap_err();
    assert_eq!(err.code, ErrorCode::WrongPassword);
    let err = sim.by(g[1], choose(rooms[1], None)).unwrap_err();
    assert_eq!(err.code, ErrorCode::WrongPassword);
    sim.by(g[1], choose(rooms[1], Some("s3cret"))).unwrap();
    assert_eq!(loc(&sim, g[1]), Location::Breakout(rooms[1]));

    // A moved peer never needs a password.
    sim.by(g[1], Command::ReturnToMain).unwrap();
    sim.run(
        SERVER,
        Command::MovePeer {
            peer: g[2],
            to: Location::Breakout(rooms[1]),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, g[2]), Location::Breakout(rooms[1]));
}

#[test]
fn invite_mode_lets_people_click_and_return_to_main_when_allowed() {
    let mut sim = Sim::new();
    let g = guests(&mut sim, 2);
    let rooms = create(&mut sim, 1);
    assign(&mut sim, &[(g[0], rooms[0]), (g[1], rooms[0])]);
    options(&mut sim, |o| {
        o.auto_move_on_open = false;
        o.allow_return_to_main = false;
    });
    open(&mut sim);
    assert_eq!(loc(&sim, g[0]), Location::Main, "invited, not moved");
    assert!(sim.was_told(
        g[0],
        |e| matches!(e, ServerEvent::BreakoutInvite { breakout_id, .. } if *breakout_id == rooms[0])
    ));
    // Entering one's assigned room needs neither self-select nor a password.
    sim.by(
        g[0],
        Command::JoinBreakout {
            breakout: rooms[0],
            password: None,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, g[0]), Location::Breakout(rooms[0]));
    let err = sim.by(g[0], Command::ReturnToMain).unwrap_err();
    assert_eq!(err.code, ErrorCode::ReturnToMainDisabled);
    options(&mut sim, |o| o.allow_return_to_main = true);
    sim.by(g[0], Command::ReturnToMain).unwrap();
    assert_eq!(loc(&sim, g[0]), Location::Main);
    let err = sim.by(g[0], Command::ReturnToMain).unwrap_err();
    assert_eq!(err.code, ErrorCode::AlreadyThere);
}

#[test]
fn preassignment_by_user_id_works_before_anyone_joins() {
    let mut sim = Sim::new();
    let rooms = create(&mut sim, 2);
    sim.breakouts(
        SERVER,
        BreakoutOp::SetPreassignments {
            by_user_id: [
                ("ana".into(), BreakoutRef::Name("room 2".into())),
                ("ben".into(), BreakoutRef::Id(rooms[0])),
            ]
            .into(),
        },
    )
    .unwrap();
    let err = sim
        .breakouts(
            SERVER,
            BreakoutOp::SetPreassignments {
                by_user_id: [("cy".into(), BreakoutRef::Name("Nowhere".into()))].into(),
            },
        )
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::UnknownBreakout, Some("by_user_id.cy"))
    );
    // A user id no token can carry is refused as one, without repeating it.
    for bad in ["..", "ana\u{1b}[2J", "a/b"] {
        let err = sim
            .breakouts(
                SERVER,
                BreakoutOp::SetPreassignments {
                    by_user_id: [(bad.into(), BreakoutRef::Id(rooms[0]))].into(),
                },
            )
            .unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::InvalidId, Some("by_user_id")),
            "{bad:?}"
        );
    }

    let ben = sim.join("ben", "guest");
    open(&mut sim);
    assert_eq!(loc(&sim, ben), Location::Breakout(rooms[0]));
    // Ana arrives after the rooms opened: she lands straight in her room.
    let ana = sim.join("ana", "guest");
    assert_eq!(loc(&sim, ana), Location::Breakout(rooms[1]));
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::Joined {
            is_breakout: true,
            ..
        }
    )));
    // Assigning a user id that has not joined yet is a pre-assignment too.
    sim.breakouts(
        SERVER,
        BreakoutOp::Assign {
            assignments: vec![(Assignee::User("dee".into()), Location::Breakout(rooms[1]))],
        },
    )
    .unwrap();
    let dee = sim.join("dee", "guest");
    assert_eq!(loc(&sim, dee), Location::Breakout(rooms[1]));
}

/// A pre-assignment plans no more people into a room than its capacity: the one that would
/// overflow it is refused as `breakout_full`, naming the user's field, and changes nothing;
/// taking people out of a full plan is always possible.
#[test]
fn preassignment_into_a_full_room_is_refused() {
    let mut sim = Sim::new();
    let rooms = create(&mut sim, 2);
    sim.breakouts(
        SERVER,
        BreakoutOp::Update {
            breakout: rooms[0],
            update: RoomUpdate {
                capacity: Some(Some(1)),
                ..Default::default()
            },
        },
    )
    .unwrap();
    let pre = |list: &[(&str, BreakoutId)]| BreakoutOp::SetPreassignments {
        by_user_id: list
            .iter()
            .map(|(u, b)| ((*u).into(), BreakoutRef::Id(*b)))
            .collect(),
    };
    sim.breakouts(SERVER, pre(&[("ana", rooms[0])])).unwrap();
    let err = sim
        .breakouts(SERVER, pre(&[("ana", rooms[0]), ("ben", rooms[0])]))
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::BreakoutFull, Some("by_user_id.ben"))
    );
    assert_eq!(
        err.message,
        "Room 1 takes 1 at most, pre-assignments included"
    );
    assert_eq!(
        sim.session.breakouts_view(sim.now).preassignments.len(),
        1,
        "a refusal changes nothing"
    );
    // A present guest planned there counts too; a moderator takes no place.
    let gus = sim.join("gus", "guest");
    sim.join("mo", "moderator");
    sim.breakouts(SERVER, pre(&[])).unwrap();
    assign(&mut sim, &[(gus, rooms[0])]);
    assert_eq!(
        sim.breakouts(SERVER, pre(&[("ana", rooms[0])]))
            .unwrap_err()
            .code,
        ErrorCode::BreakoutFull
    );
    sim.breakouts(SERVER, pre(&[("mo", rooms[0]), ("ana", rooms[1])]))
        .unwrap();
}

/// The People list of someone who stood in a breakout room while another joined main: as a
/// guest in a room (acting as `breakout`, without the peer list) it is not told of the
/// newcomer; back in main, where it sees everyone, it is introduced to them.
#[test]
fn back_in_main_a_peer_is_introduced_to_who_joined_meanwhile() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let rooms = create(&mut sim, 1);
    assign(&mut sim, &[(ana, rooms[0])]);
    open(&mut sim);
    assert_eq!(loc(&sim, ana), Location::Breakout(rooms[0]));
    let ben = sim.join("ben", "guest");
    let told_of_ben = |sim: &Sim| {
        sim.was_told(ana, |e| match e {
            ServerEvent::PeerJoined { peer } | ServerEvent::PeerUpdated { peer } => peer.id == ben,
            _ => false,
        })
    };
    assert!(!told_of_ben(&sim), "a room's guest does not see main");
    sim.by(
        host,
        Command::MovePeer {
            peer: ana,
            to: Location::Main,
            force: true,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, ana), Location::Main);
    assert!(told_of_ben(&sim), "back in main, ana is told of ben");
}

#[test]
fn move_anyone_from_anywhere_to_anywhere() {
    let mut sim = Sim::new();
    let moderator = sim.join("mo", "moderator");
    let g = guests(&mut sim, 1)[0];
    let rooms = create(&mut sim, 2);
    let mv = |to| Command::MovePeer {
        peer: g,
        to,
        force: true,
    };
    let err = sim
        .by(moderator, mv(Location::Breakout(rooms[0])))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BreakoutsNotOpen);
    open(&mut sim);
    sim.by(moderator, mv(Location::Breakout(rooms[0]))).unwrap();
    sim.by(moderator, mv(Location::Breakout(rooms[1]))).unwrap();
    assert_eq!(loc(&sim, g), Location::Breakout(rooms[1]));
    sim.by(moderator, mv(Location::Main)).unwrap();
    assert_eq!(loc(&sim, g), Location::Main);
    let err = sim
        .by(
            g,
            Command::MovePeer {
                peer: moderator,
                to: Location::Breakout(rooms[0]),
                force: true,
            },
        )
        .unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::NotPermitted,
        "guests do not move people"
    );

    // A move as a request the guest accepts.
    let Outcome::RequestSent { request } = sim
        .by(
            moderator,
            Command::MovePeer {
                peer: g,
                to: Location::Breakout(rooms[0]),
                force: false,
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        loc(&sim, g),
        Location::Main,
        "a request moves nobody by itself"
    );
    sim.by(
        g,
        Command::RespondRequest {
            request,
            accept: true,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, g), Location::Breakout(rooms[0]));
}

#[test]
fn close_one_room_with_a_countdown_everybody_sees() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let g = guests(&mut sim, 4);
    let rooms = create(&mut sim, 2);
    assign(
        &mut sim,
        &[
            (g[0], rooms[0]),
            (g[1], rooms[0]),
            (g[2], rooms[1]),
            (g[3], rooms[1]),
        ],
    );
    open(&mut sim);
    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(20),
            breakout: Some(rooms[0]),
        },
    )
    .unwrap();
    let countdown = |e: &ServerEvent| {
        matches!(
            e,
            ServerEvent::BreakoutsClosing {
                breakout_id: Some(_),
                countdown_ms: 20_000
            }
        )
    };
    assert!(sim.was_told(g[0], countdown) && sim.was_told(host, countdown));
    assert!(
        !sim.was_told(g[2], countdown),
        "the other room is not closing"
    );
    let err = sim.run(
        SERVER,
        Command::MovePeer {
            peer: g[2],
            to: Location::Breakout(rooms[0]),
            force: true,
        },
    );
    assert_eq!(err.unwrap_err().code, ErrorCode::BreakoutsClosing);
    sim.advance(Duration::from_secs(19));
    assert_eq!(loc(&sim, g[0]), Location::Breakout(rooms[0]));
    sim.advance(Duration::from_secs(1));
    assert_eq!(loc(&sim, g[0]), Location::Main);
    assert_eq!(loc(&sim, g[2]), Location::Breakout(rooms[1]));
    let view = sim.session.breakouts_view(sim.now);
    assert_eq!(
        (view.phase, view.rooms[0].state, view.rooms[1].state),
        (Phase::Open, RoomState::Closed, RoomState::Open)
    );
    // Closing the last open room closes the set.
    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(0),
            breakout: Some(rooms[1]),
        },
    )
    .unwrap();
    assert_eq!(sim.session.breakouts().phase(), Phase::Closed);
    assert!(g.iter().all(|p| loc(&sim, *p) == Location::Main));
    assert_eq!(
        sim.lifecycle_named("breakouts.closed").len(),
        3,
        "two rooms, then the set"
    );
}

#[test]
fn timer_warns_extends_and_closes_with_the_countdown() {
    let mut sim = Sim::new();
    let g = guests(&mut sim, 2);
    let rooms = create(&mut sim, 1);
    assign(&mut sim, &[(g[0], rooms[0]), (g[1], rooms[0])]);
    options(&mut sim, |o| {
        o.warning_s = 60;
        o.countdown_s = 15;
    });
    let err = sim
        .breakouts(SERVER, BreakoutOp::Extend { seconds: 60 })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BreakoutsNotOpen);
    sim.breakouts(
        SERVER,
        BreakoutOp::Open {
            duration_s: Some(600),
        },
    )
    .unwrap();
    assert_eq!(
        sim.session.breakouts_view(sim.now).ends_in_ms,
        Some(600_000)
    );
    sim.advance(Duration::from_secs(539));
    assert!(!sim.was_told(g[0], |e| matches!(e, ServerEvent::TimerWarning { .. })));
    sim.advance(Duration::from_secs(1));
    assert!(sim.was_told(g[0], |e| matches!(
        e,
        ServerEvent::TimerWarning {
            remaining_ms: 60_000
        }
    )));
    assert_eq!(sim.lifecycle_named("breakouts.timer_warning").len(), 1);

    // Extend by five minutes while running: no close at the old end; a new warning later.
    sim.breakouts(SERVER, BreakoutOp::Extend { seconds: 300 })
        .unwrap();
    sim.advance(Duration::from_secs(60));
    assert_eq!(
        sim.session.breakouts().phase(),
        Phase::Open,
        "extended: still open at the old end"
    );
    sim.advance(Duration::from_secs(239));
    assert_eq!(sim.lifecycle_named("breakouts.timer_warning").len(), 1);
    sim.advance(Duration::from_secs(1));
    assert_eq!(
        sim.lifecycle_named("breakouts.timer_warning").len(),
        2,
        "a new warning before the new end"
    );
    sim.advance(Duration::from_secs(60));
    assert_eq!(
        sim.session.breakouts().phase(),
        Phase::Closing,
        "the timer ran out: countdown starts"
    );
    assert!(sim.was_told(g[1], |e| matches!(
        e,
        ServerEvent::BreakoutsClosing {
            breakout_id: None,
            countdown_ms: 15_000
        }
    )));
    sim.advance(Duration::from_secs(15));
    assert_eq!(sim.session.breakouts().phase(), Phase::Closed);
    assert!(g.iter().all(|p| loc(&sim, *p) == Location::Main));

    // Without a timer there is nothing to extend.
    open(&mut sim);
    let err = sim
        .breakouts(SERVER, BreakoutOp::Extend { seconds: 60 })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NoTimer);
}

#[test]
fn broadcast_text_reaches_every_room() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let g = guests(&mut sim, 2);
    let rooms = create(&mut sim, 2);
    assign(&mut sim, &[(g[0], rooms[0]), (g[1], rooms[1])]);
    open(&mut sim);
    sim.breakouts(
        Actor::Peer(host),
        BreakoutOp::Broadcast {
            text: "Five minutes left".into(),
        },
    )
    .unwrap();
    for p in [host, g[0], g[1]] {
        assert!(sim.was_told(p, |e| matches!(e, ServerEvent::Broadcast { text, from: Some(f) } if text == "Five minutes left" && *f == host)));
    }
    let err = sim
        .breakouts(
            Actor::Peer(g[0]),
            BreakoutOp::Broadcast { text: "hi".into() },
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotPermitted);
    let err = sim
        .breakouts(SERVER, BreakoutOp::Broadcast { text: "  ".into() })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidValue);
}

#[test]
fn help_queue_raise_claim_dismiss() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let moderator = sim.join("mo", "moderator");
    let g = guests(&mut sim, 1)[0];
    let rooms = create(&mut sim, 1);
    assign(&mut sim, &[(g, rooms[0])]);
    open(&mut sim);
    let Outcome::HelpRequested { help } = sim.by(g, Command::RequestHelp).unwrap() else {
        panic!()
    };
    assert_eq!(
        sim.by(g, Command::RequestHelp).unwrap(),
        Outcome::HelpRequested { help },
        "asking twice keeps one ticket"
    );
    for m in [host, moderator] {
        assert!(sim.was_told(m, |e| matches!(e, ServerEvent::HelpRequested { help: h } if h.breakout_id == Some(rooms[0]))));
    }
    assert_eq!(sim.lifecycle_named("help.requested").len(), 1);
    let view = sim.session.breakouts_view(sim.now);
    assert_eq!(view.help.len(), 1);
    sim.breakouts(Actor::Peer(moderator), BreakoutOp::ClaimHelp { help })
        .unwrap();
    assert_eq!(
        sim.session.breakouts_view(sim.now).help[0].claimed_by,
        Some(moderator)
    );
    // The guest sees no help queue in its view; managers do.
    let public = sim.inbox[&g].iter().rev().find_map(|e| match &**e {
        ServerEvent::Breakouts { state } => Some(state.clone()),
        _ => None,
    });
    assert!(public.unwrap().help.is_empty());
    sim.breakouts(Actor::Peer(host), BreakoutOp::DismissHelp { help })
        .unwrap();
    assert!(sim.session.breakouts_view(sim.now).help.is_empty());
    let err = sim
        .breakouts(Actor::Peer(host), BreakoutOp::DismissHelp { help })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownHelp);
}

#[test]
fn listen_in_receives_a_room_without_moving() {
    let mut sim = Sim::new();
    let moderator = sim.join("mo", "moderator");
    let g = guests(&mut sim, 3);
    let rooms = create(&mut sim, 2);
    assign(
        &mut sim,
        &[(g[0], rooms[0]), (g[1], rooms[0]), (g[2], rooms[1])],
    );
    open(&mut sim);
    for p in &g {
        talk(&mut sim, *p);
    }
    assert!(sim.hears(moderator).is_empty());
    sim.by(
        moderator,
        Command::ListenIn {
            breakout: Some(rooms[0]),
        },
    )
    .unwrap();
    assert_eq!(
        loc(&sim, moderator),
        Location::Main,
        "listening is not moving"
    );
    assert_eq!(sim.hears(moderator), vec![g[0], g[1]]);
    assert!(
        !sim.hears(g[0]).contains(&moderator),
        "the room does not hear the listener"
    );
    sim.by(
        moderator,
        Command::ListenIn {
            breakout: Some(rooms[1]),
        },
    )
    .unwrap();
    assert_eq!(sim.hears(moderator), vec![g[2]]);
    sim.by(moderator, Command::ListenIn { breakout: None })
        .unwrap();
    assert!(sim.hears(moderator).is_empty());
    let err = sim
        .by(
            g[0],
            Command::ListenIn {
                breakout: Some(rooms[1]),
            },
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotPermitted);
    // Closing the room ends the listen-in.
    sim.by(
        moderator,
        Command::ListenIn {
            breakout: Some(rooms[1]),
        },
    )
    .unwrap();
    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(0),
            breakout: Some(rooms[1]),
        },
    )
    .unwrap();
    assert_eq!(sim.peer(moderator).unwrap().listening(), None);
}

/// What `peer`'s inbox last said of `about`'s listen-in (`peer_updated`), if anything.
fn last_listening_news(sim: &Sim, peer: PeerId, about: PeerId) -> Option<Option<BreakoutId>> {
    sim.inbox[&peer].iter().rev().find_map(|e| match &**e {
        ServerEvent::PeerUpdated { peer } if peer.id == about => Some(peer.listening_to),
        _ => None,
    })
}

#[test]
fn the_room_learns_who_listens_in_and_when_they_stop() {
    let mut sim = Sim::new();
    let moderator = sim.join("mo", "moderator");
    let g = guests(&mut sim, 2);
    let rooms = create(&mut sim, 2);
    assign(&mut sim, &[(g[0], rooms[0]), (g[1], rooms[1])]);
    open(&mut sim);
    sim.by(
        moderator,
        Command::ListenIn {
            breakout: Some(rooms[0]),
        },
    )
    .unwrap();
    assert_eq!(
        last_listening_news(&sim, g[0], moderator),
        Some(Some(rooms[0]))
    );
    sim.by(moderator, Command::ListenIn { breakout: None })
        .unwrap();
    assert_eq!(
        last_listening_news(&sim, g[0], moderator),
        Some(None),
        "the room is told the listen-in ended"
    );
    // Closing the listened-to room ends it too, and says so.
    sim.by(
        moderator,
        Command::ListenIn {
            breakout: Some(rooms[1]),
        },
    )
    .unwrap();
    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(0),
            breakout: Some(rooms[1]),
        },
    )
    .unwrap();
    assert_eq!(last_listening_news(&sim, g[1], moderator), Some(None));
}

#[test]
fn main_stage_visibility_lets_a_room_watch_chosen_roles() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let cohost = sim.join("cole", "co-host");
    let g = guests(&mut sim, 2);
    talk(&mut sim, host);
    talk(&mut sim, cohost);
    let rooms = create(&mut sim, 1);
    assign(&mut sim, &[(g[0], rooms[0]), (g[1], rooms[0])]);
    open(&mut sim);
    assert_eq!(sim.hears(g[0]), Vec::<PeerId>::new(), "isolated by default");
    let watch = |roles: &[&str]| BreakoutOp::Update {
        breakout: rooms[0],
        update: RoomUpdate {
            visibility: Some(Visibility::MainStage {
                roles: roles.iter().map(|r| (*r).into()).collect(),
            }),
            ..RoomUpdate::default()
        },
    };
    sim.breakouts(SERVER, watch(&["host"])).unwrap();
    assert_eq!(sim.hears(g[0]), vec![host]);
    sim.breakouts(SERVER, watch(&["host", "co-host"])).unwrap();
    assert_eq!(sim.hears(g[1]), vec![host, cohost]);
    let err = sim.breakouts(SERVER, watch(&["nobody"])).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownRole);
}

#[test]
fn a_stale_version_is_refused_so_managers_never_overwrite_each_other() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let moderator = sim.join("mo", "moderator");
    let rooms = create(&mut sim, 1);
    let seen = sim.session.breakouts().version();
    let rename = |name: &str| BreakoutOp::Update {
        breakout: rooms[0],
        update: RoomUpdate {
            name: Some(name.into()),
            ..RoomUpdate::default()
        },
    };
    sim.by(
        host,
        Command::Breakouts {
            version: Some(seen),
            op: rename("Host's name"),
        },
    )
    .unwrap();
    let err = sim
        .by(
            moderator,
            Command::Breakouts {
                version: Some(seen),
                op: rename("Mod's name"),
            },
        )
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::StaleVersion, Some("version"))
    );
    assert_eq!(
        sim.session.breakouts().room(rooms[0]).unwrap().name(),
        "Host's name"
    );
    assert!(sim.session.breakouts().version() > seen);
    let now = sim.session.breakouts().version();
    sim.by(
        moderator,
        Command::Breakouts {
            version: Some(now),
            op: rename("Agreed"),
        },
    )
    .unwrap();
}

#[test]
fn moves_keep_the_connection_and_only_change_routing() {
    let mut sim = Sim::new();
    let g = guests(&mut sim, 3);
    let rooms = create(&mut sim, 2);
    assign(
        &mut sim,
        &[(g[0], rooms[0]), (g[1], rooms[0]), (g[2], rooms[1])],
    );
    open(&mut sim);
    for p in &g {
        talk(&mut sim, *p);
    }
    let track_of = |sim: &Sim, p: PeerId| sim.peer(p).unwrap().tracks().next().unwrap().0;
    let before = track_of(&sim, g[2]);
    sim.run(
        SERVER,
        Command::MovePeer {
            peer: g[2],
            to: Location::Breakout(rooms[0]),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(
        track_of(&sim, g[2]),
        before,
        "same peer, same track: no reconnect"
    );
    assert_eq!(sim.hears(g[0]), vec![g[1], g[2]]);
    assert!(sim.disconnected.is_empty());
}

#[test]
fn a_saved_plan_is_restored_with_its_room_ids_and_later_rooms_follow_them() {
    let mut sim = Sim::new();
    let saved = |id: u64, name: &str| SavedRoom {
        id: BreakoutId::new(id),
        name: name.into(),
        capacity: Some(4),
        password: None,
        visibility: Visibility::MainStage {
            roles: vec!["host".into()],
        },
    };
    let lost_role = SavedRoom {
        visibility: Visibility::MainStage {
            roles: vec!["gone".into()],
        },
        ..saved(9, "Stale")
    };
    let skipped = sim
        .session
        .restore_breakouts(
            sim.now,
            SavedPlan {
                rooms: vec![
                    saved(3, "Design"),
                    saved(7, "Ideas"),
                    saved(8, "design"),
                    lost_role,
                ],
                options: BreakoutOptions {
                    countdown_s: 5,
                    ..BreakoutOptions::default()
                },
                preassignments: [
                    ("ana".into(), BreakoutId::new(7)),
                    ("ben".into(), BreakoutId::new(9)),
                ]
                .into(),
            },
        )
        .unwrap();
    sim.drain();
    assert_eq!(
        skipped.len(),
        3,
        "a duplicate name, a lost role, a pre-assignment to it: {skipped:?}"
    );
    assert!(
        sim.plan_writes.is_empty(),
        "a plan read from the store is not written back"
    );
    let ids: Vec<BreakoutId> = sim.session.breakouts().rooms().map(|r| r.id()).collect();
    assert_eq!(ids, [BreakoutId::new(3), BreakoutId::new(7)]);
    assert_eq!(sim.session.breakouts().options().countdown_s, 5);
    let created = create(&mut sim, 1);
    assert!(
        created[0] > BreakoutId::new(7),
        "new rooms never reuse a restored id"
    );
    open(&mut sim);
    let ana = sim.join("ana", "guest");
    assert_eq!(loc(&sim, ana), Location::Breakout(BreakoutId::new(7)));
    let again = sim.session.restore_breakouts(sim.now, SavedPlan::default());
    assert_eq!(again.unwrap_err().code, ErrorCode::AlreadyExists);
}

#[test]
fn every_edit_of_the_plan_is_handed_over_to_be_written_and_nothing_else_is() {
    let mut sim = Sim::new();
    let host = sim.join("host", "host");
    let g = guests(&mut sim, 2);
    sim.drain();
    let rooms = create(&mut sim, 2);
    assert_eq!(sim.plan_writes.len(), 1);
    assert_eq!(sim.plan_writes[0].rooms.len(), 2);
    sim.breakouts(
        SERVER,
        BreakoutOp::Update {
            breakout: rooms[0],
            update: RoomUpdate {
                name: Some("Design".into()),
                password: Some(Some("s3cret".into())),
                ..RoomUpdate::default()
            },
        },
    )
    .unwrap();
    let last = sim.plan_writes.last().unwrap().clone();
    assert_eq!(sim.plan_writes.len(), 2);
    assert_eq!(last.rooms[0].name, "Design");
    assert_eq!(
        last.rooms[0].password,
        Some(RoomPassword::Plain("s3cret".into())),
        "the shell hashes it to write it"
    );
    sim.breakouts(
        SERVER,
        BreakoutOp::SetPreassignments {
            by_user_id: [("late".into(), BreakoutRef::Id(rooms[1]))].into(),
        },
    )
    .unwrap();
    assert_eq!(sim.plan_writes.len(), 3);
    assert_eq!(
        sim.plan_writes[2].preassignments,
        [("late".into(), rooms[1])].into()
    );
    // Assigning present peers, opening, moving, listening in and closing are not the plan.
    assign(&mut sim, &[(g[0], rooms[0]), (g[1], rooms[1])]);
    open(&mut sim);
    sim.by(
        host,
        Command::MovePeer {
            peer: g[0],
            to: Location::Breakout(rooms[1]),
            force: true,
        },
    )
    .unwrap();
    sim.by(
        host,
        Command::ListenIn {
            breakout: Some(rooms[1]),
        },
    )
    .unwrap();
    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(0),
            breakout: None,
        },
    )
    .unwrap();
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.plan_writes.len(), 3, "{:?}", sim.plan_writes);
    // A refused edit writes nothing.
    let refused = sim.breakouts(
        SERVER,
        BreakoutOp::Create {
            count: 0,
            names: vec!["design".into()],
            capacity: None,
        },
    );
    assert_eq!(refused.unwrap_err().code, ErrorCode::DuplicateName);
    assert_eq!(sim.plan_writes.len(), 3);
}

#[test]
fn a_restored_rooms_hashed_password_goes_through_the_same_gate_as_the_room_password() {
    let mut sim = Sim::new();
    let protected = SavedRoom {
        id: BreakoutId::new(4),
        name: "Quiet".into(),
        capacity: None,
        // A restored plan knows a password only as the hash the store kept.
        password: Some(RoomPassword::Hash("stored-hash".into())),
        visibility: Visibility::Isolated,
    };
    let guarded = SavedRoom {
        id: BreakoutId::new(5),
        name: "Guarded".into(),
        ..protected.clone()
    };
    sim.session
        .restore_breakouts(
            sim.now,
            SavedPlan {
                rooms: vec![protected, guarded],
                options: BreakoutOptions {
                    allow_self_select: true,
                    auto_move_on_open: false,
                    ..BreakoutOptions::default()
                },
                preassignments: Default::default(),
            },
        )
        .unwrap();
    open(&mut sim);
    let g = guests(&mut sim, 3);
    sim.drain();
    let choose = |room: u64, password: Option<&str>| Command::JoinBreakout {
        breakout: BreakoutId::new(room),
        password: password.map(Into::into),
    };
    assert_eq!(
        sim.by(g[0], choose(4, None)).unwrap_err().code,
        ErrorCode::WrongPassword,
        "no password: refused without a check"
    );
    let asked = sim.by(g[0], choose(4, Some("s3cret"))).unwrap();
    assert_eq!(
        asked,
        Outcome::CheckPassword {
            hash: "stored-hash".into(),
            plain: "s3cret".into()
        }
    );
    assert_eq!(
        loc(&sim, g[0]),
        Location::Main,
        "nothing happens before the verdict"
    );
    let actor = Actor::Peer(g[0]);
    let now = sim.now;
    let wrong = sim
        .session
        .handle_checked(now, actor, choose(4, Some("guess")), false);
    assert_eq!(wrong.unwrap_err().code, ErrorCode::WrongPassword);
    let version = sim.session.breakouts().version();
    sim.session
        .handle_checked(now, actor, choose(4, Some("s3cret")), true)
        .unwrap();
    sim.drain();
    assert_eq!(loc(&sim, g[0]), Location::Breakout(BreakoutId::new(4)));
    assert_eq!(
        sim.session.breakouts().version(),
        version + 1,
        "the move, and nothing else, is a new version"
    );
    assert!(sim.plan_writes.is_empty(), "learning a password is no edit");
    // Checked once, the password is compared by the session itself from now on.
    assert_eq!(
        sim.by(g[1], choose(4, Some("s3cret"))).unwrap(),
        Outcome::Done
    );
    assert_eq!(
        sim.by(g[2], choose(4, Some("nope"))).unwrap_err().code,
        ErrorCode::WrongPassword
    );
    // Checks against a hash are rationed per user, as the room password's are.
    for _ in 0..3 {
        assert!(matches!(
            sim.by(g[2], choose(5, Some("guess"))),
            Ok(Outcome::CheckPassword { .. })
        ));
    }
    assert_eq!(
        sim.by(g[2], choose(5, Some("guess"))).unwrap_err().code,
        ErrorCode::RateLimited
    );
    sim.advance(Duration::from_secs(1));
    assert!(matches!(
        sim.by(g[2], choose(5, Some("guess"))),
        Ok(Outcome::CheckPassword { .. })
    ));
}
