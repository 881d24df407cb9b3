//! Assignment: placing peers (and, by user id, peers still to come) into rooms, by hand or
//! spread evenly, and carrying out the moves an open set with auto-move implies.

use std::collections::BTreeMap;

use caucus_proto::event::Move;
use caucus_proto::{
    BreakoutId, ErrorCode, Location, PeerId, Permission, Phase, RoleName, ServerEvent, UserId,
};

use super::{BULK_MOVES, MAX_PREASSIGNMENTS};
use crate::assign::{Slot, spread};
use crate::command::{Assignee, BreakoutRef, Outcome};
use crate::denial::Denial;
use crate::session::Session;

impl Session {
    pub(super) fn assign(
        &mut self,
        assignments: Vec<(Assignee, Location)>,
    ) -> Result<Outcome, Denial> {
        let mut by_peer: BTreeMap<PeerId, Location> = BTreeMap::new();
        let mut by_user: BTreeMap<UserId, Location> = BTreeMap::new();
        for (i, (assignee, target)) in assignments.into_iter().enumerate() {
            let field = format!("assignments[{i}]");
            if let Location::Breakout(b) = target {
                self.room(b).map_err(|d| d.with_field(field.clone()))?;
            }
            match assignee {
                Assignee::Peer(p) => {
                    self.known_peer(p).map_err(|d| d.with_field(field))?;
                    by_peer.insert(p, target);
                }
                Assignee::User(u) => {
                    let present: Vec<PeerId> = self
                        .state
                        .peers
                        .values()
                        .filter(|p| p.user_id == u)
                        .map(|p| p.id)
                        .collect();
                    if present.is_empty() {
                        by_user.insert(u, target);
                    } else {
                        by_peer.extend(present.into_iter().map(|p| (p, target)));
                    }
                }
            }
        }
        // Capacity, counted over present peers' plans.
        let planned = self.planned_after(&by_peer);
        for (b, n) in &planned {
            if let Some(c) = self.state.breakouts.room(*b).and_then(|r| r.capacity)
                && *n > c as usize
            {
                return Err(Denial::new(
                    ErrorCode::BreakoutFull,
                    format!("breakout {b} holds at most {c} peers"),
                ));
            }
        }
        let moving = self.moves_for(&by_peer);
        self.check_placements(&moving)?;

        let set = &mut self.state.breakouts;
        for (peer, target) in &by_peer {
            match target {
                Location::Breakout(b) => set.assignments.insert(*peer, *b),
                Location::Main => set.assignments.remove(peer),
            };
        }
        if !by_user.is_empty() {
            set.edit_plan();
        }
        for (user, target) in by_user {
            match target {
                Location::Breakout(b) => set.preassignments.insert(user, b),
                Location::Main => set.preassignments.remove(&user),
            };
        }
        set.touch();
        self.carry_out(moving);
        if self.state.breakouts.phase == Phase::Open
            && !self.state.breakouts.options.auto_move_on_open
        {
            for (peer, target) in by_peer {
                if let Location::Breakout(b) = target {
                    self.invite(peer, b);
                }
            }
        }
        Ok(Outcome::Done)
    }

