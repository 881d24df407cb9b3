//! Removing peers, ending the session, locking the room, chat and broadcast.

use caucus_proto::event::LeaveReason;
use caucus_proto::{ChatTarget, ErrorCode, LifecycleEvent, Location, PeerId, ServerEvent};

use super::Session;
use super::breakouts::check_text;
use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::effect::Effect;
use crate::policy::{Action, ChatScope};

impl Session {
    pub(super) fn remove_peer(
        &mut self,
        actor: Actor,
        target: PeerId,
        reason: Option<String>,
    ) -> Result<Outcome, Denial> {
        self.require_unless_self(actor, target, Action::RemovePeer)?;
        self.known_peer(target)?;
        let reason = reason.unwrap_or_else(|| "removed by a moderator".to_owned());
        self.send_one(target, ServerEvent::Removed { reason });
        self.effects.push_back(Effect::Disconnect { peer: target });
        self.drop_peer(target, LeaveReason::Removed);
        Ok(Outcome::Done)
    }

    pub(super) fn end_session(
        &mut self,
        actor: Actor,
        reason: Option<String>,
        lock: bool,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::EndSession)?;
        self.end(
            Some(lock),
            reason.unwrap_or_else(|| "the session was ended".to_owned()),
        );
        Ok(Outcome::Done)
    }

    /// End the session for everyone, in every location; the room stays locked only if `lock`
    /// asks for it.
    pub(super) fn end(&mut self, lock: Option<bool>, reason: String) {
        let everyone = self.everyone();
        self.send(
            everyone,
            ServerEvent::SessionEnded {
                reason: reason.clone(),
            },
        );
        let ids: Vec<PeerId> = self.state.peers.keys().copied().collect();
        self.routing.rebuild_all();
        for id in ids {
            if let Some(peer) = self.state.remove(id) {
                let tracks: Vec<_> = peer.tracks.keys().copied().collect();
                self.stop_track_effects(id, &tracks);
                if peer.is_connected() {
                    self.effects.push_back(Effect::Disconnect { peer: id });
                }
                self.lifecycle(LifecycleEvent::PeerLeft {
                    peer_id: id,
                    user_id: peer.user_id,
                    reason: LeaveReason::SessionEnded,
                });
            }
        }
        self.requests.clear();
        self.timers.clear();
        self.stop_all_recordings(caucus_proto::event::RecordingEndReason::SessionEnded);
        // The lock guards a meeting in progress: ending the session lifts it, so the next
        // meeting starts open (and its host is not locked out), unless the end asked for it.
        let locked = lock == Some(true);
        if self.config.locked != locked {
            self.config.locked = locked;
            self.effects.push_back(Effect::PersistLocked { locked });
        }
        if !self.config.keep_plan && self.saved_plan() != crate::SavedPlan::default() {
            self.effects.push_back(Effect::PersistPlan {
                plan: crate::SavedPlan::default(),
            });
        }
        self.ended = true;
        self.lifecycle(LifecycleEvent::SessionEnded { reason });
        self.effects.push_back(Effect::SessionEnded);
    }

    pub(super) fn set_locked(&mut self, actor: Actor, locked: bool) -> Result<Outcome, Denial> {
        self.require(actor, Action::LockRoom)?;
        if self.config.locked != locked {
            self.config.locked = locked;
            self.effects.push_back(Effect::PersistLocked { locked });
            let everyone = self.everyone();
            self.send(everyone, ServerEvent::RoomLocked { locked });
        }
        Ok(Outcome::Done)
    }

    pub(super) fn chat(
        &mut self,
        actor: Actor,
        to: ChatTarget,
        text: String,
    ) -> Result<Outcome, Denial> {
        check_text(&text)?;
        let sender = self
            .actor_peer(actor)?
            .map(|p| (p.id, p.name.clone(), p.location));
        let scope = match &to {
            ChatTarget::Location(l) if sender.as_ref().is_some_and(|s| s.2 == *l) => {
                ChatScope::OwnLocation
            }
            ChatTarget::Location(_) => ChatScope::OtherLocation,
            ChatTarget::Role(_) => ChatScope::Role,
            ChatTarget::PeerId(_) => ChatScope::Peer,
            ChatTarget::Everyone => ChatScope::Everyone,
        };
        self.require(actor, Action::Chat(scope))?;
        let mut recipients: Vec<PeerId> = match &to {
            ChatTarget::Location(location) => {
                if let Location::Breakout(b) = location
                    && self.state.breakouts.room(*b).is_none()
                {
                    return Err(Denial::new(
                        ErrorCode::UnknownBreakout,
                        format!("no breakout {b}"),
                    )
                    .with_field("to.location"));
                }
                let listeners = location
                    .breakout()
                    .and_then(|b| self.state.listeners.get(&b));
                self.state
                    .connected()
                    .filter(|p| {
                        p.location == *location || listeners.is_some_and(|l| l.contains(&p.id))
                    })
                    .map(|p| p.id)
                    .collect()
            }
            ChatTarget::Role(role) => {
                let idx = self
                    .state
                    .template
                    .require_role(role)
                    .map_err(|d| d.with_field("to.role"))?;
                self.state
                    .connected()
                    .filter(|p| p.role == idx || p.acting == idx)
                    .map(|p| p.id)
                    .collect()
            }
            ChatTarget::PeerId(peer) => {
                self.connected_peer(*peer)
                    .map_err(|d| d.with_field("to.peer_id"))?;
                vec![*peer]
            }
            ChatTarget::Everyone => self.everyone(),
        };
        let (from, from_name) = match &sender {
            Some((id, name, _)) => (Some(*id), name.clone()),
            None => (None, "Caucus".to_owned()),
        };
        if let Some(id) = from
            && !recipients.contains(&id)
        {
            recipients.push(id);
        }
        self.send(
            recipients,
            ServerEvent::Chat {
                from,
                from_name,
                to,
                text,
            },
        );
        Ok(Outcome::Done)
    }

    pub(super) fn set_broadcasting(&mut self, actor: Actor, on: bool) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        let id = peer.id;
        if on {
            self.require(actor, Action::StartBroadcast)?;
        }
        if peer.broadcasting != on {
            self.routing.before_publisher_change(&self.state, id);
            self.state.set_broadcasting(id, on);
            self.peer_updated(id);
        }
        Ok(Outcome::Done)
    }
}
