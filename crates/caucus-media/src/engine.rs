//! The SFU engine: many str0m `Rtc`s behind one socket, and the forwarding between them.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::PayloadParams;
use str0m::media::{Direction, KeyframeRequest, KeyframeRequestKind, Mid, Rid, Simulcast};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Reason, RtcConfig};
use tracing::{debug, trace, warn};

use crate::config::EngineConfig;
use crate::counters::Counters;
use crate::demux::{Demux, Route};
use crate::error::MediaError;
use crate::ids::{Codec, MediaKind, PeerKey, RecordingKey, TrackKey};
use crate::keyframe;
use crate::layer::{Layers, MaxLayer, with_headroom};
use crate::output::{DisconnectReason, EngineEvent, EngineOutput, RecordedPacket, Transmit};
use crate::peer::Peer;
use crate::slot::Slot;
use crate::timers::Timers;
use crate::track::Track;

/// The sans-IO SFU. See the crate docs for how to drive it.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    /// Boxed: a `Peer` holds its str0m `Rtc` inline (kilobytes), and the table keeps its
    /// largest capacity; boxed, growing it moves pointers and a peer's memory goes with it.
    peers: HashMap<PeerKey, Box<Peer>>,
    tracks: HashMap<TrackKey, Track>,
    /// Each recording's current track set.
    recordings: HashMap<RecordingKey, Vec<TrackKey>>,
    next_track: u64,
    demux: Demux,
    timers: Timers,
    next_stats: Option<Instant>,
    /// str0m events not yet acted on. Draining an `Rtc` only queues here; acting may
    /// mutate other `Rtc`s, each drained right after, so nothing recurses.
    work: VecDeque<Work>,
    outputs: VecDeque<EngineOutput>,
    counters: Counters,
    /// The latest `now` the engine was given.
    clock: Option<Instant>,
}

// Not boxed: almost every item is an RTP packet event, and boxing would allocate per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Work {
    Event(PeerKey, Event),
    Gone(PeerKey, DisconnectReason),
}

