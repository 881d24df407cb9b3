//! The permission matrix of the built-in `breakout` template, as a spec.
//!
//! The expectations are written by hand from the template's intent (the 100ms seed and
//! `builtin.rs`): host and co-host may do everything and publish the whole stage (audio, video,
//! screen); the moderator may do everything but end the session and publishes audio and video;
//! a guest only watches — it sees the peer list, chats and may pick a breakout room when that is
//! allowed; the `breakout` role talks (audio and video), chats and may pick a room. Chatting to a
//! location one does not stand in, or to everyone, also needs `broadcast`.
//!
//! The first half checks `policy::authorize` cell by cell; the second half plays every cell as
//! a real command through a `Session` and checks what the user sees: done, or refused with the
//! right code and nothing changed.
#![allow(clippy::unwrap_used)]

use caucus_core::policy::{Action, ChatScope, Principal, authorize};
use caucus_core::sim::Sim;
use caucus_core::{Actor, BreakoutOp, Command, Role, builtin};
use caucus_proto::{
    BreakoutId, ChatTarget, ErrorCode, Location, PeerId, Permission, RoleName, ServerEvent, Source,
};

const Y: bool = true;
const N: bool = false;

/// The columns of every table, in order.
const ROLES: [&str; 5] = ["host", "co-host", "moderator", "guest", "breakout"];

struct Row {
    action: Action,
    allowed: [bool; 5],
}

const fn row(action: Action, allowed: [bool; 5]) -> Row {
    Row { action, allowed }
}

#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    use Action::*;
    use ChatScope::*;
    vec![
        //  action                              host co-host moderator guest breakout
        row(Publish(Source::Audio),            [Y,   Y,      Y,        N,    Y]),
        row(Publish(Source::Video),            [Y,   Y,      Y,        N,    Y]),
        row(Publish(Source::Screen),           [Y,   Y,      N,        N,    N]),
        row(Publish(Source::ScreenAudio),      [Y,   Y,      N,        N,    N]),
        row(EndSession,                        [Y,   Y,      N,        N,    N]),
        row(RemovePeer,                        [Y,   Y,      Y,        N,    N]),
        row(MutePeer,                          [Y,   Y,      Y,        N,    N]),
        row(AskUnmute,                         [Y,   Y,      Y,        N,    N]),
        row(ChangeRole,                        [Y,   Y,      Y,        N,    N]),
        row(ManageBreakouts,                   [Y,   Y,      Y,        N,    N]),
        row(MovePeer,                          [Y,   Y,      Y,        N,    N]),
        row(SelfSelectBreakout,                [Y,   Y,      Y,        Y,    Y]),
        row(StartBroadcast,                    [Y,   Y,      Y,        N,    N]),
        row(Record,                            [Y,   Y,      Y,        N,    N]),
        row(SeePeerList,                       [Y,   Y,      Y,        Y,    N]),
        row(LockRoom,                          [Y,   Y,      Y,        N,    N]),
        row(Chat(OwnLocation),                 [Y,   Y,      Y,        Y,    Y]),
        row(Chat(OtherLocation),               [Y,   Y,      Y,        N,    N]),
        row(Chat(Role),                        [Y,   Y,      Y,        Y,    Y]),
        row(Chat(Peer),                        [Y,   Y,      Y,        Y,    Y]),
        row(Chat(Everyone),                    [Y,   Y,      Y,        N,    N]),
    ]
}

/// The permissions an action needs besides publishing, for checking what a denial names.
fn needs(action: Action) -> Vec<Permission> {
    use Permission as P;
    match action {
        Action::Publish(_) => vec![],
        Action::EndSession => vec![P::EndRoom],
        Action::RemovePeer => vec![P::RemovePeers],
        Action::MutePeer => vec![P::MuteOthers],
        Action::AskUnmute => vec![P::AskUnmute],
        Action::ChangeRole => vec![P::ChangeRole],
        Action::ManageBreakouts => vec![P::ManageBreakouts],
        Action::MovePeer => vec![P::MovePeers],
        Action::SelfSelectBreakout => vec![P::SelfSelectBreakout],
        Action::StartBroadcast => vec![P::Broadcast],
        Action::Record => vec![P::Record],
        Action::SeePeerList => vec![P::SeePeerList],
        Action::LockRoom => vec![P::LockRoom],
        Action::Chat(ChatScope::OwnLocation | ChatScope::Role | ChatScope::Peer) => {
            vec![P::SendChat]
        }
        Action::Chat(ChatScope::OtherLocation | ChatScope::Everyone) => {
            vec![P::SendChat, P::Broadcast]
        }
    }
}

