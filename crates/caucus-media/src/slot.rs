//! A subscriber's send m-line, and which track it currently shows.

use str0m::format::{CodecConfig, PayloadParams};
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

    /// The layer gate for one packet of the track shown (layer `rid`): forward the slot's
    /// current layer; switch to the target layer at a keyframe of it (at once for a plain
    /// track, or a codec the engine cannot read, `keyframe: None`).
    pub(crate) fn admit(
        &mut self,
        rid: Option<Rid>,
        simulcast: bool,
        keyframe: Option<bool>,
    ) -> Gate {
        if self.layer == Some(rid) {
            return Gate::Open;
        }
        let target = self.target.unwrap_or(rid);
        if target != rid {
            let waiting =
                self.layer.is_none() || self.target.is_some_and(|t| Some(t) != self.layer);
            return if waiting {
                Gate::Waiting(target)
            } else {
                Gate::Closed
            };
        }
        if simulcast && keyframe == Some(false) {
            return Gate::Waiting(target);
        }
        let moved = self.layer.is_some();
        self.layer = Some(rid);
        if moved { Gate::LayerSwitch } else { Gate::Open }
    }

    /// The subscriber's payload type for the publisher's `pt` (with `params`), looked up
    /// in the subscriber's `codecs` once per source and cached. `None`: no match.
    pub(crate) fn out_pt(
        &mut self,
        pt: Pt,
        params: PayloadParams,
        codecs: &CodecConfig,
    ) -> Option<Pt> {
        if let Some((_, out)) = self.pt_map.iter().find(|(i, _)| *i == pt) {
            return *out;
        }
        let out = codecs.match_params(params).map(|p| p.pt());
        self.pt_map.push((pt, out));
        out
    }
}

/// What the layer gate lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Forward it.
    Open,
    /// Forward it: the slot has just moved to this packet's layer from another one.
    LayerSwitch,
    /// Drop it: the slot waits for a keyframe of this layer.
    Waiting(Option<Rid>),
    /// Drop it: a layer the slot neither shows nor waits for.
    Closed,
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