impl Engine {
    /// An engine with no peers.
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            config,
            peers: HashMap::new(),
            tracks: HashMap::new(),
            recordings: HashMap::new(),
            next_track: 1,
            demux: Demux::default(),
            timers: Timers::default(),
            next_stats: None,
            work: VecDeque::new(),
            outputs: VecDeque::new(),
            counters: Counters::default(),
            clock: None,
        }
    }

    /// Accepts a client's offer and returns the SDP answer.
    ///
    /// The peer gets its own ICE-lite, RTP-mode `Rtc` whose only candidate is the advertised
    /// address. `sendonly`/`sendrecv` m-lines in the offer become published tracks
    /// ([`EngineEvent::TrackPublished`] follows); `recvonly` (and `sendrecv`) ones become
    /// free receive slots.
    pub fn add_peer(
        &mut self,
        now: Instant,
        peer: PeerKey,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        self.clock = Some(now);
        if self.peers.contains_key(&peer) {
            return Err(MediaError::PeerExists(peer));
        }
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| MediaError::invalid_sdp(offer_sdp, e))?;

        let mids: Vec<Mid> = offer.media_lines.iter().map(|m| m.mid()).collect();
        let mut config = RtcConfig::new().set_ice_lite(true).set_rtp_mode(true);
        if let Some(bps) = self.config.bandwidth_estimation {
            config = config.enable_bwe(Some(Bitrate::bps(bps)));
        }
        let mut rtc = config.build(now);
        let candidate = Candidate::host(self.config.advertised, "udp")
            .map_err(|e| MediaError::Negotiation(format!("advertised address: {e}")))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::Negotiation(e.to_string()))?;

        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        self.demux.insert_ufrag(ufrag, peer);
        let mut state = Peer::new(rtc);
        // Until str0m's first estimate, layers are chosen within the starting rate.
        state.bandwidth = self.config.bandwidth_estimation;
        self.peers.insert(peer, Box::new(state));
        self.drain(peer);
        // The receive-slot pool is usable at once: subscriptions set before the
        // connection is up take these slots instead of adding m-lines.
        self.sync_slots(now, peer, &mids);
        self.run(now);
        debug!(%peer, "peer added");
        Ok(answer.to_sdp_string())
    }

    /// Forgets a peer: ends its tracks, frees the slots showing them, and sends a DTLS
    /// close to the client. Unknown keys are ignored.
    pub fn remove_peer(&mut self, now: Instant, peer: PeerKey) {
        self.clock = Some(now);
        if let Some(p) = self.peers.get_mut(&peer)
            && p.rtc.close().is_ok()
        {
            self.drain(peer);
        }
        self.forget_peer(peer);
        self.run(now);
    }

    /// A client-initiated renegotiation (for example it starts a screen share). Returns the
    /// answer. An engine offer still waiting for its answer is abandoned (glare: the client
    /// wins) and redone afterwards, which may emit a new [`EngineEvent::NeedsOffer`].
    pub fn handle_offer(
        &mut self,
        now: Instant,
        peer: PeerKey,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        self.clock = Some(now);
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| MediaError::invalid_sdp(offer_sdp, e))?;
        let mids: Vec<Mid> = offer.media_lines.iter().map(|m| m.mid()).collect();
        let p = self
            .peers
            .get_mut(&peer)
            .ok_or(MediaError::UnknownPeer(peer))?;
        if p.pending_offer.take().is_some() {
            self.abandon_unnegotiated_slots(peer);
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return Err(MediaError::UnknownPeer(peer));
        };
        let result = p.rtc.sdp_api().accept_offer(offer);
        self.drain(peer);
        self.run(now);
        let answer = result.map_err(|e| MediaError::Negotiation(e.to_string()))?;
        self.sync_slots(now, peer, &mids);
        self.place_and_negotiate(now, peer);
        self.run(now);
        Ok(answer.to_sdp_string())
    }

    /// Applies the client's answer to the engine's last [`EngineEvent::NeedsOffer`].
    pub fn handle_answer(
        &mut self,
        now: Instant,
        peer: PeerKey,
        answer_sdp: &str,
    ) -> Result<(), MediaError> {
        self.clock = Some(now);
        let p = self
            .peers
            .get_mut(&peer)
            .ok_or(MediaError::UnknownPeer(peer))?;
        let answer = SdpAnswer::from_sdp_string(answer_sdp)
            .map_err(|e| MediaError::invalid_sdp(answer_sdp, e))?;
        let pending = p
            .pending_offer
            .take()
            .ok_or(MediaError::NoPendingOffer(peer))?;
        let result = p.rtc.sdp_api().accept_answer(pending, answer);
        self.drain(peer);
        match &result {
            Ok(()) => self.complete_negotiation(now, peer),
            Err(_) => self.abandon_unnegotiated_slots(peer),
        }
        self.place_and_negotiate(now, peer);
        self.run(now);
        result.map_err(|e| MediaError::Negotiation(e.to_string()))
    }

    /// Sets the complete set of tracks `subscriber` should receive (default deny: nothing
    /// else is ever forwarded to it).
    ///
    /// Tracks leaving the set stop at once, before any signaling. Tracks joining it take a
    /// free slot of their kind if there is one (no SDP needed; [`EngineEvent::SlotAssigned`]
    /// tells the client) or else a new m-line, announced by [`EngineEvent::NeedsOffer`].
    /// Unknown tracks and the subscriber's own tracks are ignored.
    ///
    /// **Order matters:** list tracks by priority. At most `EngineConfig::max_audio_slots`
    /// audio and `max_video_slots` video tracks are forwarded — the first ones of each
    /// kind; the rest are left out and counted ([`Engine::subscriptions_over_limit`],
    /// [`Counters::subscriptions_over_limit`]). The same order decides who gets the better
    /// simulcast layers when the subscriber's bandwidth is short.
    pub fn set_subscriptions(
        &mut self,
        now: Instant,
        subscriber: PeerKey,
        tracks: &[TrackKey],
    ) -> Result<(), MediaError> {
        self.clock = Some(now);
        if !self.peers.contains_key(&subscriber) {
            return Err(MediaError::UnknownPeer(subscriber));
        }
        let (mut audio, mut video, mut over) = (0, 0, 0);
        let mut desired: Vec<TrackKey> = Vec::new();
        for t in tracks {
            let Some(track) = self.tracks.get(t) else {
                continue;
            };
            if track.publisher == subscriber || desired.contains(t) {
                continue;
            }
            let (count, max) = match track.kind {
                MediaKind::Audio => (&mut audio, self.config.max_audio_slots),
                MediaKind::Video => (&mut video, self.config.max_video_slots),
            };
            if *count >= max {
                over += 1;
                continue;
            }
            *count += 1;
            desired.push(*t);
        }
        if over > 0 {
            debug!(peer = %subscriber, over, "desired set exceeds the slot bound");
        }
        self.counters.subscriptions_over_limit += over as u64;

        let p = self
            .peers
            .get_mut(&subscriber)
            .ok_or(MediaError::UnknownPeer(subscriber))?;
        p.over_limit = over;
        let stale: Vec<TrackKey> = p
            .slots
            .iter()
            .filter_map(|s| s.track)
            .chain(p.unplaced.iter().copied())
            .filter(|t| !desired.contains(t))
            .collect();
        p.desired = desired;
        for track in stale {
            self.unsubscribe(subscriber, track);
        }

        let p = self
            .peers
            .get_mut(&subscriber)
            .ok_or(MediaError::UnknownPeer(subscriber))?;
        let missing: Vec<TrackKey> = p
            .desired
            .iter()
            .copied()
            .filter(|t| p.slots.iter().all(|s| s.track != Some(*t)) && !p.unplaced.contains(t))
            .collect();
        p.unplaced.extend(missing);
        self.place_and_negotiate(now, subscriber);
        self.allocate(now, subscriber);
        self.run(now);
        Ok(())
    }

    /// Caps the simulcast layer `subscriber` gets of `track` (see [`MaxLayer`]). May be
    /// called before or after subscribing; the hint lasts until the track ends. The layer
    /// actually forwarded is the best one not above the hint that is arriving and fits
    /// the subscriber's estimated bandwidth; a change takes effect at the next keyframe
    /// of the new layer (one is requested), so the picture never breaks.
    pub fn set_max_layer(
        &mut self,
        now: Instant,
        subscriber: PeerKey,
        track: TrackKey,
        max: MaxLayer,
    ) -> Result<(), MediaError> {
        self.clock = Some(now);
        let p = self
            .peers
            .get_mut(&subscriber)
            .ok_or(MediaError::UnknownPeer(subscriber))?;
        if self.tracks.contains_key(&track) {
            p.max_layer.insert(track, max);
            self.allocate(now, subscriber);
            self.run(now);
        }
        Ok(())
    }

    /// The simulcast layer (rid) of `track` that `subscriber` is receiving now: `None` if
    /// nothing is forwarded yet (or the track is not subscribed), `Some(None)` for a track
    /// without simulcast.
    pub fn forwarded_layer(&self, subscriber: PeerKey, track: TrackKey) -> Option<Option<String>> {
        let slot = self
            .peers
            .get(&subscriber)?
            .slots
            .iter()
            .find(|s| s.track == Some(track))?;
        slot.layer.map(|rid| rid.map(|r| r.to_string()))
    }

    /// The latest send-side bandwidth estimate towards `peer`, bits per second (`None`
    /// while bandwidth estimation is off or has no estimate yet).
    pub fn bandwidth(&self, peer: PeerKey) -> Option<u64> {
        self.peers.get(&peer)?.bandwidth
    }

    /// How many desired tracks the slot bound left out at `subscriber`'s last
    /// `set_subscriptions` (0 for unknown peers).
    pub fn subscriptions_over_limit(&self, subscriber: PeerKey) -> usize {
        self.peers.get(&subscriber).map_or(0, |p| p.over_limit)
    }

    /// Sets the complete set of tracks `recording` receives (default deny: no other track's
    /// packets come out for it); an empty set ends it. Unknown tracks are ignored. Every
    /// incoming packet of a track in the set then comes out as [`EngineOutput::Recorded`].
    /// A video track joining the set gets a keyframe request, so its file can start soon.
    pub fn set_recording(&mut self, now: Instant, recording: RecordingKey, tracks: &[TrackKey]) {
        self.clock = Some(now);
        let old = self.recordings.remove(&recording).unwrap_or_default();
        let mut new: Vec<TrackKey> = Vec::with_capacity(tracks.len());
        for t in tracks {
            if self.tracks.contains_key(t) && !new.contains(t) {
                new.push(*t);
            }
        }
        for t in old.iter().filter(|t| !new.contains(t)) {
            if let Some(track) = self.tracks.get_mut(t) {
                track.recordings.retain(|r| *r != recording);
            }
        }
        let mut wants_keyframe = Vec::new();
        for t in new.iter().filter(|t| !old.contains(t)) {
            let Some(track) = self.tracks.get_mut(t) else {
                continue;
            };
            if track.recordings.is_empty() {
                track.recorded_layer = track.layers.list.last().and_then(|l| l.rid);
            }
            track.recordings.push(recording);
            if track.kind == MediaKind::Video {
                track.recording_keyframe_pending = true;
                wants_keyframe.push((*t, track.recorded_layer));
            }
        }
        if !new.is_empty() {
            debug!(%recording, tracks = new.len(), "recording set");
            self.recordings.insert(recording, new);
        }
        for (track, rid) in wants_keyframe {
            self.request_keyframe(now, track, rid, KeyframeRequestKind::Pli, false);
        }
        self.run(now);
    }

    /// The tracks `recording` receives now (empty for an unknown or ended recording).
    pub fn recording_tracks(&self, recording: RecordingKey) -> Vec<TrackKey> {
        self.recordings.get(&recording).cloned().unwrap_or_default()
    }

    /// Pauses or resumes a published track (the publisher muted it). A paused track's
    /// packets are dropped on arrival, before any fan-out work.
    pub fn set_track_paused(&mut self, track: TrackKey, paused: bool) {
        if let Some(t) = self.tracks.get_mut(&track) {
            t.paused = paused;
        }
    }

    /// One UDP datagram from the media socket. Never fails: datagrams that are garbage,
    /// come from nobody we know, or are refused by the peer's `Rtc` are dropped and
    /// counted, and no other peer is affected.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.clock = Some(now);
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += datagram.len() as u64;

        let Ok(contents) = DatagramRecv::try_from(datagram) else {
            self.counters.dropped_garbage += 1;
            trace!(%source, len = datagram.len(), "garbage datagram");
            return;
        };
        let Route::Peer(key) = self.demux.route(source, datagram) else {
            self.counters.dropped_unknown_source += 1;
            trace!(%source, "datagram from unknown source");
            return;
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            self.counters.dropped_unknown_source += 1;
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        if !peer.rtc.accepts(&input) {
            self.counters.dropped_unknown_source += 1;
            return;
        }
        if let Err(e) = peer.rtc.handle_input(input) {
            // A bad datagram (spoofed DTLS, say) must not kill the connection it claims to
            // belong to; only a dead `Rtc` ends the peer, which `drain` notices.
            self.counters.dropped_rejected += 1;
            debug!(peer = %key, error = %e, "datagram rejected");
        }
        self.drain(key);
        self.run(now);
    }

    /// Advances time: fires every peer timer that is due (and only those).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = Some(now);
        // Each due peer fires once per call: a peer whose `Rtc` asks again for a deadline
        // at or before `now` (str0m's pacer can) waits for the next call instead of
        // spinning this loop forever.
        let mut due = Vec::new();
        while let Some(key) = self.timers.pop_due(now) {
            due.push(key);
        }
        for key in due {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                self.work
                    .push_back(Work::Gone(key, DisconnectReason::Failed(e.to_string())));
            }
            self.drain(key);
            self.run(now);
        }
        match self.config.stats_interval {
            Some(interval) => {
                let due = *self.next_stats.get_or_insert(now + interval);
                if due <= now {
                    self.outputs
                        .push_back(EngineOutput::Event(EngineEvent::Stats(self.counters())));
                    self.next_stats = Some(now + interval);
                }
            }
            None => self.next_stats = None,
        }
    }

    /// When [`Engine::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timers.next(), self.next_stats) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing to send or report. Call until `None` after every `handle_*`/`set_*`.
    pub fn poll_output(&mut self) -> Option<EngineOutput> {
        self.outputs.pop_front()
    }

    /// Totals since start.
    pub fn counters(&self) -> Counters {
        let limited = self.peers.values().filter(|p| p.bandwidth_limited).count();
        Counters {
            subscribers_bandwidth_limited: limited as u64,
            ..self.counters
        }
    }

    /// Whether `peer` is known (added and not yet gone).
    pub fn has_peer(&self, peer: PeerKey) -> bool {
        self.peers.contains_key(&peer)
    }

    /// The engine config.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
}

