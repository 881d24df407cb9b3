//! The breakout set in motion: rooms, options, assignment, opening, timers, closing, the help
//! queue, listen-in, and peers choosing rooms themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use caucus_proto::event::Move;
use caucus_proto::{
    BreakoutId, BreakoutOptions, ErrorCode, HelpId, LifecycleEvent, Location, PeerId, Permission,
    Phase, RoleName, ServerEvent, UserId, Visibility,
};

use super::{Session, Timer};
use crate::assign::{Slot, spread};
use crate::breakout_set::{BreakoutRoom, HelpEntry};
use crate::command::{Actor, Assignee, BreakoutOp, BreakoutRef, Outcome, RoomUpdate};
use crate::denial::Denial;
use crate::policy::Action;
use crate::time::{Time, millis_between};

const MAX_ROOMS: usize = 200;
const MAX_ROOM_NAME: usize = 64;
const MAX_PASSWORD: usize = 128;
const MAX_TEXT: usize = 4000;
const MAX_SECONDS: u32 = 86_400;
const MAX_PREASSIGNMENTS: usize = 10_000;
/// More moves than this at once: recompute every desired set instead of following each move.
const BULK_MOVES: usize = 32;

impl Session {
    pub(super) fn breakout_op(
        &mut self,
        now: Time,
        actor: Actor,
        op: BreakoutOp,
    ) -> Result<Outcome, Denial> {
        match op {
            BreakoutOp::Create {
                count,
                names,
                capacity,
            } => self.create_rooms(count, names, capacity),
            BreakoutOp::Update { breakout, update } => self.update_room(breakout, update),
            BreakoutOp::Remove { breakout } => self.remove_room(breakout),
            BreakoutOp::SetOptions(options) => self.set_options(options),
            BreakoutOp::Assign { assignments } => self.assign(assignments),
            BreakoutOp::AutoAssign {
                exclude_roles,
                seed,
                keep_previous,
            } => self.auto_assign(exclude_roles, seed, keep_previous),
            BreakoutOp::SetPreassignments { by_user_id } => self.set_preassignments(by_user_id),
            BreakoutOp::Open { duration_s } => self.open(now, duration_s),
            BreakoutOp::Close {
                countdown_s,
                breakout,
            } => self.close(now, countdown_s, breakout),
            BreakoutOp::Extend { seconds } => self.extend(now, seconds),
            BreakoutOp::Broadcast { text } => self.broadcast_text(actor, text),
            BreakoutOp::ClaimHelp { help } => self.claim_help(actor, help),
            BreakoutOp::DismissHelp { help } => self.dismiss_help(help),
        }
    }

    // ---- rooms ---------------------------------------------------------------------------

    /// The shell has checked `plain` against the stored hash of `breakout`'s password (a
    /// restored plan keeps only hashes, so the core was given a placeholder): from now on the
    /// core compares with `plain`. Nothing a peer sees changes — no event, no new `version`.
    /// Returns whether the room exists and has a password (otherwise nothing is done).
    pub fn learn_breakout_password(&mut self, breakout: BreakoutId, plain: String) -> bool {
        match self.state.breakouts.rooms.get_mut(&breakout) {
            Some(room) if room.password.is_some() => {
                room.password = Some(plain);
                true
            }
            _ => false,
        }
    }

