//! One room's translation between the core's ids and the media engine's keys.
//!
//! The core names a track `TrackKey{peer, track}` once the client has said `publish
//! {source, mid}`; the engine names it `caucus_media::TrackKey` once RTP flows on that
//! m-line (`TrackPublished{peer, mid}`). Either may come first. A track is *bound* when both
//! are known for the same `(peer, mid)` and the kinds agree (an audio source on an audio
//! m-line); only bound tracks can be forwarded. Each core peer has at most one engine peer
//! at a time (a reconnect gets a fresh [`PeerKey`]).
//!
//! This is plain data — no channels, no IO — so the binding rules are unit-tested here.

use std::collections::{BTreeMap, BTreeSet};

use caucus_media::{MediaKind, PeerKey, TrackKey as EngineTrack};
use caucus_proto::signal::RemoteTrack;
use caucus_proto::{ErrorCode, PeerId, Source, TrackId, TrackKey};

use caucus_core::Denial;

/// A track the client announced with `publish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announced {
    track: TrackId,
    source: Source,
    muted: bool,
}

type Mid = String;

/// Translation tables for one room.
#[derive(Debug, Default)]
pub struct MediaIds {
    keys: BTreeMap<PeerId, PeerKey>,
    peers: BTreeMap<PeerKey, PeerId>,
    /// Engine peers whose ICE and DTLS are up.
    connected: BTreeSet<PeerKey>,
    announced: BTreeMap<(PeerId, Mid), Announced>,
    mid_of: BTreeMap<TrackKey, Mid>,
    received: BTreeMap<(PeerId, Mid), (EngineTrack, MediaKind)>,
    owner: BTreeMap<EngineTrack, (PeerId, Mid)>,
    desired: BTreeMap<PeerId, Vec<TrackKey>>,
}

/// A track became bound: who should now get it, and whether it starts paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub engine: EngineTrack,
    pub muted: bool,
    /// Subscribers (with an engine peer) whose desired set holds the track.
    pub subscribers: Vec<PeerId>,
}

/// A bound track of a desired set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundTrack {
    pub publisher: PeerId,
    pub track: TrackId,
    pub source: Source,
    pub engine: EngineTrack,
}

impl MediaIds {
    // ---- engine peers ---------------------------------------------------------------

    pub fn attach(&mut self, peer: PeerId, key: PeerKey) {
        if let Some(old) = self.keys.insert(peer, key) {
            self.peers.remove(&old);
        }
        self.peers.insert(key, peer);
    }

    /// The peer's engine side is gone: forget its key and every track the engine had
    /// received from it (announcements stay: the core still has those tracks).
    pub fn detach(&mut self, peer: PeerId) -> Option<PeerKey> {
        let key = self.keys.remove(&peer)?;
        self.peers.remove(&key);
        self.connected.remove(&key);
        let mids: Vec<Mid> = self
            .received
            .keys()
            .filter(|(p, _)| *p == peer)
            .map(|(_, mid)| mid.clone())
            .collect();
        for mid in mids {
            if let Some((engine, _)) = self.received.remove(&(peer, mid)) {
                self.owner.remove(&engine);
            }
        }
        Some(key)
    }

    /// The engine says media can flow; returns the peer if the key is current.
    pub fn connected(&mut self, key: PeerKey) -> Option<PeerId> {
        let peer = self.peer_of(key)?;
        self.connected.insert(key);
        Some(peer)
    }

    /// The engine peer that may be given subscriptions: attached and connected. Before it is
    /// connected, str0m has not yet reported the client's `recvonly` m-lines, so the engine
    /// would add new m-lines instead of using the client's receive slots.
    pub fn ready_key_of(&self, peer: PeerId) -> Option<PeerKey> {
        self.key_of(peer).filter(|k| self.connected.contains(k))
    }

    pub fn key_of(&self, peer: PeerId) -> Option<PeerKey> {
        self.keys.get(&peer).copied()
    }

    pub fn peer_of(&self, key: PeerKey) -> Option<PeerId> {
        self.peers.get(&key).copied()
    }

    /// Everything about a peer that left the session.
    pub fn forget(&mut self, peer: PeerId) -> Option<PeerKey> {
        let key = self.detach(peer);
        self.announced.retain(|(p, _), _| *p != peer);
        self.mid_of.retain(|k, _| k.peer != peer);
        self.desired.remove(&peer);
        key
    }

