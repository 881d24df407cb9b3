//! Who was told of each track, so that news of a track (muted, ended) reaches exactly the
//! peers that know it: signaling stays inside the room, like media.
//!
//! A peer learns of a track by `track_published`, by the publisher's `tracks` in `joined`,
//! `peer_joined` or `peer_updated`, or because the track entered its desired set (the shell
//! then fills a slot naming it). Observers computed *now* are not the same peers: after
//! breakouts close, a guest of one room stands in main with the guests of the other room, but
//! was never told of their tracks. See `crate::knowledge` for the rule as tests check it.

use std::collections::{BTreeMap, BTreeSet};

use caucus_proto::{PeerId, ServerEvent, TrackKey};

#[derive(Debug, Clone, Default)]
pub(super) struct Audiences {
    told: BTreeMap<TrackKey, BTreeSet<PeerId>>,
    /// Each receiver's acquaintances: the peers whose `PeerInfo` it was given (in `joined`,
    /// `peer_joined`, `peer_updated`) and not told `peer_left` of since. Learnt from the
    /// events as they are queued ([`Audiences::observe`]), so it cannot drift from them.
    acquainted: BTreeMap<PeerId, BTreeSet<PeerId>>,
}

impl Audiences {
    /// `event` is queued for `to`: keep who knows whom.
    pub(super) fn observe(&mut self, to: &[PeerId], event: &ServerEvent) {
        for receiver in to {
            match event {
                ServerEvent::Joined { peer, peers, .. } => {
                    let fresh = std::iter::once(peer.id).chain(peers.iter().map(|p| p.id));
                    self.acquainted.insert(*receiver, fresh.collect());
                }
                ServerEvent::PeerJoined { peer } | ServerEvent::PeerUpdated { peer } => {
                    self.acquainted
                        .entry(*receiver)
                        .or_default()
                        .insert(peer.id);
                }
                ServerEvent::PeerLeft { peer_id, .. } => {
                    if let Some(known) = self.acquainted.get_mut(receiver) {
                        known.remove(peer_id);
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether `receiver` was given `peer`'s `PeerInfo` (and not told it left).
    pub(super) fn acquainted(&self, receiver: PeerId, peer: PeerId) -> bool {
        receiver == peer
            || self
                .acquainted
                .get(&receiver)
                .is_some_and(|k| k.contains(&peer))
    }

    /// The receivers acquainted with `peer` (who must hear that it left).
    pub(super) fn acquaintances_of(&self, peer: PeerId) -> Vec<PeerId> {
        self.acquainted
            .iter()
            .filter(|(receiver, known)| **receiver != peer && known.contains(&peer))
            .map(|(receiver, _)| *receiver)
            .collect()
    }

    /// Whether `receiver` knows `track`.
    pub(super) fn knows(&self, track: TrackKey, receiver: PeerId) -> bool {
        self.told.get(&track).is_some_and(|s| s.contains(&receiver))
    }

    /// These peers now know `track`.
    pub(super) fn tell(&mut self, track: TrackKey, peers: impl IntoIterator<Item = PeerId>) {
        self.told.entry(track).or_default().extend(peers);
    }

    /// The peers that know `track`.
    pub(super) fn of(&self, track: TrackKey) -> Vec<PeerId> {
        self.told
            .get(&track)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// `track` ended: the peers that knew it (to be told so), forgetting it.
    pub(super) fn take(&mut self, track: TrackKey) -> Vec<PeerId> {
        self.told
            .remove(&track)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default()
    }

    /// `peer` starts afresh (a `joined` replaces what its client knew) or is gone.
    pub(super) fn forget_receiver(&mut self, peer: PeerId) {
        for told in self.told.values_mut() {
            told.remove(&peer);
        }
        self.acquainted.remove(&peer);
    }

    /// Every track of `publisher` is gone without news of each (it left: `peer_left` says it).
    pub(super) fn forget_publisher(&mut self, publisher: PeerId) {
        self.told.retain(|k, _| k.peer != publisher);
    }
}