    /// Put a saved breakout plan into a session whose breakout set is still empty, keeping each
    /// room's id (applications keep them across restarts). Ids issued later follow the largest
    /// restored one. A room that no longer fits (a duplicate id or name, an invalid name or
    /// capacity, a main stage naming a role the template lost) is left out and its refusal
    /// returned; so are invalid options (the defaults stay) and pre-assignments to rooms left out.
    pub fn restore_breakouts(
        &mut self,
        now: Time,
        rooms: Vec<SavedRoom>,
        options: BreakoutOptions,
        preassignments: BTreeMap<UserId, BreakoutId>,
    ) -> Result<Vec<Denial>, Denial> {
        if !self.state.breakouts.rooms.is_empty() || self.state.breakouts.phase != Phase::Draft {
            return Err(Denial::new(
                ErrorCode::AlreadyExists,
                "a plan is restored only into a session without breakout rooms",
            ));
        }
        let mut skipped = Vec::new();
        for saved in rooms.into_iter().take(MAX_ROOMS) {
            match self.check_saved_room(&saved) {
                Ok(name) => {
                    self.next_id = self.next_id.max(saved.id.get());
                    let room = BreakoutRoom {
                        id: saved.id,
                        name,
                        capacity: saved.capacity,
                        password: saved.password,
                        visibility: saved.visibility,
                        closing_at: None,
                        closed: false,
                    };
                    self.state.breakouts.rooms.insert(saved.id, room);
                }
                Err(denial) => skipped.push(denial.with_field(saved.id.to_string())),
            }
        }
        match self.set_options(options) {
            Ok(_) => {}
            Err(denial) => skipped.push(denial),
        }
        let set = &mut self.state.breakouts;
        for (user, room) in preassignments {
            if set.rooms.contains_key(&room) {
                set.preassignments.insert(user, room);
            } else {
                skipped.push(
                    Denial::new(ErrorCode::UnknownBreakout, format!("no breakout {room}"))
                        .with_field(format!("preassignments.{user}")),
                );
            }
        }
        set.touch();
        self.finish(now);
        Ok(skipped)
    }

    /// The cleaned name of a saved room, or why it cannot be restored.
    fn check_saved_room(&self, saved: &SavedRoom) -> Result<String, Denial> {
        let name = clean_room_name(&saved.name)?;
        check_capacity(saved.capacity)?;
        let rooms = &self.state.breakouts.rooms;
        if rooms.contains_key(&saved.id) {
            return Err(Denial::new(
                ErrorCode::AlreadyExists,
                format!("breakout {} twice", saved.id),
            ));
        }
        if rooms.values().any(|r| r.name.eq_ignore_ascii_case(&name)) {
            return Err(Denial::new(
                ErrorCode::DuplicateName,
                format!("a room is already named {name}"),
            ));
        }
        if let Visibility::MainStage { roles } = &saved.visibility {
            for role in roles {
                self.state.template.require_role(role)?;
            }
        }
        Ok(name)
    }

