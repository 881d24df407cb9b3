//! Turning a step into a command: selectors resolved against the session as it is.

use std::collections::BTreeMap;

use caucus_core::{
    Actor, Assignee, BreakoutOp, BreakoutRef, Command, JoinRequest, Peer, RoomUpdate,
};
use caucus_proto::{
    BreakoutId, BreakoutOptions, HelpId, Location, PeerId, Permission, RequestId, RoleName, Source,
    TrackId, UserId, Visibility,
};

use crate::harness::Harness;
use crate::ops::{
    Bop, COUNTDOWNS, DURATIONS, EXTENSIONS, NO_HELP, NO_PEER, NO_REQUEST, NO_ROOM, NO_TRACK, Op,
    Place, ROOM_NAMES, Ver, WARNINGS, Who, Whom,
};

impl Harness {
    pub(crate) fn role_name(&self, sel: u8) -> RoleName {
        if sel >= 20 {
            RoleName::from("nobody")
        } else {
            self.roles[sel as usize % self.roles.len()].clone()
        }
    }

    pub(crate) fn present(&self) -> Vec<PeerId> {
        self.session.peers().map(Peer::id).collect()
    }

    /// A present peer; one time in sixteen a departed or unknown one.
    pub(crate) fn pick_peer(&self, sel: u8) -> PeerId {
        let present = self.present();
        if sel >= 240 || present.is_empty() {
            let gone: Vec<PeerId> = self
                .peers_ever
                .iter()
                .filter(|p| !present.contains(p))
                .copied()
                .collect();
            if sel.is_multiple_of(2) && !gone.is_empty() {
                gone[sel as usize / 2 % gone.len()]
            } else {
                NO_PEER
            }
        } else {
            present[sel as usize % present.len()]
        }
    }

    /// Usually a present peer for which `pred` holds, else any peer.
    pub(crate) fn pick_where(&self, sel: u8, pred: impl Fn(&Peer) -> bool) -> PeerId {
        let fitting: Vec<PeerId> = self
            .session
            .peers()
            .filter(|p| pred(p))
            .map(Peer::id)
            .collect();
        if sel >= 224 || fitting.is_empty() {
            self.pick_peer(sel)
        } else {
            fitting[sel as usize % fitting.len()]
        }
    }

    pub(crate) fn acting_has(&self, p: &Peer, permission: Permission) -> bool {
        self.session
            .template()
            .role(p.acting_role())
            .has(permission)
    }

    pub(crate) fn actor(&self, who: &Who) -> Actor {
        match who {
            Who::Server => Actor::Server,
            Who::Manager(sel) => Actor::Peer(self.pick_where(*sel, |p| {
                p.is_connected() && self.acting_has(p, Permission::ManageBreakouts)
            })),
            Who::Peer(sel) => Actor::Peer(self.pick_peer(*sel)),
        }
    }

    /// An existing room; one time in sixteen a removed or unknown one.
    pub(crate) fn pick_room(&self, sel: u8) -> BreakoutId {
        let rooms: Vec<BreakoutId> = self.session.breakouts().rooms().map(|r| r.id()).collect();
        if sel >= 240 || rooms.is_empty() {
            let gone: Vec<BreakoutId> = self
                .rooms_ever
                .iter()
                .filter(|b| !rooms.contains(b))
                .copied()
                .collect();
            if sel.is_multiple_of(2) && !gone.is_empty() {
                gone[sel as usize / 2 % gone.len()]
            } else {
                NO_ROOM
            }
        } else {
            rooms[sel as usize % rooms.len()]
        }
    }

    pub(crate) fn place(&self, place: &Place) -> Location {
        match place {
            Place::Main => Location::Main,
            Place::Room(sel) => Location::Breakout(self.pick_room(*sel)),
        }
    }

    pub(crate) fn pick_track(&self, peer: PeerId, sel: u8) -> TrackId {
        let tracks: Vec<TrackId> = self
            .session
            .peer(peer)
            .map(|p| p.tracks().map(|(t, _, _)| t).collect())
            .unwrap_or_default();
        if sel >= 224 || tracks.is_empty() {
            NO_TRACK
        } else {
            tracks[sel as usize % tracks.len()]
        }
    }

    pub(crate) fn pending_requests(&self) -> BTreeMap<RequestId, PeerId> {
        self.session
            .peers()
            .flat_map(|p| {
                self.session
                    .requests_for(p.id())
                    .into_iter()
                    .map(move |r| (r, p.id()))
            })
            .collect()
    }

