//! Expectations: what the rules of `docs/product.md` say a command must do, from the state before
//! it runs.

use std::collections::BTreeSet;

use caucus_core::{Actor, BreakoutOp, Command, Peer};
use caucus_proto::event::BreakoutsView;
use caucus_proto::{
    BreakoutId, ErrorCode, Location, PeerId, Permission, Phase, RoleName, Visibility,
};

use crate::expect::Expect;
use crate::harness::Harness;
use crate::ops::MAX_SECONDS;
use crate::reference::spec_may_publish;

impl Harness {
    pub(crate) fn may(&self, actor: Actor, permission: Permission) -> bool {
        match actor {
            Actor::Server => true,
            Actor::Peer(id) => self.session.peer(id).is_some_and(|p| {
                self.session
                    .template()
                    .role(p.acting_role())
                    .spec()
                    .permissions
                    .has(permission)
            }),
        }
    }

    /// Whether a peer holding `role` takes a place in a room's capacity: the people who run
    /// the rooms (`manage_breakouts`, `move_peers`) do not, and enter any room.
    pub(crate) fn takes_a_place(&self, role: &RoleName) -> bool {
        let template = self.session.template();
        let Some(idx) = template.role_idx(role) else {
            return true;
        };
        let permissions = &template.role(idx).spec().permissions;
        !(permissions.has(Permission::ManageBreakouts) || permissions.has(Permission::MovePeers))
    }

    /// How many peers in `location` take a place of its capacity.
    pub(crate) fn count_in(&self, location: Location) -> usize {
        let template = self.session.template();
        self.session
            .peers()
            .filter(|p| p.location() == location)
            .filter(|p| self.takes_a_place(template.role(p.role()).name()))
            .count()
    }

    /// Whether `peer` fits into room `b`: it takes no place, or the room has one free.
    pub(crate) fn has_room_for(&self, b: BreakoutId, peer: &Peer) -> bool {
        !self.takes_a_place(self.session.template().role(peer.role()).name())
            || self
                .model
                .rooms
                .get(&b)
                .and_then(|r| r.capacity)
                .is_none_or(|c| self.count_in(Location::Breakout(b)) < c as usize)
    }

    /// The room a present peer is planned into (its own assignment, else its user's).
    pub(crate) fn plan_of(&self, view: &BreakoutsView, peer: PeerId) -> Option<BreakoutId> {
        if let Some(room) = view.rooms.iter().find(|r| r.assigned.contains(&peer)) {
            return Some(room.id);
        }
        let user = self.session.peer(peer)?.user_id();
        view.preassignments.get(user).copied()
    }

