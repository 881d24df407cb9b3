//! Role changes (one peer, forced or requested; many peers, forced) and moves between
//! locations, with what follows from them: tracks the new acting role may not publish stop,
//! a lost `manage_breakouts` ends a listen-in, a lost `broadcast` ends a broadcast.

use caucus_proto::event::{Move, MoveGroup, RequestKind, TrackEndReason};
use caucus_proto::{
    ErrorCode, LifecycleEvent, Location, PeerId, Permission, RoleName, ServerEvent,
};

use super::Session;
use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::policy::Action;
use crate::template::RoleIdx;
use crate::time::Time;

/// More peers than this changing at once: recompute every desired set instead of following
/// each change.
const BULK: usize = 32;

impl Session {
    pub(super) fn change_role(
        &mut self,
        now: Time,
        actor: Actor,
        target: PeerId,
        role: &RoleName,
        force: bool,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::ChangeRole)?;
        let idx = self.state.template.require_role(role)?;
        let peer = self.known_peer(target)?;
        if peer.role == idx {
            return Err(Denial::new(
                ErrorCode::AlreadyThere,
                format!("peer {target} already is {role}"),
            ));
        }
        if force {
            self.apply_role_change(target, idx)?;
            Ok(Outcome::Done)
        } else {
            self.create_request(
                now,
                actor,
                target,
                RequestKind::ChangeRole { role: role.clone() },
            )
        }
    }

    pub(super) fn change_roles(
        &mut self,
        actor: Actor,
        from_roles: &[RoleName],
        to_role: &RoleName,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::ChangeRole)?;
        let to = self.state.template.require_role(to_role)?;
        let mut from = Vec::new();
        for (i, name) in from_roles.iter().enumerate() {
            from.push(
                self.state
                    .template
                    .require_role(name)
                    .map_err(|d| d.with_field(format!("from_roles[{i}]")))?,
            );
        }
        let targets: Vec<(PeerId, RoleIdx, Location)> = self
            .state
            .peers
            .values()
            .filter(|p| from.contains(&p.role) && p.role != to)
            .map(|p| (p.id, to, p.location))
            .collect();
        self.check_placements(&targets)?;
        if targets.len() > BULK {
            self.routing.rebuild_all();
        }
        for (id, role, location) in targets {
            self.relocate(id, role, location);
        }
        Ok(Outcome::Done)
    }

    pub(super) fn move_peer(
        &mut self,
        now: Time,
        actor: Actor,
        target: PeerId,
        to: Location,
        force: bool,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::MovePeer)?;
        let peer = self.known_peer(target)?;
        if peer.location == to {
            return Err(Denial::new(
                ErrorCode::AlreadyThere,
                format!("peer {target} already is in {to}"),
            ));
        }
        if force {
            self.apply_move(target, to)?;
            Ok(Outcome::Done)
        } else {
            self.check_placements(&[(target, peer.role, to)])?;
            self.create_request(now, actor, target, RequestKind::Move { to })
        }
    }

    /// Change a peer's role now, after checking it fits.
    pub(super) fn apply_role_change(&mut self, id: PeerId, role: RoleIdx) -> Result<(), Denial> {
        let peer = self.known_peer(id)?;
        let location = peer.location;
        self.check_placements(&[(id, role, location)])?;
        self.relocate(id, role, location);
        Ok(())
    }

    /// Move a peer now, after checking it fits. Entering a breakout also makes it the peer's
    /// assigned room, so the plan reflects where people were sent.
    pub(super) fn apply_move(&mut self, id: PeerId, to: Location) -> Result<(), Denial> {
        let peer = self.known_peer(id)?;
        if peer.location == to {
            return Ok(());
        }
        self.check_placements(&[(id, peer.role, to)])?;
        let role = peer.role;
        if let Some(m) = self.relocate(id, role, to) {
            self.announce_moves(&[m]);
        }
        if let Location::Breakout(b) = to {
            self.state.breakouts.assignments.insert(id, b);
        }
        Ok(())
    }

    /// Give a peer a role and a location, with everything that follows. No checks: callers
    /// validate first. Returns the move, if the location changed.
    pub(super) fn relocate(&mut self, id: PeerId, role: RoleIdx, to: Location) -> Option<Move> {
        let peer = self.state.peers.get(&id)?;
        let (from, old_role) = (peer.location, peer.role);
        self.routing.before_publisher_change(&self.state, id);
        let (old_acting, new_acting) = self.state.place(id, role, to);
        self.routing.subscriber_changed(id);
        if from.is_breakout() || to.is_breakout() {
            self.state.breakouts.touch();
        }
        if let Location::Breakout(b) = to
            && self.state.peers.get(&id).and_then(|p| p.listening) == Some(b)
        {
            self.stop_listening(id);
        }
        if old_acting != new_acting {
            self.follow_acting_role(id);
        }
        if old_role != role {
            let template = self.state.template.clone();
            if let Some(peer) = self.state.peers.get(&id) {
                self.lifecycle(LifecycleEvent::RoleChanged {
                    peer_id: id,
                    user_id: peer.user_id.clone(),
                    from: template.role(old_role).name().clone(),
                    to: template.role(role).name().clone(),
                });
            }
        }
        if old_role != role || old_acting != new_acting {
            self.tell_role(id);
            self.peer_updated(id);
        }
        // A move introduces once every move of its batch is done (`announce_moves`), so no
        // track about to end with the batch is named.
        if from == to && old_acting != new_acting {
            self.introduce_to(id);
        }
        (from != to).then_some(Move {
            peer_id: id,
            from,
            to,
        })
    }

    /// What a new acting role takes away: tracks it may not publish, a listen-in, a broadcast.
    fn follow_acting_role(&mut self, id: PeerId) {
        let Some(peer) = self.state.peers.get(&id) else {
            return;
        };
        let role = self.state.role_of(peer);
        let revoked: Vec<_> = peer
            .tracks
            .values()
            .filter(|t| !role.may_publish(t.source))
            .map(|t| t.id)
            .collect();
        let lost_listen = peer.listening.is_some() && !role.has(Permission::ManageBreakouts);
        let lost_broadcast = peer.broadcasting && !role.has(Permission::Broadcast);
        self.end_tracks(id, &revoked, TrackEndReason::RoleRevoked);
        if lost_listen {
            self.stop_listening(id);
        }
        if lost_broadcast {
            self.state.set_broadcasting(id, false);
        }
    }

    /// Tell a peer what its role lets it do now.
    fn tell_role(&mut self, id: PeerId) {
        let Some(peer) = self.state.peers.get(&id) else {
            return;
        };
        let template = &self.state.template;
        let acting = template.role(peer.acting);
        let event = ServerEvent::RoleChanged {
            peer_id: id,
            role: template.role(peer.role).name().clone(),
            acting_role: acting.name().clone(),
            permissions: *acting.permissions(),
            may_publish: acting.publishable(),
            publish: acting.spec().publish.clone(),
        };
        self.send_one(id, event);
    }

    /// Tell observers and webhooks about moves.
    pub(super) fn announce_moves(&mut self, moves: &[Move]) {
        if moves.is_empty() {
            return;
        }
        for m in moves {
            self.introduce_to(m.peer_id);
        }
        let to = if moves.len() == 1 {
            self.observers(moves[0].peer_id, Some(moves[0].from))
        } else {
            self.everyone()
        };
        for m in moves {
            if let Some(peer) = self.state.peers.get(&m.peer_id) {
                let event = LifecycleEvent::PeerMoved {
                    peer_id: m.peer_id,
                    user_id: peer.user_id.clone(),
                    from: m.from,
                    to: m.to,
                };
                self.lifecycle(event);
            }
        }
        // Each receiver hears of the moves of the peers it has met (all of them, as a rule):
        // receivers that met the same ones share one event.
        let mut groups: std::collections::BTreeMap<Vec<usize>, Vec<PeerId>> =
            std::collections::BTreeMap::new();
        for receiver in to {
            let known: Vec<usize> = (0..moves.len())
                .filter(|&i| self.audiences.acquainted(receiver, moves[i].peer_id))
                .collect();
            if !known.is_empty() {
                groups.entry(known).or_default().push(receiver);
            }
        }
        for (known, receivers) in groups {
            let named: Vec<Move> = known.iter().map(|&i| moves[i]).collect();
            self.send(
                receivers,
                ServerEvent::PeersMoved {
                    moves: MoveGroup::group(&named),
                },
            );
        }
    }
}
