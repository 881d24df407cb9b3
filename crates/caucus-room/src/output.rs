//! What the room asks of the world: [`Output`], polled in order with `Room::poll_output`.

use std::sync::Arc;

use caucus_media::{MaxLayer, PeerKey, TrackKey as EngineTrack};
use caucus_proto::event::RecordingEndReason;
use caucus_proto::signal::ServerMessage;
use caucus_proto::{
    ErrorBody, LifecycleEvent, Location, PeerId, RecordingId, ServerEvent, TrackId,
};

use crate::room::ConnId;

/// Names one acknowledgement the shell must report back by resolving whatever waits on it:
/// a REST call that changed the breakout plan or started or stopped a recording answers only
/// once the write (or the recorder) is done. [`crate::ApiResult::acks`] lists those a call
/// waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckId(pub u64);

/// Names one password check the shell runs off its event loop (hashes are slow on purpose);
/// the verdict comes back through `Room::handle_password_verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId(pub u64);

/// Something the shell must carry out, in the order polled.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write `message` to each of these connections (serialize it once).
    Send { to: Vec<ConnId>, message: Signal },
    /// Send a close frame, then end the connection; the room has let go of it.
    Close {
        conn: ConnId,
        code: u16,
        reason: &'static str,
    },
    /// A join attempt's verdict. On `Ok`, frames for `conn` follow: the shell must attach the
    /// connection's queue before carrying out the outputs after this one.
    Joined {
        conn: ConnId,
        result: Result<PeerId, ErrorBody>,
    },
    /// For the media engine (on its own thread).
    Engine(EngineCommand),
    /// For the recorder, in order with the engine's packets (through the media thread).
    Record(RecordCommand),
    /// For the outside world (webhooks); the shell stamps the time.
    Lifecycle(LifecycleEvent),
    /// Write the breakout plan: the next session of the room starts from it.
    PersistPlan {
        plan: caucus_core::SavedPlan,
        ack: AckId,
    },
    /// Write the room's locked flag.
    PersistLocked { locked: bool },
    /// Check `plain` against the stored `hash` off the event loop, then hand the verdict back.
    VerifyPassword {
        check: CheckId,
        hash: String,
        plain: String,
    },
    /// The session is over and the room has released everything; the shell drops it.
    Ended,
}

/// A frame for connections.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// `{"type":"event","event":…}`, shared by every receiver.
    Event(Arc<ServerEvent>),
    /// Any other server message (replies, offers, slot labels).
    Message(Box<ServerMessage>),
}

/// What the engine is told about this room's peers and tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineCommand {
    /// A new engine peer from the client's first offer; the result comes back through
    /// `Room::handle_negotiated` with the same `request`.
    AddPeer {
        key: PeerKey,
        offer: String,
        request: u64,
    },
    /// A client re-offer.
    Offer {
        key: PeerKey,
        sdp: String,
        request: u64,
    },
    /// The client's answer to an engine offer.
    Answer {
        key: PeerKey,
        sdp: String,
        request: u64,
    },
    /// Forward exactly these tracks to `key`, in this order (first served first).
    SetSubscriptions {
        key: PeerKey,
        tracks: Vec<EngineTrack>,
    },
    SetPaused {
        track: EngineTrack,
        paused: bool,
    },
    RemovePeer {
        key: PeerKey,
    },
    /// The most `key` should receive of simulcast `track`.
    SetMaxLayer {
        key: PeerKey,
        track: EngineTrack,
        max: MaxLayer,
    },
}

/// What the recorder is told about this room's recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordCommand {
    /// A recording started; `ack` is resolved once its metadata is stored.
    Start {
        recording: RecordingId,
        location: Location,
        ack: Option<AckId>,
    },
    /// The complete set of tracks the recording receives now.
    Tracks {
        recording: RecordingId,
        tracks: Vec<RecordedTrack>,
    },
    /// The recording ended; `ack` is resolved once every file is finished.
    Stop {
        recording: RecordingId,
        reason: RecordingEndReason,
        ack: Option<AckId>,
    },
}

/// One recorded track: the engine's key and the core's names for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedTrack {
    pub engine: EngineTrack,
    pub peer: PeerId,
    pub track: TrackId,
}
