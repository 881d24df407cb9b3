//! Subscriptions: the desired set of a subscriber onto its slots, the fan-out lists of the
//! tracks, and the renegotiation when free slots run out.

use std::time::Instant;

use str0m::media::{Direction, Mid};
use tracing::warn;

use super::Engine;
use crate::error::MediaError;
use crate::ids::{MediaKind, PeerKey, TrackKey};
use crate::output::EngineEvent;
use crate::peer::Peer;
use crate::slot::Slot;

impl Engine {
    /// The tracks of `tracks` that `subscriber` may get, in the order given: known, not
    /// its own, each once, and at most `max_audio_slots` + `max_video_slots`. Also how
    /// many the bound left out.
    pub(super) fn within_slot_bound(
        &self,
        subscriber: PeerKey,
        tracks: &[TrackKey],
    ) -> (Vec<TrackKey>, usize) {
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
        (desired, over)
    }

    /// Makes `desired` the subscriber's set: what left it stops at once, what joined it
    /// takes a slot (or waits for one), and layers are chosen anew.
    pub(super) fn replace_desired(
        &mut self,
        now: Instant,
        subscriber: PeerKey,
        desired: Vec<TrackKey>,
        over: usize,
    ) -> Result<(), MediaError> {
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
        Ok(())
    }

    /// Stops forwarding `track` to `sub` and frees its slot (or its place in the queue).
    pub(super) fn unsubscribe(&mut self, sub: PeerKey, track: TrackKey) {
        self.tracks.drop_subscriber(&track, sub);
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        peer.unplaced.retain(|t| *t != track);
        let mut freed = None;
        if let Some(slot) = peer.slot_showing(track) {
            slot.assign(None);
            if slot.negotiated {
                freed = Some((slot.mid, slot.kind));
            }
        }
        if let Some((mid, kind)) = freed {
            // Nothing of the track may be resent once it is gone from the slot.
            peer.forget_sent(mid, kind);
            self.driver.emit(EngineEvent::SlotAssigned {
                subscriber: sub,
                mid: mid.to_string(),
                track: None,
            });
        }
    }

    /// Gives waiting tracks free slots; if some still wait and no offer is outstanding,
    /// adds m-lines and emits `NeedsOffer`.
    pub(super) fn place_and_negotiate(&mut self, now: Instant, sub: PeerKey) {
        let assigned = self.place_waiting(sub);
        self.offer_for_waiting(sub);
        self.drain(sub);
        for (mid, track, kind) in assigned {
            self.driver.emit(EngineEvent::SlotAssigned {
                subscriber: sub,
                mid: mid.to_string(),
                track: Some(track),
            });
            if kind == MediaKind::Video {
                self.request_plain_keyframe(now, sub, track);
            }
        }
    }

    /// Puts waiting tracks into free slots of their kind. Returns the ones placed in
    /// negotiated slots (media flows at once; the client must learn the mapping).
    fn place_waiting(&mut self, sub: PeerKey) -> Vec<(Mid, TrackKey, MediaKind)> {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return Vec::new();
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
        peer.unplaced = still_waiting;
        assigned
    }

    /// Tracks still waiting for a slot get new `sendonly` m-lines in one server offer,
    /// unless an offer is already outstanding (they wait for the next one).
    fn offer_for_waiting(&mut self, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        let Peer {
            rtc,
            slots,
            unplaced,
            pending_offer,
            ..
        } = &mut **peer;
        if unplaced.is_empty() || pending_offer.is_some() {
            return;
        }
        let mut api = rtc.sdp_api();
        let mut added = Vec::new();
        for track_key in unplaced.iter() {
            let Some(track) = self.tracks.get_mut(track_key) else {
                continue;
            };
            let mid = api.add_media(track.kind.to_str0m(), Direction::SendOnly, None, None, None);
            let mut slot = Slot::new(mid, track.kind, false);
            slot.assign(Some(*track_key));
            track.subscribers.push(sub);
            added.push(slot);
        }
        if let Some((offer, pending)) = api.apply() {
            slots.extend(added);
            *pending_offer = Some(pending);
            unplaced.clear();
            self.driver.emit(EngineEvent::NeedsOffer {
                peer: sub,
                sdp: crate::sdp_candidates::spread_candidates(&offer.to_sdp_string()),
            });
        } else {
            // Nothing to negotiate after all: undo the reservations.
            for slot in added {
                if let Some(track) = slot.track {
                    self.tracks.drop_subscriber(&track, sub);
                }
            }
        }
    }

    /// The answer arrived: slots with a send stream are live; the rest were refused.
    pub(super) fn complete_negotiation(&mut self, now: Instant, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        let (live, refused) = peer.settle_slots();
        // Not re-queued: a client that refuses an m-line would refuse it again.
        for track in refused.iter().filter_map(|s| s.track) {
            warn!(peer = %sub, %track, "client refused a send m-line");
            self.counters.forwarding_errors += 1;
            self.tracks.drop_subscriber(&track, sub);
        }
        for (mid, track) in live {
            self.driver.emit(EngineEvent::SlotAssigned {
                subscriber: sub,
                mid: mid.to_string(),
                track: Some(track),
            });
            self.request_plain_keyframe(now, sub, track);
        }
        self.allocate(now, sub);
    }

    /// The outstanding offer is void (refused, or overtaken by a client offer): its new
    /// m-lines never existed, and the tracks they were meant for wait again.
    pub(super) fn abandon_unnegotiated_slots(&mut self, sub: PeerKey) {
        let Some(peer) = self.peers.get_mut(&sub) else {
            return;
        };
        let requeue = peer.drop_unnegotiated_slots();
        for track in &requeue {
            self.tracks.drop_subscriber(track, sub);
        }
        peer.unplaced.extend(requeue);
    }

    /// Slots follow the m-lines the engine sends on: a new sending m-line (a `recvonly`
    /// one the client offered) is a ready-made slot; one the client turned off is gone.
    pub(super) fn sync_slot(
        &mut self,
        now: Instant,
        key: PeerKey,
        mid: Mid,
        kind: MediaKind,
        dir: Direction,
    ) {
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
                    self.tracks.drop_subscriber(&track, key);
                }
            }
        }
    }

    /// [`Self::sync_slot`] for the m-lines of an SDP just applied, without waiting for
    /// str0m's media events (which come only once the connection is up).
    pub(super) fn sync_slots(&mut self, now: Instant, key: PeerKey, mids: &[Mid]) {
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
