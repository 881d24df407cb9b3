//! The breakout plan between a live session and the store: [`capture`] reads what a session's
//! breakout set would need to start again (rooms, options, pre-assignments), [`restore`] puts
//! a saved plan into a fresh session with the core's `Session::restore_breakouts`, which keeps
//! every room's id.
//!
//! **Passwords.** The core compares breakout passwords in plain text; the store keeps only
//! hashes. Within one server process the shell remembers the plain password it saw set
//! ([`Secrets`]), so plans keep being written with its hash. After a restart only the hash is
//! known: the core gets a random placeholder (fail closed), and the room task checks each
//! self-select attempt against the hash off its own task, then teaches the core the password
//! that matched (`Session::learn_breakout_password`). Moves need no password.

use std::collections::{BTreeMap, HashMap};

use caucus_core::{SavedRoom, Session, Time};
use caucus_proto::event::BreakoutsView;
use caucus_proto::{BreakoutId, UserId};
use caucus_store::{BreakoutPlan, PlannedRoom};
use tracing::warn;

/// A breakout room's password as the shell knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// Set in this process: the core holds this, the store gets its hash.
    Plain(String),
    /// Restored from the store: the core holds a random password; the store keeps this hash.
    Hash(String),
}

/// The passwords of a session's breakout rooms.
pub type Secrets = HashMap<BreakoutId, Secret>;

/// What is written: the plan (with the hashes already known) and the plain passwords still
/// to hash, by index into `plan.rooms`.
pub type Captured = (BreakoutPlan, Vec<(usize, String)>);

/// The plan of the session's breakout set as `view` shows it.
pub fn capture(view: &BreakoutsView, secrets: &Secrets) -> Captured {
    let mut plain = Vec::new();
    let rooms = view
        .rooms
        .iter()
        .enumerate()
        .map(|(i, room)| {
            let password_hash = match (room.has_password, secrets.get(&room.id)) {
                (true, Some(Secret::Hash(hash))) => Some(hash.clone()),
                (true, Some(Secret::Plain(password))) => {
                    plain.push((i, password.clone()));
                    None
                }
                // A password the shell never saw cannot be kept; it is logged when set.
                _ => None,
            };
            PlannedRoom {
                id: room.id.to_string(),
                name: room.name.clone(),
                capacity: room.capacity,
                password_hash,
                visibility: room.visibility.clone(),
            }
        })
        .collect();
    let preassignments = view
        .preassignments
        .iter()
        .map(|(user, b)| (user.clone(), b.to_string()))
        .collect();
    let plan = BreakoutPlan {
        rooms,
        options: view.options.clone(),
        preassignments,
    };
    (plan, plain)
}

/// Put `plan` into a fresh `session` (no peers, no breakout rooms). Parts that no longer fit
/// (a visibility naming a role the template lost) are logged and left out.
pub fn restore(session: &mut Session, now: Time, plan: &BreakoutPlan, secrets: &mut Secrets) {
    let mut rooms = Vec::with_capacity(plan.rooms.len());
    for planned in &plan.rooms {
        let Ok(id) = planned.id.parse::<BreakoutId>() else {
            warn!(room = %planned.id, "a saved breakout room has no usable id; left out");
            continue;
        };
        let password = planned.password_hash.as_ref().map(|hash| {
            secrets.insert(id, Secret::Hash(hash.clone()));
            crate::secret::random_hex(32)
        });
        rooms.push(SavedRoom {
            id,
            name: planned.name.clone(),
            capacity: planned.capacity,
            password,
            visibility: planned.visibility.clone(),
        });
    }
    // Pre-assignments name a room by id or, in older plans, by name.
    let preassignments: BTreeMap<UserId, BreakoutId> = plan
        .preassignments
        .iter()
        .filter_map(|(user, room)| {
            let by_id = room.parse::<BreakoutId>().ok();
            let by_name = || {
                rooms
                    .iter()
                    .find(|r| r.name.eq_ignore_ascii_case(room))
                    .map(|r| r.id)
            };
            by_id.or_else(by_name).map(|id| (user.clone(), id))
        })
        .collect();
    match session.restore_breakouts(now, rooms, plan.options.clone(), preassignments) {
        Ok(skipped) => {
            for denial in skipped {
                warn!(%denial, "part of a saved breakout plan could not be restored");
            }
        }
        Err(denial) => warn!(%denial, "the saved breakout plan could not be restored"),
    }
}