    /// What the rules of `docs/product.md` say this command must do, decided from the state before it runs.
    pub(crate) fn predict(&self, actor: Actor, command: &Command) -> Expect {
        if self.session.is_ended() {
            return Expect::refuse_with("the session has ended", ErrorCode::SessionEnded);
        }
        let actor_peer = match actor {
            Actor::Server => None,
            Actor::Peer(id) => match self.session.peer(id) {
                Some(p) if p.is_connected() => Some(p),
                _ if matches!(command, Command::Leave { .. }) => None,
                _ => return Expect::refuse("the actor is not a connected peer"),
            },
        };
        let template = self.session.template();
        let unlimited = self.unlimited;
        let m = &self.model;
        match command {
            Command::Join(request) => {
                // A present user's newer connection takes its peer over, like a return.
                let resumable = self
                    .session
                    .peers()
                    .any(|p| p.user_id() == &request.user_id);
                if !resumable && self.session.is_locked() {
                    return Expect::refuse("a locked room admits no new peer");
                }
                if resumable {
                    return Expect::succeed("a returning user resumes its peer");
                }
            }
            Command::Leave { peer } => {
                if matches!(actor, Actor::Peer(a) if a != *peer) {
                    return Expect::refuse("a peer only leaves by itself");
                }
                if self.session.peer(*peer).is_some() {
                    return Expect::succeed("a present peer may leave");
                }
                return Expect::refuse("no such peer");
            }
            Command::Disconnect { peer } => {
                return if self.session.peer(*peer).is_some_and(Peer::is_connected) {
                    Expect::succeed("a connected peer's connection may drop")
                } else {
                    Expect::refuse("only a connected peer can lose its connection")
                };
            }
            Command::Publish { source, .. } => {
                let Some(p) = actor_peer else {
                    return Expect::refuse("the server publishes nothing");
                };
                if !spec_may_publish(template.role(p.acting_role()).spec(), *source) {
                    return Expect::refuse_with(
                        "the acting role may not publish this source",
                        ErrorCode::PublishNotAllowed,
                    );
                }
                if p.tracks().any(|(_, s, _)| s == *source) {
                    return Expect::refuse("the source is published already");
                }
                return Expect::succeed("the acting role may publish this source");
            }
            Command::MutePeer { .. } if !self.may(actor, Permission::MuteOthers) => {
                return Expect::refuse_with("mute_others is needed", ErrorCode::NotPermitted);
            }
            Command::AskUnmute { .. } if !self.may(actor, Permission::AskUnmute) => {
                return Expect::refuse_with("ask_unmute is needed", ErrorCode::NotPermitted);
            }
            Command::ChangeRoles { .. } if !self.may(actor, Permission::ChangeRole) => {
                return Expect::refuse_with("change_role is needed", ErrorCode::NotPermitted);
            }
            Command::ChangeRole { peer, role, force } => {
                if !self.may(actor, Permission::ChangeRole) {
                    return Expect::refuse_with("change_role is needed", ErrorCode::NotPermitted);
                }
                let Some(idx) = template.role_idx(role) else {
                    return Expect::refuse("unknown role");
                };
                let Some(target) = self.session.peer(*peer) else {
                    return Expect::refuse("unknown peer");
                };
                if target.role() == idx {
                    return Expect::refuse("the peer already holds the role");
                }
                if unlimited && (*force || target.is_connected()) {
                    return Expect::succeed("moderators change anyone's role, anywhere");
                }
            }
            Command::MovePeer { peer, to, force } => {
                if !self.may(actor, Permission::MovePeers) {
                    return Expect::refuse_with("move_peers is needed", ErrorCode::NotPermitted);
                }
                let Some(target) = self.session.peer(*peer) else {
                    return Expect::refuse("unknown peer");
                };
                if target.location() == *to {
                    return Expect::refuse("the peer stands there already");
                }
                if let Location::Breakout(b) = to {
                    if !m.enterable(*b) {
                        return Expect::refuse("the room cannot be entered now");
                    }
                    if !self.has_room_for(*b, target) {
                        return Expect::refuse("the room is full");
                    }
                }
                if unlimited && (*force || target.is_connected()) {
                    return Expect::succeed("anyone can be moved from anywhere to anywhere");
                }
            }
            Command::RespondRequest { request, .. } => {
                if actor_peer.is_none() {
                    return Expect::refuse("only a peer answers a request");
                }
                match self.pending_requests().get(request) {
                    None => return Expect::refuse("no such pending request"),
                    Some(target) if Actor::Peer(*target) != actor => {
                        return Expect::refuse("the request is for another peer");
                    }
                    Some(_) => {}
                }
            }
            Command::EndSession { .. } => {
                return if self.may(actor, Permission::EndRoom) {
                    Expect::succeed("end_room ends the session")
                } else {
                    Expect::refuse_with("end_room is needed", ErrorCode::NotPermitted)
                };
            }
            Command::SetLocked { .. } => {
                return if self.may(actor, Permission::LockRoom) {
                    Expect::succeed("lock_room locks the room")
                } else {
                    Expect::refuse_with("lock_room is needed", ErrorCode::NotPermitted)
                };
            }
            Command::SetBroadcasting { on } => {
                let Some(p) = actor_peer else {
                    return Expect::refuse("only a peer broadcasts");
                };
                if *on && !self.may(actor, Permission::Broadcast) {
                    return Expect::refuse_with("broadcast is needed", ErrorCode::NotPermitted);
                }
                let _ = p;
                return Expect::succeed("a peer may stop, and a broadcaster start, a broadcast");
            }
            Command::ListenIn { breakout } => {
                if !self.may(actor, Permission::ManageBreakouts) {
                    return Expect::refuse_with(
                        "manage_breakouts is needed",
                        ErrorCode::NotPermitted,
                    );
                }
                let Some(p) = actor_peer else {
                    return Expect::refuse("only a peer listens in");
                };
                if let Some(b) = breakout {
                    if !m.rooms.contains_key(b) {
                        return Expect::refuse("unknown room");
                    }
                    if p.location() == Location::Breakout(*b) {
                        return Expect::refuse("one does not listen in to one's own room");
                    }
                    if !m.live(*b) {
                        return Expect::refuse("the room is not open");
                    }
                }
                return Expect::succeed("a manager listens in to a live room");
            }
            Command::JoinBreakout { breakout, password } => {
                let Some(p) = actor_peer else {
                    return Expect::refuse("only a peer joins a room itself");
                };
                let b = *breakout;
                let Some(room) = m.rooms.get(&b) else {
                    return Expect::refuse("unknown room");
                };
                if p.location() == Location::Breakout(b) {
                    return Expect::refuse("the peer stands there already");
                }
                let view = self.session.breakouts_view(self.now);
                let assigned = self.plan_of(&view, p.id()) == Some(b);
                if !assigned {
                    if !m.options.allow_self_select {
                        return Expect::refuse("self-select is off and the room is not assigned");
                    }
                    if !self.may(actor, Permission::SelfSelectBreakout) {
                        return Expect::refuse("self_select_breakout is needed");
                    }
                    if room.password && password.as_deref() != Some("pw") {
                        return Expect::refuse("the room's password guards self-select");
                    }
                }
                if !m.enterable(b) {
                    return Expect::refuse("the room cannot be entered now");
                }
                if !self.has_room_for(b, p) {
                    return Expect::refuse("the room is full");
                }
                if unlimited {
                    return Expect::succeed("an assigned or self-selected room that has space");
                }
            }
            Command::ReturnToMain => {
                let Some(p) = actor_peer else {
                    return Expect::refuse("only a peer returns itself");
                };
                if p.location() == Location::Main {
                    return Expect::refuse("the peer is in main already");
                }
                let manager = self.may(actor, Permission::ManageBreakouts)
                    || self.may(actor, Permission::MovePeers);
                if !m.options.allow_return_to_main && !manager {
                    return Expect::refuse("returning to main is not allowed");
                }
                if unlimited {
                    return Expect::succeed("returning to main is allowed");
                }
            }
            Command::RequestHelp => {
                return if actor_peer.is_some() {
                    Expect::succeed("any peer may ask for help")
                } else {
                    Expect::refuse("only a peer asks for help")
                };
            }
            Command::Breakouts { version, op } => {
                if !self.may(actor, Permission::ManageBreakouts) {
                    return Expect::refuse_with(
                        "manage_breakouts is needed",
                        ErrorCode::NotPermitted,
                    );
                }
                if version.is_some_and(|v| v != self.session.breakouts().version()) {
                    return Expect::refuse_with(
                        "a stale version is refused",
                        ErrorCode::StaleVersion,
                    );
                }
                return self.predict_breakouts(actor, op);
            }
            _ => {}
        }
        Expect::default()
    }