    pub(crate) fn build(&self, op: &Op) -> Option<(Actor, Command)> {
        let source = |s: u8| Source::ALL[s as usize % Source::ALL.len()];
        let built = match op {
            Op::Join { user, role } => (
                Actor::Server,
                Command::Join(JoinRequest {
                    user_id: format!("u{user}").into(),
                    name: format!("User {user}"),
                    role: self.role_name(*role),
                    password: None,
                    metadata: None,
                }),
            ),
            Op::Rejoin { peer } => {
                let away: Vec<&Peer> = self.session.peers().filter(|p| !p.is_connected()).collect();
                let target = if away.is_empty() {
                    self.session.peer(self.pick_peer(*peer))?
                } else {
                    away[*peer as usize % away.len()]
                };
                let role = self.session.template().role(target.role()).name().clone();
                (
                    Actor::Server,
                    Command::Join(JoinRequest {
                        user_id: target.user_id().clone(),
                        name: target.name().to_owned(),
                        role,
                        password: None,
                        metadata: None,
                    }),
                )
            }
            Op::Leave { who, peer } => {
                let target = self.pick_peer(*peer);
                let actor = match who {
                    Who::Peer(sel) if sel % 2 == 0 => Actor::Peer(target),
                    other => self.actor(other),
                };
                (actor, Command::Leave { peer: target })
            }
            Op::Disconnect { peer } => (
                Actor::Server,
                Command::Disconnect {
                    peer: self.pick_where(*peer, Peer::is_connected),
                },
            ),
            Op::Publish {
                who,
                source: s,
                muted,
            } => (
                Actor::Peer(self.pick_where(*who, |p| {
                    p.is_connected()
                        && !self
                            .session
                            .template()
                            .role(p.acting_role())
                            .publishable()
                            .is_empty()
                })),
                Command::Publish {
                    source: source(*s),
                    muted: *muted,
                },
            ),
            Op::Unpublish { who, track } => {
                let actor = self.pick_where(*who, |p| p.tracks().next().is_some());
                (
                    Actor::Peer(actor),
                    Command::Unpublish {
                        track: self.pick_track(actor, *track),
                    },
                )
            }
            Op::SetMuted { who, track, muted } => {
                let actor = self.pick_where(*who, |p| p.tracks().next().is_some());
                (
                    Actor::Peer(actor),
                    Command::SetMuted {
                        track: self.pick_track(actor, *track),
                        muted: *muted,
                    },
                )
            }
            Op::MutePeer {
                who,
                peer,
                source: s,
            } => (
                self.actor(who),
                Command::MutePeer {
                    peer: self.pick_peer(*peer),
                    source: s.map(source),
                },
            ),
            Op::AskUnmute {
                who,
                peer,
                source: s,
            } => (
                self.actor(who),
                Command::AskUnmute {
                    peer: self.pick_peer(*peer),
                    source: source(*s),
                },
            ),
            Op::ChangeRole {
                who,
                peer,
                role,
                force,
            } => (
                self.actor(who),
                Command::ChangeRole {
                    peer: self.pick_peer(*peer),
                    role: self.role_name(*role),
                    force: *force,
                },
            ),
            Op::ChangeRoles { who, from, to } => (
                self.actor(who),
                Command::ChangeRoles {
                    from_roles: from.iter().map(|r| self.role_name(*r)).collect(),
                    to_role: self.role_name(*to),
                },
            ),
            Op::Move {
                who,
                peer,
                to,
                force,
            } => (
                self.actor(who),
                Command::MovePeer {
                    peer: self.pick_peer(*peer),
                    to: self.place(to),
                    force: *force,
                },
            ),
            Op::Respond {
                who,
                request,
                accept,
            } => {
                let actor =
                    self.pick_where(*who, |p| !self.session.requests_for(p.id()).is_empty());
                let own = self.session.requests_for(actor);
                let all: Vec<RequestId> = self.pending_requests().into_keys().collect();
                let list = if request % 4 == 3 || own.is_empty() {
                    all
                } else {
                    own
                };
                let chosen = if list.is_empty() || *request >= 240 {
                    NO_REQUEST
                } else {
                    list[*request as usize % list.len()]
                };
                (
                    Actor::Peer(actor),
                    Command::RespondRequest {
                        request: chosen,
                        accept: *accept,
                    },
                )
            }
            Op::Breakouts { who, version, op } => {
                let current = self.session.breakouts().version();
                let version = match version {
                    Ver::Unchecked => None,
                    Ver::Current => Some(current),
                    Ver::Stale if current > 0 => Some(current - 1),
                    Ver::Stale => Some(current + 1),
                };
                (
                    self.actor(who),
                    Command::Breakouts {
                        version,
                        op: self.build_bop(op),
                    },
                )
            }
            Op::JoinBreakout {
                who,
                room,
                password,
            } => (
                Actor::Peer(
                    self.pick_where(*who, |p| p.is_connected() && p.location() == Location::Main),
                ),
                Command::JoinBreakout {
                    breakout: self.pick_room(*room),
                    password: match password {
                        0 => None,
                        1 => Some("pw".to_owned()),
                        _ => Some("guess".to_owned()),
                    },
                },
            ),
            Op::ReturnToMain { who } => (
                Actor::Peer(self.pick_where(*who, |p| p.location().is_breakout())),
                Command::ReturnToMain,
            ),
            Op::ListenIn { who, room } => (
                self.actor(who),
                Command::ListenIn {
                    breakout: room.map(|r| self.pick_room(r)),
                },
            ),
            Op::Broadcasting { who, on } => (self.actor(who), Command::SetBroadcasting { on: *on }),
            Op::RequestHelp { who } => (self.actor(who), Command::RequestHelp),
            Op::SetLocked { who, locked } => {
                (self.actor(who), Command::SetLocked { locked: *locked })
            }
            Op::End { who, lock } => (
                self.actor(who),
                Command::EndSession {
                    reason: None,
                    lock: *lock,
                },
            ),
            Op::Advance { .. } | Op::Crowd { .. } => return None,
        };
        Some(built)
    }