// --- driving str0m -------------------------------------------------------------------

impl Engine {
    /// Polls one `Rtc` until it yields its next timeout (str0m's rule: every mutation is
    /// followed by a full drain). Events are only queued, never acted on here.
    fn drain(&mut self, key: PeerKey) {
        loop {
            let Some(peer) = self.peers.get_mut(&key) else {
                return;
            };
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    if peer.rtc.is_alive() {
                        let at = match (peer.rtc.last_timeout_reason(), self.clock) {
                            (Reason::BweDelayControl, Some(now)) => {
                                at.max(now + peer.bwe_wake_interval())
                            }
                            _ => at,
                        };
                        self.timers.set(key, at);
                    } else {
                        self.timers.remove(key);
                        self.work
                            .push_back(Work::Gone(key, DisconnectReason::Closed));
                    }
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    self.demux.learn_addr(t.destination, key);
                    self.counters.datagrams_out += 1;
                    self.counters.bytes_out += t.contents.len() as u64;
                    self.outputs.push_back(EngineOutput::Transmit(Transmit {
                        source: t.source,
                        destination: t.destination,
                        contents: t.contents.into(),
                    }));
                }
                Ok(Output::Event(e)) => self.work.push_back(Work::Event(key, e)),
                Err(e) => {
                    self.timers.remove(key);
                    self.work
                        .push_back(Work::Gone(key, DisconnectReason::Failed(e.to_string())));
                    return;
                }
            }
        }
    }

    /// After a mutation that queues RTP/RTCP (a write, a keyframe request): drain, then
    /// give str0m `now` so it sends at once instead of at its next timer.
    fn flush(&mut self, now: Instant, key: PeerKey) {
        self.drain(key);
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
            self.work
                .push_back(Work::Gone(key, DisconnectReason::Failed(e.to_string())));
        }
        self.drain(key);
    }

    /// Acts on queued events until none are left.
    fn run(&mut self, now: Instant) {
        while let Some(work) = self.work.pop_front() {
            match work {
                Work::Event(key, event) => self.on_event(now, key, event),
                Work::Gone(key, reason) => {
                    if self.peers.contains_key(&key) {
                        if matches!(reason, DisconnectReason::Failed(_)) {
                            self.counters.peers_failed += 1;
                            warn!(peer = %key, ?reason, "peer failed");
                        }
                        self.forget_peer(key);
                        self.emit(EngineEvent::PeerDisconnected { peer: key, reason });
                    }
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, key: PeerKey, event: Event) {
        match event {
            Event::RtpPacket(packet) => self.forward(now, key, packet),
            Event::KeyframeRequest(req) => self.on_keyframe_request(now, key, req),
            Event::Connected => {
                if let Some(peer) = self.peers.get_mut(&key)
                    && !peer.connected
                {
                    peer.connected = true;
                    self.emit(EngineEvent::PeerConnected { peer: key });
                    self.allocate(now, key);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self
                .work
                .push_back(Work::Gone(key, DisconnectReason::IceDisconnected)),
            Event::Closed => self
                .work
                .push_back(Work::Gone(key, DisconnectReason::Closed)),
            Event::MediaAdded(added) => {
                let kind = MediaKind::from_str0m(added.kind);
                self.on_media(now, key, added.mid, kind, added.direction, added.simulcast);
            }
            Event::EgressBitrateEstimate(estimate) => {
                let bps = match estimate {
                    BweKind::Twcc { estimate, .. } | BweKind::Remb { estimate, .. } => {
                        estimate.as_u64()
                    }
                    _ => return,
                };
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.bandwidth = Some(bps);
                    self.allocate(now, key);
                }
            }
            Event::MediaChanged(changed) => {
                let kind = self
                    .peers
                    .get(&key)
                    .and_then(|p| p.rtc.media(changed.mid))
                    .map(|m| MediaKind::from_str0m(m.kind()));
                if let Some(kind) = kind {
                    self.on_media(now, key, changed.mid, kind, changed.direction, None);
                }
            }
            other => trace!(peer = %key, event = ?other, "ignored str0m event"),
        }
    }

    /// An m-line appeared or changed direction (server's point of view).
    fn on_media(
        &mut self,
        now: Instant,
        key: PeerKey,
        mid: Mid,
        kind: MediaKind,
        dir: Direction,
        simulcast: Option<Simulcast>,
    ) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let published = peer.published.get(&mid).copied();
        match (dir.is_receiving(), published) {
            (true, None) => {
                let track = TrackKey(self.next_track);
                self.next_track += 1;
                peer.published.insert(mid, track);
                let layers = match simulcast {
                    Some(sim) if kind == MediaKind::Video => {
                        let mut rids: Vec<(Rid, Option<(u32, u32)>)> = Vec::new();
                        for layer in sim.recv.iter().chain(sim.send.iter()) {
                            if rids.iter().all(|(r, _)| *r != layer.rid) {
                                rids.push((layer.rid, restriction_size(&layer.attributes)));
                            }
                        }
                        if rids.is_empty() {
                            Layers::single()
                        } else {
                            Layers::simulcast(rids)
                        }
                    }
                    _ => Layers::single(),
                };
                self.tracks.insert(
                    track,
                    Track {
                        publisher: key,
                        mid,
                        kind,
                        subscribers: Vec::new(),
                        paused: false,
                        layers,
                        recordings: Vec::new(),
                        recorded_layer: None,
                        recording_keyframe_pending: false,
                    },
                );
                self.emit(EngineEvent::TrackPublished {
                    peer: key,
                    track,
                    mid: mid.to_string(),
                    kind,
                });
            }
            (false, Some(track)) => self.end_track(track),
            _ => {}
        }
        self.sync_slot(now, key, mid, kind, dir);
    }

    /// Slots follow the m-lines the engine sends on: a new sending m-line (a `recvonly`
    /// one the client offered) is a ready-made slot; one the client turned off is gone.
    fn sync_slot(&mut self, now: Instant, key: PeerKey, mid: Mid, kind: MediaKind, dir: Direction) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let has_slot = peer.slots.iter().any(|s| s.mid == mid);
        if dir.is_sending() && !has_slot {
            peer.slots.push(Slot::new(mid, kind, true));
            self.place_and_negotiate(now, key);
            self.allocate(now, key);
        } else if !dir.is_sending() && has_slot {
            // The client turned one of our send m-lines off; whatever it showed goes back
            // to waiting for a slot.
            if let Some(pos) = peer.slots.iter().position(|s| s.mid == mid) {
                let slot = peer.slots.remove(pos);
                if let Some(track) = slot.track {
                    peer.unplaced.push(track);
                    if let Some(t) = self.tracks.get_mut(&track) {
                        t.subscribers.retain(|s| *s != key);
                    }
                }
            }
        }
    }

    /// [`Self::sync_slot`] for the m-lines of an SDP just applied, without waiting for
    /// str0m's media events (which come only once the connection is up).
    fn sync_slots(&mut self, now: Instant, key: PeerKey, mids: &[Mid]) {
        for mid in mids {
            let media = self
                .peers
                .get(&key)
                .and_then(|p| p.rtc.media(*mid))
                .map(|m| (MediaKind::from_str0m(m.kind()), m.direction()));
            if let Some((kind, dir)) = media {
                self.sync_slot(now, key, *mid, kind, dir);
            }
        }
    }
}

/// `max-width`/`max-height` from an `a=rid` line, if both are given.
fn restriction_size(attributes: &Option<Vec<(String, String)>>) -> Option<(u32, u32)> {
    let attrs = attributes.as_ref()?;
    let get = |key: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse::<u32>().ok())
    };
    Some((get("max-width")?, get("max-height")?))
}

