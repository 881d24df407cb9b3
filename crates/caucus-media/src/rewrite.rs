//! One outgoing RTP stream fed by a succession of sources.

use std::time::Instant;

use str0m::rtp::Ssrc;

use crate::ids::TrackKey;

/// Rewrites sequence numbers and timestamps so a subscriber's slot stays one continuous
/// RTP stream while its source changes (track A, then track C, or a publisher restarting
/// with a new SSRC). The outgoing SSRC is the slot's own (str0m's `StreamTx`), so the
/// receiver never sees a new stream and its jitter buffer and SRTP context carry on.
#[derive(Debug)]
pub(crate) struct Rewriter {
    source: Option<(TrackKey, Ssrc)>,
    /// Added to an incoming extended sequence number to get the outgoing one.
    seq_offset: i64,
    /// Added (wrapping) to an incoming RTP timestamp to get the outgoing one.
    ts_offset: u32,
    /// First outgoing sequence number of the current source; older packets of the
    /// current source would collide with the previous source's numbers.
    source_first_seq: u64,
    next_seq: u64,
    last_ts: u32,
    last_sent: Option<Instant>,
}

/// Where one incoming packet lands on the outgoing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rewritten {
    pub(crate) seq: u64,
    pub(crate) ts: u32,
    /// This packet is the first of a new source (the caller may want a keyframe).
    pub(crate) switched: bool,
}

impl Rewriter {
    /// Outgoing numbering starts at `first_seq` (keep it below 2^16: a fresh SRTP
    /// receiver assumes rollover counter 0).
    pub(crate) fn new(first_seq: u16) -> Self {
        Rewriter {
            source: None,
            seq_offset: 0,
            ts_offset: 0,
            source_first_seq: u64::from(first_seq),
            next_seq: u64::from(first_seq),
            last_ts: 0,
            last_sent: None,
        }
    }

    /// Maps one incoming packet. `None`: drop it (it predates the current source's first
    /// forwarded packet).
    pub(crate) fn rewrite(
        &mut self,
        source: (TrackKey, Ssrc),
        seq: u64,
        ts: u32,
        now: Instant,
        clock_rate: u64,
    ) -> Option<Rewritten> {
        let switched = self.source != Some(source);
        if switched {
            self.source = Some(source);
            self.source_first_seq = self.next_seq;
            self.seq_offset = self.next_seq as i64 - seq as i64;
            self.ts_offset = match self.last_sent {
                None => 0,
                Some(last) => {
                    // Continue the timeline by the wall time since the last packet, so
                    // the receiver's jitter estimate does not jump.
                    let elapsed = now.saturating_duration_since(last);
                    let ticks = (elapsed.as_micros() as u64).saturating_mul(clock_rate) / 1_000_000;
                    let step = u32::try_from(ticks.max(1)).unwrap_or(u32::MAX);
                    self.last_ts.wrapping_add(step).wrapping_sub(ts)
                }
            };
        }

        let out_seq = u64::try_from(seq as i64 + self.seq_offset).ok()?;
        if out_seq < self.source_first_seq {
            return None;
        }
        let out_ts = ts.wrapping_add(self.ts_offset);
        if out_seq >= self.next_seq {
            self.next_seq = out_seq + 1;
            self.last_ts = out_ts;
            self.last_sent = Some(now);
        }
        Some(Rewritten {
            seq: out_seq,
            ts: out_ts,
            switched,
        })
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a test may read the clock once for a base instant
mod tests {
    use super::*;
    use std::time::Duration;

    fn src(track: u64, ssrc: u32) -> (TrackKey, Ssrc) {
        (TrackKey(track), ssrc.into())
    }

    #[test]
    fn switching_source_keeps_sequence_and_time_continuous() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(100);
        let a1 = rw.rewrite(src(1, 111), 40_000, 1_000, t0, 90_000).unwrap();
        let a2 = rw.rewrite(src(1, 111), 40_001, 4_000, t0, 90_000).unwrap();
        assert_eq!((a1.seq, a1.switched), (100, true));
        assert_eq!((a2.seq, a2.ts - a1.ts, a2.switched), (101, 3_000, false));

        let later = t0 + Duration::from_millis(20);
        let c1 = rw.rewrite(src(2, 222), 7, 555_555, later, 90_000).unwrap();
        assert_eq!((c1.seq, c1.switched), (102, true));
        assert_eq!(c1.ts.wrapping_sub(a2.ts), 1_800, "20 ms at 90 kHz");
        let c2 = rw
            .rewrite(src(2, 222), 8, 555_555 + 3_000, later, 90_000)
            .unwrap();
        assert_eq!(c2.seq, 103);
    }

    #[test]
    fn reordering_within_a_source_is_kept_and_stale_packets_are_dropped() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(0);
        rw.rewrite(src(1, 111), 10, 0, t0, 48_000).unwrap();
        rw.rewrite(src(2, 222), 50, 0, t0, 48_000).unwrap(); // -> 1
        let late = rw.rewrite(src(2, 222), 52, 0, t0, 48_000).unwrap(); // -> 3 (51 missing)
        let filler = rw.rewrite(src(2, 222), 51, 0, t0, 48_000).unwrap(); // -> 2
        assert_eq!((late.seq, filler.seq), (3, 2));
        assert_eq!(
            rw.rewrite(src(2, 222), 49, 0, t0, 48_000),
            None,
            "older than the switch"
        );
        assert_eq!(rw.rewrite(src(2, 222), 53, 0, t0, 48_000).unwrap().seq, 4);
    }
}
