//! Reaching into rooms from outside: a manager listening in to a room, and the broadcast
//! message every peer wherever it stands receives.

use caucus_proto::{BreakoutId, ErrorCode, Location, PeerId, Phase, ServerEvent};

use super::check_text;
use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::policy::Action;
use crate::session::Session;

impl Session {
    pub(super) fn broadcast_text(&mut self, actor: Actor, text: String) -> Result<Outcome, Denial> {
        check_text(&text)?;
        let from = match actor {
            Actor::Peer(p) => Some(p),
            Actor::Server => None,
        };
        let everyone = self.everyone();
        self.send(everyone, ServerEvent::Broadcast { from, text });
        Ok(Outcome::Done)
    }

    pub(in crate::session) fn listen_in(
        &mut self,
        actor: Actor,
        breakout: Option<BreakoutId>,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::ManageBreakouts)?;
        let peer = self.acting_peer(actor)?;
        let id = peer.id;
        match breakout {
            None => {
                if peer.listening.is_some() {
                    self.stop_listening(id);
                }
            }
            Some(b) => {
                self.room(b)?;
                if peer.location == Location::Breakout(b) {
                    return Err(Denial::new(
                        ErrorCode::AlreadyThere,
                        format!("peer {id} stands in {b}"),
                    ));
                }
                let set = &self.state.breakouts;
                let live = matches!(set.phase, Phase::Open | Phase::Closing)
                    && set.room(b).is_some_and(|r| !r.closed);
                if !live {
                    return Err(Denial::new(
                        ErrorCode::BreakoutsNotOpen,
                        format!("breakout {b} is not open"),
                    ));
                }
                if peer.listening != Some(b) {
                    self.state.set_listening(id, Some(b));
                    self.routing.subscriber_changed(id);
                    self.send_one(
                        id,
                        ServerEvent::ListeningTo {
                            breakout_id: Some(b),
                        },
                    );
                    self.listener_updated(id, b);
                }
            }
        }
        Ok(Outcome::Done)
    }

    /// Tells the listener's news (`peer_updated`) to whoever sees it and to the room it listens
    /// in to (or listened in to): a room knows who hears it from outside.
    fn listener_updated(&mut self, id: PeerId, room: BreakoutId) {
        if let Some(info) = self.peer_info(id) {
            let to = self.observers(id, Some(Location::Breakout(room)));
            self.told_peer_info(id, &to);
            self.send(to, ServerEvent::PeerUpdated { peer: info });
        }
    }

    /// Ends a listen-in; the room and whoever sees the listener learn that it stopped
    /// (`peer_updated`, as when it started), so the room no longer shows it listening.
    pub(in crate::session) fn stop_listening(&mut self, id: PeerId) {
        let room = self.state.peers.get(&id).and_then(|p| p.listening);
        self.state.set_listening(id, None);
        self.routing.subscriber_changed(id);
        self.send_one(id, ServerEvent::ListeningTo { breakout_id: None });
        if let Some(room) = room {
            self.listener_updated(id, room);
        }
    }
}
