//! Effects: instructions from the core to the shell.

use std::sync::Arc;

use caucus_proto::{LifecycleEvent, Location, PeerId, RecordingId, ServerEvent, TrackId, TrackKey};

/// Something the shell must carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Deliver `event` to these peers (shared, so the shell can serialize it once).
    Send {
        to: Vec<PeerId>,
        event: Arc<ServerEvent>,
    },
    /// `peer`'s complete desired set changed: forward exactly these tracks to it, in this
    /// order when not all fit (the publisher's role priority, then sound, screens, cameras).
    Subscriptions { peer: PeerId, tracks: Vec<TrackKey> },
    /// The largest camera picture `peer` is sent, from its acting role (`None`: no cap); told
    /// when it joins and whenever it changes.
    ViewCap {
        peer: PeerId,
        max: Option<caucus_proto::template::ViewCaps>,
    },
    /// Accept media of this track from its publisher again, or stop (mute is enforced by the
    /// media plane, not left to the client).
    TrackMuted {
        peer: PeerId,
        track: TrackId,
        muted: bool,
    },
    /// This track no longer exists: drop its media.
    TrackStopped { peer: PeerId, track: TrackId },
    /// Close this peer's connection (removed, or the session ended).
    Disconnect { peer: PeerId },
    /// A recording's complete track set changed (or it just started): record exactly these
    /// tracks — every unmuted track published in its location, and broadcast sound.
    RecordingTracks {
        recording: RecordingId,
        location: Location,
        tracks: Vec<TrackKey>,
    },
    /// A recording ended: finish its files.
    RecordingStopped {
        recording: RecordingId,
        reason: caucus_proto::event::RecordingEndReason,
    },
    /// The room's locked flag changed: write it, so the room's next session starts so.
    PersistLocked { locked: bool },
    /// The breakout plan was edited (rooms, options or pre-assignments): write it, so the
    /// room's next session starts from it.
    PersistPlan { plan: crate::SavedPlan },
    /// Tell the outside world (webhooks).
    Lifecycle(LifecycleEvent),
    /// The session is over; the shell may drop it.
    SessionEnded,
}