// --- forwarding ------------------------------------------------------------------------

impl Engine {
    fn forward(&mut self, now: Instant, publisher: PeerKey, packet: RtpPacket) {
        self.counters.rtp_in += 1;
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        let ssrc = packet.header.ssrc;
        let midrid = match peer.ssrc_mid.get(&ssrc) {
            Some(midrid) => Some(*midrid),
            None => {
                let midrid = peer
                    .rtc
                    .direct_api()
                    .stream_rx(&ssrc)
                    .map(|s| (s.mid(), s.rid()));
                if let Some(midrid) = midrid {
                    peer.ssrc_mid.insert(ssrc, midrid);
                }
                midrid
            }
        };
        let Some((mid, rid)) = midrid else {
            self.counters.rtp_unrouted += 1;
            return;
        };
        let Some(track_key) = peer.published.get(&mid).copied() else {
            self.counters.rtp_unrouted += 1;
            return;
        };
        let pt = packet.header.payload_type;
        let params = peer.rtc.codec_config().find(|p| p.pt() == pt).copied();
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
        let recorded = !track.paused && !track.recordings.is_empty() && rid == track.recorded_layer;
        if recorded {
            let codec = params.map_or(Codec::Other, |p| Codec::from_str0m(p.spec().codec));
            for recording in &track.recordings {
                self.outputs
                    .push_back(EngineOutput::Recorded(RecordedPacket {
                        recording: *recording,
                        track: track_key,
                        kind,
                        codec,
                        payload_type: *pt,
                        seq: *packet.seq_no,
                        timestamp: packet.header.timestamp,
                        marker: packet.header.marker,
                        payload: packet.payload.clone(),
                    }));
            }
            self.counters.rtp_recorded += track.recordings.len() as u64;
        }
        let mut keyframe_for_recording = None;
        if recorded && track.recording_keyframe_pending {
            if frame.keyframe == Some(true) {
                track.recording_keyframe_pending = false;
            } else {
                keyframe_for_recording = Some(track.recorded_layer);
            }
        }
        if let Some(rid) = keyframe_for_recording {
            // Throttled inside: at most one request per layer per `keyframe_request_interval`.
            self.request_keyframe(now, track_key, rid, KeyframeRequestKind::Pli, false);
        }
        let Some(track) = self.tracks.get_mut(&track_key) else {
            return;
        };
        if track.paused || track.subscribers.is_empty() {
            if !recorded {
                self.counters.rtp_unrouted += 1;
            }
            return;
        }
        let Some(params) = params else {
            self.counters.forwarding_errors += 1;
            return;
        };
        let simulcast = track.layers.is_simulcast();
        if layers_changed {
            // A layer started, stopped, was reordered or has a new measured rate (once a
            // second): redo the choices of everyone watching (and request the keyframes
            // the new choices need).
            for sub in track.subscribers.clone() {
                self.allocate(now, sub);
            }
        }
        let Some(track) = self.tracks.get_mut(&track_key) else {
            return;
        };
        // Taken out for the loop so the subscribers can be borrowed mutably; nothing in
        // the loop changes subscriptions (events are only queued).
        let subscribers = std::mem::take(&mut track.subscribers);
        let packet_ctx = Incoming {
            track: track_key,
            kind,
            rid,
            keyframe: frame.keyframe,
            simulcast,
            packet: &packet,
            params,
        };
        let mut switched = false;
        let mut wanted: Option<Option<Rid>> = None;
        let mut wanted_more = Vec::new();
        for sub in &subscribers {
            match self.write_to_subscriber(now, *sub, &packet_ctx) {
                Wrote::Switched => switched = true,
                Wrote::Waiting(target) => {
                    if wanted.is_none() {
                        wanted = Some(target);
                    } else if wanted != Some(target) && !wanted_more.contains(&target) {
                        wanted_more.push(target);
                    }
                }
                Wrote::Forwarded | Wrote::Skipped => {}
            }
        }
        if let Some(track) = self.tracks.get_mut(&track_key) {
            track.subscribers = subscribers;
        }
        if switched && kind == MediaKind::Video && !simulcast {
            // A subscriber just started showing this track mid-stream: it needs a keyframe.
            self.request_keyframe(now, track_key, None, KeyframeRequestKind::Pli, false);
        }
        // Subscribers waiting to switch layers: keep asking (quietly throttled) until the
        // keyframe arrives, in case a request or the keyframe itself got lost.
        for target in wanted.into_iter().chain(wanted_more) {
            self.request_keyframe(now, track_key, target, KeyframeRequestKind::Pli, false);
        }
    }

