//! Stories of moderation: removing a peer, acting on peers wherever they stand, ending the
//! session, locking the room, chat in its four scopes, and broadcast audio. Time is simulated.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{Actor, Command, Effect, JoinRequest, Outcome};
use caucus_proto::event::{LeaveReason, RequestKind, RequestOutcome};
use caucus_proto::{
    BreakoutId, ChatTarget, ErrorCode, LifecycleEvent, Location, PeerId, RequestId, RoleName,
    ServerEvent, Source, TrackId, TrackKey,
};

const SERVER: Actor = Actor::Server;

fn publish(sim: &mut Sim, peer: PeerId, source: Source) -> TrackId {
    match sim
        .by(
            peer,
            Command::Publish {
                source,
                muted: false,
            },
        )
        .unwrap()
    {
        Outcome::Published { track } => track,
        other => panic!("{other:?}"),
    }
}

fn loc(sim: &Sim, p: PeerId) -> Location {
    sim.peer(p).unwrap().location()
}

fn muted(sim: &Sim, peer: PeerId, track: TrackId) -> bool {
    sim.peer(peer)
        .unwrap()
        .tracks()
        .find(|(id, _, _)| *id == track)
        .map(|(_, _, m)| m)
        .unwrap()
}

fn left_reasons(sim: &Sim, peer: PeerId) -> Vec<LeaveReason> {
    sim.lifecycle
        .iter()
        .filter_map(|e| match e {
            LifecycleEvent::PeerLeft {
                peer_id, reason, ..
            } if *peer_id == peer => Some(*reason),
            _ => None,
        })
        .collect()
}

/// The chat texts `peer` received, in order.
fn chats(sim: &Sim, peer: PeerId) -> Vec<String> {
    sim.inbox
        .get(&peer)
        .into_iter()
        .flatten()
        .filter_map(|e| match &**e {
            ServerEvent::Chat { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn chat(sim: &mut Sim, from: PeerId, to: ChatTarget, text: &str) -> Result<Outcome, ErrorCode> {
    sim.by(
        from,
        Command::Chat {
            to,
            text: text.into(),
        },
    )
    .map_err(|d| d.code)
}

// ---- removing ------------------------------------------------------------------------------------

#[test]
fn a_moderator_removes_a_peer_who_is_told_and_disconnected() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    publish(&mut sim, host, Source::Audio);

    let refused = sim
        .by(
            ben,
            Command::RemovePeer {
                peer: ana,
                reason: None,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(sim.peer(ana).is_some());
    assert!(sim.disconnected.is_empty());

    sim.by(
        mo,
        Command::RemovePeer {
            peer: ana,
            reason: Some("spam".into()),
        },
    )
    .unwrap();
    assert!(sim.peer(ana).is_none());
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::Removed { reason } if reason == "spam"
    )));
    assert!(sim.log.contains(&Effect::Disconnect { peer: ana }));
    assert_eq!(sim.disconnected, vec![ana]);
    assert_eq!(left_reasons(&sim, ana), vec![LeaveReason::Removed]);
    for p in [host, mo, ben] {
        assert!(
            sim.was_told(p, |e| matches!(
                e,
                ServerEvent::PeerLeft { peer_id, reason: LeaveReason::Removed } if *peer_id == ana
            )),
            "{p} sees ana removed"
        );
    }
    // Coming back is a new peer (nothing to resume).
    let (again, resumed) = match sim
        .run(
            SERVER,
            Command::Join(JoinRequest {
                user_id: "ana".into(),
                name: "Ana".into(),
                role: "guest".into(),
                password: None,
                metadata: None,
            }),
        )
        .unwrap()
    {
        Outcome::Joined { peer, resumed } => (peer, resumed),
        other => panic!("{other:?}"),
    };
    assert_ne!(again, ana);
    assert!(!resumed);
}

// ---- acting on a peer in any location ------------------------------------------------------------

/// A moderator in main, ana (a guest, talking) in room 1, an empty room 2.
fn ana_in_a_room() -> (Sim, PeerId, PeerId, TrackId, Vec<BreakoutId>) {
    let mut sim = Sim::new();
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let rooms = sim.open_rooms(2, &[(ana, 0)]);
    let audio = publish(&mut sim, ana, Source::Audio);
    assert_eq!(loc(&sim, mo), Location::Main);
    assert_eq!(loc(&sim, ana), Location::Breakout(rooms[0]));
    (sim, mo, ana, audio, rooms)
}

#[test]
fn a_moderator_in_main_mutes_and_asks_to_unmute_a_peer_in_a_breakout() {
    let (mut sim, mo, ana, audio, _rooms) = ana_in_a_room();
    sim.by(
        mo,
        Command::MutePeer {
            peer: ana,
            source: Some(Source::Audio),
        },
    )
    .unwrap();
    assert!(muted(&sim, ana, audio));
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::TrackMuted { track_id, muted: true, by: Some(by), .. }
            if *track_id == audio && *by == mo
    )));

    let request: RequestId = match sim
        .by(
            mo,
            Command::AskUnmute {
                peer: ana,
                source: Source::Audio,
            },
        )
        .unwrap()
    {
        Outcome::RequestSent { request } => request,
        other => panic!("{other:?}"),
    };
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::RequestReceived { request: r }
            if r.id == request && r.kind == RequestKind::Unmute { source: Source::Audio }
    )));
    sim.by(
        ana,
        Command::RespondRequest {
            request,
            accept: true,
        },
    )
    .unwrap();
    assert!(!muted(&sim, ana, audio));
    assert!(sim.was_told(mo, |e| matches!(
        e,
        ServerEvent::RequestResolved { request_id, outcome: RequestOutcome::Accepted }
            if *request_id == request
    )));
}

