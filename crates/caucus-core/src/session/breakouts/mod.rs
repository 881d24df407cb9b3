//! The breakout set in motion, one file per concept: editing rooms and options (`rooms`),
//! restoring a saved plan (`restore`), assignment (`assignment`), opening, timers and closing
//! (`phases`), peers choosing rooms themselves (`self_select`), the help queue (`help`), and
//! reaching into rooms from outside — listen-in and the broadcast message (`listen`).

mod assignment;
mod help;
mod listen;
mod phases;
mod restore;
mod rooms;
mod self_select;

pub use restore::{SavedPlan, SavedRoom};

use caucus_proto::{BreakoutId, ErrorCode};

use super::Session;
use crate::breakout_set::BreakoutRoom;
use crate::command::{Actor, BreakoutOp, Outcome};
use crate::denial::Denial;
use crate::time::Time;

const MAX_ROOMS: usize = 200;
const MAX_ROOM_NAME: usize = 64;
const MAX_PASSWORD: usize = 128;
const MAX_TEXT: usize = 4000;
const MAX_SECONDS: u32 = 86_400;
const MAX_PREASSIGNMENTS: usize = 10_000;
/// More moves than this at once: recompute every desired set instead of following each move.
const BULK_MOVES: usize = 32;

impl Session {
    pub(in crate::session) fn breakout_op(
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

    pub(super) fn room(&self, b: BreakoutId) -> Result<&BreakoutRoom, Denial> {
        self.state
            .breakouts
            .room(b)
            .ok_or_else(|| Denial::new(ErrorCode::UnknownBreakout, format!("no breakout {b}")))
    }
}

pub(super) fn clean_room_name(raw: &str) -> Result<String, Denial> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_ROOM_NAME
        || !crate::text::is_printable_name(name)
    {
        return Err(Denial::new(
            ErrorCode::InvalidName,
            format!(
                "a room name is 1 to {MAX_ROOM_NAME} printable characters, without control or direction-changing characters"
            ),
        ));
    }
    Ok(name.to_owned())
}

pub(super) fn check_capacity(capacity: Option<u32>) -> Result<(), Denial> {
    if capacity == Some(0) {
        return Err(Denial::new(
            ErrorCode::InvalidValue,
            "a capacity is at least 1 (omit it for no limit)",
        )
        .with_field("capacity"));
    }
    Ok(())
}

pub(super) fn check_seconds(value: u32, min: u32, field: &str) -> Result<(), Denial> {
    if value < min || value > MAX_SECONDS {
        return Err(Denial::new(
            ErrorCode::InvalidValue,
            format!("{field} must be between {min} and {MAX_SECONDS} seconds"),
        )
        .with_field(field));
    }
    Ok(())
}

pub(in crate::session) fn check_text(text: &str) -> Result<(), Denial> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(Denial::new(
            ErrorCode::InvalidValue,
            format!("a message is 1 to {MAX_TEXT} characters"),
        )
        .with_field("text"));
    }
    Ok(())
}