fn role(name: &str) -> Role {
    let template = builtin::breakout_template();
    let idx = template.role_idx(&RoleName::from(name)).unwrap();
    template.role(idx).clone()
}

#[test]
fn the_matrix_covers_every_action_exactly_once() {
    let rows = matrix();
    for action in Action::ALL {
        let n = rows.iter().filter(|r| r.action == *action).count();
        assert_eq!(n, 1, "{action:?} has {n} rows in the matrix");
    }
    assert_eq!(rows.len(), Action::ALL.len());
}

#[test]
fn every_role_may_do_exactly_what_the_matrix_says() {
    let mut wrong = Vec::new();
    for r in matrix() {
        for (col, name) in ROLES.iter().enumerate() {
            let role = role(name);
            let got = authorize(Principal::Peer(&role), r.action);
            if got.is_ok() != r.allowed[col] {
                wrong.push(format!(
                    "{name} × {:?}: expected {}, got {got:?}",
                    r.action,
                    if r.allowed[col] { "allowed" } else { "denied" }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that disagree:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_server_may_do_everything() {
    for action in Action::ALL {
        assert_eq!(
            authorize(Principal::Server, *action),
            Ok(()),
            "server × {action:?}"
        );
    }
}

#[test]
fn a_denial_has_a_stable_code_and_names_the_role_and_the_permission() {
    let mut checked = 0;
    for r in matrix() {
        for (col, name) in ROLES.iter().enumerate() {
            if r.allowed[col] {
                continue;
            }
            let role = role(name);
            let denial = authorize(Principal::Peer(&role), r.action).unwrap_err();
            assert!(
                denial.message.contains(name),
                "{name} × {:?}: {:?} does not name the role",
                r.action,
                denial.message
            );
            match r.action {
                Action::Publish(source) => {
                    assert_eq!(
                        denial.code,
                        ErrorCode::PublishNotAllowed,
                        "{name} × {source}"
                    );
                    assert!(
                        denial.message.contains(source.as_str()),
                        "{name} × {source}: {:?} does not name the source",
                        denial.message
                    );
                    assert_eq!(denial.field.as_deref(), Some("source"));
                }
                action => {
                    assert_eq!(denial.code, ErrorCode::NotPermitted, "{name} × {action:?}");
                    let missing: Vec<Permission> = needs(action)
                        .into_iter()
                        .filter(|p| !role.has(*p))
                        .collect();
                    assert!(!missing.is_empty(), "{name} × {action:?}");
                    assert!(
                        missing.iter().any(|p| denial.message.contains(p.as_str())),
                        "{name} × {action:?}: {:?} names none of the missing permissions {missing:?}",
                        denial.message
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} denials were checked");
}

// ---- the same matrix, end to end through a session ---------------------------------------------

/// What trying a command should give: done, or refused with this code.
type Expect = Option<ErrorCode>;
const OK: Expect = None;
const NP: Expect = Some(ErrorCode::NotPermitted);
const PNA: Expect = Some(ErrorCode::PublishNotAllowed);

/// A session set up so that, for every command below, only the actor's permission decides:
/// a publishing moderator `sam`, a guest `tia` in main, one open breakout room that anyone may
/// choose, and the actor in main.
struct Stage {
    sim: Sim,
    actor: PeerId,
    sam: PeerId,
    tia: PeerId,
    room: BreakoutId,
}

fn stage(role: &str) -> Stage {
    let mut sim = Sim::new();
    let sam = sim.join("sam", "moderator");
    sim.by(
        sam,
        Command::Publish {
            source: Source::Audio,
            muted: false,
        },
    )
    .unwrap();
    let tia = sim.join("tia", "guest");
    let room = sim.create_rooms(1)[0];
    let mut options = sim.session.breakouts().options().clone();
    options.allow_self_select = true;
    sim.breakouts(Actor::Server, BreakoutOp::SetOptions(options))
        .unwrap();
    sim.breakouts(Actor::Server, BreakoutOp::Open { duration_s: None })
        .unwrap();
    let actor = sim.join("actor", role);
    assert_eq!(sim.peer(actor).unwrap().location(), Location::Main);
    Stage {
        sim,
        actor,
        sam,
        tia,
        room,
    }
}

#[derive(Debug, Clone, Copy)]
enum Try {
    EndSession,
    RemovePeer,
    MuteOther,
    AskUnmute,
    ChangeRole,
    ManageBreakouts,
    ListenIn,
    MovePeer,
    SelfSelect,
    Broadcast,
    Lock,
    ChatOwnLocation,
    ChatOtherLocation,
    ChatRole,
    ChatPeer,
    ChatEveryone,
    Publish(Source),
}

impl Try {
    fn command(self, s: &Stage) -> Command {
        let chat = |to| Command::Chat {
            to,
            text: "hello".into(),
        };
        match self {
            Try::EndSession => Command::EndSession {
                reason: None,
                lock: false,
            },
            Try::RemovePeer => Command::RemovePeer {
                peer: s.tia,
                reason: None,
            },
            Try::MuteOther => Command::MutePeer {
                peer: s.sam,
                source: Some(Source::Audio),
            },
            Try::AskUnmute => Command::AskUnmute {
                peer: s.sam,
                source: Source::Video,
            },
            Try::ChangeRole => Command::ChangeRole {
                peer: s.tia,
                role: "moderator".into(),
                force: true,
            },
            Try::ManageBreakouts => Command::Breakouts {
                version: None,
                op: BreakoutOp::Create {
                    count: 1,
                    names: vec![],
                    capacity: None,
                },
            },
            Try::ListenIn => Command::ListenIn {
                breakout: Some(s.room),
            },
            Try::MovePeer => Command::MovePeer {
                peer: s.tia,
                to: Location::Breakout(s.room),
                force: true,
            },
            Try::SelfSelect => Command::JoinBreakout {
                breakout: s.room,
                password: None,
            },
            Try::Broadcast => Command::SetBroadcasting { on: true },
            Try::Lock => Command::SetLocked { locked: true },
            Try::ChatOwnLocation => chat(ChatTarget::Location(Location::Main)),
            Try::ChatOtherLocation => chat(ChatTarget::Location(Location::Breakout(s.room))),
            Try::ChatRole => chat(ChatTarget::Role("guest".into())),
            Try::ChatPeer => chat(ChatTarget::PeerId(s.tia)),
            Try::ChatEveryone => chat(ChatTarget::Everyone),
            Try::Publish(source) => Command::Publish {
                source,
                muted: false,
            },
        }
    }

    /// Whether the command's effect is visible in the session afterwards.
    fn happened(self, s: &Stage) -> bool {
        let sim = &s.sim;
        let tia = sim.peer(s.tia);
        let me = sim.peer(s.actor);
        match self {
            Try::EndSession => sim.session.is_ended(),
            Try::RemovePeer => tia.is_none(),
            Try::MuteOther => sim
                .peer(s.sam)
                .unwrap()
                .tracks()
                .any(|(_, source, muted)| source == Source::Audio && muted),
            Try::AskUnmute => sim.was_told(s.sam, |e| {
                matches!(e, ServerEvent::RequestReceived { request } if request.from == Some(s.actor))
            }),
            Try::ChangeRole => {
                let template = sim.session.template();
                tia.unwrap().role() == template.role_idx(&"moderator".into()).unwrap()
            }
            Try::ManageBreakouts => sim.session.breakouts().rooms().count() == 2,
            Try::ListenIn => me.unwrap().listening() == Some(s.room),
            Try::MovePeer => tia.unwrap().location() == Location::Breakout(s.room),
            Try::SelfSelect => me.unwrap().location() == Location::Breakout(s.room),
            Try::Broadcast => me.unwrap().is_broadcasting(),
            Try::Lock => sim.session.is_locked(),
            Try::ChatOwnLocation
            | Try::ChatOtherLocation
            | Try::ChatRole
            | Try::ChatPeer
            | Try::ChatEveryone => sim.was_told(s.actor, |e| matches!(e, ServerEvent::Chat { .. })),
            Try::Publish(source) => me.unwrap().tracks().any(|(_, s, _)| s == source),
        }
    }
}

struct E2eRow {
    what: Try,
    expect: [Expect; 5],
}

const fn e2e(what: Try, expect: [Expect; 5]) -> E2eRow {
    E2eRow { what, expect }
}

#[rustfmt::skip]
fn commands() -> Vec<E2eRow> {
    use Try::*;
    vec![
        //  command                          host co-host moderator guest breakout
        e2e(EndSession,                      [OK,  OK,     NP,       NP,   NP]),
        e2e(RemovePeer,                      [OK,  OK,     OK,       NP,   NP]),
        e2e(MuteOther,                       [OK,  OK,     OK,       NP,   NP]),
        e2e(AskUnmute,                       [OK,  OK,     OK,       NP,   NP]),
        e2e(ChangeRole,                      [OK,  OK,     OK,       NP,   NP]),
        e2e(ManageBreakouts,                 [OK,  OK,     OK,       NP,   NP]),
        e2e(ListenIn,                        [OK,  OK,     OK,       NP,   NP]),
        e2e(MovePeer,                        [OK,  OK,     OK,       NP,   NP]),
        e2e(SelfSelect,                      [OK,  OK,     OK,       OK,   OK]),
        e2e(Broadcast,                       [OK,  OK,     OK,       NP,   NP]),
        e2e(Lock,                            [OK,  OK,     OK,       NP,   NP]),
        e2e(ChatOwnLocation,                 [OK,  OK,     OK,       OK,   OK]),
        e2e(ChatOtherLocation,               [OK,  OK,     OK,       NP,   NP]),
        e2e(ChatRole,                        [OK,  OK,     OK,       OK,   OK]),
        e2e(ChatPeer,                        [OK,  OK,     OK,       OK,   OK]),
        e2e(ChatEveryone,                    [OK,  OK,     OK,       NP,   NP]),
        e2e(Publish(Source::Audio),          [OK,  OK,     OK,       PNA,  OK]),
        e2e(Publish(Source::Video),          [OK,  OK,     OK,       PNA,  OK]),
        e2e(Publish(Source::Screen),         [OK,  OK,     PNA,      PNA,  PNA]),
        e2e(Publish(Source::ScreenAudio),    [OK,  OK,     PNA,      PNA,  PNA]),
    ]
}

#[test]
fn every_role_tries_every_command_in_a_session() {
    let mut wrong = Vec::new();
    for r in commands() {
        for (col, name) in ROLES.iter().enumerate() {
            let mut s = stage(name);
            assert!(!r.what.happened(&s), "{name} × {:?} before trying", r.what);
            let command = r.what.command(&s);
            let got = s.sim.by(s.actor, command).map_err(|d| d.code).err();
            let happened = r.what.happened(&s);
            let expected = r.expect[col];
            if got != expected || happened != expected.is_none() {
                wrong.push(format!(
                    "{name} × {:?}: expected {expected:?}, got {got:?} (effect visible: {happened})",
                    r.what
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cells that disagree:\n{}",
        wrong.join("\n")
    );
}

/// `see_peer_list`: who a joining peer is shown. Everyone allowed the list sees a peer standing
/// in a breakout; a role without it sees only its own location.
#[test]
fn the_peer_list_shows_other_locations_only_to_roles_allowed_to_see_it() {
    #[rustfmt::skip]
    //                              host co-host moderator guest breakout
    let sees_other_locations = [    Y,   Y,      Y,        Y,    N];
    for (col, name) in ROLES.iter().enumerate() {
        let s = stage(name);
        let mut sim = s.sim;
        sim.run(
            Actor::Server,
            Command::MovePeer {
                peer: s.tia,
                to: Location::Breakout(s.room),
                force: true,
            },
        )
        .unwrap();
        let late = sim.join("late", name);
        let listed: Vec<PeerId> = sim.inbox[&late]
            .iter()
            .find_map(|e| match &**e {
                ServerEvent::Joined { peers, .. } => Some(peers.iter().map(|p| p.id).collect()),
                _ => None,
            })
            .unwrap();
        assert!(listed.contains(&s.sam), "{name} sees its own location");
        assert_eq!(
            listed.contains(&s.tia),
            sees_other_locations[col],
            "{name}: listed {listed:?}, tia stands in a breakout"
        );
    }
}