#[test]
fn a_moderator_in_main_moves_a_peer_from_one_breakout_to_another() {
    let (mut sim, mo, ana, _audio, rooms) = ana_in_a_room();
    sim.by(
        mo,
        Command::MovePeer {
            peer: ana,
            to: Location::Breakout(rooms[1]),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, ana), Location::Breakout(rooms[1]));
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::PeersMoved { moves }
            if moves.iter().any(|g| g.peers.contains(&ana) && g.to == Location::Breakout(rooms[1]))
    )));
    assert_eq!(
        sim.lifecycle_named("peer.moved").len(),
        2,
        "opening and this move"
    );
    assert_eq!(
        loc(&sim, mo),
        Location::Main,
        "the moderator did not have to go there"
    );
}

#[test]
fn a_moderator_in_main_changes_the_role_of_a_peer_in_a_breakout() {
    let (mut sim, mo, ana, _audio, rooms) = ana_in_a_room();
    sim.by(
        mo,
        Command::ChangeRole {
            peer: ana,
            role: "moderator".into(),
            force: true,
        },
    )
    .unwrap();
    let template = sim.session.template().clone();
    let p = sim.peer(ana).unwrap();
    assert_eq!(template.role(p.role()).name(), &RoleName::from("moderator"));
    assert_eq!(
        p.location(),
        Location::Breakout(rooms[0]),
        "she stays where she is"
    );
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::RoleChanged { role, .. } if role == &RoleName::from("moderator")
    )));
}

#[test]
fn a_moderator_in_main_removes_a_peer_in_a_breakout() {
    let (mut sim, mo, ana, _audio, rooms) = ana_in_a_room();
    sim.by(
        mo,
        Command::RemovePeer {
            peer: ana,
            reason: None,
        },
    )
    .unwrap();
    assert!(sim.peer(ana).is_none());
    assert!(sim.was_told(ana, |e| matches!(e, ServerEvent::Removed { .. })));
    assert_eq!(sim.disconnected, vec![ana]);
    let view = sim.session.breakouts_view(sim.now);
    let room = view.rooms.iter().find(|r| r.id == rooms[0]).unwrap();
    assert!(room.peers.is_empty());
}