    fn write_to_subscriber(&mut self, now: Instant, sub: PeerKey, inc: &Incoming<'_>) -> Wrote {
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
        // Layer gate: forward the slot's current layer; switch to the target layer at a
        // keyframe of it (at once for a plain track, or a codec the engine cannot read).
        if slot.layer != Some(inc.rid) {
            let target = slot.target.unwrap_or(inc.rid);
            if target != inc.rid {
                return if slot.layer.is_none() || slot.target.is_some_and(|t| Some(t) != slot.layer)
                {
                    Wrote::Waiting(target)
                } else {
                    Wrote::Skipped
                };
            }
            if inc.simulcast && inc.keyframe == Some(false) {
                return Wrote::Waiting(target);
            }
            if slot.layer.is_some() {
                self.counters.layer_switches += 1;
            }
            slot.layer = Some(inc.rid);
        }
        let in_pt = inc.packet.header.payload_type;
        let out_pt = match slot.pt_map.iter().find(|(i, _)| *i == in_pt) {
            Some((_, out)) => *out,
            None => {
                let out = rtc.codec_config().match_params(inc.params).map(|p| p.pt());
                slot.pt_map.push((in_pt, out));
                out
            }
        };
        let Some(out_pt) = out_pt else {
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
        let mid = slot.mid;
        let mut api = rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else {
            self.counters.forwarding_errors += 1;
            return Wrote::Skipped;
        };
        // Forward as it arrives. With bandwidth estimation on, str0m paces video to the
        // estimate, which would hold a camera's bursts back (hundreds of milliseconds for
        // a track that cannot go lower); the estimate chooses layers instead. Padding and
        // probes still come from the pacer when nothing is queued.
        stream.set_unpaced(true);
        let ext = &packet.header.ext_vals;
        let ext_vals = ExtensionValues {
            audio_level: ext.audio_level,
            voice_activity: ext.voice_activity,
            video_orientation: ext.video_orientation,
            ..Default::default()
        };
        stream.write_rtp(
            RtpWrite::new(
                out_pt,
                rewritten.seq.into(),
                rewritten.ts,
                packet.timestamp,
                packet.payload.clone(),
            )
            .marker(packet.header.marker)
            .ext_vals(ext_vals)
            .nackable(inc.kind == MediaKind::Video),
        );
        self.counters.rtp_forwarded += 1;
        self.flush(now, sub);
        if rewritten.switched {
            Wrote::Switched
        } else {
            Wrote::Forwarded
        }
    }

    fn on_keyframe_request(&mut self, now: Instant, sub: PeerKey, req: KeyframeRequest) {
        let shown = self
            .peers
            .get_mut(&sub)
            .and_then(|p| p.slot_by_mid(req.mid))
            .and_then(|s| Some((s.track?, s.layer.or(s.target).flatten())));
        if let Some((track, rid)) = shown {
            self.request_keyframe(now, track, rid, req.kind, true);
        }
    }

    /// Asks the publisher of `track` for a keyframe on layer `rid`, at most once per
    /// `keyframe_request_interval` per layer. `count` says whether a throttled request is
    /// counted (subscriber requests are; the engine's own retries are not).
    fn request_keyframe(
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
        if layer
            .last_keyframe_request
            .is_some_and(|last| now.saturating_duration_since(last) < interval)
        {
            if count {
                self.counters.keyframe_requests_throttled += 1;
            }
            return;
        }
        layer.last_keyframe_request = Some(now);
        let (publisher, mid) = (t.publisher, t.mid);
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        match peer.rtc.direct_api().stream_rx_by_mid(mid, rid) {
            Some(stream) => {
                stream.request_keyframe(kind);
                self.counters.keyframe_requests_sent += 1;
                self.flush(now, publisher);
            }
            None => debug!(%track, "no receive stream yet for keyframe request"),
        }
    }

    /// Chooses the layer of every video slot of `sub`: within each track's hint, within
    /// the bandwidth estimate (audio first, then every video slot at its lowest layer,
    /// then upgrades in the subscriber's priority order). A slot whose target changes
    /// gets a keyframe request for the new layer; it switches when that keyframe arrives.
    ///
    /// With bandwidth estimation on, str0m is also told what to look for: the rate of
    /// everything at its best layer (it probes towards it) and, as a minimum it keeps
    /// up with padding, the rate of the next upgrade — so the estimate can grow past
    /// what the subscriber receives now and it can move back up.
    fn allocate(&mut self, now: Instant, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        // Priority order: the order of the desired set.
        let mut order: Vec<(usize, usize)> = peer
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let track = s.track?;
                let rank = peer
                    .desired
                    .iter()
                    .position(|d| *d == track)
                    .unwrap_or(usize::MAX);
                Some((rank, i))
            })
            .collect();
        order.sort_unstable();
        // Audio and plain video cost what they cost; reserve it first.
        let mut plain = 0u64;
        let mut simulcast_slots = Vec::new();
        for (_, i) in &order {
            let slot = &peer.slots[*i];
            let Some(track) = slot.track.and_then(|t| self.tracks.get(&t)) else {
                continue;
            };
            if track.layers.is_simulcast() {
                simulcast_slots.push(*i);
            } else {
                let rid = track.layers.list.first().and_then(|l| l.rid);
                peer.slots[*i].target = Some(rid);
                plain += track.layers.cost(rid);
            }
        }
        let lowest_cost = |layers: &Layers| {
            layers
                .list
                .iter()
                .find(|l| l.active)
                .or(layers.list.first())
                .and_then(|l| l.bitrate)
                .unwrap_or(0)
        };
        // Every simulcast slot at its lowest layer, then upgrades in priority order.
        let floor: u64 = simulcast_slots
            .iter()
            .filter_map(|i| peer.slots[*i].track.and_then(|t| self.tracks.get(&t)))
            .map(|t| lowest_cost(&t.layers))
            .sum();
        let mut remaining = peer
            .bandwidth
            .map(|b| b.saturating_sub(plain).saturating_sub(floor));
        let (mut allocated, mut wanted, mut next_step) = (plain, plain, None);
        let mut requests = Vec::new();
        for i in simulcast_slots {
            let slot = &mut peer.slots[i];
            let Some(track_key) = slot.track else {
                continue;
            };
            let Some(track) = self.tracks.get(&track_key) else {
                continue;
            };
            let layers = &track.layers;
            let low_cost = lowest_cost(layers);
            let max = peer.max_layer.get(&track_key).copied().unwrap_or_default();
            let choice = layers.choose(max, remaining.map(|r| r + low_cost), slot.layer);
            remaining = remaining.map(|r| (r + low_cost).saturating_sub(layers.cost(choice)));
            let unlimited = layers.choose(max, None, slot.layer);
            allocated += layers.cost(choice);
            wanted += layers.cost(unlimited);
            if next_step.is_none()
                && let Some(up) = layers.step_up(choice, unlimited)
            {
                next_step =
                    Some(with_headroom(layers.cost(up)).saturating_sub(layers.cost(choice)));
            }
            if slot.target != Some(choice) {
                slot.target = Some(choice);
                if peer.connected && slot.negotiated && slot.layer != Some(choice) {
                    requests.push((track_key, choice));
                }
            }
        }
        peer.bandwidth_limited = peer.bandwidth.is_some() && next_step.is_some();
        let targets = ((allocated + next_step.unwrap_or(0)).min(wanted), wanted);
        // Measured rates wobble from second to second; a raised target can start a probe,
        // so only a real change (over 10 %) is passed on.
        let moved = |old: u64, new: u64| old.abs_diff(new) * 10 > old.max(1);
        if peer.bandwidth.is_some()
            && (moved(peer.bwe_targets.0, targets.0) || moved(peer.bwe_targets.1, targets.1))
        {
            peer.bwe_targets = targets;
            peer.rtc
                .bwe()
                .set_bitrate(Bitrate::bps(targets.0), Bitrate::bps(targets.1));
        }
        for (track, rid) in requests {
            trace!(peer = %sub, %track, ?rid, "layer target changed");
            self.request_keyframe(now, track, rid, KeyframeRequestKind::Pli, false);
        }
    }
}

