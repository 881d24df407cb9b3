//! Messages from joined peers' connections: media negotiation, publishing, picture sizes and
//! session commands — and carrying out the one check the core asks the shell for, a password
//! against a stored hash (a self-select into a restored breakout room).

use caucus_core::{Actor, Command, Denial, JoinRequest, Outcome, Time};
use caucus_proto::signal::{ClientBody, ClientMessage, PeerCommand, ReplyData};
use caucus_proto::{ErrorBody, ErrorCode, PeerId, Source};
use rand::Rng;
use tracing::info;

use crate::output::{EngineCommand, Output};
use crate::room::{ConnId, Room};

/// A join waiting for the room password to be checked against the stored hash.
#[derive(Debug)]
pub(crate) struct PendingJoin {
    pub(crate) conn: ConnId,
    pub(crate) message_id: u64,
    pub(crate) request: JoinRequest,
}

/// A peer's command waiting for a password to be checked against a stored hash.
#[derive(Debug)]
pub(crate) struct PendingCheck {
    peer: PeerId,
    /// The id of the message that carried it (the reply names it).
    id: u64,
    command: Command,
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
        self.settle();
    }

    /// The verdict of an [`Output::VerifyPassword`]: the command that asked for it is given to
    /// the core again with the verdict, and every other check runs again in the same order.
    pub fn handle_password_verdict(&mut self, now: Time, check: crate::CheckId, ok: bool) {
        if let Some(join) = self.pending_joins.remove(&check) {
            let result = self.session.handle_checked(
                now,
                Actor::Server,
                Command::Join(join.request.clone()),
                ok,
            );
            self.join_answered(join.conn, join.message_id, join.request, result);
            self.settle();
            return;
        }
        let Some(pending) = self.pending_checks.remove(&check) else {
            return;
        };
        if !self.links.contains_key(&pending.peer) {
            return;
        }
        let result =
            self.session
                .handle_checked(now, Actor::Peer(pending.peer), pending.command, ok);
        self.reply(pending.peer, pending.id, result.map(reply_data));
        self.settle();
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
        let actor = Actor::Peer(peer);
        let seed = self.rng.random();
        let command = match self.session.command_from_wire(actor, command, seed) {
            Ok(command) => command,
            Err(denial) => return self.reply_err(peer, id, denial),
        };
        let leaving = matches!(command, Command::Leave { .. });
        match self.session.handle_command(now, actor, command.clone()) {
            // A restored breakout room knows its password only as a hash: the shell checks the
            // attempt off its event loop (PBKDF2 is slow on purpose), then the core decides.
            Ok(Outcome::CheckPassword { hash, plain }) => {
                let check = self.next_check();
                self.pending_checks
                    .insert(check, PendingCheck { peer, id, command });
                self.output(Output::VerifyPassword { check, hash, plain });
            }
            Ok(outcome) => {
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