    pub(crate) fn predict_breakouts(&self, actor: Actor, op: &BreakoutOp) -> Expect {
        let m = &self.model;
        let seconds_ok = |s: u32, min: u32| (min..=MAX_SECONDS).contains(&s);
        match op {
            BreakoutOp::Create {
                count,
                names,
                capacity,
            } => {
                if *count as usize + names.len() == 0 {
                    return Expect::refuse("nothing to create");
                }
                if *capacity == Some(0) {
                    return Expect::refuse("a capacity is at least 1");
                }
                let mut taken: BTreeSet<String> = self
                    .session
                    .breakouts()
                    .rooms()
                    .map(|r| r.name().to_lowercase())
                    .collect();
                for name in names {
                    let name = name.trim();
                    if name.is_empty() || !taken.insert(name.to_lowercase()) {
                        return Expect::refuse("an empty or duplicate name");
                    }
                }
                Expect::succeed("valid rooms")
            }
            BreakoutOp::Update { breakout, update } => {
                if !m.rooms.contains_key(breakout) {
                    return Expect::refuse("unknown room");
                }
                if let Some(Some(c)) = update.capacity
                    && (c == 0 || (c as usize) < self.count_in(Location::Breakout(*breakout)))
                {
                    return Expect::refuse("a capacity below the room's head count");
                }
                if let Some(Some(p)) = &update.password
                    && p.is_empty()
                {
                    return Expect::refuse("an empty password");
                }
                if let Some(Visibility::MainStage { roles }) = &update.visibility
                    && roles
                        .iter()
                        .any(|r| self.session.template().role_idx(r).is_none())
                {
                    return Expect::refuse("an unknown role on the main stage");
                }
                Expect::succeed("a valid update")
            }
            BreakoutOp::Remove { breakout } => {
                if m.rooms.contains_key(breakout) {
                    Expect::succeed("an existing room can be removed")
                } else {
                    Expect::refuse("unknown room")
                }
            }
            BreakoutOp::SetOptions(o) => {
                if seconds_ok(o.countdown_s, 0)
                    && seconds_ok(o.warning_s, 0)
                    && o.duration_s.is_none_or(|d| seconds_ok(d, 1))
                {
                    Expect::succeed("valid options")
                } else {
                    Expect::refuse("out-of-range seconds")
                }
            }
            BreakoutOp::Open { duration_s } => {
                if !matches!(m.phase, Phase::Draft | Phase::Closed) {
                    return Expect::refuse("rooms are open or closing");
                }
                if m.rooms.is_empty() {
                    return Expect::refuse("no rooms to open");
                }
                if duration_s
                    .or(m.options.duration_s)
                    .is_some_and(|d| !seconds_ok(d, 1))
                {
                    return Expect::refuse("out-of-range duration");
                }
                Expect::succeed("rooms can be opened")
            }
            BreakoutOp::Close {
                countdown_s,
                breakout,
            } => {
                if !seconds_ok(countdown_s.unwrap_or(m.options.countdown_s), 0) {
                    return Expect::refuse("out-of-range countdown");
                }
                if m.phase != Phase::Open {
                    return Expect::refuse("rooms are not open");
                }
                if let Some(b) = breakout {
                    match m.rooms.get(b) {
                        None => return Expect::refuse("unknown room"),
                        Some(r) if r.closed || r.closing_at.is_some() => {
                            return Expect::refuse("the room is closed or closing");
                        }
                        Some(_) => {}
                    }
                }
                Expect::succeed("open rooms can be closed")
            }
            BreakoutOp::Extend { seconds } => {
                if !seconds_ok(*seconds, 1) {
                    return Expect::refuse("out-of-range extension");
                }
                if m.phase != Phase::Open || m.ends_at.is_none() {
                    return Expect::refuse("no running timer");
                }
                Expect::succeed("a running timer can be extended")
            }
            BreakoutOp::Broadcast { .. } => Expect::succeed("managers broadcast text"),
            BreakoutOp::ClaimHelp { .. } if actor == Actor::Server => {
                Expect::refuse("only a peer claims help")
            }
            _ => Expect::default(),
        }
    }
}
