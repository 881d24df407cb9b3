//! The breakout plan between a live session and the store: [`capture`] reads what a session's
//! breakout set would need to start again (rooms, options, pre-assignments), [`restore`] puts
//! a saved plan into a fresh session through ordinary commands.
//!
//! Two things the core does not offer are bridged here, and both are worth a core change:
//! - **Stable ids.** A fresh session issues breakout ids from 1, so restoring `b3` and `b7`
//!   naively would give `b1` and `b2`, and every id an application kept would break. The
//!   session's id counter only moves by issuing, so [`restore`] issues and removes placeholder
//!   rooms until the counter reaches each saved id. (A core `restore` operation taking ids
//!   would make this unnecessary.)
//! - **Passwords.** The core compares breakout passwords in plain text; the store keeps only
//!   hashes. Within one server process the shell remembers the plain password it saw set
//!   ([`Secrets`]), so plans keep being written with its hash. After a restart only the hash is
//!   known: the room gets a random password nobody knows, so it stays *closed* to self-select
//!   (fail closed, never open) until a manager sets the password again; moves and auto-moves
//!   need no password and still work. `has_password` stays `true`.

use std::collections::{BTreeMap, HashMap};

use caucus_core::{Actor, BreakoutOp, Command, Outcome, RoomUpdate, Session, Time};
use caucus_proto::event::BreakoutsView;
use caucus_proto::signal::BreakoutCommand;
use caucus_proto::{BreakoutId, UserId};
use caucus_store::{BreakoutPlan, PlannedRoom};
use tracing::warn;

/// Placeholders issued at most to keep one saved id; a larger gap keeps the room, not its id.
const MAX_ID_GAP: u64 = 10_000;
/// Rooms a session may hold at once (the core's limit).
const MAX_ROOMS: usize = 200;

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

/// Put `plan` into a fresh `session` (no peers, nothing issued yet). Parts that no longer fit
/// (a visibility naming a role the template lost) are logged and left out.
pub fn restore(session: &mut Session, now: Time, plan: &BreakoutPlan, secrets: &mut Secrets) {
    let mut rooms: Vec<&PlannedRoom> = plan.rooms.iter().collect();
    rooms.sort_by_key(|r| r.id.parse::<BreakoutId>().map_or(u64::MAX, BreakoutId::get));
    let mut restored: BTreeMap<String, BreakoutId> = BTreeMap::new();
    let mut live = 0usize;
    // A fresh session issues ids from 1; every created room tells where the counter is.
    let mut next = 1u64;
    for planned in rooms {
        if let Ok(wanted) = planned.id.parse::<BreakoutId>() {
            next = skip_ids_before(session, now, next, wanted.get(), live);
        }
        let created = run(
            session,
            now,
            BreakoutOp::Create {
                count: 0,
                names: vec![planned.name.clone()],
                capacity: None,
            },
        );
        let Some(Outcome::BreakoutsCreated { rooms }) = created else {
            continue;
        };
        let Some(&id) = rooms.first() else { continue };
        next = id.get() + 1;
        live += 1;
        restored.insert(planned.id.clone(), id);
        let password = planned.password_hash.as_ref().map(|hash| {
            secrets.insert(id, Secret::Hash(hash.clone()));
            crate::secret::random_hex(32)
        });
        let update = RoomUpdate {
            capacity: planned.capacity.map(Some),
            password: password.map(Some),
            ..RoomUpdate::default()
        };
        run(
            session,
            now,
            BreakoutOp::Update {
                breakout: id,
                update,
            },
        );
        if planned.visibility != caucus_proto::Visibility::Isolated {
            let update = RoomUpdate {
                visibility: Some(planned.visibility.clone()),
                ..RoomUpdate::default()
            };
            run(
                session,
                now,
                BreakoutOp::Update {
                    breakout: id,
                    update,
                },
            );
        }
    }
    run(session, now, BreakoutOp::SetOptions(plan.options.clone()));
    if !plan.preassignments.is_empty() {
        let by_user_id: BTreeMap<UserId, String> = plan
            .preassignments
            .iter()
            .map(|(user, room)| {
                let room = restored
                    .get(room)
                    .map_or_else(|| room.clone(), ToString::to_string);
                (user.clone(), room)
            })
            .collect();
        let op = session.breakout_op_from_wire(BreakoutCommand::Preassign { by_user_id }, 0);
        run(session, now, op);
    }
}

/// Issue and remove placeholder rooms until the next issued id is `wanted`; returns the next
/// id. Gives up (the room gets the next id instead) past [`MAX_ID_GAP`] or the room limit.
fn skip_ids_before(
    session: &mut Session,
    now: Time,
    mut next: u64,
    wanted: u64,
    live: usize,
) -> u64 {
    if wanted <= next || wanted - next > MAX_ID_GAP {
        return next;
    }
    while next < wanted {
        let count = (wanted - next).min(MAX_ROOMS.saturating_sub(live) as u64);
        if count == 0 {
            break;
        }
        let created = run(
            session,
            now,
            BreakoutOp::Create {
                count: u32::try_from(count).unwrap_or(1),
                names: Vec::new(),
                capacity: None,
            },
        );
        let Some(Outcome::BreakoutsCreated { rooms }) = created else {
            break;
        };
        for placeholder in &rooms {
            next = next.max(placeholder.get() + 1);
            run(
                session,
                now,
                BreakoutOp::Remove {
                    breakout: *placeholder,
                },
            );
        }
    }
    next
}

fn run(session: &mut Session, now: Time, op: BreakoutOp) -> Option<Outcome> {
    let command = Command::Breakouts { version: None, op };
    match session.handle_command(now, Actor::Server, command) {
        Ok(outcome) => Some(outcome),
        Err(denial) => {
            warn!(%denial, "part of a saved breakout plan could not be restored");
            None
        }
    }
}