    // ---- the core side ----------------------------------------------------------------

    /// May `peer` announce `source` on `mid`? Not when the mid already carries a live track,
    /// nor when the engine already knows the m-line is of the other kind.
    pub fn check_announce(&self, peer: PeerId, mid: &str, source: Source) -> Result<(), Denial> {
        let key = (peer, mid.to_owned());
        if self.announced.contains_key(&key) {
            return Err(Denial::new(
                ErrorCode::AlreadyExists,
                format!("m-line {mid} already carries a published track"),
            )
            .with_field("mid"));
        }
        if let Some((_, kind)) = self.received.get(&key)
            && !kind_fits(*kind, source)
        {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                format!("m-line {mid} is {kind:?}, which cannot carry {source}"),
            )
            .with_field("mid"));
        }
        Ok(())
    }

    /// The core accepted `publish`: remember it, and bind if the engine already has the mid.
    pub fn announce(
        &mut self,
        peer: PeerId,
        mid: &str,
        track: TrackId,
        source: Source,
        muted: bool,
    ) -> Option<Bound> {
        self.announced.insert(
            (peer, mid.to_owned()),
            Announced {
                track,
                source,
                muted,
            },
        );
        self.mid_of.insert(TrackKey { peer, track }, mid.to_owned());
        self.bound(peer, mid)
    }

    /// The core stopped a track: forget the announcement; the engine track (if any) should be
    /// paused so it costs nothing until the mid is announced again.
    pub fn stop(&mut self, key: TrackKey) -> Option<EngineTrack> {
        let mid = self.mid_of.remove(&key)?;
        self.announced.remove(&(key.peer, mid.clone()));
        self.received.get(&(key.peer, mid)).map(|(e, _)| *e)
    }

    /// The core muted or unmuted a track: the engine track to pause or resume, if bound.
    pub fn set_muted(&mut self, key: TrackKey, muted: bool) -> Option<EngineTrack> {
        let mid = self.mid_of.get(&key)?.clone();
        let announced = self.announced.get_mut(&(key.peer, mid.clone()))?;
        announced.muted = muted;
        self.engine_track(key)
    }

    /// Remember a peer's complete desired set (core ids).
    pub fn set_desired(&mut self, peer: PeerId, tracks: Vec<TrackKey>) {
        self.desired.insert(peer, tracks);
    }

    /// The peer's desired set as engine tracks: the bound ones only.
    pub fn engine_set(&self, peer: PeerId) -> Vec<EngineTrack> {
        self.bound_set(peer).into_iter().map(|b| b.engine).collect()
    }

    /// The peer's desired set, bound tracks only, with each track's publisher and source, in
    /// the core's order.
    pub fn bound_set(&self, peer: PeerId) -> Vec<BoundTrack> {
        let Some(set) = self.desired.get(&peer) else {
            return Vec::new();
        };
        set.iter()
            .filter_map(|key| {
                let engine = self.engine_track(*key)?;
                let mid = self.mid_of.get(key)?;
                let announced = self.announced.get(&(key.peer, mid.clone()))?;
                Some(BoundTrack {
                    publisher: key.peer,
                    track: key.track,
                    source: announced.source,
                    engine,
                })
            })
            .collect()
    }

    // ---- the engine side --------------------------------------------------------------

    /// The engine started receiving on `mid` of the peer behind `key`.
    pub fn received(
        &mut self,
        key: PeerKey,
        mid: &str,
        engine: EngineTrack,
        kind: MediaKind,
    ) -> Option<Bound> {
        let peer = self.peer_of(key)?;
        self.received.insert((peer, mid.to_owned()), (engine, kind));
        self.owner.insert(engine, (peer, mid.to_owned()));
        self.bound(peer, mid)
    }

    /// The engine track ended (renegotiated away, or its peer gone).
    pub fn ended(&mut self, engine: EngineTrack) {
        if let Some(key) = self.owner.remove(&engine) {
            self.received.remove(&key);
        }
    }

    /// How a subscriber labels what a slot shows.
    pub fn remote(&self, engine: EngineTrack) -> Option<RemoteTrack> {
        let (peer, mid) = self.owner.get(&engine)?;
        let announced = self.announced.get(&(*peer, mid.clone()))?;
        Some(RemoteTrack {
            peer_id: *peer,
            track_id: announced.track,
            source: announced.source,
        })
    }

    // ---- helpers ----------------------------------------------------------------------

    /// The engine track of a core track, once the client announced it and the engine saw it.
    pub fn engine_track_of(&self, key: TrackKey) -> Option<EngineTrack> {
        self.engine_track(key)
    }

    fn engine_track(&self, key: TrackKey) -> Option<EngineTrack> {
        let mid = self.mid_of.get(&key)?;
        let key = (key.peer, mid.clone());
        let announced = self.announced.get(&key)?;
        let (engine, kind) = self.received.get(&key)?;
        kind_fits(*kind, announced.source).then_some(*engine)
    }

    fn bound(&self, peer: PeerId, mid: &str) -> Option<Bound> {
        let announced = self.announced.get(&(peer, mid.to_owned()))?;
        let core = TrackKey {
            peer,
            track: announced.track,
        };
        let engine = self.engine_track(core)?;
        let subscribers = self
            .desired
            .iter()
            .filter(|(p, set)| self.ready_key_of(**p).is_some() && set.contains(&core))
            .map(|(p, _)| *p)
            .collect();
        Some(Bound {
            engine,
            muted: announced.muted,
            subscribers,
        })
    }
}

