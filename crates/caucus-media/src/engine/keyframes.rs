//! Keyframe requests: from a subscriber's slot to the publisher layer it shows, from the
//! engine when a slot needs a fresh picture, and the per-layer throttle on both.

use std::time::Instant;

use str0m::media::{KeyframeRequest, KeyframeRequestKind, Rid};
use tracing::debug;

use super::Engine;
use crate::ids::{MediaKind, PeerKey, TrackKey};

impl Engine {
    /// A PLI/FIR from `sub`: routed to the publisher of the track its slot shows, for the
    /// layer the slot forwards (or waits for).
    pub(super) fn on_keyframe_request(&mut self, now: Instant, sub: PeerKey, req: KeyframeRequest) {
        let shown = self
            .peers
            .get_mut(&sub)
            .and_then(|p| p.slot_by_mid(req.mid))
            .and_then(|s| Some((s.track?, s.layer.or(s.target).flatten())));
        if let Some((track, rid)) = shown {
            self.request_keyframe(now, track, rid, req.kind, true);
        }
    }

    /// A slot of a connected `sub` starts showing a track without simulcast: ask for a
    /// keyframe now rather than at its first packet. (Simulcast slots get theirs from
    /// [`Self::allocate`], for the layer chosen.)
    pub(super) fn request_plain_keyframe(&mut self, now: Instant, sub: PeerKey, track: TrackKey) {
        let connected = self.peers.get(&sub).is_some_and(|p| p.connected);
        let plain = self
            .tracks
            .get(&track)
            .is_some_and(|t| !t.layers.is_simulcast());
        if connected && plain {
            self.request_keyframe(now, track, None, KeyframeRequestKind::Pli, false);
        }
    }

    /// Asks the publisher of `track` for a keyframe on layer `rid`, at most once per
    /// `keyframe_request_interval` per layer. `count` says whether a throttled request is
    /// counted (subscriber requests are; the engine's own retries are not).
    pub(super) fn request_keyframe(
        &mut self,
        now: Instant,
        track: TrackKey,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        count: bool,
    ) {
        let interval = self.config.keyframe_request_interval;
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        if t.kind != MediaKind::Video {
            return;
        }
        let Some(layer) = t.layers.get_mut(rid) else {
            return;
        };
        if !layer.keyframe_request_due(now, interval) {
            if count {
                self.counters.keyframe_requests_throttled += 1;
            }
            return;
        }
        let (publisher, mid) = (t.publisher, t.mid);
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        match peer.rtc.direct_api().stream_rx_by_mid(mid, rid) {
            Some(stream) => {
                stream.request_keyframe(kind);
                self.counters.keyframe_requests_sent += 1;
                self.driver.flush(now, publisher, peer, &mut self.counters);
            }
            None => debug!(%track, "no receive stream yet for keyframe request"),
        }
    }
}
