//! From the wire to the core: signaling and REST bodies become core commands.
//!
//! The wire names things the way people and applications do (a peer id *or* a user id as an
//! assignment key, a room by id *or* by name); the core wants them resolved. Resolution reads
//! the session, so it lives here, beside the state it reads, and not in each shell.

use caucus_proto::signal::{BreakoutCommand, PeerCommand};
use caucus_proto::{BreakoutId, ErrorCode, PeerId, UserId};

use crate::command::{Actor, Assignee, BreakoutOp, BreakoutRef, Command, RoomUpdate};
use crate::denial::Denial;
use crate::session::Session;

impl Session {
    /// Translate a wire command sent by `actor`. `seed` is used when an auto-assign names none.
    pub fn command_from_wire(
        &self,
        actor: Actor,
        command: PeerCommand,
        seed: u64,
    ) -> Result<Command, Denial> {
        let myself = || match actor {
            Actor::Peer(p) => Ok(p),
            Actor::Server => {
                Err(Denial::new(ErrorCode::InvalidValue, "name the peer").with_field("peer_id"))
            }
        };
        Ok(match command {
            PeerCommand::Leave => Command::Leave { peer: myself()? },
            PeerCommand::UpdateSelf { name, metadata } => Command::UpdatePeer {
                peer: myself()?,
                name,
                metadata,
            },
            PeerCommand::SetHand { peer_id, raised } => Command::SetHand {
                peer: peer_id.map_or_else(myself, Ok)?,
                raised,
            },
            PeerCommand::Unpublish { track_id } => Command::Unpublish { track: track_id },
            PeerCommand::SetMuted { track_id, muted } => Command::SetMuted {
                track: track_id,
                muted,
            },
            PeerCommand::MutePeer { peer_id, source } => Command::MutePeer {
                peer: peer_id,
                source,
            },
            PeerCommand::AskUnmute { peer_id, source } => Command::AskUnmute {
                peer: peer_id,
                source,
            },
            PeerCommand::ChangeRole {
                peer_id,
                role,
                force,
            } => Command::ChangeRole {
                peer: peer_id,
                role,
                force,
            },
            PeerCommand::ChangeRoles {
                from_roles,
                to_role,
            } => Command::ChangeRoles {
                from_roles,
                to_role,
            },
            PeerCommand::MovePeer { peer_id, to, force } => Command::MovePeer {
                peer: peer_id,
                to,
                force,
            },
            PeerCommand::RespondRequest { request_id, accept } => Command::RespondRequest {
                request: request_id,
                accept,
            },
            PeerCommand::RemovePeer { peer_id, reason } => Command::RemovePeer {
                peer: peer_id,
                reason,
            },
            PeerCommand::EndSession { reason, lock } => Command::EndSession { reason, lock },
            PeerCommand::SetLocked { locked } => Command::SetLocked { locked },
            PeerCommand::Chat { to, text } => Command::Chat { to, text },
            PeerCommand::SetBroadcasting { on } => Command::SetBroadcasting { on },
            PeerCommand::ListenIn { breakout_id } => Command::ListenIn {
                breakout: breakout_id,
            },
            PeerCommand::JoinBreakout {
                breakout_id,
                password,
            } => Command::JoinBreakout {
                breakout: breakout_id,
                password,
            },
            PeerCommand::ReturnToMain => Command::ReturnToMain,
            PeerCommand::RequestHelp => Command::RequestHelp,
            PeerCommand::Breakouts { version, op } => Command::Breakouts {
                version,
                op: self.breakout_op_from_wire(op, seed),
            },
        })
    }

    /// Translate a breakout operation (signaling or REST body).
    pub fn breakout_op_from_wire(&self, op: BreakoutCommand, seed: u64) -> BreakoutOp {
        match op {
            BreakoutCommand::Create {
                count,
                names,
                capacity,
            } => BreakoutOp::Create {
                count: count.unwrap_or(0),
                names,
                capacity,
            },
            BreakoutCommand::Update {
                breakout_id,
                update,
            } => BreakoutOp::Update {
                breakout: breakout_id,
                update: RoomUpdate {
                    name: update.name,
                    capacity: update.capacity,
                    password: update.password,
                    visibility: update.visibility,
                },
            },
            BreakoutCommand::Remove { breakout_id } => BreakoutOp::Remove {
                breakout: breakout_id,
            },
            BreakoutCommand::SetOptions { options } => BreakoutOp::SetOptions(options),
            BreakoutCommand::Assign { assignments } => BreakoutOp::Assign {
                assignments: assignments
                    .into_iter()
                    .map(|(key, to)| (self.assignee(&key), to))
                    .collect(),
            },
            BreakoutCommand::Auto {
                exclude_roles,
                seed: given,
                keep_previous,
            } => BreakoutOp::AutoAssign {
                exclude_roles,
                seed: given.unwrap_or(seed),
                keep_previous,
            },
            BreakoutCommand::Preassign { by_user_id } => BreakoutOp::SetPreassignments {
                by_user_id: by_user_id
                    .into_iter()
                    .map(|(user, room)| (user, self.breakout_ref(room)))
                    .collect(),
            },
            BreakoutCommand::Open { duration_s } => BreakoutOp::Open { duration_s },
            BreakoutCommand::Close {
                countdown_s,
                breakout_id,
            } => BreakoutOp::Close {
                countdown_s,
                breakout: breakout_id,
            },
            BreakoutCommand::Extend { seconds } => BreakoutOp::Extend { seconds },
            BreakoutCommand::Broadcast { text } => BreakoutOp::Broadcast { text },
            BreakoutCommand::ClaimHelp { help_id } => BreakoutOp::ClaimHelp { help: help_id },
            BreakoutCommand::DismissHelp { help_id } => BreakoutOp::DismissHelp { help: help_id },
        }
    }

    /// A key that names a present peer is that peer; anything else is a user id.
    fn assignee(&self, key: &str) -> Assignee {
        match key.parse::<PeerId>() {
            Ok(peer) if self.peer(peer).is_some() => Assignee::Peer(peer),
            _ => Assignee::User(UserId::from(key)),
        }
    }

    /// A value that names an existing room by id is that room; anything else is a name.
    fn breakout_ref(&self, value: String) -> BreakoutRef {
        match value.parse::<BreakoutId>() {
            Ok(id) if self.breakouts().room(id).is_some() => BreakoutRef::Id(id),
            _ => BreakoutRef::Name(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Sim;
    use caucus_proto::Location;

    #[test]
    fn assignment_keys_resolve_to_present_peers_or_user_ids() {
        let mut sim = Sim::new();
        let ana = sim.join("ana", "guest");
        let op = BreakoutCommand::Assign {
            assignments: [
                (ana.to_string(), Location::Main),
                ("bob".to_owned(), Location::Main),
                ("p999".to_owned(), Location::Main),
            ]
            .into(),
        };
        let BreakoutOp::Assign { assignments } = sim.session.breakout_op_from_wire(op, 1) else {
            panic!()
        };
        assert!(assignments.contains(&(Assignee::Peer(ana), Location::Main)));
        assert!(assignments.contains(&(Assignee::User("bob".into()), Location::Main)));
        assert!(
            assignments.contains(&(Assignee::User("p999".into()), Location::Main)),
            "no such peer: a user id"
        );
    }

    #[test]
    fn own_commands_need_a_peer() {
        let sim = Sim::new();
        let err = sim
            .session
            .command_from_wire(Actor::Server, PeerCommand::Leave, 0)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidValue);
    }
}