fn kind_fits(kind: MediaKind, source: Source) -> bool {
    (kind == MediaKind::Audio) == source.is_audio()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANA: PeerId = PeerId::new(1);
    const BOB: PeerId = PeerId::new(2);
    const T1: TrackId = TrackId::new(10);

    fn ids() -> MediaIds {
        let mut ids = MediaIds::default();
        ids.attach(ANA, PeerKey(100));
        ids.attach(BOB, PeerKey(200));
        ids.connected(PeerKey(200));
        ids.set_desired(
            BOB,
            vec![TrackKey {
                peer: ANA,
                track: T1,
            }],
        );
        ids
    }

    #[test]
    fn a_track_binds_whichever_side_comes_first() {
        let mut a = ids();
        assert_eq!(a.announce(ANA, "0", T1, Source::Audio, false), None);
        let bound = a
            .received(PeerKey(100), "0", EngineTrack(7), MediaKind::Audio)
            .unwrap();
        assert_eq!(bound.subscribers, vec![BOB]);
        assert_eq!(a.engine_set(BOB), vec![EngineTrack(7)]);

        let mut b = ids();
        assert_eq!(
            b.received(PeerKey(100), "0", EngineTrack(7), MediaKind::Audio),
            None
        );
        let bound = b.announce(ANA, "0", T1, Source::Audio, true).unwrap();
        assert!(bound.muted);
        assert_eq!(
            b.remote(EngineTrack(7)),
            Some(RemoteTrack {
                peer_id: ANA,
                track_id: T1,
                source: Source::Audio
            })
        );
    }

    #[test]
    fn kinds_must_agree_and_mids_are_not_shared() {
        let mut ids = ids();
        ids.received(PeerKey(100), "1", EngineTrack(8), MediaKind::Video);
        let err = ids.check_announce(ANA, "1", Source::Audio).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidValue);
        ids.announce(ANA, "1", T1, Source::Video, false);
        let err = ids.check_announce(ANA, "1", Source::Screen).unwrap_err();
        assert_eq!(err.code, ErrorCode::AlreadyExists);
    }

    #[test]
    fn a_stopped_or_detached_track_is_no_longer_forwarded() {
        let mut ids = ids();
        ids.announce(ANA, "0", T1, Source::Audio, false);
        ids.received(PeerKey(100), "0", EngineTrack(7), MediaKind::Audio);
        assert_eq!(
            ids.stop(TrackKey {
                peer: ANA,
                track: T1
            }),
            Some(EngineTrack(7))
        );
        assert!(ids.engine_set(BOB).is_empty());
        assert!(
            ids.check_announce(ANA, "0", Source::Audio).is_ok(),
            "the mid is free again"
        );

        ids.announce(ANA, "0", T1, Source::Audio, false);
        assert_eq!(ids.detach(ANA), Some(PeerKey(100)));
        assert!(ids.engine_set(BOB).is_empty());
        assert_eq!(ids.peer_of(PeerKey(100)), None);
    }
}
