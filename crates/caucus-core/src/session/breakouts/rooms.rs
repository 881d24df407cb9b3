//! Editing the breakout set: creating, updating and removing rooms, and its options.

use std::collections::BTreeSet;

use caucus_proto::{BreakoutId, BreakoutOptions, ErrorCode, Location, PeerId, Phase, Visibility};

use super::{MAX_PASSWORD, MAX_ROOMS, check_capacity, check_seconds, clean_room_name};
use crate::breakout_set::BreakoutRoom;
use crate::command::{Outcome, RoomPassword, RoomUpdate};
use crate::denial::Denial;
use crate::session::Session;

impl Session {
    pub(super) fn create_rooms(
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
            let id = self.issue_breakout_id();
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
        self.state.breakouts.edit_plan();
        Ok(Outcome::BreakoutsCreated { rooms: ids })
    }

    pub(super) fn update_room(
        &mut self,
        id: BreakoutId,
        update: RoomUpdate,
    ) -> Result<Outcome, Denial> {
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
            let here = self.state.count_toward_capacity(Location::Breakout(id));
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
            room.password = password.map(RoomPassword::Plain);
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
        self.state.breakouts.edit_plan();
        Ok(Outcome::Done)
    }

    pub(super) fn remove_room(&mut self, id: BreakoutId) -> Result<Outcome, Denial> {
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
        self.state.breakouts.edit_plan();
        Ok(Outcome::Done)
    }

    pub(super) fn set_options(&mut self, options: BreakoutOptions) -> Result<Outcome, Denial> {
        check_seconds(options.countdown_s, 0, "countdown_s")?;
        check_seconds(options.warning_s, 0, "warning_s")?;
        if let Some(d) = options.duration_s {
            check_seconds(d, 1, "duration_s")?;
        }
        self.state.breakouts.options = options;
        self.state.breakouts.edit_plan();
        Ok(Outcome::Done)
    }
}
