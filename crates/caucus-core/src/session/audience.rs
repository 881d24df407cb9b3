//! Who was told of each track, so that news of a track (muted, ended) reaches exactly the
//! peers that know it: signaling stays inside the room, like media.
//!
//! A peer learns of a track by `track_published`, by the publisher's `tracks` in `joined`,
//! `peer_joined` or `peer_updated`, or because the track entered its desired set (the shell
//! then fills a slot naming it). Observers computed *now* are not the same peers: after
//! breakouts close, a guest of one room stands in main with the guests of the other room, but
//! was never told of their tracks. See `crate::knowledge` for the rule as tests check it.

use std::collections::{BTreeMap, BTreeSet};

use caucus_proto::{PeerId, TrackKey};

#[derive(Debug, Clone, Default)]
pub(super) struct Audiences {
    told: BTreeMap<TrackKey, BTreeSet<PeerId>>,
}

impl Audiences {
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
    }

    /// Every track of `publisher` is gone without news of each (it left: `peer_left` says it).
    pub(super) fn forget_publisher(&mut self, publisher: PeerId) {
        self.told.retain(|k, _| k.peer != publisher);
    }
}
