//! A subscriber's send m-line, and which track it currently shows.

use str0m::media::{Mid, Pt, Rid};

use crate::ids::{MediaKind, TrackKey};
use crate::rewrite::Rewriter;

/// One send m-line on a subscriber's connection.
///
/// Slots are never torn down while the connection lives: when a track is unsubscribed its
/// slot goes silent and waits for the next track of the same kind, which it shows without
/// any SDP round trip (the [`Rewriter`] keeps the RTP stream continuous). Slots come from
/// two places: `recvonly` m-lines the client offered up front (a receive-slot pool), and
/// `sendonly` m-lines the engine adds by renegotiating when no free slot is left.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) mid: Mid,
    pub(crate) kind: MediaKind,
    /// The m-line is agreed by both sides and str0m has its send stream. Until then the
    /// slot may be reserved for a track but nothing is written.
    pub(crate) negotiated: bool,
    pub(crate) track: Option<TrackKey>,
    pub(crate) rewriter: Rewriter,
    /// Publisher PT → subscriber PT for the current source (cleared on assignment).
    pub(crate) pt_map: Vec<(Pt, Option<Pt>)>,
    /// The layer of the track being forwarded (`None`: nothing forwarded yet since the
    /// assignment; `Some(None)`: the track has no simulcast).
    pub(crate) layer: Option<Option<Rid>>,
    /// The layer the engine wants to forward. When it differs from `layer`, the old layer
    /// keeps flowing until a keyframe of the target arrives, then the slot switches.
    pub(crate) target: Option<Option<Rid>>,
}

impl Slot {
    pub(crate) fn new(mid: Mid, kind: MediaKind, negotiated: bool) -> Self {
        Slot {
            mid,
            kind,
            negotiated,
            track: None,
            rewriter: Rewriter::new(first_seq(mid)),
            pt_map: Vec::new(),
            layer: None,
            target: None,
        }
    }

    pub(crate) fn assign(&mut self, track: Option<TrackKey>) {
        self.track = track;
        self.pt_map.clear();
        self.layer = None;
        self.target = None;
    }

    pub(crate) fn is_free(&self) -> bool {
        self.track.is_none()
    }
}

/// A deterministic but varied start so streams are not all numbered alike (RFC 3550 wants
/// a random start; tests want reproducibility). Kept below 2^15 so the first rollover is
/// far away and the SRTP rollover counter starts at 0.
fn first_seq(mid: Mid) -> u16 {
    let hash = mid.as_bytes().iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    (hash % 0x8000) as u16
}
