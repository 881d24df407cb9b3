//! Messages from joined peers' connections: media negotiation, publishing, picture sizes and
//! session commands — and the one check the core cannot make alone, a self-select into a
//! restored breakout room whose password is known only as a hash.

use std::time::Duration;

use caucus_core::{Actor, Command, Denial, JoinRequest, Outcome, Time};
use caucus_proto::signal::{BreakoutCommand, ClientBody, ClientMessage, PeerCommand, ReplyData};
use caucus_proto::{BreakoutId, ErrorBody, ErrorCode, PeerId, Source};
use rand::Rng;
use tracing::info;

use crate::output::{EngineCommand, Output};
use crate::plan::Secret;
use crate::room::{ConnId, Room};

/// The least time between two password checks of one peer against a stored hash.
const PASSWORD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A join waiting for the room password to be checked against the stored hash.
#[derive(Debug)]
pub(crate) struct PendingJoin {
    pub(crate) conn: ConnId,
    pub(crate) message_id: u64,
    pub(crate) request: JoinRequest,
}

/// A `join_breakout` waiting for its password to be checked against the stored hash.
#[derive(Debug)]
pub(crate) struct PendingCheck {
    peer: PeerId,
    id: u64,
    command: PeerCommand,
    breakout: BreakoutId,
    plain: String,
}

impl Room {
    /// A message from a joined peer's connection (anything but `join` and `ping`, which the
    /// connection answers itself). Messages from a connection that was replaced are ignored.
    pub fn handle_message(
        &mut self,
        now: Time,
        conn: ConnId,
        peer: PeerId,
        message: ClientMessage,
    ) {
        if self.links.get(&peer) != Some(&conn) {
            tracing::debug!(room = %self.id, %peer, ?conn, "message from a replaced connection");
            return;
        }
        let id = message.id;
        match message.body {
            ClientBody::Join { .. } => self.reply_err(
                peer,
                id,
                ErrorBody {
                    code: ErrorCode::InvalidValue,
                    message: "already joined".to_owned(),
                    field: None,
                },
            ),
            ClientBody::Ping => self.reply(peer, id, Ok(None)),
            ClientBody::Offer { sdp } => self.offer(peer, id, sdp),
            ClientBody::Answer { sdp } => self.answer(peer, id, sdp),
            ClientBody::Publish { source, mid, muted } => {
                self.publish(now, peer, id, source, &mid, muted)
            }
            ClientBody::VideoSize {
                track_id,
                max_width,
                max_height,
            } => self.video_size(peer, id, track_id, max_width, max_height),
            ClientBody::Command { command } => self.command(now, peer, id, command),
        }
        self.settle(now);
    }

    /// The verdict of an [`Output::VerifyPassword`]: a right password is taught to the core
    /// (and remembered for the plan), then the command runs as if it had just arrived — a
    /// wrong one is refused by the core as any wrong password is.
    pub fn handle_password_verdict(&mut self, now: Time, check: crate::CheckId, ok: bool) {
        if let Some(join) = self.pending_joins.remove(&check) {
            let result = self.session.handle_checked(
                now,
                Actor::Server,
                Command::Join(join.request.clone()),
                ok,
            );
            self.join_answered(join.conn, join.message_id, join.request, result);
            self.settle(now);
            return;
        }
        let Some(pending) = self.pending_checks.remove(&check) else {
            return;
        };
        if !self.links.contains_key(&pending.peer) {
            return;
        }
        if ok && matches!(self.secrets.get(&pending.breakout), Some(Secret::Hash(_))) {
            self.session
                .learn_breakout_password(pending.breakout, pending.plain.clone());
            self.secrets
                .insert(pending.breakout, Secret::Plain(pending.plain));
        }
        self.run_command(now, pending.peer, pending.id, pending.command);
        self.settle(now);
    }

    fn offer(&mut self, peer: PeerId, id: u64, sdp: String) {
        match self.ids.key_of(peer) {
            Some(key) => self.engine(EngineCommand::Offer {
                key,
                sdp,
                request: id,
            }),
            None => {
                let key = self.next_key();
                self.ids.attach(peer, key);
                self.adding.insert(key);
                // Subscriptions follow once the engine says the peer is connected.
                self.engine(EngineCommand::AddPeer {
                    key,
                    offer: sdp,
                    request: id,
                });
            }
        }
    }

    fn answer(&mut self, peer: PeerId, id: u64, sdp: String) {
        match self.ids.key_of(peer) {
            Some(key) => self.engine(EngineCommand::Answer {
                key,
                sdp,
                request: id,
            }),
            None => self.reply_err(peer, id, no_media()),
        }
    }

