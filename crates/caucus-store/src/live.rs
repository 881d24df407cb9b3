//! What was live: the sessions and peers a running server has, as far as a crash must know.
//!
//! A server that is killed (SIGKILL, a power cut) cannot send `peer.left` and `session.ended`
//! for the sessions it held. So every session start, join, leave and end is written here, in
//! the same commit as the webhook deliveries of the same events ([`crate::Store::record_lifecycle`]);
//! the next start reads what is still live ([`crate::Store::live_sessions`]), queues the missed
//! events and forgets it in one commit ([`crate::Store::end_live_sessions`]).

use caucus_proto::{PeerId, RoomId, UserId};

/// A change to what is live, in the order the session made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveChange {
    /// The room's session started (its first join).
    SessionStarted { room: RoomId, at_ms: u64 },
    /// A peer joined the room's session (a resumed peer is not a new join).
    PeerJoined {
        room: RoomId,
        peer: PeerId,
        user: UserId,
    },
    /// A peer left the room's session, for whatever reason.
    PeerLeft { room: RoomId, peer: PeerId },
    /// The room's session ended: it and its peers are no longer live.
    SessionEnded { room: RoomId },
}

/// A session that was live, with the peers it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub room: RoomId,
    pub started_at_ms: u64,
    /// In the order they joined.
    pub peers: Vec<LivePeer>,
}

/// A peer of a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePeer {
    pub peer: PeerId,
    pub user: UserId,
}
