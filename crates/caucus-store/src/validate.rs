//! Checks both stores make before writing, so they refuse exactly the same things.

use std::collections::BTreeSet;

use caucus_proto::RoomId;

use crate::error::StoreError;
use crate::{
    AuditEntry, BreakoutPlan, InviteRecord, OutboxItem, Result, RoomPatch, RoomRecord, password,
};

/// How much of a delivery error is kept.
pub(crate) const MAX_ERROR_BYTES: usize = 1024;

pub(crate) fn room(room: &RoomRecord) -> Result<()> {
    // A room id names its recordings' directory: never `..`, never a path.
    RoomId::check(room.id.as_str()).map_err(|e| StoreError::invalid("id", e.to_string()))?;
    not_empty("template", room.template.as_str())?;
    password_hash("password_hash", room.password_hash.as_deref())?;
    millis("created_at_ms", room.created_at_ms)?;
    millis("updated_at_ms", room.updated_at_ms)?;
    Ok(())
}

pub(crate) fn patch(patch: &RoomPatch, now_ms: u64) -> Result<()> {
    if let Some(template) = &patch.template {
        not_empty("template", template.as_str())?;
    }
    if let Some(hash) = &patch.password_hash {
        password_hash("password_hash", hash.as_deref())?;
    }
    millis("now_ms", now_ms)?;
    Ok(())
}

pub(crate) fn plan(plan: &BreakoutPlan) -> Result<()> {
    let mut ids = BTreeSet::new();
    for (i, room) in plan.rooms.iter().enumerate() {
        let field = format!("rooms[{i}].id");
        not_empty(&field, &room.id)?;
        if !ids.insert(room.id.as_str()) {
            return Err(StoreError::invalid(
                field,
                format!("{:?} appears twice", room.id),
            ));
        }
        password_hash(
            &format!("rooms[{i}].password_hash"),
            room.password_hash.as_deref(),
        )?;
    }
    Ok(())
}

pub(crate) fn outbox_item(item: &OutboxItem) -> Result<()> {
    not_empty("event_id", &item.event_id)?;
    not_empty("endpoint", &item.endpoint)?;
    millis("created_at_ms", item.created_at_ms)?;
    Ok(())
}

pub(crate) fn audit(entry: &AuditEntry) -> Result<()> {
    not_empty("actor", &entry.actor)?;
    not_empty("action", &entry.action)?;
    millis("at_ms", entry.at_ms)?;
    Ok(())
}

pub(crate) fn recording(recording: &crate::RecordingRecord) -> Result<()> {
    RoomId::check(recording.room.as_str())
        .map_err(|e| StoreError::invalid("room", e.to_string()))?;
    if i64::try_from(recording.id.get()).is_err() {
        return Err(StoreError::invalid(
            "id",
            format!("{} is too large", recording.id),
        ));
    }
    millis("started_at_ms", recording.started_at_ms)?;
    Ok(())
}

/// Milliseconds as SQLite's signed integer; anything past year 292,277,026 is a bug.
/// A live change names a room, and a session's start time fits SQLite's integers.
pub(crate) fn live_change(change: &crate::LiveChange) -> Result<()> {
    use crate::LiveChange;
    match change {
        LiveChange::SessionStarted { room, at_ms } => {
            not_empty("room", room.as_str())?;
            millis("at_ms", *at_ms).map(|_| ())
        }
        LiveChange::PeerJoined { room, user, .. } => {
            not_empty("room", room.as_str())?;
            not_empty("user", user.as_str())
        }
        LiveChange::PeerLeft { room, .. } | LiveChange::SessionEnded { room } => {
            not_empty("room", room.as_str())
        }
    }
}

pub(crate) fn millis(field: &str, ms: u64) -> Result<i64> {
    i64::try_from(ms).map_err(|_| StoreError::invalid(field, format!("{ms} is out of range")))
}

/// The first `MAX_ERROR_BYTES` of `error`, cut at a character boundary.
pub(crate) fn error_text(error: &str) -> String {
    let mut end = error.len().min(MAX_ERROR_BYTES);
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    error[..end].to_owned()
}

pub(crate) fn not_empty(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(StoreError::invalid(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn password_hash(field: &str, hash: Option<&str>) -> Result<()> {
    match hash {
        Some(hash) if !password::is_hash(hash) => Err(StoreError::invalid(
            field,
            "is not a password hash (use caucus_store::password::hash)",
        )),
        _ => Ok(()),
    }
}

/// The mark after reserving `count` versions above `mark`.
pub(crate) fn version_mark(mark: u64, count: u64) -> Result<u64> {
    if count == 0 {
        return Err(StoreError::invalid("count", "reserve at least one version"));
    }
    mark.checked_add(count)
        .filter(|m| *m <= crate::MAX_VERSION_MARK)
        .ok_or_else(|| StoreError::invalid("count", "the room's breakout versions are used up"))
}

pub(crate) fn invite(invite: &InviteRecord) -> Result<()> {
    if !crate::is_invite_id(&invite.id) {
        return Err(StoreError::invalid(
            "id",
            "an invite id is 32 lowercase hex digits",
        ));
    }
    not_empty("role", invite.role.as_str())?;
    millis("created_at_ms", invite.created_at_ms)?;
    if let Some(at) = invite.expires_at_ms {
        millis("expires_at_ms", at)?;
    }
    match invite.max_uses {
        Some(0) => return Err(StoreError::invalid("max_uses", "max_uses is at least 1")),
        Some(max) if invite.uses > max => {
            return Err(StoreError::invalid("uses", "more uses than max_uses"));
        }
        Some(max) => {
            millis("max_uses", max)?;
        }
        None => {}
    }
    millis("uses", invite.uses)?;
    Ok(())
}
