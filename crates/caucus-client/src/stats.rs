//! What a client received and sent, counted per stream.
//!
//! A received stream is keyed by what its payload says — (publisher peer, source) — not by the
//! m-line it arrived on, because the server reuses receive slots: one mid carries different
//! publishers over time, and the `slot` message that says so races the packets (WebSocket vs
//! UDP). The slot mapping is still checked: a packet whose slot names another publisher is
//! counted as `mislabeled`, one on a slot nobody named as `unlabeled` (both can happen briefly
//! around a slot switch; a steady count is an SFU bug).
//!
//! **Loss.** Each sender numbers a stream's packets without holes. A receiver counts, per
//! *segment* of the stream, the packets expected between the lowest and highest numbers seen,
//! minus the distinct packets received. A segment ends when the sender restarts the stream (new
//! `generation`) or when nothing arrived for `segment_gap` (default 300 ms): a gap that long is
//! the stream being unrouted and routed again (a move, a mute, a slot switch) far more often
//! than loss on a loopback, and counting the unrouted packets as lost would make every move
//! look lossy. Such breaks are counted as `resumptions`. Call
//! [`Client::reset_received`](crate::Client::reset_received) between phases of a test to start
//! from zero.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use caucus_proto::{PeerId, Source, TrackId};

use crate::latency::Latency;
use crate::payload::Stamp;

/// Duplicate detection looks this many packets back.
const WINDOW: u64 = 128;

/// Everything received from one (publisher, source).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamStats {
    /// Packets received, duplicates included.
    pub packets: u64,
    /// RTP payload bytes received.
    pub bytes: u64,
    /// Video frames completed (packets with the end-of-frame flag), audio: packets.
    pub frames: u64,
    /// Packets that belong to a keyframe.
    pub keyframe_packets: u64,
    pub first_at: Instant,
    pub last_at: Instant,
    /// Packets never received, summed over every segment (see the module docs).
    pub lost: u64,
    /// Forward jumps in the sequence (each hides one or more lost packets).
    pub gaps: u64,
    /// Packets that arrived after a later one.
    pub reordered: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Times the stream started a new segment (sender restart or a long silence).
    pub resumptions: u64,
    /// One-way latency from the send stamp to arrival (same machine: same clock).
    pub latency: Latency,
    /// The track id the `slot` message named for this stream, when one did.
    pub track_id: Option<TrackId>,
    /// The receive mid of the last packet.
    pub mid: String,
    /// The sender's generation of the current segment.
    pub generation: u32,
    /// The picture size of the last video keyframe received (simulcast: the layer being
    /// forwarded).
    pub frame_size: Option<(u16, u16)>,
    segment: Segment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    first: u64,
    highest: u64,
    distinct: u64,
    /// Bit i set: packet `highest - i` was received.
    window: u128,
}

impl Segment {
    fn starting_at(seq: u64) -> Segment {
        Segment {
            first: seq,
            highest: seq,
            distinct: 1,
            window: 1,
        }
    }

    fn lost(&self) -> u64 {
        (self.highest - self.first + 1).saturating_sub(self.distinct)
    }
}

impl StreamStats {
    fn new(stamp: &Stamp, at: Instant, bytes: usize, mid: &str, latency_us: u64) -> StreamStats {
        let mut latency = Latency::default();
        latency.record(latency_us);
        StreamStats {
            packets: 1,
            bytes: bytes as u64,
            frames: u64::from(stamp.end_of_frame),
            keyframe_packets: u64::from(stamp.keyframe),
            first_at: at,
            last_at: at,
            lost: 0,
            gaps: 0,
            reordered: 0,
            duplicates: 0,
            resumptions: 0,
            latency,
            track_id: None,
            mid: mid.to_owned(),
            generation: stamp.generation,
            frame_size: None,
            segment: Segment::starting_at(stamp.seq),
        }
    }

    /// Packets the sender sent in the received ranges: received distinct + lost.
    pub fn expected(&self) -> u64 {
        self.packets - self.duplicates + self.lost
    }

    /// Lost packets as a fraction of expected ones.
    pub fn loss_ratio(&self) -> f64 {
        match self.expected() {
            0 => 0.0,
            expected => self.lost as f64 / expected as f64,
        }
    }