/// One incoming packet on its way to the subscribers of its track.
struct Incoming<'a> {
    track: TrackKey,
    kind: MediaKind,
    rid: Option<Rid>,
    keyframe: Option<bool>,
    simulcast: bool,
    packet: &'a RtpPacket,
    params: PayloadParams,
}

/// What became of one packet at one subscriber.
enum Wrote {
    Forwarded,
    /// Forwarded, and the first of a new source in the slot.
    Switched,
    /// Not forwarded: the slot waits for a keyframe of this layer.
    Waiting(Option<Rid>),
    Skipped,
}

// --- subscriptions and slots -------------------------------------------------------------

impl Engine {
    /// Stops forwarding `track` to `sub` and frees its slot (or its place in the queue).
    fn unsubscribe(&mut self, sub: PeerKey, track: TrackKey) {
        if let Some(t) = self.tracks.get_mut(&track) {
            t.subscribers.retain(|s| *s != sub);
        }
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        peer.unplaced.retain(|t| *t != track);
        let mut freed = None;
        if let Some(slot) = peer.slot_showing(track) {
            slot.assign(None);
            if slot.negotiated {
                freed = Some(slot.mid);
            }
        }
        if let Some(mid) = freed {
            self.emit(EngineEvent::SlotAssigned {
                subscriber: sub,
                mid: mid.to_string(),
                track: None,
            });
        }
    }

