//! One client connection: its str0m `Rtc` and what the engine knows about it.

use std::collections::HashMap;
use std::time::Duration;

use str0m::Rtc;
use str0m::change::SdpPendingOffer;
use str0m::format::PayloadParams;
use str0m::media::{Mid, Rid};
use str0m::rtp::{RtpPacket, Ssrc};

use crate::ids::{MediaKind, TrackKey};
use crate::layer::MaxLayer;
use crate::slot::Slot;

#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) rtc: Rtc,
    pub(crate) connected: bool,
    /// Publisher side: receiving m-lines and the track each one is.
    pub(crate) published: HashMap<Mid, TrackKey>,
    /// Incoming SSRC → (mid, rid), so str0m is asked once per stream, not per packet.
    pub(crate) ssrc_mid: HashMap<Ssrc, (Mid, Option<Rid>)>,
    /// Subscriber side: send m-lines. Few per connection, so a Vec.
    pub(crate) slots: Vec<Slot>,
    /// Subscriber side: the complete desired set from `set_subscriptions`.
    pub(crate) desired: Vec<TrackKey>,
    /// Desired tracks that have no slot yet (waiting for a renegotiation).
    pub(crate) unplaced: Vec<TrackKey>,
    /// The server-initiated offer waiting for the client's answer. At most one.
    pub(crate) pending_offer: Option<SdpPendingOffer>,
    /// Layer hints from `set_max_layer`, per track (kept until the track ends).
    pub(crate) max_layer: HashMap<TrackKey, MaxLayer>,
    /// str0m's latest send-side bandwidth estimate towards this peer, bits per second.
    pub(crate) bandwidth: Option<u64>,
    /// Desired tracks left out by the slot bound at the last `set_subscriptions`.
    pub(crate) over_limit: usize,
    /// The (minimum, desired) rates last handed to str0m's estimator for this peer.
    pub(crate) bwe_targets: (u64, u64),
    /// At the last allocation the estimate held a simulcast track below its best layer.
    pub(crate) bandwidth_limited: bool,
    /// The retransmission cache sizes (packets) of this peer's audio and video send
    /// streams, as its `RtcConfig` set them: a slot's cache is made anew at these sizes.
    send_buffers: (usize, usize),
}

/// How long a send stream keeps packets for retransmission, and the share of resent bytes
/// above which it stops answering NACKs: str0m's defaults, which the engine keeps.
const RTX_CACHE_AGE: Duration = Duration::from_secs(3);
const RTX_RATIO_CAP: Option<f32> = Some(0.15);

impl Peer {
    /// `send_buffers`: the audio and video send buffer sizes of `rtc`'s config.
    pub(crate) fn new(rtc: Rtc, send_buffers: (usize, usize)) -> Self {
        Peer {
            rtc,
            connected: false,
            published: HashMap::new(),
            ssrc_mid: HashMap::new(),
            slots: Vec::new(),
            desired: Vec::new(),
            unplaced: Vec::new(),
            pending_offer: None,
            max_layer: HashMap::new(),
            bandwidth: None,
            over_limit: 0,
            bwe_targets: (0, 0),
            bandwidth_limited: false,
            send_buffers,
        }
    }

    /// Slot `mid` stops showing its track: its send stream forgets every packet it sent
    /// (str0m's retransmission cache, which answers NACKs and feeds padding probes, is made
    /// anew; resends already queued find nothing in it and are skipped). Without this a
    /// NACK for a sequence number of the previous track, or a padding probe, would send a
    /// packet of a track that has left the subscriber's set — long after, on a reused slot.
    /// The SSRC and numbering stay: the next track continues the same RTP stream.
    pub(crate) fn forget_sent(&mut self, mid: Mid, kind: MediaKind) {
        let packets = match kind {
            MediaKind::Audio => self.send_buffers.0,
            MediaKind::Video => self.send_buffers.1,
        };
        if let Some(stream) = self.rtc.direct_api().stream_tx_by_mid(mid, None) {
            stream.set_rtx_cache(packets, RTX_CACHE_AGE, RTX_RATIO_CAP);
        }
    }

    /// The shortest wait before waking this peer for str0m's delay-based bandwidth
    /// estimator. Between transport-wide feedback reports it asks again after one
    /// round-trip time, which on a LAN or loopback is well under a millisecond (zero in
    /// simulated time): a wake-up storm for no new information. While video is sent to the
    /// peer the estimator's own update interval (25 ms) is kept — and packets written wake
    /// it more often anyway; without video the estimate decides nothing, so half a second.
    pub(crate) fn bwe_wake_interval(&self) -> Duration {
        let receives_video = self
            .slots
            .iter()
            .any(|s| s.kind == MediaKind::Video && s.track.is_some());
        if receives_video || !self.connected {
            Duration::from_millis(25)
        } else {
            Duration::from_millis(500)
        }
    }

    /// Publisher side: the track and layer an incoming packet belongs to, and the
    /// parameters of its payload type (`None` if it is not one this peer negotiated).
    /// `None` overall: a stream or m-line this peer does not publish on.
    pub(crate) fn resolve(
        &mut self,
        packet: &RtpPacket,
    ) -> Option<(TrackKey, Option<Rid>, Option<PayloadParams>)> {
        let ssrc = packet.header.ssrc;
        let (mid, rid) = match self.ssrc_mid.get(&ssrc) {
            Some(midrid) => *midrid,
            None => {
                let midrid = self
                    .rtc
                    .direct_api()
                    .stream_rx(&ssrc)
                    .map(|s| (s.mid(), s.rid()))?;
                self.ssrc_mid.insert(ssrc, midrid);
                midrid
            }
        };
        let track = self.published.get(&mid).copied()?;
        let pt = packet.header.payload_type;
        let params = self.rtc.codec_config().find(|p| p.pt() == pt).copied();
        Some((track, rid, params))
    }

    pub(crate) fn slot_showing(&mut self, track: TrackKey) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.track == Some(track))
    }

    pub(crate) fn slot_by_mid(&mut self, mid: Mid) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.mid == mid)
    }

    /// The answer to the engine's offer is applied: slots that got a send stream are
    /// negotiated now, the others were refused and are taken out. Returns the new live
    /// slots that show a track, and the refused slots.
    pub(crate) fn settle_slots(&mut self) -> (Vec<(Mid, TrackKey)>, Vec<Slot>) {
        let Peer { rtc, slots, .. } = self;
        let mut live = Vec::new();
        let mut refused = Vec::new();
        for slot in slots.iter_mut().filter(|s| !s.negotiated) {
            let usable = rtc.media(slot.mid).is_some_and(|m| !m.disabled())
                && rtc.direct_api().stream_tx_by_mid(slot.mid, None).is_some();
            if usable {
                slot.negotiated = true;
                if let Some(track) = slot.track {
                    live.push((slot.mid, track));
                }
            } else {
                refused.push(slot.mid);
            }
        }
        let refused = refused
            .iter()
            .filter_map(|mid| {
                let pos = slots.iter().position(|s| s.mid == *mid)?;
                Some(slots.remove(pos))
            })
            .collect();
        (live, refused)
    }

    /// The engine's outstanding offer is void: its new m-lines never existed. Removes
    /// their slots and returns the tracks they were meant for.
    pub(crate) fn drop_unnegotiated_slots(&mut self) -> Vec<TrackKey> {
        let mut orphans = Vec::new();
        self.slots.retain(|s| {
            if s.negotiated {
                return true;
            }
            orphans.extend(s.track);
            false
        });
        orphans
    }
}