    pub(crate) fn build_bop(&self, op: &Bop) -> BreakoutOp {
        match op {
            Bop::Create {
                count,
                names,
                capacity,
            } => BreakoutOp::Create {
                count: u32::from(*count),
                names: names
                    .iter()
                    .map(|n| ROOM_NAMES[*n as usize % ROOM_NAMES.len()].to_owned())
                    .collect(),
                capacity: match capacity {
                    0 => None,
                    4 => Some(0),
                    c => Some(u32::from(*c)),
                },
            },
            Bop::Update {
                room,
                capacity,
                visibility,
                password,
            } => BreakoutOp::Update {
                breakout: self.pick_room(*room),
                update: RoomUpdate {
                    name: None,
                    capacity: capacity.map(|c| match c {
                        0 => None,
                        4 => Some(0),
                        c => Some(u32::from(c)),
                    }),
                    password: password.map(|p| p.map(|ok| if ok { "pw" } else { "" }.to_owned())),
                    visibility: visibility.as_ref().map(|v| match v {
                        None => Visibility::Isolated,
                        Some(roles) => Visibility::MainStage {
                            roles: roles.iter().map(|r| self.role_name(*r)).collect(),
                        },
                    }),
                },
            },
            Bop::Remove { room } => BreakoutOp::Remove {
                breakout: self.pick_room(*room),
            },
            Bop::Options {
                self_select,
                return_to_main,
                auto_move,
                countdown,
                duration,
                warning,
            } => BreakoutOp::SetOptions(BreakoutOptions {
                allow_self_select: *self_select,
                allow_return_to_main: *return_to_main,
                auto_move_on_open: *auto_move,
                countdown_s: COUNTDOWNS[*countdown as usize % COUNTDOWNS.len()],
                duration_s: duration.map(|d| DURATIONS[d as usize % DURATIONS.len()]),
                warning_s: WARNINGS[*warning as usize % WARNINGS.len()],
            }),
            Bop::Assign { list } => BreakoutOp::Assign {
                assignments: list
                    .iter()
                    .map(|(whom, place)| {
                        let assignee = match whom {
                            Whom::Peer(sel) => Assignee::Peer(self.pick_peer(*sel)),
                            Whom::User(u) => Assignee::User(format!("u{u}").into()),
                        };
                        (assignee, self.place(place))
                    })
                    .collect(),
            },
            Bop::AutoAssign {
                exclude,
                seed,
                keep_previous,
            } => BreakoutOp::AutoAssign {
                exclude_roles: exclude
                    .as_ref()
                    .map(|roles| roles.iter().map(|r| self.role_name(*r)).collect()),
                seed: *seed,
                keep_previous: *keep_previous,
            },
            Bop::Preassign { list } => BreakoutOp::SetPreassignments {
                by_user_id: list
                    .iter()
                    .map(|(user, room, by_name)| {
                        let b = self.pick_room(*room);
                        let reference = if *by_name {
                            BreakoutRef::Name(
                                self.session
                                    .breakouts()
                                    .room(b)
                                    .map_or("Nowhere".to_owned(), |r| r.name().to_owned()),
                            )
                        } else {
                            BreakoutRef::Id(b)
                        };
                        (UserId::from(format!("u{user}")), reference)
                    })
                    .collect(),
            },
            Bop::Open { duration } => BreakoutOp::Open {
                duration_s: duration.map(|d| DURATIONS[d as usize % DURATIONS.len()]),
            },
            Bop::Close { countdown, room } => BreakoutOp::Close {
                countdown_s: countdown.map(|c| COUNTDOWNS[c as usize % COUNTDOWNS.len()]),
                breakout: room.map(|r| self.pick_room(r)),
            },
            Bop::Extend { seconds } => BreakoutOp::Extend {
                seconds: EXTENSIONS[*seconds as usize % EXTENSIONS.len()],
            },
            Bop::Text => BreakoutOp::Broadcast {
                text: "five minutes left".to_owned(),
            },
            Bop::Help { claim, entry } => {
                let help: Vec<HelpId> = self
                    .session
                    .breakouts_view(self.now)
                    .help
                    .iter()
                    .map(|h| h.id)
                    .collect();
                let help = if help.is_empty() || *entry >= 224 {
                    NO_HELP
                } else {
                    help[*entry as usize % help.len()]
                };
                if *claim {
                    BreakoutOp::ClaimHelp { help }
                } else {
                    BreakoutOp::DismissHelp { help }
                }
            }
        }
    }
}
