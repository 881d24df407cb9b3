//! Sequence order within a window.

use std::collections::BTreeMap;

use crate::RtpPacket;

/// What comes out of [`Reorder`]: packets in sequence order, and the holes between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ordered {
    Packet(RtpPacket),
    /// One or more packets before the next one never arrived (or arrived too late).
    Gap,
}

/// Puts packets back in sequence order. A packet that is not the next expected one is held
/// until the hole before it fills; when more than `window` packets are held, the hole is given
/// up on (an [`Ordered::Gap`]) and delivery goes on from the oldest held packet. Packets older
/// than what was delivered already, and duplicates, are dropped.
#[derive(Debug, Clone)]
pub struct Reorder {
    window: usize,
    next: Option<u64>,
    held: BTreeMap<u64, RtpPacket>,
    dropped: u64,
}

impl Reorder {
    /// `window`: how many packets may wait for a hole to fill (at least 1).
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            next: None,
            held: BTreeMap::new(),
            dropped: 0,
        }
    }

    /// Take one packet; append what can be delivered now to `out`.
    pub fn push(&mut self, packet: RtpPacket, out: &mut Vec<Ordered>) {
        let next = *self.next.get_or_insert(packet.seq);
        if packet.seq < next || self.held.contains_key(&packet.seq) {
            self.dropped += 1;
            return;
        }
        self.held.insert(packet.seq, packet);
        self.release(out);
        while self.held.len() > self.window {
            self.skip_hole(out);
        }
    }

    /// Deliver everything still held, holes included (the stream ended).
    pub fn flush(&mut self, out: &mut Vec<Ordered>) {
        while !self.held.is_empty() {
            self.skip_hole(out);
        }
    }

    /// Late or duplicate packets dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn skip_hole(&mut self, out: &mut Vec<Ordered>) {
        if let Some((&first, _)) = self.held.first_key_value() {
            out.push(Ordered::Gap);
            self.next = Some(first);
            self.release(out);
        }
    }

    fn release(&mut self, out: &mut Vec<Ordered>) {
        let Some(mut next) = self.next else {
            return;
        };
        while let Some(packet) = self.held.remove(&next) {
            out.push(Ordered::Packet(packet));
            next += 1;
        }
        self.next = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packet(seq: u64) -> RtpPacket {
        RtpPacket {
            seq,
            timestamp: 0,
            marker: false,
            payload: vec![seq as u8],
        }
    }

    fn seqs(out: &[Ordered]) -> Vec<Option<u64>> {
        out.iter()
            .map(|o| match o {
                Ordered::Packet(p) => Some(p.seq),
                Ordered::Gap => None,
            })
            .collect()
    }

    #[test]
    fn a_late_packet_fills_its_hole() {
        let mut r = Reorder::new(8);
        let mut out = Vec::new();
        for seq in [10, 11, 13, 14, 12, 15] {
            r.push(packet(seq), &mut out);
        }
        assert_eq!(
            seqs(&out),
            [10, 11, 12, 13, 14, 15].map(Some).to_vec(),
            "no gap when the hole fills within the window"
        );
    }

    #[test]
    fn a_hole_is_given_up_when_the_window_overflows() {
        let mut r = Reorder::new(2);
        let mut out = Vec::new();
        for seq in [1, 3, 4, 5, 2] {
            r.push(packet(seq), &mut out);
        }
        assert_eq!(seqs(&out), vec![Some(1), None, Some(3), Some(4), Some(5)]);
        assert_eq!(r.dropped(), 1, "2 came after 3 was delivered");
    }

    #[test]
    fn duplicates_are_dropped() {
        let mut r = Reorder::new(4);
        let mut out = Vec::new();
        for seq in [1, 1, 2, 4, 4, 3] {
            r.push(packet(seq), &mut out);
        }
        assert_eq!(seqs(&out), [1, 2, 3, 4].map(Some).to_vec());
        assert_eq!(r.dropped(), 2);
    }

    proptest! {
        /// Any shuffle whose displacement stays within the window gives back the exact order.
        #[test]
        fn shuffles_within_the_window_come_back_in_order(
            len in 1usize..200,
            keys in proptest::collection::vec(any::<u32>(), 200),
        ) {
            let window = 16;
            // The first packet stays first (the stream starts where it says); the others are
            // shuffled within blocks of 8, so none is displaced by 8 or more.
            let mut order: Vec<u64> = (0..len as u64).collect();
            for block in order[1..].chunks_mut(8) {
                block.sort_by_key(|seq| keys[*seq as usize]);
            }
            let mut r = Reorder::new(window);
            let mut out = Vec::new();
            for seq in order {
                r.push(packet(seq), &mut out);
            }
            r.flush(&mut out);
            prop_assert_eq!(seqs(&out), (0..len as u64).map(Some).collect::<Vec<_>>());
        }

        /// Whatever arrives, what comes out is strictly increasing and contains no duplicate.
        #[test]
        fn output_is_strictly_increasing(
            arrivals in proptest::collection::vec(0u64..300, 0..300),
            window in 1usize..20,
        ) {
            let mut r = Reorder::new(window);
            let mut out = Vec::new();
            for seq in arrivals {
                r.push(packet(seq), &mut out);
            }
            r.flush(&mut out);
            let delivered: Vec<u64> = seqs(&out).into_iter().flatten().collect();
            prop_assert!(delivered.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
