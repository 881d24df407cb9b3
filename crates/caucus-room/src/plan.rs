//! The breakout plan between a live session and the store: [`capture`] reads what a session's
//! breakout set would need to start again (rooms, options, pre-assignments), [`restore`] puts
//! a saved plan into a fresh session with the core's `Session::restore_breakouts`, which keeps
//! every room's id. The shell converts a [`Plan`] to and from the store's form.
//!
//! **Passwords.** The core compares breakout passwords in plain text; the store keeps only
//! hashes. Within one process the room remembers the plain password it saw set
//! ([`Secret::Plain`]), so plans keep being written with its hash (the writer hashes it).
//! After a restart only the hash is known ([`Secret::Hash`]): the core gets a random
//! placeholder (fail closed), and the room asks the shell to check each self-select attempt
//! against the hash off its event loop, then teaches the core the password that matched.
//! Moves need no password.

use std::collections::BTreeMap;

use caucus_core::{SavedRoom, Session, Time};
use caucus_proto::event::BreakoutsView;
use caucus_proto::{BreakoutId, BreakoutOptions, UserId, Visibility};
use rand::Rng;
use tracing::warn;

/// A breakout room's password as the room knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// Set in this process: the core holds this, the store gets its hash.
    Plain(String),
    /// Restored from the store: the core holds a random password; the store keeps this hash.
    Hash(String),
}

/// The passwords of a session's breakout rooms.
pub type Secrets = BTreeMap<BreakoutId, Secret>;

/// What a room's next session starts its breakout set from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub rooms: Vec<PlanRoom>,
    pub options: BreakoutOptions,
    /// Where each user goes when rooms open.
    pub preassignments: BTreeMap<UserId, BreakoutId>,
}

/// One planned breakout room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRoom {
    pub id: BreakoutId,
    pub name: String,
    pub capacity: Option<u32>,
    /// `None`: no password, or one set before the room learnt it (it cannot be kept).
    pub password: Option<Secret>,
    pub visibility: Visibility,
}

/// The plan of the session's breakout set as `view` shows it.
pub fn capture(view: &BreakoutsView, secrets: &Secrets) -> Plan {
    let rooms = view
        .rooms
        .iter()
        .map(|room| PlanRoom {
            id: room.id,
            name: room.name.clone(),
            capacity: room.capacity,
            password: room
                .has_password
                .then(|| secrets.get(&room.id).cloned())
                .flatten(),
            visibility: room.visibility.clone(),
        })
        .collect();
    Plan {
        rooms,
        options: view.options.clone(),
        preassignments: view.preassignments.clone().into_iter().collect(),
    }
}

/// Put `plan` into a fresh `session` (no peers, no breakout rooms). Parts that no longer fit
/// (a visibility naming a role the template lost) are logged and left out. Rooms restored
/// with a password hash get a random placeholder drawn from `rng`.
pub fn restore(
    session: &mut Session,
    now: Time,
    plan: &Plan,
    secrets: &mut Secrets,
    rng: &mut impl Rng,
) {
    let rooms = plan
        .rooms
        .iter()
        .map(|planned| {
            let password = planned.password.as_ref().map(|secret| {
                secrets.insert(planned.id, secret.clone());
                match secret {
                    Secret::Plain(p) => p.clone(),
                    Secret::Hash(_) => placeholder(rng),
                }
            });
            SavedRoom {
                id: planned.id,
                name: planned.name.clone(),
                capacity: planned.capacity,
                password,
                visibility: planned.visibility.clone(),
            }
        })
        .collect();
    match session.restore_breakouts(
        now,
        rooms,
        plan.options.clone(),
        plan.preassignments.clone(),
    ) {
        Ok(skipped) => {
            for denial in skipped {
                warn!(%denial, "part of a saved breakout plan could not be restored");
            }
        }
        Err(denial) => warn!(%denial, "the saved breakout plan could not be restored"),
    }
}

/// 32 random hex digits: what nobody can type, so a hashed room stays closed until a right
/// password is checked against its hash.
fn placeholder(rng: &mut impl Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
