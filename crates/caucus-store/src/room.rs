//! A durable room: what `POST /v1/rooms` creates and `PATCH` changes.

use caucus_proto::{RoomId, TemplateId};
use serde::{Deserialize, Serialize};

/// One room as stored. `password_hash` is a [`crate::password::hash`] string, never the
/// password; a REST body built from this must leave it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub id: RoomId,
    pub name: String,
    pub template: TemplateId,
    pub password_hash: Option<String>,
    pub locked: bool,
    pub recording: RecordingPolicy,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// When the room records by itself. Stored as JSON, so fields can be added with a
/// `#[serde(default)]` and no migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordingPolicy {
    /// Start recording the main room when the session starts.
    pub auto: bool,
}

/// A partial update of a room: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomPatch {
    pub name: Option<String>,
    pub template: Option<TemplateId>,
    /// `Some(None)` removes the password; `Some(Some(hash))` sets a new one.
    pub password_hash: Option<Option<String>>,
    pub locked: Option<bool>,
    pub recording: Option<RecordingPolicy>,
}

impl RoomPatch {
    /// The room with this patch applied, stamped `updated_at_ms = now_ms`.
    pub(crate) fn apply(&self, room: &RoomRecord, now_ms: u64) -> RoomRecord {
        let mut next = room.clone();
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        if let Some(template) = &self.template {
            next.template = template.clone();
        }
        if let Some(password_hash) = &self.password_hash {
            next.password_hash.clone_from(password_hash);
        }
        if let Some(locked) = self.locked {
            next.locked = locked;
        }
        if let Some(recording) = self.recording {
            next.recording = recording;
        }
        next.updated_at_ms = now_ms;
        next
    }
}