    /// How long packets have been arriving.
    pub fn span(&self) -> Duration {
        self.last_at.saturating_duration_since(self.first_at)
    }

    fn record(
        &mut self,
        stamp: &Stamp,
        at: Instant,
        bytes: usize,
        mid: &str,
        latency_us: u64,
        segment_gap: Duration,
    ) {
        let silent_for = at.saturating_duration_since(self.last_at);
        if stamp.generation != self.generation || silent_for >= segment_gap {
            self.resumptions += 1;
            self.generation = stamp.generation;
            self.segment = Segment::starting_at(stamp.seq);
        } else {
            let lost_before = self.segment.lost();
            self.track_sequence(stamp.seq);
            // `lost` is the closed segments' loss plus the open one's; keep it in step.
            self.lost = self.lost - lost_before + self.segment.lost();
        }
        self.packets += 1;
        self.bytes += bytes as u64;
        self.frames += u64::from(stamp.end_of_frame);
        self.keyframe_packets += u64::from(stamp.keyframe);
        self.last_at = self.last_at.max(at);
        self.latency.record(latency_us);
        if self.mid != mid {
            self.mid = mid.to_owned();
        }
    }

    fn track_sequence(&mut self, seq: u64) {
        let s = &mut self.segment;
        if seq > s.highest {
            let advance = seq - s.highest;
            if advance > 1 {
                self.gaps += 1;
            }
            s.window = if advance >= 128 {
                0
            } else {
                s.window << advance
            };
            s.window |= 1;
            s.highest = seq;
            s.distinct += 1;
        } else {
            let back = s.highest - seq;
            if back < WINDOW && s.window & (1u128 << back) != 0 {
                self.duplicates += 1;
                return;
            }
            if back < WINDOW {
                s.window |= 1u128 << back;
            }
            self.reordered += 1;
            s.distinct += 1;
            if seq < s.first {
                s.first = seq;
            }
        }
    }
}

/// Everything a client received, as [`Client::receive_report`](crate::Client::receive_report)
/// returns it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiveReport {
    pub streams: BTreeMap<(PeerId, Source), StreamStats>,
    /// Packets whose payload was not a synthetic one.
    pub undecodable: u64,
    /// Packets that arrived on a mid no `slot` message had assigned.
    pub unlabeled: u64,
    /// Packets whose payload named another publisher or source than the slot's track.
    pub mislabeled: u64,
}

impl ReceiveReport {
    /// Counts one decoded packet.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        stamp: &Stamp,
        at: Instant,
        now_unix_us: u64,
        bytes: usize,
        mid: &str,
        slot: Option<(PeerId, Source, TrackId)>,
        segment_gap: Duration,
    ) {
        let latency_us = now_unix_us.saturating_sub(stamp.sent_unix_us);
        let key = (stamp.peer, stamp.source);
        let stream = match self.streams.get_mut(&key) {
            Some(stream) => {
                stream.record(stamp, at, bytes, mid, latency_us, segment_gap);
                stream
            }
            None => self
                .streams
                .entry(key)
                .or_insert_with(|| StreamStats::new(stamp, at, bytes, mid, latency_us)),
        };
        match slot {
            None => self.unlabeled += 1,
            Some((peer, source, track)) if (peer, source) == key => stream.track_id = Some(track),
            Some(_) => self.mislabeled += 1,
        }
    }
}

