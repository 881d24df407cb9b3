//! A published track and who receives it.

use str0m::media::Mid;

use crate::ids::{MediaKind, PeerKey};
use crate::layer::Layers;
use crate::recording::Tap;

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
    /// The recordings that take this track (the recording tap's fan-out).
    pub(crate) tap: Tap,
}

impl Track {
    pub(crate) fn new(publisher: PeerKey, mid: Mid, kind: MediaKind, layers: Layers) -> Self {
        Track {
            publisher,
            mid,
            kind,
            subscribers: Vec::new(),
            paused: false,
            layers,
            tap: Tap::default(),
        }
    }
}