    fn publish(
        &mut self,
        now: Time,
        peer: PeerId,
        id: u64,
        source: Source,
        mid: &str,
        muted: bool,
    ) {
        if let Err(denial) = self.ids.check_announce(peer, mid, source) {
            return self.reply_err(peer, id, denial);
        }
        match self.session.handle_command(
            now,
            Actor::Peer(peer),
            Command::Publish { source, muted },
        ) {
            Ok(Outcome::Published { track }) => {
                let bound = self.ids.announce(peer, mid, track, source, muted);
                self.reply(peer, id, Ok(Some(ReplyData::Published { track_id: track })));
                if let Some(bound) = bound {
                    self.on_bound(bound);
                }
            }
            Ok(outcome) => self.reply(peer, id, Ok(reply_data(outcome))),
            Err(denial) => self.reply_err(peer, id, denial),
        }
    }

    fn command(&mut self, now: Time, peer: PeerId, id: u64, command: PeerCommand) {
        // A restored breakout room's password is known here only as its hash: the shell checks
        // the attempt off its event loop (PBKDF2 is slow on purpose), then the command runs.
        if let PeerCommand::JoinBreakout {
            breakout_id,
            password: Some(plain),
        } = &command
            && let Some(Secret::Hash(hash)) = self.secrets.get(breakout_id)
        {
            if let Some(last) = self.password_checks.get(&peer)
                && last.until(now) < PASSWORD_CHECK_INTERVAL
            {
                return self.reply_err(
                    peer,
                    id,
                    ErrorBody {
                        code: ErrorCode::RateLimited,
                        message: "one password attempt per second".to_owned(),
                        field: Some("password".to_owned()),
                    },
                );
            }
            self.password_checks.insert(peer, now);
            let (breakout, plain, hash) = (*breakout_id, plain.clone(), hash.clone());
            let check = self.next_check();
            self.pending_checks.insert(
                check,
                PendingCheck {
                    peer,
                    id,
                    command,
                    breakout,
                    plain: plain.clone(),
                },
            );
            self.output(Output::VerifyPassword { check, hash, plain });
            return;
        }
        self.run_command(now, peer, id, command);
    }

    fn run_command(&mut self, now: Time, peer: PeerId, id: u64, command: PeerCommand) {
        let actor = Actor::Peer(peer);
        let breakout_op = match &command {
            PeerCommand::Breakouts { op, .. } => Some(op.clone()),
            _ => None,
        };
        let seed = self.rng.random();
        let result = self
            .session
            .command_from_wire(actor, command, seed)
            .and_then(|command| {
                let leaving = matches!(command, Command::Leave { .. });
                self.session
                    .handle_command(now, actor, command)
                    .map(|outcome| (outcome, leaving))
            });
        match result {
            Ok((outcome, leaving)) => {
                if let Some(op) = &breakout_op {
                    self.note_secret(op);
                }
                self.reply(peer, id, Ok(reply_data(outcome)));
                if leaving {
                    info!(room = %self.id, %peer, "peer left");
                    self.carry_out();
                    self.close_link(peer, crate::close_code::NORMAL, "left");
                    self.forget(peer);
                }
            }
            Err(denial) => self.reply_err(peer, id, denial),
        }
    }

    /// Remember a breakout password that a successful command set or cleared.
    pub(crate) fn note_secret(&mut self, op: &BreakoutCommand) {
        if let BreakoutCommand::Update {
            breakout_id,
            update,
        } = op
            && let Some(password) = &update.password
        {
            match password {
                Some(p) => self.secrets.insert(*breakout_id, Secret::Plain(p.clone())),
                None => self.secrets.remove(breakout_id),
            };
        }
    }
}

pub(crate) fn reply_data(outcome: Outcome) -> Option<ReplyData> {
    match outcome {
        // Only joins ask for a check, and the room answers those itself.
        Outcome::Done | Outcome::CheckPassword { .. } => None,
        Outcome::Joined { peer, resumed } => Some(ReplyData::Joined {
            peer_id: peer,
            resumed,
        }),
        Outcome::Published { track } => Some(ReplyData::Published { track_id: track }),
        Outcome::RequestSent { request } => Some(ReplyData::RequestSent {
            request_id: request,
        }),
        Outcome::BreakoutsCreated { rooms } => Some(ReplyData::BreakoutsCreated { rooms }),
        Outcome::HelpRequested { help } => Some(ReplyData::HelpRequested { help_id: help }),
    }
}

pub(crate) fn no_media() -> ErrorBody {
    Denial::new(
        ErrorCode::NotConnected,
        "no media connection yet; send an offer first",
    )
}