#[test]
fn a_move_can_be_a_request_the_peer_accepts() {
    let (mut sim, mo, ana, _audio, rooms) = ana_in_a_room();
    let request = match sim
        .by(
            mo,
            Command::MovePeer {
                peer: ana,
                to: Location::Main,
                force: false,
            },
        )
        .unwrap()
    {
        Outcome::RequestSent { request } => request,
        other => panic!("{other:?}"),
    };
    assert_eq!(loc(&sim, ana), Location::Breakout(rooms[0]));
    sim.by(
        ana,
        Command::RespondRequest {
            request,
            accept: true,
        },
    )
    .unwrap();
    assert_eq!(loc(&sim, ana), Location::Main);
}

// ---- ending the session --------------------------------------------------------------------------

#[test]
fn ending_the_session_reaches_every_location_and_stops_everything() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    sim.open_rooms(2, &[(ana, 0), (ben, 1)]);
    let audio = publish(&mut sim, ana, Source::Audio);
    let reconnecting = sim.join("rita", "guest");
    sim.run(SERVER, Command::Disconnect { peer: reconnecting })
        .unwrap();

    let refused = sim
        .by(
            mo,
            Command::EndSession {
                reason: None,
                lock: false,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(!sim.session.is_ended());

    sim.by(
        host,
        Command::EndSession {
            reason: Some("thanks, all".into()),
            lock: false,
        },
    )
    .unwrap();
    assert!(sim.session.is_ended());
    for p in [host, mo, ana, ben] {
        assert!(
            sim.was_told(p, |e| matches!(
                e,
                ServerEvent::SessionEnded { reason } if reason == "thanks, all"
            )),
            "{p} is told"
        );
        assert!(sim.log.contains(&Effect::Disconnect { peer: p }), "{p}");
        assert_eq!(
            left_reasons(&sim, p),
            vec![LeaveReason::SessionEnded],
            "{p}"
        );
        assert!(sim.peer(p).is_none());
    }
    assert_eq!(
        left_reasons(&sim, reconnecting),
        vec![LeaveReason::SessionEnded]
    );
    assert!(sim.log.contains(&Effect::TrackStopped {
        peer: ana,
        track: audio
    }));
    assert_eq!(sim.lifecycle_named("session.ended").len(), 1);
    assert_eq!(sim.log.last(), Some(&Effect::SessionEnded));
    assert!(!sim.session.is_locked(), "not asked to lock");

    // Nothing more happens in an ended session.
    let after = sim
        .run(
            SERVER,
            Command::Chat {
                to: ChatTarget::Everyone,
                text: "hello?".into(),
            },
        )
        .unwrap_err();
    assert_eq!(after.code, ErrorCode::SessionEnded);
    assert_eq!(
        sim.try_join("ana", "guest").unwrap_err().code,
        ErrorCode::SessionEnded
    );
    assert_eq!(
        sim.by(host, Command::SetLocked { locked: true })
            .unwrap_err()
            .code,
        ErrorCode::SessionEnded
    );
    assert_eq!(sim.session.poll_timeout(), None, "no timers left");
    let effects = sim.log.len();
    sim.advance(Duration::from_secs(3600));
    assert_eq!(sim.log.len(), effects);
}

#[test]
fn ending_the_session_with_lock_locks_the_room() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    sim.by(
        host,
        Command::EndSession {
            reason: None,
            lock: true,
        },
    )
    .unwrap();
    assert!(sim.session.is_ended());
    assert!(sim.session.is_locked());
}

/// A lock guards the meeting in progress: "End meeting for all" lifts it (and says so to the
/// store), so the next meeting is not locked against its own host.
#[test]
fn ending_the_session_lifts_the_lock() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    sim.by(host, Command::SetLocked { locked: true }).unwrap();
    assert!(sim.session.is_locked());
    sim.by(
        host,
        Command::EndSession {
            reason: None,
            lock: false,
        },
    )
    .unwrap();
    assert!(sim.session.is_ended());
    assert!(!sim.session.is_locked());
    assert_eq!(
        sim.log.iter().rev().find_map(|e| match e {
            Effect::PersistLocked { locked } => Some(*locked),
            _ => None,
        }),
        Some(false),
        "the next session starts unlocked"
    );
}

