//! The audit log: who did which management action to what, and when.

use caucus_proto::RoomId;

/// One management action, as the caller describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at_ms: u64,
    /// Who acted: the management token's subject, a peer id, `system`.
    pub actor: String,
    /// What was done, dotted: `room.created`, `template.deleted`, `peer.removed`.
    pub action: String,
    /// The room it concerns, if any (kept after the room is deleted).
    pub room: Option<RoomId>,
    /// The object acted on inside the room (a peer, a breakout), if any.
    pub target: Option<String>,
    /// Anything else worth keeping (the patch, the reason). Never a password.
    pub details: serde_json::Value,
}

/// A stored audit entry with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Grows with every append; never reused.
    pub seq: u64,
    pub entry: AuditEntry,
}
