//! The SFU engine: many str0m `Rtc`s behind one socket, and the forwarding between them.
//!
//! The engine owns the tables and drives its parts, each in its own file: `Driver` drains
//! the `Rtc`s (demux table, timers, work queue, outputs), `Tracks` holds the published
//! tracks and their fan-out lists, `Recordings` the recording tap, `Peer` and `Slot` one
//! connection and one of its send m-lines, and `allocate` chooses layers within a
//! subscriber's bandwidth. This file is the public API and the work loop; what crosses
//! the tables lives in its child modules: `forward` (one packet to its subscribers and
//! recordings), `subscriptions` (slots and renegotiation) and `keyframes` (routing and
//! throttling keyframe requests).

mod forward;
mod keyframes;
mod subscriptions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, KeyframeRequestKind, Mid, Simulcast};
use str0m::net::{DatagramRecv, Receive};
use str0m::{Event, IceConnectionState, Input, RtcConfig};
use tracing::{debug, trace, warn};

use crate::allocate;
use crate::config::EngineConfig;
use crate::counters::Counters;
use crate::demux::Route;
use crate::driver::{Driver, Work};
use crate::error::MediaError;
use crate::ids::{MediaKind, PeerKey, RecordingKey, TrackKey};
use crate::layer::MaxLayer;
use crate::output::{DisconnectReason, EngineEvent, EngineOutput};
use crate::peer::Peer;
use crate::recording::Recordings;
use crate::sdp_candidates::spread_candidates;
use crate::tracks::Tracks;
use crate::transport::Transport;

/// The sans-IO SFU. See the crate docs for how to drive it.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    /// Boxed: a `Peer` holds its str0m `Rtc` inline (kilobytes), and the table keeps its
    /// largest capacity; boxed, growing it moves pointers and a peer's memory goes with it.
    peers: HashMap<PeerKey, Box<Peer>>,
    tracks: Tracks,
    recordings: Recordings,
    /// str0m's side: demux, timers, queued events and the outputs for the shell.
    driver: Driver,
    next_stats: Option<Instant>,
    counters: Counters,
}