/// A locked meeting that ends because everyone left does not stay locked either.
#[test]
fn a_locked_session_that_empties_ends_unlocked() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    sim.by(host, Command::SetLocked { locked: true }).unwrap();
    sim.run(SERVER, Command::Leave { peer: host }).unwrap();
    sim.advance(Duration::from_secs(3600));
    assert!(sim.session.is_ended());
    assert!(!sim.session.is_locked());
    assert!(sim.log.contains(&Effect::PersistLocked { locked: false }));
}

// ---- locking -------------------------------------------------------------------------------------

#[test]
fn a_locked_room_refuses_newcomers_but_lets_a_reconnecting_peer_back() {
    let mut sim = Sim::new();
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");

    let refused = sim
        .by(ana, Command::SetLocked { locked: true })
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(!sim.session.is_locked());

    sim.by(mo, Command::SetLocked { locked: true }).unwrap();
    assert!(sim.session.is_locked());
    for p in [mo, ana] {
        assert!(sim.was_told(p, |e| matches!(e, ServerEvent::RoomLocked { locked: true })));
    }
    assert_eq!(
        sim.try_join("ben", "guest").unwrap_err().code,
        ErrorCode::RoomLocked
    );

    sim.run(SERVER, Command::Disconnect { peer: ana }).unwrap();
    sim.advance(Duration::from_secs(10));
    let back = sim.join("ana", "guest");
    assert_eq!(back, ana, "a returning peer is no newcomer");
    assert!(sim.inbox[&ana].iter().any(|e| matches!(
        **e,
        ServerEvent::Joined {
            resumed: true,
            locked: true,
            ..
        }
    )));

    sim.by(mo, Command::SetLocked { locked: false }).unwrap();
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::RoomLocked { locked: false }
    )));
    sim.join("ben", "guest");
}

// ---- chat ----------------------------------------------------------------------------------------

/// host and mo in main; ana and ben in room 1 (mo listening in); cy in room 2.
struct Floor {
    sim: Sim,
    host: PeerId,
    mo: PeerId,
    ana: PeerId,
    ben: PeerId,
    cy: PeerId,
    rooms: Vec<BreakoutId>,
}

fn floor() -> Floor {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    let cy = sim.join("cy", "guest");
    let rooms = sim.open_rooms(2, &[(ana, 0), (ben, 0), (cy, 1)]);
    sim.by(
        mo,
        Command::ListenIn {
            breakout: Some(rooms[0]),
        },
    )
    .unwrap();
    Floor {
        sim,
        host,
        mo,
        ana,
        ben,
        cy,
        rooms,
    }
}

#[test]
fn chat_to_my_location_reaches_only_those_there_and_its_listeners() {
    let Floor {
        mut sim,
        host,
        mo,
        ana,
        ben,
        cy,
        rooms,
    } = floor();
    chat(
        &mut sim,
        ana,
        ChatTarget::Location(Location::Breakout(rooms[0])),
        "room one here",
    )
    .unwrap();
    for p in [ana, ben, mo] {
        assert_eq!(chats(&sim, p), vec!["room one here"], "{p}");
    }
    for p in [host, cy] {
        assert!(chats(&sim, p).is_empty(), "{p} is elsewhere");
    }
    assert!(sim.was_told(ben, |e| matches!(
        e,
        ServerEvent::Chat { from: Some(f), from_name, .. } if *f == ana && from_name == "ana"
    )));

    chat(
        &mut sim,
        host,
        ChatTarget::Location(Location::Main),
        "main here",
    )
    .unwrap();
    assert_eq!(chats(&sim, mo), vec!["room one here", "main here"]);
    for p in [ana, ben, cy] {
        assert!(!chats(&sim, p).contains(&"main here".to_owned()), "{p}");
    }
}

