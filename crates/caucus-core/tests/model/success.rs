//! After a success: what a command that succeeded must leave behind, and the reference
//! model brought along.

use std::collections::BTreeMap;
use std::time::Duration;

use caucus_core::{Actor, Assignee, BreakoutOp, Command, Outcome, Peer};
use caucus_proto::{Location, PeerId, Phase, Visibility};

use crate::compare::fail;
use crate::expect::Snapshot;
use crate::harness::{Harness, actor_id};
use crate::ops::NO_ROOM;
use crate::reference::{Asked, RoomModel};

impl Harness {
    pub(crate) fn after_success(
        &mut self,
        actor: Actor,
        command: &Command,
        outcome: &Outcome,
        pre: &Snapshot,
    ) -> Result<(), String> {
        let now = self.now;
        match command {
            Command::Join(request) => {
                // A connected peer of the user is taken over; else a disconnected one resumes.
                let taken_over = pre
                    .peers
                    .values()
                    .find(|p| p.connected && p.user_id == request.user_id)
                    .map(|p| p.id);
                let resumable = taken_over.or_else(|| {
                    pre.peers
                        .values()
                        .filter(|p| !p.connected && p.user_id == request.user_id)
                        .map(|p| p.id)
                        .min()
                });
                let Outcome::Joined { peer, resumed } = outcome else {
                    return fail(format!("join answered {outcome:?}"));
                };
                let info = self.session.peer_info(*peer).unwrap_or_else(|| {
                    panic!("joined peer {peer} is not in the session");
                });
                match resumable {
                    Some(id) => {
                        if (*peer, *resumed) != (id, true) {
                            return fail(format!(
                                "user {} should resume {id}, got {outcome:?}",
                                request.user_id
                            ));
                        }
                        let mut expected = pre.peers[&id].clone();
                        expected.connected = true;
                        if taken_over.is_some() {
                            // The old connection's media ended with it.
                            expected.tracks.clear();
                            expected.broadcasting = false;
                        }
                        if info != expected {
                            return fail(format!(
                                "a resumed peer comes back as it was\nexpected {expected:#?}\ngot {info:#?}"
                            ));
                        }
                        self.disconnected_at.remove(&id);
                    }
                    None => {
                        if *resumed || self.peers_ever.contains(peer) {
                            return fail(format!("a new join reused a peer: {outcome:?}"));
                        }
                        if info.role != request.role || !info.connected || !info.tracks.is_empty() {
                            return fail(format!("a new peer is not as requested: {info:#?}"));
                        }
                        let m = &self.model;
                        let planned = pre
                            .view
                            .preassignments
                            .get(&request.user_id)
                            .copied()
                            .filter(|b| m.enterable(*b));
                        let fits = planned.is_some_and(|b| {
                            let here = pre
                                .peers
                                .values()
                                .filter(|p| p.location == Location::Breakout(b))
                                .filter(|p| self.takes_a_place(&p.role))
                                .count();
                            !self.takes_a_place(&request.role)
                                || m.rooms[&b].capacity.is_none_or(|c| here < c as usize)
                        });
                        let expected = match planned {
                            Some(b) if m.options.auto_move_on_open && fits => Location::Breakout(b),
                            _ => Location::Main,
                        };
                        let acceptable = info.location == expected
                            || (!self.unlimited
                                && planned.is_some_and(|b| {
                                    m.options.auto_move_on_open
                                        && info.location == Location::Main
                                        && fits
                                        && b != NO_ROOM
                                }));
                        if !acceptable {
                            return fail(format!(
                                "a pre-assigned newcomer lands in {expected} when rooms are open \
                                 with auto-move and there is space; got {}",
                                info.location
                            ));
                        }
                        self.peers_ever.push(*peer);
                    }
                }
            }
            Command::Leave { peer } => {
                if self.session.peer(*peer).is_some() {
                    return fail(format!("{peer} left but is still present"));
                }
                self.disconnected_at.remove(peer);
            }
            Command::Disconnect { peer } => {
                let info = self.session.peer_info(*peer);
                let Some(info) = info else {
                    return fail(format!("{peer} is gone after a disconnect"));
                };
                let before = &pre.peers[peer];
                if info.connected
                    || !info.tracks.is_empty()
                    || info.broadcasting
                    || info.location != before.location
                    || info.role != before.role
                {
                    return fail(format!(
                        "a disconnected peer keeps its place and role, loses its tracks and \
                         broadcast: {info:#?}"
                    ));
                }
                self.disconnected_at.insert(*peer, now);
            }
            Command::Publish { source, muted } => {
                let (Actor::Peer(id), Outcome::Published { track }) = (actor, outcome) else {
                    return fail(format!("publish answered {outcome:?}"));
                };
                let found = self
                    .session
                    .peer(id)
                    .and_then(|p| p.tracks().find(|(t, _, _)| t == track));
                if found != Some((*track, *source, *muted)) {
                    return fail(format!("published track {track} is {found:?}"));
                }
            }
            Command::Unpublish { track } => {
                if let Actor::Peer(id) = actor
                    && self
                        .session
                        .peer(id)
                        .is_some_and(|p| p.tracks().any(|(t, _, _)| t == *track))
                {
                    return fail(format!("{track} survived its unpublish"));
                }
            }
            Command::SetMuted { track, muted } => {
                if let Actor::Peer(id) = actor {
                    let found = self
                        .session
                        .peer(id)
                        .and_then(|p| p.tracks().find(|(t, _, _)| t == track));
                    if found.map(|(_, _, m)| m) != Some(*muted) {
                        return fail(format!("{track} should be muted={muted}: {found:?}"));
                    }
                }
            }
            Command::MutePeer { peer, source } => {
                if let Some(p) = self.session.peer(*peer)
                    && p.tracks()
                        .any(|(_, s, m)| !m && source.is_none_or(|want| want == s))
                {
                    return fail(format!("{peer} still has unmuted tracks after a mute"));
                }
            }
            Command::ChangeRole { peer, role, force } => {
                if *force {
                    let info = self.session.peer_info(*peer);
                    if info.as_ref().map(|i| &i.role) != Some(role)
                        || info.as_ref().map(|i| i.location) != Some(pre.peers[peer].location)
                    {
                        return fail(format!("forced role change left {info:#?}"));
                    }
                } else {
                    self.record_request(outcome, *peer, Asked::Role(role.clone()))?;
                }
            }
            Command::ChangeRoles {
                from_roles,
                to_role,
            } => {
                for (id, before) in &pre.peers {
                    if from_roles.contains(&before.role) {
                        let after = self.session.peer_info(*id);
                        if after.as_ref().map(|i| &i.role) != Some(to_role)
                            || after.as_ref().map(|i| i.location) != Some(before.location)
                        {
                            return fail(format!(
                                "bulk role change to {to_role} left {id} as {after:#?}"
                            ));
                        }
                    }
                }
            }
            Command::MovePeer { peer, to, force } => {
                if *force {
                    let info = self.session.peer_info(*peer);
                    if info.as_ref().map(|i| i.location) != Some(*to)
                        || info.as_ref().map(|i| &i.role) != Some(&pre.peers[peer].role)
                    {
                        return fail(format!("forced move to {to} left {info:#?}"));
                    }
                } else {
                    self.record_request(outcome, *peer, Asked::Move(*to))?;
                }
            }
            Command::AskUnmute { peer, source } => {
                self.record_request(outcome, *peer, Asked::Unmute(*source))?;
            }
            Command::RespondRequest { request, accept } => {
                if self.pending_requests().contains_key(request) {
                    return fail(format!("{request} is still pending after its answer"));
                }
                let asked = self.requests.remove(request);
                if let (true, Some((_, target, asked))) = (accept, asked) {
                    let info = self.session.peer_info(target);
                    let ok = match &asked {
                        Asked::Role(role) => info.as_ref().is_some_and(|i| &i.role == role),
                        Asked::Move(to) => info.as_ref().is_some_and(|i| i.location == *to),
                        Asked::Unmute(source) => info.as_ref().is_some_and(|i| {
                            i.tracks.iter().all(|t| t.source != *source || !t.muted)
                        }),
                    };
                    if !ok {
                        return fail(format!("accepted {asked:?} but {target} is {info:#?}"));
                    }
                }
            }
            Command::JoinBreakout { breakout, .. } => {
                let here = self.session.peer(actor_id(actor)).map(Peer::location);
                if here != Some(Location::Breakout(*breakout)) {
                    return fail(format!("joined {breakout} but stands in {here:?}"));
                }
            }
            Command::ReturnToMain => {
                let here = self.session.peer(actor_id(actor)).map(Peer::location);
                if here != Some(Location::Main) {
                    return fail(format!("returned to main but stands in {here:?}"));
                }
            }
            Command::ListenIn { breakout } => {
                let listening = self.session.peer(actor_id(actor)).map(Peer::listening);
                if listening != Some(*breakout) {
                    return fail(format!("listen-in to {breakout:?} left {listening:?}"));
                }
            }
            Command::SetBroadcasting { on } => {
                let b = self
                    .session
                    .peer(actor_id(actor))
                    .map(Peer::is_broadcasting);
                if b != Some(*on) {
                    return fail(format!("broadcasting should be {on}, is {b:?}"));
                }
            }
            Command::EndSession { lock, .. } => {
                if !self.session.is_ended() {
                    return fail("the session goes on after it was ended");
                }
                if self.session.is_locked() != *lock {
                    return fail("an ended session stays locked only when the end asked for it");
                }
                self.ended_by_command = true;
            }
            Command::SetLocked { locked } if self.session.is_locked() != *locked => {
                return fail("the lock did not follow the command");
            }
            Command::Breakouts { op, .. } => self.breakouts_success(op, outcome, pre)?,
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn record_request(
        &mut self,
        outcome: &Outcome,
        target: PeerId,
        asked: Asked,
    ) -> Result<(), String> {
        let Outcome::RequestSent { request } = outcome else {
            return fail(format!("a request answered {outcome:?}"));
        };
        if !self.session.requests_for(target).contains(request) {
            return fail(format!("{request} is not pending for {target}"));
        }
        self.requests.insert(*request, (self.now, target, asked));
        Ok(())
    }

    pub(crate) fn breakouts_success(
        &mut self,
        op: &BreakoutOp,
        outcome: &Outcome,
        pre: &Snapshot,
    ) -> Result<(), String> {
        let now = self.now;
        match op {
            BreakoutOp::Create {
                count,
                names,
                capacity,
            } => {
                let Outcome::BreakoutsCreated { rooms } = outcome else {
                    return fail(format!("create answered {outcome:?}"));
                };
                if rooms.len() != *count as usize + names.len() {
                    return fail(format!("created {} rooms", rooms.len()));
                }
                for b in rooms {
                    if self.model.rooms.contains_key(b) || self.rooms_ever.contains(b) {
                        return fail(format!("room id {b} reused"));
                    }
                    self.rooms_ever.push(*b);
                    self.model.rooms.insert(
                        *b,
                        RoomModel {
                            capacity: *capacity,
                            password: false,
                            visibility: Visibility::Isolated,
                            closing_at: None,
                            closed: false,
                        },
                    );
                }
            }
            BreakoutOp::Update { breakout, update } => {
                if let Some(room) = self.model.rooms.get_mut(breakout) {
                    if let Some(c) = update.capacity {
                        room.capacity = c;
                    }
                    if let Some(p) = &update.password {
                        room.password = p.is_some();
                    }
                    if let Some(v) = &update.visibility {
                        room.visibility = v.clone();
                    }
                }
            }
            BreakoutOp::Remove { breakout } => {
                let m = &mut self.model;
                m.rooms.remove(breakout);
                match m.phase {
                    Phase::Closing if m.rooms.is_empty() => m.finish_all(),
                    // Nothing is left open: the set is closed, as when its last room closes.
                    Phase::Open if m.rooms.values().all(|r| r.closed) => m.finish_all(),
                    _ => {}
                }
            }
            BreakoutOp::SetOptions(options) => self.model.options = options.clone(),
            BreakoutOp::Open { duration_s } => {
                let m = &mut self.model;
                m.phase = Phase::Open;
                m.closing_at = None;
                for room in m.rooms.values_mut() {
                    room.closed = false;
                    room.closing_at = None;
                }
                m.ends_at = duration_s
                    .or(m.options.duration_s)
                    .map(|d| now + Duration::from_secs(u64::from(d)));
                if self.unlimited && self.model.options.auto_move_on_open {
                    // Auto-move: everyone planned into a room is in it, unless it filled up.
                    for (id, before) in &pre.peers {
                        let Some(b) = self.plan_of(&pre.view, *id) else {
                            continue;
                        };
                        let here = self.session.peer(*id).map(Peer::location);
                        let full = self.takes_a_place(&before.role)
                            && self
                                .model
                                .rooms
                                .get(&b)
                                .and_then(|r| r.capacity)
                                .is_some_and(|c| {
                                    self.count_in(Location::Breakout(b)) >= c as usize
                                });
                        if here != Some(Location::Breakout(b)) && !full {
                            return fail(format!(
                                "auto-move on open: {id} is planned into {b} (not full) but \
                                 stands in {here:?}"
                            ));
                        }
                    }
                }
            }
            BreakoutOp::Close {
                countdown_s,
                breakout,
            } => {
                let m = &mut self.model;
                let countdown = countdown_s.unwrap_or(m.options.countdown_s);
                match breakout {
                    None => m.close_all(now, countdown),
                    Some(b) if countdown == 0 => m.close_room(*b),
                    Some(b) => {
                        if let Some(room) = m.rooms.get_mut(b) {
                            room.closing_at = Some(now + Duration::from_secs(u64::from(countdown)));
                        }
                    }
                }
            }
            BreakoutOp::Extend { seconds } => {
                let m = &mut self.model;
                m.ends_at = m
                    .ends_at
                    .map(|at| at + Duration::from_secs(u64::from(*seconds)));
            }
            BreakoutOp::Assign { assignments } => {
                let m = &self.model;
                if m.phase == Phase::Open && m.options.auto_move_on_open {
                    // With auto-move, an assignment while rooms are open is a move.
                    let mut targets: BTreeMap<PeerId, Location> = BTreeMap::new();
                    for (assignee, to) in assignments {
                        match assignee {
                            Assignee::Peer(p) => {
                                targets.insert(*p, *to);
                            }
                            Assignee::User(u) => {
                                for info in pre.peers.values().filter(|i| &i.user_id == u) {
                                    targets.insert(info.id, *to);
                                }
                            }
                        }
                    }
                    for (id, to) in targets {
                        let here = self.session.peer(id).map(Peer::location);
                        if here != Some(to) {
                            return fail(format!(
                                "assigned {id} to {to} with rooms open and auto-move, but it \
                                 stands in {here:?}"
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