    /// Gives waiting tracks free slots; if some still wait and no offer is outstanding,
    /// adds m-lines and emits `NeedsOffer`.
    fn place_and_negotiate(&mut self, now: Instant, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        let waiting = std::mem::take(&mut peer.unplaced);
        let mut still_waiting = Vec::new();
        let mut assigned = Vec::new();
        for track_key in waiting {
            let Some(track) = self.tracks.get_mut(&track_key) else {
                continue;
            };
            // Prefer negotiated slots (media flows now), then ones being negotiated.
            let free = peer
                .slots
                .iter_mut()
                .filter(|s| s.is_free() && s.kind == track.kind)
                .min_by_key(|s| !s.negotiated);
            match free {
                Some(slot) => {
                    slot.assign(Some(track_key));
                    track.subscribers.push(sub);
                    if slot.negotiated {
                        assigned.push((slot.mid, track_key, track.kind));
                    }
                }
                None => still_waiting.push(track_key),
            }
        }

        if !still_waiting.is_empty() && peer.pending_offer.is_none() {
            let mut api = peer.rtc.sdp_api();
            let mut added = Vec::new();
            for track_key in &still_waiting {
                let Some(track) = self.tracks.get_mut(track_key) else {
                    continue;
                };
                let mid =
                    api.add_media(track.kind.to_str0m(), Direction::SendOnly, None, None, None);
                let mut slot = Slot::new(mid, track.kind, false);
                slot.assign(Some(*track_key));
                track.subscribers.push(sub);
                added.push(slot);
            }
            if let Some((offer, pending)) = api.apply() {
                peer.slots.extend(added);
                peer.pending_offer = Some(pending);
                still_waiting.clear();
                self.emit(EngineEvent::NeedsOffer {
                    peer: sub,
                    sdp: offer.to_sdp_string(),
                });
            } else {
                // Nothing to negotiate after all: undo the reservations.
                for slot in added {
                    if let Some(t) = slot.track.and_then(|t| self.tracks.get_mut(&t)) {
                        t.subscribers.retain(|s| *s != sub);
                    }
                }
            }
        }
        if let Some(peer) = self.peers.get_mut(&sub) {
            peer.unplaced = still_waiting;
        }
        self.drain(sub);

        for (mid, track, kind) in assigned {
            self.emit(EngineEvent::SlotAssigned {
                subscriber: sub,
                mid: mid.to_string(),
                track: Some(track),
            });
            if kind == MediaKind::Video {
                self.request_plain_keyframe(now, sub, track);
            }
        }
    }