#[test]
fn chat_to_another_location_needs_broadcast() {
    let Floor {
        mut sim,
        host,
        mo,
        ana,
        cy,
        rooms,
        ..
    } = floor();
    assert_eq!(
        chat(
            &mut sim,
            ana,
            ChatTarget::Location(Location::Main),
            "hello main"
        ),
        Err(ErrorCode::NotPermitted)
    );
    assert_eq!(
        chat(
            &mut sim,
            ana,
            ChatTarget::Location(Location::Breakout(rooms[1])),
            "hello room 2"
        ),
        Err(ErrorCode::NotPermitted)
    );
    assert!(chats(&sim, host).is_empty() && chats(&sim, cy).is_empty());

    chat(
        &mut sim,
        mo,
        ChatTarget::Location(Location::Breakout(rooms[1])),
        "five minutes left",
    )
    .unwrap();
    assert_eq!(chats(&sim, cy), vec!["five minutes left"]);
    assert!(chats(&sim, ana).is_empty());
    assert_eq!(
        chats(&sim, mo),
        vec!["five minutes left"],
        "the sender sees it"
    );
}

#[test]
fn chat_to_a_role_reaches_its_holders_wherever_they_stand() {
    let Floor {
        mut sim,
        host,
        mo,
        ana,
        ben,
        cy,
        ..
    } = floor();
    let cole = sim.join("cole", "co-host");
    chat(&mut sim, cy, ChatTarget::Role("moderator".into()), "help!").unwrap();
    assert_eq!(chats(&sim, mo), vec!["help!"]);
    assert_eq!(chats(&sim, cy), vec!["help!"], "the sender sees it");
    for p in [host, cole, ana, ben] {
        assert!(chats(&sim, p).is_empty(), "{p}");
    }

    chat(
        &mut sim,
        host,
        ChatTarget::Role("guest".into()),
        "guests, hi",
    )
    .unwrap();
    for p in [ana, ben, cy] {
        assert!(chats(&sim, p).contains(&"guests, hi".to_owned()), "{p}");
    }
    assert!(!chats(&sim, mo).contains(&"guests, hi".to_owned()));
    assert!(!chats(&sim, cole).contains(&"guests, hi".to_owned()));

    assert_eq!(
        chat(&mut sim, host, ChatTarget::Role("nobody".into()), "x"),
        Err(ErrorCode::UnknownRole)
    );
}

#[test]
fn chat_to_a_peer_reaches_that_peer_in_any_location() {
    let Floor {
        mut sim,
        host,
        mo,
        ana,
        ben,
        cy,
        ..
    } = floor();
    chat(&mut sim, ana, ChatTarget::PeerId(cy), "psst").unwrap();
    assert_eq!(chats(&sim, cy), vec!["psst"]);
    assert_eq!(chats(&sim, ana), vec!["psst"]);
    for p in [host, mo, ben] {
        assert!(chats(&sim, p).is_empty(), "{p}");
    }
    let gone = PeerId::new(999);
    assert_eq!(
        chat(&mut sim, ana, ChatTarget::PeerId(gone), "anyone?"),
        Err(ErrorCode::UnknownPeer)
    );
}

#[test]
fn chat_to_everyone_needs_broadcast_and_reaches_every_location() {
    let Floor {
        mut sim,
        host,
        mo,
        ana,
        ben,
        cy,
        ..
    } = floor();
    assert_eq!(
        chat(&mut sim, ana, ChatTarget::Everyone, "hi all"),
        Err(ErrorCode::NotPermitted)
    );
    assert!(chats(&sim, host).is_empty());

    chat(&mut sim, host, ChatTarget::Everyone, "welcome").unwrap();
    for p in [host, mo, ana, ben, cy] {
        assert_eq!(chats(&sim, p), vec!["welcome"], "{p}");
    }
}

