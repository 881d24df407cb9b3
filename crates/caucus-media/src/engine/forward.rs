//! The hot path: one incoming RTP packet to the recordings and subscribers of its track.
//! Nothing here allocates per packet: the fan-out list is borrowed, the payload is shared,
//! and the lists that may grow do so only when layers change or a codec is first seen.

use std::time::Instant;

use str0m::Rtc;
use str0m::format::PayloadParams;
use str0m::media::{KeyframeRequestKind, Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};

use super::Engine;
use crate::ids::{MediaKind, PeerKey};
use crate::incoming::Incoming;
use crate::keyframe;
use crate::peer::Peer;
use crate::rewrite::Rewritten;
use crate::slot::Gate;

/// What became of one packet at one subscriber.
enum Wrote {
    Forwarded,
    /// Forwarded, and the first of a new source in the slot.
    Switched,
    /// Not forwarded: the slot waits for a keyframe of this layer.
    Waiting(Option<Rid>),
    Skipped,
}

/// What one packet's fan-out asks of its publisher afterwards.
#[derive(Default)]
struct FanOut {
    /// A slot started showing the track with this packet.
    switched: bool,
    /// The layers slots wait for a keyframe of, each once; the first held apart so the
    /// common case (one layer wanted) never touches the `Vec`.
    wanted: Option<Option<Rid>>,
    wanted_more: Vec<Option<Rid>>,
}

impl FanOut {
    fn note(&mut self, wrote: Wrote) {
        match wrote {
            Wrote::Switched => self.switched = true,
            Wrote::Waiting(target) => {
                if self.wanted.is_none() {
                    self.wanted = Some(target);
                } else if self.wanted != Some(target) && !self.wanted_more.contains(&target) {
                    self.wanted_more.push(target);
                }
            }
            Wrote::Forwarded | Wrote::Skipped => {}
        }
    }
}

impl Engine {
    /// One RTP packet from `publisher`: booked on its layer, tapped for the recordings of
    /// its track, then written to every subscriber of the track (and no one else).
    pub(super) fn forward(&mut self, now: Instant, publisher: PeerKey, packet: RtpPacket) {
        self.counters.rtp_in += 1;
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        let Some((track_key, rid, params)) = peer.resolve(&packet) else {
            self.counters.rtp_unrouted += 1;
            return;
        };
        let Some(track) = self.tracks.get_mut(&track_key) else {
            self.counters.rtp_unrouted += 1;
            return;
        };
        let kind = track.kind;
        let frame = match (kind, params) {
            (MediaKind::Video, Some(params)) => {
                keyframe::inspect(params.spec().codec, &packet.payload)
            }
            _ => keyframe::FrameInfo::default(),
        };
        let layers_changed = track.layers.observe(
            rid,
            now,
            packet.payload.len(),
            frame.size,
            self.config.layer_timeout,
        );
        let inc = Incoming {
            track: track_key,
            kind,
            rid,
            keyframe: frame.keyframe,
            simulcast: track.layers.is_simulcast(),
            packet: &packet,
            params,
        };
        let tapped = track.tap.on_packet(&inc, track.paused, &mut self.driver);
        self.counters.rtp_recorded += tapped.copies as u64;
        if let Some(rid) = tapped.wants_keyframe {
            // Throttled inside: at most one request per layer per `keyframe_request_interval`.
            self.request_keyframe(now, track_key, rid, KeyframeRequestKind::Pli, false);
        }
        self.fan_out(now, &inc, layers_changed, tapped.copies > 0);
    }