    /// The answer arrived: slots with a send stream are live; the rest were refused.
    fn complete_negotiation(&mut self, now: Instant, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        let Peer { rtc, slots, .. } = &mut **peer;
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
        for mid in &refused {
            if let Some(pos) = slots.iter().position(|s| s.mid == *mid) {
                let slot = slots.remove(pos);
                // Not re-queued: a client that refuses an m-line would refuse it again.
                if let Some(track) = slot.track {
                    warn!(peer = %sub, %track, "client refused a send m-line");
                    self.counters.forwarding_errors += 1;
                    if let Some(t) = self.tracks.get_mut(&track) {
                        t.subscribers.retain(|s| *s != sub);
                    }
                }
            }
        }
        for (mid, track) in live {
            self.emit(EngineEvent::SlotAssigned {
                subscriber: sub,
                mid: mid.to_string(),
                track: Some(track),
            });
            self.request_plain_keyframe(now, sub, track);
        }
        self.allocate(now, sub);
    }

    /// A slot of a connected `sub` starts showing a track without simulcast: ask for a
    /// keyframe now rather than at its first packet. (Simulcast slots get theirs from
    /// [`Self::allocate`], for the layer chosen.)
    fn request_plain_keyframe(&mut self, now: Instant, sub: PeerKey, track: TrackKey) {
        let connected = self.peers.get(&sub).is_some_and(|p| p.connected);
        let plain = self
            .tracks
            .get(&track)
            .is_some_and(|t| !t.layers.is_simulcast());
        if connected && plain {
            self.request_keyframe(now, track, None, KeyframeRequestKind::Pli, false);
        }
    }

    /// The outstanding offer is void (refused, or overtaken by a client offer): its new
    /// m-lines never existed, and the tracks they were meant for wait again.
    fn abandon_unnegotiated_slots(&mut self, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        let mut requeue = Vec::new();
        peer.slots.retain(|s| {
            if s.negotiated {
                return true;
            }
            requeue.extend(s.track);
            false
        });
        for track in &requeue {
            if let Some(t) = self.tracks.get_mut(track) {
                t.subscribers.retain(|s| *s != sub);
            }
        }
        peer.unplaced.extend(requeue);
    }

    /// A published track is gone: free every slot showing it, tell everyone.
    fn end_track(&mut self, track: TrackKey) {
        let Some(t) = self.tracks.remove(&track) else {
            return;
        };
        for sub in &t.subscribers {
            self.unsubscribe(*sub, track);
            if let Some(p) = self.peers.get_mut(sub) {
                p.desired.retain(|d| *d != track);
            }
        }
        for recording in &t.recordings {
            if let Some(set) = self.recordings.get_mut(recording) {
                set.retain(|r| *r != track);
                if set.is_empty() {
                    self.recordings.remove(recording);
                }
            }
        }
        if let Some(p) = self.peers.get_mut(&t.publisher) {
            p.published.remove(&t.mid);
        }
        for p in self.peers.values_mut() {
            p.max_layer.remove(&track);
        }
        self.emit(EngineEvent::TrackEnded {
            peer: t.publisher,
            track,
        });
    }

    /// Removes every trace of a peer. Its queued events are left to fall on the floor
    /// (they name a peer that no longer exists).
    fn forget_peer(&mut self, key: PeerKey) {
        let Some(peer) = self.peers.get(&key) else {
            return;
        };
        let published: Vec<TrackKey> = peer.published.values().copied().collect();
        let showing: Vec<TrackKey> = peer
            .slots
            .iter()
            .filter_map(|s| s.track)
            .chain(peer.unplaced.iter().copied())
            .collect();
        for track in showing {
            if let Some(t) = self.tracks.get_mut(&track) {
                t.subscribers.retain(|s| *s != key);
            }
        }
        for track in published {
            self.end_track(track);
        }
        self.peers.remove(&key);
        self.demux.remove_peer(key);
        self.timers.remove(key);
        debug!(peer = %key, "peer forgotten");
    }

    fn emit(&mut self, event: EngineEvent) {
        self.outputs.push_back(EngineOutput::Event(event));
    }
}
