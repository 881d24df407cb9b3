//! Breakout plans: what a session's next session starts from (rooms, options, pre-assignments),
//! handed to the shell to write whenever it is edited, and restored into a new session.

use std::collections::BTreeMap;

use caucus_proto::{BreakoutId, BreakoutOptions, ErrorCode, Phase, UserId, Visibility};

use super::{MAX_ROOMS, check_capacity, clean_room_name};
use crate::breakout_set::BreakoutRoom;
use crate::command::RoomPassword;
use crate::denial::Denial;
use crate::session::Session;
use crate::time::Time;

impl Session {
    /// Put a saved breakout plan into a session whose breakout set is still empty, keeping each
    /// room's id (applications keep them across restarts). Rooms created later follow the
    /// largest saved id (of a room restored or left out). A room that no longer fits (a duplicate id or name, an invalid name or
    /// capacity, a main stage naming a role the template lost) is left out and its refusal
    /// returned; so are invalid options (the defaults stay) and pre-assignments to rooms left out.
    ///
    /// A restored plan is not handed back to be written ([`crate::Effect::PersistPlan`]): it
    /// came from the store; the next edit writes the plan as it then is.
    pub fn restore_breakouts(&mut self, now: Time, plan: SavedPlan) -> Result<Vec<Denial>, Denial> {
        let SavedPlan {
            rooms,
            options,
            preassignments,
        } = plan;
        if !self.state.breakouts.rooms.is_empty() || self.state.breakouts.phase != Phase::Draft {
            return Err(Denial::new(
                ErrorCode::AlreadyExists,
                "a plan is restored only into a session without breakout rooms",
            ));
        }
        let mut skipped = Vec::new();
        for saved in rooms.into_iter().take(MAX_ROOMS) {
            // Past every saved id, kept or not: a new room never takes an id the plan used.
            self.next_breakout = self.next_breakout.max(saved.id.get());
            match self.check_saved_room(&saved) {
                Ok(name) => {
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
        set.plan_edited = false;
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
}

/// What a room's next session starts its breakout set from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SavedPlan {
    pub rooms: Vec<SavedRoom>,
    pub options: BreakoutOptions,
    /// Where each user goes when rooms open.
    pub preassignments: BTreeMap<UserId, BreakoutId>,
}

/// A breakout room as a saved plan holds it (see [`Session::restore_breakouts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRoom {
    pub id: BreakoutId,
    pub name: String,
    pub capacity: Option<u32>,
    /// A password set in this process is plain (the shell hashes it to write it); one read
    /// back from the store is its hash, checked by the shell when someone tries it.
    pub password: Option<RoomPassword>,
    pub visibility: Visibility,
}

impl Session {
    /// The breakout plan as it stands: what a plan write keeps.
    pub fn saved_plan(&self) -> SavedPlan {
        let set = &self.state.breakouts;
        SavedPlan {
            rooms: set
                .rooms
                .values()
                .map(|room| SavedRoom {
                    id: room.id,
                    name: room.name.clone(),
                    capacity: room.capacity,
                    password: room.password.clone(),
                    visibility: room.visibility.clone(),
                })
                .collect(),
            options: set.options.clone(),
            preassignments: set.preassignments.clone(),
        }
    }
}