    /// Writes `inc` to every subscriber of its track, then asks the publisher for the
    /// keyframes the subscribers need.
    fn fan_out(&mut self, now: Instant, inc: &Incoming<'_>, layers_changed: bool, recorded: bool) {
        let Some(track) = self.tracks.get_mut(&inc.track) else {
            return;
        };
        if track.paused || track.subscribers.is_empty() {
            if !recorded {
                self.counters.rtp_unrouted += 1;
            }
            return;
        }
        let Some(params) = inc.params else {
            self.counters.forwarding_errors += 1;
            return;
        };
        if layers_changed {
            // A layer started, stopped, was reordered or has a new measured rate (once a
            // second): redo the choices of everyone watching (and request the keyframes
            // the new choices need).
            for sub in track.subscribers.clone() {
                self.allocate(now, sub);
            }
        }
        let Some(track) = self.tracks.get_mut(&inc.track) else {
            return;
        };
        // Taken out for the loop so the subscribers can be borrowed mutably; nothing in
        // the loop changes subscriptions (events are only queued).
        let subscribers = std::mem::take(&mut track.subscribers);
        let mut fan_out = FanOut::default();
        for sub in &subscribers {
            fan_out.note(self.write_to_subscriber(now, *sub, inc, params));
        }
        if let Some(track) = self.tracks.get_mut(&inc.track) {
            track.subscribers = subscribers;
        }
        if fan_out.switched && inc.kind == MediaKind::Video && !inc.simulcast {
            // A subscriber just started showing this track mid-stream: it needs a keyframe.
            self.request_keyframe(now, inc.track, None, KeyframeRequestKind::Pli, false);
        }
        // Subscribers waiting to switch layers: keep asking (quietly throttled) until the
        // keyframe arrives, in case a request or the keyframe itself got lost.
        for target in fan_out.wanted.into_iter().chain(fan_out.wanted_more) {
            self.request_keyframe(now, inc.track, target, KeyframeRequestKind::Pli, false);
        }
    }

    /// One packet to one subscriber's slot for its track: through the layer gate, onto the
    /// subscriber's payload type and the slot's numbering, out on the slot's stream.
    fn write_to_subscriber(
        &mut self,
        now: Instant,
        sub: PeerKey,
        inc: &Incoming<'_>,
        params: PayloadParams,
    ) -> Wrote {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return Wrote::Skipped;
        };
        if !peer.connected {
            return Wrote::Skipped;
        }
        let Peer { rtc, slots, .. } = &mut **peer;
        let Some(slot) = slots.iter_mut().find(|s| s.track == Some(inc.track)) else {
            return Wrote::Skipped;
        };
        if !slot.negotiated {
            return Wrote::Skipped;
        }
        match slot.admit(inc.rid, inc.simulcast, inc.keyframe) {
            Gate::Open => {}
            Gate::LayerSwitch => self.counters.layer_switches += 1,
            Gate::Waiting(target) => return Wrote::Waiting(target),
            Gate::Closed => return Wrote::Skipped,
        }
        let in_pt = inc.packet.header.payload_type;
        let Some(out_pt) = slot.out_pt(in_pt, params, rtc.codec_config()) else {
            self.counters.forwarding_errors += 1;
            return Wrote::Skipped;
        };
        let packet = inc.packet;
        let Some(rewritten) = slot.rewriter.rewrite(
            (inc.track, packet.header.ssrc),
            *packet.seq_no,
            packet.header.timestamp,
            now,
            inc.kind.clock_rate(),
        ) else {
            return Wrote::Skipped;
        };
        if !write_rtp(rtc, slot.mid, out_pt, rewritten, inc) {
            self.counters.forwarding_errors += 1;
            return Wrote::Skipped;
        }
        self.counters.rtp_forwarded += 1;
        self.driver.flush(now, sub, peer, &mut self.counters);
        if rewritten.switched {
            Wrote::Switched
        } else {
            Wrote::Forwarded
        }
    }
}

/// Writes the rewritten packet on the send stream of slot `mid`. `false`: the slot has no
/// send stream.
fn write_rtp(rtc: &mut Rtc, mid: Mid, pt: Pt, rewritten: Rewritten, inc: &Incoming<'_>) -> bool {
    let mut api = rtc.direct_api();
    let Some(stream) = api.stream_tx_by_mid(mid, None) else {
        return false;
    };
    // Forward as it arrives. With bandwidth estimation on, str0m paces video to the
    // estimate, which would hold a camera's bursts back (hundreds of milliseconds for
    // a track that cannot go lower); the estimate chooses layers instead. Padding and
    // probes still come from the pacer when nothing is queued.
    stream.set_unpaced(true);
    let packet = inc.packet;
    let ext = &packet.header.ext_vals;
    let ext_vals = ExtensionValues {
        audio_level: ext.audio_level,
        voice_activity: ext.voice_activity,
        video_orientation: ext.video_orientation,
        ..Default::default()
    };
    stream.write_rtp(
        RtpWrite::new(
            pt,
            rewritten.seq.into(),
            rewritten.ts,
            packet.timestamp,
            packet.payload.clone(),
        )
        .marker(packet.header.marker)
        .ext_vals(ext_vals)
        .nackable(inc.kind == MediaKind::Video),
    );
    true
}