    pub(super) fn auto_assign(
        &mut self,
        exclude_roles: Option<Vec<RoleName>>,
        seed: u64,
        keep_previous: bool,
    ) -> Result<Outcome, Denial> {
        let open = matches!(self.state.breakouts.phase, Phase::Open | Phase::Closing);
        let rooms: Vec<BreakoutId> = self
            .state
            .breakouts
            .rooms
            .values()
            .filter(|r| !open || (!r.closed && r.closing_at.is_none()))
            .map(|r| r.id)
            .collect();
        if rooms.is_empty() {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                "there are no rooms to assign to; create some first",
            ));
        }
        let excluded = match exclude_roles {
            Some(names) => {
                let mut out = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    out.push(
                        self.state
                            .template
                            .require_role(name)
                            .map_err(|d| d.with_field(format!("exclude_roles[{i}]")))?,
                    );
                }
                out
            }
            None => self
                .state
                .template
                .roles()
                .filter(|(_, r)| r.has(Permission::ManageBreakouts))
                .map(|(i, _)| i)
                .collect(),
        };
        let set = &self.state.breakouts;
        let mut taken: BTreeMap<BreakoutId, u32> = BTreeMap::new();
        let mut to_place = Vec::new();
        for peer in self.state.peers.values() {
            let current = set
                .assignment_of(peer.id, &peer.user_id)
                .filter(|b| rooms.contains(b));
            let eligible = !excluded.contains(&peer.role);
            match current {
                Some(b) if !eligible || keep_previous => {
                    let seats = u32::from(self.state.counts_toward_capacity(peer.role));
                    *taken.entry(b).or_default() += seats;
                }
                _ if eligible => to_place.push(peer.id),
                _ => {}
            }
        }
        let slots = rooms
            .iter()
            .map(|b| Slot {
                room: *b,
                taken: taken.get(b).copied().unwrap_or(0),
                capacity: set.rooms.get(b).and_then(|r| r.capacity),
            })
            .collect();
        let placed = spread(to_place, slots, seed).ok_or_else(|| {
            Denial::new(
                ErrorCode::CapacityExceeded,
                "the rooms' capacities cannot hold everyone",
            )
        })?;
        let by_peer: BTreeMap<PeerId, Location> = placed
            .iter()
            .map(|(p, b)| (*p, Location::Breakout(*b)))
            .collect();
        let moving = self.moves_for(&by_peer);
        self.check_placements(&moving)?;
        self.state
            .breakouts
            .assignments
            .extend(placed.iter().map(|(p, b)| (*p, *b)));
        self.state.breakouts.touch();
        self.carry_out(moving);
        if self.state.breakouts.phase == Phase::Open
            && !self.state.breakouts.options.auto_move_on_open
        {
            for (peer, b) in placed {
                self.invite(peer, b);
            }
        }
        Ok(Outcome::Done)
    }

    pub(super) fn set_preassignments(
        &mut self,
        by_user_id: BTreeMap<UserId, BreakoutRef>,
    ) -> Result<Outcome, Denial> {
        if by_user_id.len() > MAX_PREASSIGNMENTS {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                format!("at most {MAX_PREASSIGNMENTS} pre-assignments"),
            )
            .with_field("by_user_id"));
        }
        let mut resolved = BTreeMap::new();
        for (user, reference) in by_user_id {
            // No such user can join (a token never names one), and the id would be echoed in
            // the field: refused as a whole.
            UserId::check(user.as_str()).map_err(|e| e.into_body("by_user_id"))?;
            let field = format!("by_user_id.{user}");
            let room = match reference {
                BreakoutRef::Id(b) => self.room(b).map(|r| r.id),
                BreakoutRef::Name(name) => self
                    .state
                    .breakouts
                    .rooms
                    .values()
                    .find(|r| r.name == name)
                    .or_else(|| {
                        self.state
                            .breakouts
                            .rooms
                            .values()
                            .find(|r| r.name.eq_ignore_ascii_case(&name))
                    })
                    .map(|r| r.id)
                    .ok_or_else(|| {
                        Denial::new(ErrorCode::UnknownBreakout, format!("no room named {name}"))
                    }),
            }
            .map_err(|d| d.with_field(field))?;
            resolved.insert(user, room);
        }
        self.check_preassignments_fit(&resolved)?;
        self.state.breakouts.preassignments = resolved;
        self.state.breakouts.edit_plan();
        Ok(Outcome::Done)
    }

    /// Pre-assignments plan no more people into a room than its capacity: present peers that
    /// take a place, planned there by their own assignment or their user's, plus the users still
    /// to come. Only a room someone is newly planned into is checked, so taking people out is
    /// always possible.
    fn check_preassignments_fit(&self, next: &BTreeMap<UserId, BreakoutId>) -> Result<(), Denial> {
        let set = &self.state.breakouts;
        let mut planned: BTreeMap<BreakoutId, usize> = BTreeMap::new();
        let mut present = std::collections::BTreeSet::new();
        for peer in self.state.peers.values() {
            present.insert(&peer.user_id);
            let plan = set
                .assignments
                .get(&peer.id)
                .or_else(|| next.get(&peer.user_id));
            if let Some(b) = plan
                && self.state.counts_toward_capacity(peer.role)
            {
                *planned.entry(*b).or_default() += 1;
            }
        }
        for (user, b) in next {
            if !present.contains(user) {
                *planned.entry(*b).or_default() += 1;
            }
        }
        for (user, b) in next {
            if set.preassignments.get(user) == Some(b) {
                continue;
            }
            if let Some(room) = set.rooms.get(b)
                && let Some(c) = room.capacity
                && planned.get(b).copied().unwrap_or(0) > c as usize
            {
                return Err(Denial::new(
                    ErrorCode::BreakoutFull,
                    format!("{} takes {c} at most, pre-assignments included", room.name),
                )
                .with_field(format!("by_user_id.{user}")));
            }
        }
        Ok(())
    }

    /// How many present peers each room would be planned for after `changes`.
    fn planned_after(&self, changes: &BTreeMap<PeerId, Location>) -> BTreeMap<BreakoutId, usize> {
        let set = &self.state.breakouts;
        let mut out: BTreeMap<BreakoutId, usize> = BTreeMap::new();
        for peer in self.state.peers.values() {
            let plan = match changes.get(&peer.id) {
                Some(target) => target.breakout(),
                None => set.assignment_of(peer.id, &peer.user_id),
            };
            if let Some(b) = plan
                && self.state.counts_toward_capacity(peer.role)
            {
                *out.entry(b).or_default() += 1;
            }
        }
        out
    }

    /// The placements that assignments cause right now: none unless rooms are open with
    /// auto-move.
    fn moves_for(
        &self,
        plan: &BTreeMap<PeerId, Location>,
    ) -> Vec<(PeerId, crate::template::RoleIdx, Location)> {
        let set = &self.state.breakouts;
        if set.phase != Phase::Open || !set.options.auto_move_on_open {
            return Vec::new();
        }
        plan.iter()
            .filter_map(|(id, to)| {
                let peer = self.state.peers.get(id)?;
                (peer.location != *to).then_some((*id, peer.role, *to))
            })
            .collect()
    }

    /// Relocate checked placements and announce the moves.
    fn carry_out(&mut self, moving: Vec<(PeerId, crate::template::RoleIdx, Location)>) {
        if moving.len() > BULK_MOVES {
            self.routing.rebuild_all();
        }
        let moves: Vec<Move> = moving
            .into_iter()
            .filter_map(|(id, role, to)| self.relocate(id, role, to))
            .collect();
        self.announce_moves(&moves);
    }

    pub(in crate::session) fn invite(&mut self, peer: PeerId, breakout: BreakoutId) {
        if let Some(room) = self.state.breakouts.room(breakout) {
            let event = ServerEvent::BreakoutInvite {
                breakout_id: breakout,
                name: room.name.clone(),
            };
            self.send_one(peer, event);
        }
    }
}
