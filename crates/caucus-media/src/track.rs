//! A published track and who receives it.

use str0m::media::{Mid, Rid};

use crate::ids::{MediaKind, PeerKey, RecordingKey};
use crate::layer::Layers;

/// One publisher m-line. The subscriber list is the fan-out table: an incoming packet
/// touches exactly these peers, never a scan of all peers.
#[derive(Debug)]
pub(crate) struct Track {
    pub(crate) publisher: PeerKey,
    pub(crate) mid: Mid,
    pub(crate) kind: MediaKind,
    /// Subscribers with a slot reserved for this track (negotiated or not).
    pub(crate) subscribers: Vec<PeerKey>,
    /// Set by `set_track_paused`: packets are dropped at ingress, before any fan-out.
    pub(crate) paused: bool,
    /// The incoming encodings (one without simulcast), lowest quality first. Keyframe
    /// requests are throttled per layer.
    pub(crate) layers: Layers,
    /// Recordings whose current set holds this track (the recording tap's fan-out).
    pub(crate) recordings: Vec<RecordingKey>,
    /// The layer the recordings get, fixed when the first recording takes the track.
    pub(crate) recorded_layer: Option<Rid>,
    /// A recording took this video track and no keyframe of its layer has come through yet:
    /// keyframe requests repeat (at the throttle's pace) until one does. A publisher that
    /// sends keyframes only when asked (browsers) would otherwise never start the file if
    /// the first request fell inside the throttle window.
    pub(crate) recording_keyframe_pending: bool,
}
