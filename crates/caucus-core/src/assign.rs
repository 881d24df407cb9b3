//! Even, seeded, random assignment of peers to rooms, and the tiny generator behind it.

use std::collections::BTreeMap;

use caucus_proto::{BreakoutId, PeerId};

/// SplitMix64: small, fast, and the same sequence on every machine for a given seed.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`), without modulo bias worth speaking of here.
    pub fn below(&mut self, bound: usize) -> usize {
        let bound = bound as u64;
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// A room to fill: how many it holds already and at most.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub room: BreakoutId,
    pub taken: u32,
    pub capacity: Option<u32>,
}

/// Place `peers` into `rooms` so that room sizes differ by at most one where capacities allow,
/// in a seeded random order. Returns `None` when the rooms cannot hold everyone.
pub fn spread(
    mut peers: Vec<PeerId>,
    mut rooms: Vec<Slot>,
    seed: u64,
) -> Option<BTreeMap<PeerId, BreakoutId>> {
    let free: u64 = rooms
        .iter()
        .map(|r| {
            r.capacity
                .map_or(u64::MAX, |c| u64::from(c.saturating_sub(r.taken)))
        })
        .fold(0u64, u64::saturating_add);
    if (peers.len() as u64) > free {
        return None;
    }
    let mut rng = SeededRng::new(seed);
    rng.shuffle(&mut peers);
    // Ties between equally full rooms are broken by a random order of rooms, so that with
    // 10 peers and 3 rooms the room that gets the fourth peer is not always the first.
    rng.shuffle(&mut rooms);
    let mut out = BTreeMap::new();
    for peer in peers {
        let slot = rooms
            .iter_mut()
            .filter(|r| r.capacity.is_none_or(|c| r.taken < c))
            .min_by_key(|r| r.taken)?;
        slot.taken += 1;
        out.insert(peer, slot.room);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: u64, capacity: Option<u32>) -> Vec<Slot> {
        (1..=n)
            .map(|i| Slot {
                room: BreakoutId::new(i),
                taken: 0,
                capacity,
            })
            .collect()
    }

    fn peers(n: u64) -> Vec<PeerId> {
        (1..=n).map(PeerId::new).collect()
    }

    fn sizes(out: &BTreeMap<PeerId, BreakoutId>) -> Vec<usize> {
        let mut by_room: BTreeMap<BreakoutId, usize> = BTreeMap::new();
        for b in out.values() {
            *by_room.entry(*b).or_default() += 1;
        }
        by_room.into_values().collect()
    }

    #[test]
    fn spreads_evenly() {
        let out = spread(peers(1000), slots(100, None), 7).unwrap();
        assert_eq!(out.len(), 1000);
        assert!(sizes(&out).iter().all(|s| *s == 10));
        let out = spread(peers(10), slots(3, None), 7).unwrap();
        let s = sizes(&out);
        assert_eq!(s.iter().sum::<usize>(), 10);
        assert!(
            s.iter().max().unwrap() - s.iter().min().unwrap() <= 1,
            "{s:?}"
        );
    }

    #[test]
    fn same_seed_same_result_other_seed_other_result() {
        let a = spread(peers(50), slots(5, None), 1).unwrap();
        let b = spread(peers(50), slots(5, None), 1).unwrap();
        let c = spread(peers(50), slots(5, None), 2).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn capacity_is_respected_or_refused() {
        let out = spread(peers(7), slots(2, Some(4)), 3).unwrap();
        assert!(sizes(&out).iter().all(|s| *s <= 4));
        assert!(spread(peers(9), slots(2, Some(4)), 3).is_none());
        let mut partly_full = slots(2, Some(4));
        partly_full[0].taken = 4;
        let out = spread(peers(4), partly_full, 3).unwrap();
        assert!(out.values().all(|b| *b == BreakoutId::new(2)));
    }
}
