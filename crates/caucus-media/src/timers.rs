//! The earliest deadline among all peers, without sweeping them.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use crate::ids::PeerKey;

/// Each peer's next str0m timeout, ordered by time. `set` and `remove` are O(log n);
/// `pop_due` only touches peers that are actually due.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    order: BTreeSet<(Instant, PeerKey)>,
    current: HashMap<PeerKey, Instant>,
}

impl Timers {
    pub(crate) fn set(&mut self, peer: PeerKey, at: Instant) {
        if let Some(old) = self.current.insert(peer, at) {
            if old == at {
                return;
            }
            self.order.remove(&(old, peer));
        }
        self.order.insert((at, peer));
    }

    pub(crate) fn remove(&mut self, peer: PeerKey) {
        if let Some(old) = self.current.remove(&peer) {
            self.order.remove(&(old, peer));
        }
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns one peer whose deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<PeerKey> {
        let (at, peer) = *self.order.first()?;
        if at > now {
            return None;
        }
        self.order.remove(&(at, peer));
        self.current.remove(&peer);
        Some(peer)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a test may read the clock once for a base instant
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_only_due_peers_in_order_and_moves_rescheduled_ones() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut timers = Timers::default();
        timers.set(PeerKey(1), t0 + ms(30));
        timers.set(PeerKey(2), t0 + ms(10));
        timers.set(PeerKey(3), t0 + ms(20));
        timers.set(PeerKey(3), t0 + ms(50));
        timers.remove(PeerKey(1));
        assert_eq!(timers.next(), Some(t0 + ms(10)));
        assert_eq!(timers.pop_due(t0 + ms(40)), Some(PeerKey(2)));
        assert_eq!(timers.pop_due(t0 + ms(40)), None);
        assert_eq!(timers.pop_due(t0 + ms(50)), Some(PeerKey(3)));
        assert_eq!(timers.next(), None);
    }
}