/// What a client sent on one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentStats {
    pub packets: u64,
    pub bytes: u64,
    /// Video: frames; audio: packets.
    pub frames: u64,
    pub keyframes: u64,
    /// PLI/FIR the server sent for this source.
    pub keyframe_requests: u64,
    /// Datagrams the socket would not take (counted once per datagram, any source).
    pub send_errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_millis(300);

    struct Feed {
        report: ReceiveReport,
        start: Instant,
        generation: u32,
    }

    impl Feed {
        fn new() -> Feed {
            Feed {
                report: ReceiveReport::default(),
                start: Instant::now(),
                generation: 1,
            }
        }

        /// Packet `seq` arrives `at_ms` after the start, sent `latency_us` earlier.
        fn arrive(&mut self, seq: u64, at_ms: u64, latency_us: u64) {
            let sent = 1_000_000_000 + at_ms * 1000;
            let stamp = Stamp {
                peer: PeerId::new(1),
                source: Source::Audio,
                generation: self.generation,
                seq,
                sent_unix_us: sent - latency_us,
                frame: seq as u32,
                keyframe: false,
                end_of_frame: true,
            };
            let slot = Some((PeerId::new(1), Source::Audio, TrackId::new(9)));
            self.report.record(
                &stamp,
                self.start + Duration::from_millis(at_ms),
                sent,
                100,
                "3",
                slot,
                GAP,
            );
        }

        fn stats(&self) -> &StreamStats {
            &self.report.streams[&(PeerId::new(1), Source::Audio)]
        }
    }

    #[test]
    fn a_clean_stream_has_no_loss() {
        let mut f = Feed::new();
        for seq in 10..60 {
            f.arrive(seq, seq * 20, 500);
        }
        let s = f.stats();
        assert_eq!((s.packets, s.lost, s.gaps, s.expected()), (50, 0, 0, 50));
        assert_eq!(s.bytes, 5000);
        assert_eq!(s.track_id, Some(TrackId::new(9)));
        assert_eq!(s.span(), Duration::from_millis(49 * 20));
        assert_eq!(s.latency.p95(), Some(Duration::from_micros(500)));
        assert_eq!(f.report.unlabeled + f.report.mislabeled, 0);
    }

    #[test]
    fn holes_count_as_loss_and_late_arrivals_fill_them() {
        let mut f = Feed::new();
        for seq in [0, 1, 2, 5, 6, 9] {
            f.arrive(seq, seq * 20, 1000);
        }
        assert_eq!((f.stats().lost, f.stats().gaps), (4, 2));
        assert_eq!(f.stats().loss_ratio(), 0.4);
        f.arrive(3, 200, 1000); // late
        assert_eq!((f.stats().lost, f.stats().reordered), (3, 1));
        f.arrive(3, 201, 1000); // and again
        assert_eq!((f.stats().lost, f.stats().duplicates), (3, 1));
        assert_eq!(f.stats().expected(), 10);
    }

    #[test]
    fn a_packet_older_than_the_first_widens_the_segment() {
        let mut f = Feed::new();
        f.arrive(5, 0, 0);
        f.arrive(4, 1, 0);
        f.arrive(6, 2, 0);
        assert_eq!((f.stats().lost, f.stats().reordered), (0, 1));
    }

    #[test]
    fn a_long_silence_or_a_new_generation_starts_a_new_segment() {
        let mut f = Feed::new();
        for seq in 0..10 {
            f.arrive(seq, seq * 20, 0);
        }
        // Unrouted for a second: 50 packets the receiver was never meant to get.
        for seq in 60..70 {
            f.arrive(seq, 1200 + seq * 20, 0);
        }
        assert_eq!((f.stats().lost, f.stats().resumptions), (0, 1));
        // A hole inside the new segment is loss.
        f.arrive(72, 2700, 0);
        assert_eq!(f.stats().lost, 2);
        // The sender restarts: numbers start over, earlier loss stays counted.
        f.generation = 2;
        f.arrive(0, 2720, 0);
        f.arrive(1, 2740, 0);
        assert_eq!((f.stats().lost, f.stats().resumptions), (2, 2));
        assert_eq!(f.stats().generation, 2);
    }

    #[test]
    fn slot_labels_are_checked_against_the_payload() {
        let mut r = ReceiveReport::default();
        let stamp = Stamp {
            peer: PeerId::new(1),
            source: Source::Video,
            generation: 1,
            seq: 0,
            sent_unix_us: 0,
            frame: 0,
            keyframe: true,
            end_of_frame: false,
        };
        let now = Instant::now();
        r.record(&stamp, now, 0, 10, "1", None, GAP);
        let other = Some((PeerId::new(2), Source::Video, TrackId::new(1)));
        r.record(&stamp, now, 0, 10, "1", other, GAP);
        assert_eq!((r.unlabeled, r.mislabeled), (1, 1));
        assert_eq!(
            r.streams[&(PeerId::new(1), Source::Video)].keyframe_packets,
            2
        );
    }
}
