//! The plan's steps carried out in the world: connecting clients, and each action of a
//! room's plan as the commands its people send.

use super::*;

impl World {
    pub(super) fn connect(&mut self, client: usize) {
        if self.clients[client].conn.is_some() {
            return;
        }
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        self.conns.insert(conn, client);
        self.clients[client].conn = Some(conn);
        self.disturbed_until[client] = self.now + WARMUP;
        self.wire(conn, true, Wire::Join { conn, client });
    }

    /// The first person of a room holding `role` (the plan's actors).
    pub(super) fn host_of(&self, room: usize) -> Option<usize> {
        self.clients
            .iter()
            .position(|c| c.room == room && c.role == "host")
    }

    pub(super) fn breakout(&self, room: usize, index: usize) -> Option<caucus_proto::BreakoutId> {
        self.rooms[room]
            .session()
            .breakouts_view(self.time())
            .rooms
            .get(index)
            .map(|b| b.id)
    }

    pub(super) fn command(&mut self, who: usize, label: &str, command: PeerCommand) {
        if self.clients[who].is_online() {
            self.digest
                .write(format!("{:?} {} {label}", self.now, self.clients[who].name).as_bytes());
            self.clients[who].say(
                ClientBody::Command { command },
                Sent::Command(label.to_owned()),
            );
        }
    }

    pub(super) fn breakouts(&mut self, room: usize, label: &str, op: BreakoutCommand) {
        if let Some(host) = self.host_of(room) {
            self.command(host, label, PeerCommand::Breakouts { version: None, op });
        }
    }

    pub(super) fn act(&mut self, action: &Action) {
        match action.clone() {
            Action::Create { room, count } => self.breakouts(
                room,
                "create",
                BreakoutCommand::Create {
                    count: Some(count),
                    names: Vec::new(),
                    capacity: None,
                },
            ),
            Action::CreateNamed { room, names } => self.breakouts(
                room,
                "create_named",
                BreakoutCommand::Create {
                    count: None,
                    names,
                    capacity: None,
                },
            ),
            Action::Preassign { room, assignments } => {
                let mut by_user_id = std::collections::BTreeMap::new();
                for (who, index) in assignments {
                    if let Some(b) = self.breakout(room, index) {
                        by_user_id.insert(self.clients[who].user.as_str().into(), b.to_string());
                    }
                }
                self.breakouts(room, "preassign", BreakoutCommand::Preassign { by_user_id });
            }
            Action::Options {
                room,
                auto_move,
                self_select,
            } => self.breakouts(
                room,
                "options",
                BreakoutCommand::SetOptions {
                    options: BreakoutOptions {
                        allow_self_select: self_select,
                        auto_move_on_open: auto_move,
                        countdown_s: 2,
                        warning_s: 1,
                        ..BreakoutOptions::default()
                    },
                },
            ),
            Action::Auto { room, seed } => self.breakouts(
                room,
                "auto",
                BreakoutCommand::Auto {
                    exclude_roles: Some(vec!["host".into(), "co-host".into(), "moderator".into()]),
                    seed: Some(seed),
                    keep_previous: false,
                },
            ),
            Action::Open { room, duration_s } => {
                self.breakouts(room, "open", BreakoutCommand::Open { duration_s })
            }
            Action::Close {
                room,
                which,
                countdown_s,
            } => {
                let breakout_id = which.and_then(|i| self.breakout(room, i));
                if which.is_some() && breakout_id.is_none() {
                    return;
                }
                self.breakouts(
                    room,
                    "close",
                    BreakoutCommand::Close {
                        countdown_s: Some(countdown_s),
                        breakout_id,
                    },
                );
            }
            Action::Move { room, who, to } => {
                let Some(peer) = self.clients[who].peer else {
                    return;
                };
                let to = match to {
                    Some(i) => match self.breakout(room, i) {
                        Some(b) => Location::Breakout(b),
                        None => return,
                    },
                    None => Location::Main,
                };
                if let Some(host) = self.host_of(room) {
                    self.command(
                        host,
                        "move",
                        PeerCommand::MovePeer {
                            peer_id: peer,
                            to,
                            force: true,
                        },
                    );
                }
            }
            Action::ListenIn { who, to } => {
                let room = self.clients[who].room;
                let breakout_id = to.and_then(|i| self.breakout(room, i));
                self.command(who, "listen_in", PeerCommand::ListenIn { breakout_id });
            }
            Action::SelfSelect { who, to } => {
                let room = self.clients[who].room;
                if let Some(breakout_id) = self.breakout(room, to) {
                    self.command(
                        who,
                        "join_breakout",
                        PeerCommand::JoinBreakout {
                            breakout_id,
                            password: None,
                        },
                    );
                }
            }
            Action::ReturnToMain { who } => {
                self.command(who, "return_to_main", PeerCommand::ReturnToMain)
            }
            Action::Mute { who, kind, muted } => {
                let source = kind.source();
                let Some(Some(track_id)) = self.clients[who].published.get(&source).copied() else {
                    return;
                };
                if muted {
                    self.clients[who].muted.insert(source);
                } else {
                    self.clients[who].muted.remove(&source);
                }
                self.command(who, "mute", PeerCommand::SetMuted { track_id, muted });
            }
            Action::Forbidden { who, target } => {
                let Some(peer) = self.clients[target].peer else {
                    return;
                };
                self.command(
                    who,
                    "forbidden_move",
                    PeerCommand::MovePeer {
                        peer_id: peer,
                        to: Location::Main,
                        force: true,
                    },
                );
            }
            Action::Disconnect { who, for_ } => {
                let Some(conn) = self.clients[who].conn else {
                    return;
                };
                let r = self.clients[who].room;
                let peer = self.clients[who].peer;
                self.conns.remove(&conn);
                self.clients[who].drop_connection();
                self.digest
                    .write(format!("{:?} drop {}", self.now, self.clients[who].name).as_bytes());
                if let Some(peer) = peer
                    && !self.ended[r]
                {
                    let time = self.time();
                    self.rooms[r].handle_connection_lost(time, conn, peer);
                    self.dirty.insert(r);
                }
                let at = self.now + for_;
                let i = self.reconnects.partition_point(|(t, _)| *t <= at);
                self.reconnects.insert(i, (at, who));
                self.disturbed_until[who] = at + WARMUP;
            }
            Action::Blackout { who, for_ } => {
                let addr = self.clients[who].addr;
                self.net.blackout(addr, self.now + for_);
                self.disturbed_until[who] = self.now + for_ + WARMUP;
            }
        }
    }
}