    fn create_rooms(
        &mut self,
        count: u32,
        names: Vec<String>,
        capacity: Option<u32>,
    ) -> Result<Outcome, Denial> {
        let total = count as usize + names.len();
        if total == 0 {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                "give a count or names of rooms to create",
            )
            .with_field("count"));
        }
        if self.state.breakouts.rooms.len() + total > MAX_ROOMS {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                format!("a session holds at most {MAX_ROOMS} breakout rooms"),
            )
            .with_field("count"));
        }
        check_capacity(capacity)?;
        let mut taken: BTreeSet<String> = self
            .state
            .breakouts
            .rooms
            .values()
            .map(|r| r.name.to_lowercase())
            .collect();
        let mut new_names = Vec::with_capacity(total);
        for (i, name) in names.iter().enumerate() {
            let name = clean_room_name(name).map_err(|d| d.with_field(format!("names[{i}]")))?;
            if !taken.insert(name.to_lowercase()) {
                return Err(Denial::new(
                    ErrorCode::DuplicateName,
                    format!("a room is already named {name}"),
                )
                .with_field(format!("names[{i}]")));
            }
            new_names.push(name);
        }
        let mut n = 1;
        for _ in 0..count {
            while taken.contains(&format!("room {n}")) {
                n += 1;
            }
            taken.insert(format!("room {n}"));
            new_names.push(format!("Room {n}"));
        }
        let mut ids = Vec::with_capacity(total);
        for name in new_names {
            let id = BreakoutId::new(self.issue_id());
            self.state.breakouts.rooms.insert(
                id,
                BreakoutRoom {
                    id,
                    name,
                    capacity,
                    password: None,
                    visibility: Visibility::Isolated,
                    closing_at: None,
                    closed: false,
                },
            );
            ids.push(id);
        }
        self.state.breakouts.touch();
        Ok(Outcome::BreakoutsCreated { rooms: ids })
    }

    fn update_room(&mut self, id: BreakoutId, update: RoomUpdate) -> Result<Outcome, Denial> {
        let room = self.room(id)?;
        let name = match &update.name {
            Some(name) => {
                let name = clean_room_name(name).map_err(|d| d.with_field("name"))?;
                let clash = self
                    .state
                    .breakouts
                    .rooms
                    .values()
                    .any(|r| r.id != id && r.name.eq_ignore_ascii_case(&name));
                if clash {
                    return Err(Denial::new(
                        ErrorCode::DuplicateName,
                        format!("a room is already named {name}"),
                    )
                    .with_field("name"));
                }
                Some(name)
            }
            None => None,
        };
        if let Some(capacity) = update.capacity {
            check_capacity(capacity)?;
            let here = self.state.count_in(Location::Breakout(id));
            if capacity.is_some_and(|c| (c as usize) < here) {
                return Err(Denial::new(
                    ErrorCode::CapacityExceeded,
                    format!(
                        "{} peers stand in {} now; move some out first",
                        here, room.name
                    ),
                )
                .with_field("capacity"));
            }
        }
        if let Some(Some(password)) = &update.password
            && (password.is_empty() || password.chars().count() > MAX_PASSWORD)
        {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                format!("a room password is 1 to {MAX_PASSWORD} characters"),
            )
            .with_field("password"));
        }
        if let Some(Visibility::MainStage { roles }) = &update.visibility {
            for (i, role) in roles.iter().enumerate() {
                self.state
                    .template
                    .require_role(role)
                    .map_err(|d| d.with_field(format!("visibility.main_stage.roles[{i}]")))?;
            }
        }
        let visibility_changed = update
            .visibility
            .as_ref()
            .is_some_and(|v| *v != room.visibility);
        let room = self
            .state
            .breakouts
            .rooms
            .get_mut(&id)
            .expect("invariant: checked above");
        if let Some(name) = name {
            room.name = name;
        }
        if let Some(capacity) = update.capacity {
            room.capacity = capacity;
        }
        if let Some(password) = update.password {
            room.password = password;
        }
        if let Some(visibility) = update.visibility {
            room.visibility = visibility;
        }
        if visibility_changed {
            let inside: Vec<PeerId> = self.state.everyone_in(Location::Breakout(id)).collect();
            for peer in inside {
                self.routing.subscriber_changed(peer);
            }
        }
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    fn remove_room(&mut self, id: BreakoutId) -> Result<Outcome, Denial> {
        self.room(id)?;
        self.empty_room(id);
        self.state.breakouts.forget_room(id);
        // With nothing left open the set is closed, as when its last room closes; a running
        // countdown to close everything goes on unless no room is left at all.
        let set = &self.state.breakouts;
        let finished = match set.phase {
            Phase::Open => set.rooms.values().all(|r| r.closed),
            Phase::Closing => set.rooms.is_empty(),
            Phase::Draft | Phase::Closed => false,
        };
        if finished {
            self.finish_closing_all();
        }
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    fn set_options(&mut self, options: BreakoutOptions) -> Result<Outcome, Denial> {
        check_seconds(options.countdown_s, 0, "countdown_s")?;
        check_seconds(options.warning_s, 0, "warning_s")?;
        if let Some(d) = options.duration_s {
            check_seconds(d, 1, "duration_s")?;
        }
        self.state.breakouts.options = options;
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    // ---- assignment ------------------------------------------------------------------------

    fn assign(&mut self, assignments: Vec<(Assignee, Location)>) -> Result<Outcome, Denial> {
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

    fn auto_assign(
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
                Some(b) if !eligible || keep_previous => *taken.entry(b).or_default() += 1,
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

    fn set_preassignments(
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
        self.state.breakouts.preassignments = resolved;
        self.state.breakouts.touch();
        Ok(Outcome::Done)
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
            if let Some(b) = plan {
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

    pub(super) fn invite(&mut self, peer: PeerId, breakout: BreakoutId) {
        if let Some(room) = self.state.breakouts.room(breakout) {
            let event = ServerEvent::BreakoutInvite {
                breakout_id: breakout,
                name: room.name.clone(),
            };
            self.send_one(peer, event);
        }
    }

    // ---- open, timer, close ----------------------------------------------------------------

    fn open(&mut self, now: Time, duration_s: Option<u32>) -> Result<Outcome, Denial> {
        let set = &self.state.breakouts;
        match set.phase {
            Phase::Open => {
                return Err(Denial::new(
                    ErrorCode::AlreadyThere,
                    "breakout rooms are already open",
                ));
            }
            Phase::Closing => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsClosing,
                    "breakout rooms are closing",
                ));
            }
            Phase::Draft | Phase::Closed => {}
        }
        if set.rooms.is_empty() {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                "there are no rooms to open; create some first",
            ));
        }
        let duration = duration_s.or(set.options.duration_s);
        if let Some(d) = duration {
            check_seconds(d, 1, "duration_s")?;
        }
        let auto_move = set.options.auto_move_on_open;
        let set = &mut self.state.breakouts;
        set.phase = Phase::Open;
        set.closing_at = None;
        for room in set.rooms.values_mut() {
            room.closed = false;
            room.closing_at = None;
        }
        set.touch();
        if let Some(d) = duration {
            self.start_timer(now, now + Duration::from_secs(u64::from(d)));
        }
        let planned: Vec<(PeerId, crate::template::RoleIdx, BreakoutId)> = self
            .state
            .peers
            .values()
            .filter_map(|p| {
                let b = self.state.breakouts.assignment_of(p.id, &p.user_id)?;
                (p.location != Location::Breakout(b)).then_some((p.id, p.role, b))
            })
            .collect();
        let mut invited = Vec::new();
        if auto_move {
            if planned.len() > BULK_MOVES {
                self.routing.rebuild_all();
            }
            let mut moves = Vec::new();
            // One at a time, so a room that is over-planned fills up and the rest are invited.
            for (id, role, b) in planned {
                let to = Location::Breakout(b);
                if self.check_placements(&[(id, role, to)]).is_ok() {
                    moves.extend(self.relocate(id, role, to));
                } else {
                    invited.push((id, b));
                }
            }
            self.announce_moves(&moves);
        } else {
            invited.extend(planned.into_iter().map(|(id, _, b)| (id, b)));
        }
        for (id, b) in invited {
            self.invite(id, b);
        }
        let rooms = self.state.breakouts.rooms.keys().copied().collect();
        self.lifecycle(LifecycleEvent::BreakoutsOpened {
            rooms,
            ends_in_s: duration,
        });
        Ok(Outcome::Done)
    }

    fn start_timer(&mut self, now: Time, ends_at: Time) {
        let warning = Duration::from_secs(u64::from(self.state.breakouts.options.warning_s));
        let set = &mut self.state.breakouts;
        set.ends_at = Some(ends_at);
        set.warned = false;
        let warn_at = ends_at - warning;
        if warning > Duration::ZERO && warn_at > now {
            self.schedule(warn_at, Timer::BreakoutWarning);
        }
        self.schedule(ends_at, Timer::BreakoutEnd);
    }

    fn extend(&mut self, now: Time, seconds: u32) -> Result<Outcome, Denial> {
        check_seconds(seconds, 1, "seconds")?;
        let set = &self.state.breakouts;
        if set.phase != Phase::Open {
            return Err(Denial::new(
                ErrorCode::BreakoutsNotOpen,
                "breakout rooms are not open",
            ));
        }
        let Some(ends_at) = set.ends_at else {
            return Err(Denial::new(
                ErrorCode::NoTimer,
                "the breakout rooms run without a timer",
            ));
        };
        self.start_timer(now, ends_at + Duration::from_secs(u64::from(seconds)));
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    pub(super) fn breakout_warning(&mut self, now: Time) {
        let set = &self.state.breakouts;
        let Some(ends_at) = set.ends_at else { return };
        let lead = Duration::from_secs(u64::from(set.options.warning_s));
        if set.phase != Phase::Open || set.warned || ends_at - lead > now {
            return;
        }
        self.state.breakouts.warned = true;
        let remaining_ms = millis_between(now, ends_at);
        let everyone = self.everyone();
        self.send(everyone, ServerEvent::TimerWarning { remaining_ms });
        self.lifecycle(LifecycleEvent::BreakoutsTimerWarning {
            remaining_s: u32::try_from(remaining_ms.div_ceil(1000)).unwrap_or(u32::MAX),
        });
    }

    /// The running timer ran out: close every room with the options' countdown.
    pub(super) fn breakout_timer_end(&mut self, now: Time) {
        let countdown = self.state.breakouts.options.countdown_s;
        self.begin_closing_all(now, countdown);
    }

    fn close(
        &mut self,
        now: Time,
        countdown_s: Option<u32>,
        breakout: Option<BreakoutId>,
    ) -> Result<Outcome, Denial> {
        let set = &self.state.breakouts;
        let countdown = countdown_s.unwrap_or(set.options.countdown_s);
        check_seconds(countdown, 0, "countdown_s")?;
        match set.phase {
            Phase::Open => {}
            Phase::Closing => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsClosing,
                    "breakout rooms are already closing",
                ));
            }
            Phase::Draft | Phase::Closed => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsNotOpen,
                    "breakout rooms are not open",
                ));
            }
        }
        match breakout {
            None => self.begin_closing_all(now, countdown),
            Some(b) => {
                super::check_room_not_closing(self.room(b)?)?;
                self.begin_closing_room(now, b, countdown);
            }
        }
        Ok(Outcome::Done)
    }

    fn begin_closing_all(&mut self, now: Time, countdown_s: u32) {
        self.lifecycle(LifecycleEvent::BreakoutsClosing {
            breakout_id: None,
            countdown_s,
        });
        let set = &mut self.state.breakouts;
        set.ends_at = None;
        set.touch();
        if countdown_s == 0 {
            self.close_all_now();
            return;
        }
        let at = now + Duration::from_secs(u64::from(countdown_s));
        set.phase = Phase::Closing;
        set.closing_at = Some(at);
        self.schedule(at, Timer::CloseAll);
        let everyone = self.everyone();
        self.send(
            everyone,
            ServerEvent::BreakoutsClosing {
                breakout_id: None,
                countdown_ms: u64::from(countdown_s) * 1000,
            },
        );
    }

    fn begin_closing_room(&mut self, now: Time, b: BreakoutId, countdown_s: u32) {
        self.lifecycle(LifecycleEvent::BreakoutsClosing {
            breakout_id: Some(b),
            countdown_s,
        });
        self.state.breakouts.touch();
        if countdown_s == 0 {
            self.close_room_now(b);
            return;
        }
        let at = now + Duration::from_secs(u64::from(countdown_s));
        if let Some(room) = self.state.breakouts.rooms.get_mut(&b) {
            room.closing_at = Some(at);
        }
        self.schedule(at, Timer::CloseRoom(b));
        let mut to: BTreeSet<PeerId> = self.state.everyone_in(Location::Breakout(b)).collect();
        to.extend(self.state.listeners.get(&b).into_iter().flatten().copied());
        to.extend(self.managers());
        let to = to
            .into_iter()
            .filter(|p| self.state.peers.get(p).is_some_and(|p| p.is_connected()))
            .collect();
        self.send(
            to,
            ServerEvent::BreakoutsClosing {
                breakout_id: Some(b),
                countdown_ms: u64::from(countdown_s) * 1000,
            },
        );
    }

    /// Everyone back to main now; the plan (rooms, assignments) is kept for next time.
    pub(super) fn close_all_now(&mut self) {
        let inside: Vec<PeerId> = self
            .state
            .peers
            .values()
            .filter(|p| p.location.is_breakout())
            .map(|p| p.id)
            .collect();
        let listening: Vec<PeerId> = self.state.listeners.values().flatten().copied().collect();
        self.send_to_main(inside, listening);
        self.finish_closing_all();
    }

    fn finish_closing_all(&mut self) {
        let set = &mut self.state.breakouts;
        set.phase = Phase::Closed;
        set.closing_at = None;
        set.ends_at = None;
        set.help.clear();
        for room in set.rooms.values_mut() {
            room.closed = false;
            room.closing_at = None;
        }
        set.touch();
        self.lifecycle(LifecycleEvent::BreakoutsClosed { breakout_id: None });
    }

    /// Close one room now: its peers go back to main.
    pub(super) fn close_room_now(&mut self, b: BreakoutId) {
        self.empty_room(b);
        let set = &mut self.state.breakouts;
        if let Some(room) = set.rooms.get_mut(&b) {
            room.closed = true;
            room.closing_at = None;
        }
        set.help.retain(|_, h| h.breakout != Some(b));
        set.touch();
        self.lifecycle(LifecycleEvent::BreakoutsClosed {
            breakout_id: Some(b),
        });
        if self.state.breakouts.rooms.values().all(|r| r.closed) {
            self.finish_closing_all();
        }
    }

    /// Send everyone in a room back to main and end listen-ins to it.
    fn empty_room(&mut self, b: BreakoutId) {
        let inside: Vec<PeerId> = self.state.everyone_in(Location::Breakout(b)).collect();
        let listening: Vec<PeerId> = self
            .state
            .listeners
            .get(&b)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        self.send_to_main(inside, listening);
    }

    /// Move these peers back to main, end these listen-ins, and announce the moves.
    fn send_to_main(&mut self, inside: Vec<PeerId>, listening: Vec<PeerId>) {
        if inside.len() > BULK_MOVES {
            self.routing.rebuild_all();
        }
        let moves: Vec<Move> = inside
            .into_iter()
            .filter_map(|id| {
                let role = self.state.peers.get(&id)?.role;
                self.relocate(id, role, Location::Main)
            })
            .collect();
        for id in listening {
            self.stop_listening(id);
        }
        self.announce_moves(&moves);
    }

    // ---- messages and help -----------------------------------------------------------------

    fn broadcast_text(&mut self, actor: Actor, text: String) -> Result<Outcome, Denial> {
        check_text(&text)?;
        let from = match actor {
            Actor::Peer(p) => Some(p),
            Actor::Server => None,
        };
        let everyone = self.everyone();
        self.send(everyone, ServerEvent::Broadcast { from, text });
        Ok(Outcome::Done)
    }

    fn claim_help(&mut self, actor: Actor, help: HelpId) -> Result<Outcome, Denial> {
        let claimer = self.acting_peer(actor)?.id;
        let entry = self.state.breakouts.help.get_mut(&help).ok_or_else(|| {
            Denial::new(ErrorCode::UnknownHelp, format!("no help request {help}"))
        })?;
        entry.claimed_by = Some(claimer);
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    fn dismiss_help(&mut self, help: HelpId) -> Result<Outcome, Denial> {
        if self.state.breakouts.help.remove(&help).is_none() {
            return Err(Denial::new(
                ErrorCode::UnknownHelp,
                format!("no help request {help}"),
            ));
        }
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    pub(super) fn request_help(&mut self, actor: Actor) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        let (id, breakout) = (peer.id, peer.location.breakout());
        if let Some(existing) = self.state.breakouts.help.values().find(|h| h.peer == id) {
            return Ok(Outcome::HelpRequested { help: existing.id });
        }
        let help = HelpId::new(self.issue_id());
        let entry = HelpEntry {
            id: help,
            peer: id,
            breakout,
            claimed_by: None,
        };
        self.state.breakouts.help.insert(help, entry);
        self.state.breakouts.touch();
        let managers = self.managers();
        let info = caucus_proto::event::HelpInfo {
            id: help,
            peer_id: id,
            breakout_id: breakout,
            claimed_by: None,
        };
        self.send(managers, ServerEvent::HelpRequested { help: info });
        self.lifecycle(LifecycleEvent::HelpRequested {
            help_id: help,
            peer_id: id,
            breakout_id: breakout,
        });
        Ok(Outcome::HelpRequested { help })
    }

    // ---- peers moving themselves, listen-in ---------------------------------------------------

    pub(super) fn join_breakout(
        &mut self,
        actor: Actor,
        b: BreakoutId,
        password: Option<&str>,
    ) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        let id = peer.id;
        let room = self.room(b)?;
        if peer.location == Location::Breakout(b) {
            return Err(Denial::new(
                ErrorCode::AlreadyThere,
                format!("peer {id} already is in {b}"),
            ));
        }
        let assigned = self.state.breakouts.assignment_of(id, &peer.user_id) == Some(b);
        if !assigned {
            if !self.state.breakouts.options.allow_self_select {
                return Err(Denial::new(
                    ErrorCode::SelfSelectDisabled,
                    "choosing a breakout room is not allowed now; wait to be assigned",
                ));
            }
            self.require(actor, Action::SelfSelectBreakout)?;
            if !room.password_matches(password) {
                return Err(Denial::new(
                    ErrorCode::WrongPassword,
                    format!("wrong password for {}", room.name),
                )
                .with_field("password"));
            }
        }
        self.apply_move(id, Location::Breakout(b))?;
        Ok(Outcome::Done)
    }

    pub(super) fn return_to_main(&mut self, actor: Actor) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        if peer.location == Location::Main {
            return Err(Denial::new(
                ErrorCode::AlreadyThere,
                "already in the main room",
            ));
        }
        let manager =
            self.may(peer, Permission::ManageBreakouts) || self.may(peer, Permission::MovePeers);
        if !self.state.breakouts.options.allow_return_to_main && !manager {
            return Err(Denial::new(
                ErrorCode::ReturnToMainDisabled,
                "returning to the main room is not allowed now",
            ));
        }
        let id = peer.id;
        self.apply_move(id, Location::Main)?;
        Ok(Outcome::Done)
    }

    pub(super) fn listen_in(
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
                    self.peer_updated(id);
                }
            }
        }
        Ok(Outcome::Done)
    }

    pub(super) fn stop_listening(&mut self, id: PeerId) {
        self.state.set_listening(id, None);
        self.routing.subscriber_changed(id);
        self.send_one(id, ServerEvent::ListeningTo { breakout_id: None });
    }

    fn room(&self, b: BreakoutId) -> Result<&BreakoutRoom, Denial> {
        self.state
            .breakouts
            .room(b)
            .ok_or_else(|| Denial::new(ErrorCode::UnknownBreakout, format!("no breakout {b}")))
    }
}

