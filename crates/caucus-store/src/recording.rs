//! A recording's metadata: what `GET /v1/recordings/{id}` answers, during and after.

use caucus_proto::event::RecordingEndReason;
use caucus_proto::{Location, PeerId, RecordingId, RoomId, TrackId};
use serde::{Deserialize, Serialize};

/// One recording of one location of a room, with the files written so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRecord {
    pub id: RecordingId,
    pub room: RoomId,
    pub location: Location,
    pub started_at_ms: u64,
    /// `None` while the recording runs.
    #[serde(default)]
    pub ended_at_ms: Option<u64>,
    #[serde(default)]
    pub end_reason: Option<RecordingEndReason>,
    /// Finished files, in the order they were finished.
    #[serde(default)]
    pub files: Vec<RecordingFile>,
}

/// One per-track WebM file of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFile {
    /// The file name inside the recording's directory, e.g. `p3-t7.webm`.
    pub name: String,
    pub peer: PeerId,
    pub track: TrackId,
    /// `audio` or `video`.
    pub kind: String,
    /// `opus` or `vp8`.
    pub codec: String,
    /// When the file's first frame came, in milliseconds after the recording started.
    pub offset_ms: u64,
    pub duration_ms: u64,
    pub frames: u64,
    pub bytes: u64,
}