#[test]
fn an_empty_or_huge_chat_message_is_refused() {
    let Floor { mut sim, ana, .. } = floor();
    let here = ChatTarget::PeerId(ana);
    assert_eq!(
        chat(&mut sim, ana, here.clone(), "   "),
        Err(ErrorCode::InvalidValue)
    );
    assert_eq!(
        chat(&mut sim, ana, here, &"x".repeat(4001)),
        Err(ErrorCode::InvalidValue)
    );
    assert!(chats(&sim, ana).is_empty());
}

// ---- broadcast audio -----------------------------------------------------------------------------

#[test]
fn a_broadcasters_sound_reaches_every_location_but_its_picture_does_not() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let cy = sim.join("cy", "guest");
    let stay = sim.join("stay", "guest");
    let rooms = sim.open_rooms(2, &[(ana, 0), (cy, 1)]);
    let audio = publish(&mut sim, host, Source::Audio);
    let video = publish(&mut sim, host, Source::Video);
    let screen = publish(&mut sim, host, Source::Screen);
    let screen_audio = publish(&mut sim, host, Source::ScreenAudio);
    let key = |track| TrackKey { peer: host, track };
    for p in [ana, cy] {
        assert!(sim.hears(p).is_empty(), "{p}: rooms are isolated");
    }
    assert_eq!(
        sim.subscriptions[&stay].len(),
        4,
        "main sees the whole stage"
    );

    // A guest may not broadcast.
    let refused = sim
        .by(ana, Command::SetBroadcasting { on: true })
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);

    sim.by(host, Command::SetBroadcasting { on: true }).unwrap();
    assert!(sim.peer(host).unwrap().is_broadcasting());
    for p in [ana, cy] {
        assert_eq!(
            sim.subscriptions[&p],
            vec![key(audio), key(screen_audio)],
            "{p} hears the broadcast in its room, without the picture"
        );
        assert!(!sim.subscriptions[&p].contains(&key(video)));
        assert!(!sim.subscriptions[&p].contains(&key(screen)));
    }
    assert_eq!(
        sim.subscriptions[&stay].len(),
        4,
        "main is unchanged by a broadcast"
    );
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::PeerUpdated { peer } if peer.id == host && peer.broadcasting
    )));

    // Stopping takes the sound away again.
    sim.by(host, Command::SetBroadcasting { on: false })
        .unwrap();
    for p in [ana, cy] {
        assert!(sim.hears(p).is_empty(), "{p}");
    }
    assert_eq!(loc(&sim, ana), Location::Breakout(rooms[0]));
}

#[test]
fn a_broadcast_still_reaches_only_roles_that_subscribe_to_the_broadcaster() {
    // A broadcast lifts the location rule, not the subscribe rule: `breakout` subscribes to
    // moderators, `guest` does not.
    let mut sim = Sim::new();
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let gus = sim.join("gus", "guest");
    sim.open_rooms(1, &[(ana, 0)]);
    publish(&mut sim, mo, Source::Audio);
    sim.by(mo, Command::SetBroadcasting { on: true }).unwrap();
    assert_eq!(sim.hears(ana), vec![mo]);
    assert!(
        sim.hears(gus).is_empty(),
        "a guest does not subscribe to moderators, broadcast or not"
    );
}

/// The locked flag outlives the session: the core says when it must be written.
#[test]
fn locking_asks_for_the_flag_to_be_written_once_per_change() {
    let mut sim = Sim::new();
    let host = sim.join("host", "host");
    let written = |sim: &Sim| {
        sim.log
            .iter()
            .filter_map(|e| match e {
                Effect::PersistLocked { locked } => Some(*locked),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    sim.by(host, Command::SetLocked { locked: true }).unwrap();
    sim.by(host, Command::SetLocked { locked: true }).unwrap();
    assert_eq!(written(&sim), vec![true], "no change, no write");
    sim.by(host, Command::SetLocked { locked: false }).unwrap();
    sim.by(
        host,
        Command::EndSession {
            reason: None,
            lock: true,
        },
    )
    .unwrap();
    assert_eq!(written(&sim), vec![true, false, true]);
}