/// A breakout room as a saved plan holds it (see [`Session::restore_breakouts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRoom {
    pub id: BreakoutId,
    pub name: String,
    pub capacity: Option<u32>,
    pub password: Option<String>,
    pub visibility: Visibility,
}

fn clean_room_name(raw: &str) -> Result<String, Denial> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_ROOM_NAME || name.chars().any(char::is_control)
    {
        return Err(Denial::new(
            ErrorCode::InvalidName,
            format!("a room name is 1 to {MAX_ROOM_NAME} printable characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_capacity(capacity: Option<u32>) -> Result<(), Denial> {
    if capacity == Some(0) {
        return Err(Denial::new(
            ErrorCode::InvalidValue,
            "a capacity is at least 1 (omit it for no limit)",
        )
        .with_field("capacity"));
    }
    Ok(())
}

fn check_seconds(value: u32, min: u32, field: &str) -> Result<(), Denial> {
    if value < min || value > MAX_SECONDS {
        return Err(Denial::new(
            ErrorCode::InvalidValue,
            format!("{field} must be between {min} and {MAX_SECONDS} seconds"),
        )
        .with_field(field));
    }
    Ok(())
}

pub(super) fn check_text(text: &str) -> Result<(), Denial> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(Denial::new(
            ErrorCode::InvalidValue,
            format!("a message is 1 to {MAX_TEXT} characters"),
        )
        .with_field("text"));
    }
    Ok(())
}