impl Engine {
    /// An engine with no peers.
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            config,
            peers: HashMap::new(),
            tracks: Tracks::default(),
            recordings: Recordings::default(),
            driver: Driver::default(),
            next_stats: None,
            counters: Counters::default(),
        }
    }

    /// Accepts a client's offer and returns the SDP answer.
    ///
    /// The peer gets its own ICE-lite, RTP-mode `Rtc` whose candidates are the configured
    /// ones ([`EngineConfig::candidates`]), written into every media section of the answer
    /// with `a=end-of-candidates`, so that stacks reading them per section find them too.
    /// `sendonly`/`sendrecv` m-lines in the offer become published tracks
    /// ([`EngineEvent::TrackPublished`] follows); `recvonly` (and `sendrecv`) ones become
    /// free receive slots.
    pub fn add_peer(
        &mut self,
        now: Instant,
        peer: PeerKey,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        self.driver.tick(now);
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
        let send_buffers = (config.send_buffer_audio(), config.send_buffer_video());
        let mut rtc = config.build(now);
        for local in &self.config.candidates {
            rtc.add_local_candidate(local.to_str0m()?);
        }
        // A client that only receives may offer no m-line at all (its receive slots are
        // optional). str0m refuses such an offer; there is nothing in it to accept anyway,
        // so the answer is an empty session and the engine offers m-lines itself as soon
        // as the client is to receive something (`NeedsOffer`), which is when ICE starts.
        let answer = if offer.media_lines.is_empty() {
            empty_answer(peer)
        } else {
            let answer = rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|e| MediaError::Negotiation(e.to_string()))?;
            spread_candidates(&answer.to_sdp_string())
        };

        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        self.driver.demux.insert_ufrag(ufrag, peer);
        let mut state = Peer::new(rtc, send_buffers);
        // Until str0m's first estimate, layers are chosen within the starting rate.
        state.bandwidth = self.config.bandwidth_estimation;
        self.peers.insert(peer, Box::new(state));
        self.drain(peer);
        // The receive-slot pool is usable at once: subscriptions set before the
        // connection is up take these slots instead of adding m-lines.
        self.sync_slots(now, peer, &mids);
        self.run(now);
        debug!(%peer, "peer added");
        Ok(answer)
    }

    /// Forgets a peer: ends its tracks, frees the slots showing them, and sends a DTLS
    /// close to the client. Unknown keys are ignored.
    pub fn remove_peer(&mut self, now: Instant, peer: PeerKey) {
        self.driver.tick(now);
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
        self.driver.tick(now);
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
        Ok(spread_candidates(&answer.to_sdp_string()))
    }

    /// Applies the client's answer to the engine's last [`EngineEvent::NeedsOffer`].
    pub fn handle_answer(
        &mut self,
        now: Instant,
        peer: PeerKey,
        answer_sdp: &str,
    ) -> Result<(), MediaError> {
        self.driver.tick(now);
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
        self.driver.tick(now);
        if !self.peers.contains_key(&subscriber) {
            return Err(MediaError::UnknownPeer(subscriber));
        }
        let (desired, over) = self.within_slot_bound(subscriber, tracks);
        if over > 0 {
            debug!(peer = %subscriber, over, "desired set exceeds the slot bound");
        }
        self.counters.subscriptions_over_limit += over as u64;
        self.replace_desired(now, subscriber, desired, over)?;
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
        self.driver.tick(now);
        let p = self
            .peers
            .get_mut(&subscriber)
            .ok_or(MediaError::UnknownPeer(subscriber))?;
        if self.tracks.contains(&track) {
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
        self.driver.tick(now);
        let wants_keyframe = self.recordings.set(recording, tracks, &mut self.tracks);
        for (track, rid) in wants_keyframe {
            self.request_keyframe(now, track, rid, KeyframeRequestKind::Pli, false);
        }
        self.run(now);
    }

    /// The tracks `recording` receives now (empty for an unknown or ended recording).
    pub fn recording_tracks(&self, recording: RecordingKey) -> Vec<TrackKey> {
        self.recordings.tracks(recording)
    }

    /// Pauses or resumes a published track (the publisher muted it). A paused track's
    /// packets are dropped on arrival, before any fan-out work.
    pub fn set_track_paused(&mut self, track: TrackKey, paused: bool) {
        if let Some(t) = self.tracks.get_mut(&track) {
            t.paused = paused;
        }
    }

    /// One datagram from a media socket: a UDP datagram, or one RFC 4571 frame's contents
    /// from an ICE-TCP connection (`source` is the connection's remote address).
    /// `destination` is the local candidate address it arrived for. Never fails: datagrams
    /// that are garbage, come from nobody we know, or are refused by the peer's `Rtc` are
    /// dropped and counted, and no other peer is affected.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.driver.tick(now);
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += datagram.len() as u64;

        let Ok(contents) = DatagramRecv::try_from(datagram) else {
            self.counters.dropped_garbage += 1;
            trace!(%source, len = datagram.len(), "garbage datagram");
            return;
        };
        let Route::Peer(key) = self.driver.demux.route(transport, source, datagram) else {
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
                proto: transport.to_str0m(),
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
        self.driver.drain(key, peer, &mut self.counters);
        self.run(now);
    }

    /// Advances time: fires every peer timer that is due (and only those).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.driver.tick(now);
        // Each due peer fires once per call: a peer whose `Rtc` asks again for a deadline
        // at or before `now` (str0m's pacer can) waits for the next call instead of
        // spinning this loop forever.
        let mut due = Vec::new();
        while let Some(key) = self.driver.timers.pop_due(now) {
            due.push(key);
        }
        for key in due {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            self.driver
                .input(key, peer, Input::Timeout(now), &mut self.counters);
            self.run(now);
        }
        match self.config.stats_interval {
            Some(interval) => {
                let due = *self.next_stats.get_or_insert(now + interval);
                if due <= now {
                    let stats = EngineEvent::Stats(self.counters());
                    self.driver.emit(stats);
                    self.next_stats = Some(now + interval);
                }
            }
            None => self.next_stats = None,
        }
    }

    /// When [`Engine::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.driver.timers.next(), self.next_stats) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing to send or report. Call until `None` after every `handle_*`/`set_*`.
    pub fn poll_output(&mut self) -> Option<EngineOutput> {
        self.driver.poll_output()
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

// --- the work loop -------------------------------------------------------------------

impl Engine {
    /// Drains one peer's `Rtc` (see [`Driver::drain`]).
    fn drain(&mut self, key: PeerKey) {
        if let Some(peer) = self.peers.get_mut(&key) {
            self.driver.drain(key, peer, &mut self.counters);
        }
    }

    /// Chooses the layers of `sub`'s slots anew (`allocate`) and asks the publishers for
    /// the keyframes the new targets need.
    fn allocate(&mut self, now: Instant, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        for (track, rid) in allocate::allocate(peer, &self.tracks) {
            trace!(peer = %sub, %track, ?rid, "layer target changed");
            self.request_keyframe(now, track, rid, KeyframeRequestKind::Pli, false);
        }
    }

    /// Acts on queued events until none are left.
    fn run(&mut self, now: Instant) {
        while let Some(work) = self.driver.next_work() {
            match work {
                Work::Event(key, event) => self.on_event(now, key, event),
                Work::Gone(key, reason) => {
                    if self.peers.contains_key(&key) {
                        if matches!(reason, DisconnectReason::Failed(_)) {
                            self.counters.peers_failed += 1;
                            warn!(peer = %key, ?reason, "peer failed");
                        }
                        self.forget_peer(key);
                        self.driver
                            .emit(EngineEvent::PeerDisconnected { peer: key, reason });
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
                    self.driver.emit(EngineEvent::PeerConnected { peer: key });
                    self.allocate(now, key);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.driver.gone(key, DisconnectReason::IceDisconnected);
            }
            Event::Closed => self.driver.gone(key, DisconnectReason::Closed),
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
                let track = self.tracks.publish(key, mid, kind, simulcast);
                peer.published.insert(mid, track);
                self.driver.emit(EngineEvent::TrackPublished {
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
        self.recordings.forget_track(track, &t.tap);
        if let Some(p) = self.peers.get_mut(&t.publisher) {
            p.published.remove(&t.mid);
        }
        for p in self.peers.values_mut() {
            p.max_layer.remove(&track);
        }
        self.driver.emit(EngineEvent::TrackEnded {
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
        // In key order, not the map's (randomly seeded) order: each ended track emits
        // events, and the same inputs must give the same outputs in the same order.
        let mut published: Vec<TrackKey> = peer.published.values().copied().collect();
        published.sort_unstable();
        let showing: Vec<TrackKey> = peer
            .slots
            .iter()
            .filter_map(|s| s.track)
            .chain(peer.unplaced.iter().copied())
            .collect();
        for track in showing {
            self.tracks.drop_subscriber(&track, key);
        }
        for track in published {
            self.end_track(track);
        }
        self.peers.remove(&key);
        self.driver.demux.remove_peer(key);
        self.driver.timers.remove(key);
        debug!(peer = %key, "peer forgotten");
    }
}

/// The answer to an offer with no media section: a session with nothing in it.
fn empty_answer(peer: PeerKey) -> String {
    format!("v=0\r\no=- {} 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", peer.0)
}
