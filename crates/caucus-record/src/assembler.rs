//! One track's packets in, timed frames out.

use crate::reorder::{Ordered, Reorder};
use crate::{RtpPacket, opus, vp8};

/// The codecs a track can be recorded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Opus,
    Vp8,
}

impl Codec {
    /// RTP clock rate.
    pub const fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            Codec::Vp8 => 90_000,
        }
    }

    /// How many packets may wait for a late one: a video frame spans many packets and a
    /// retransmission takes a round trip; audio has no retransmission.
    const fn reorder_window(self) -> usize {
        match self {
            Codec::Opus => 8,
            Codec::Vp8 => 64,
        }
    }
}

/// A frame on the recording's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedFrame {
    /// Milliseconds since the track's first frame.
    pub time_ms: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// Turns one track's RTP packets into frames on a millisecond timeline: reordering, then
/// depacketizing, then timestamps unwrapped (RTP timestamps wrap at 2^32) and made relative
/// to the first frame. A frame whose time would go backwards is dropped.
#[derive(Debug, Clone)]
pub struct FrameAssembler {
    codec: Codec,
    reorder: Reorder,
    vp8: vp8::Depacketizer,
    ordered: Vec<Ordered>,
    frames: Vec<vp8::Frame>,
    /// The last RTP timestamp seen and its unwrapped value.
    unwrap: Option<(u32, i64)>,
    first: Option<i64>,
    last_ms: Option<u64>,
    /// How long the last frame plays (Opus: from its TOC; video: the last frame interval).
    last_duration_ms: u64,
    dropped: u64,
}

impl FrameAssembler {
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            reorder: Reorder::new(codec.reorder_window()),
            vp8: vp8::Depacketizer::new(),
            ordered: Vec::new(),
            frames: Vec::new(),
            unwrap: None,
            first: None,
            last_ms: None,
            last_duration_ms: 0,
            dropped: 0,
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Take one packet; append the frames it completes to `out`.
    pub fn push(&mut self, packet: RtpPacket, out: &mut Vec<TimedFrame>) {
        self.reorder.push(packet, &mut self.ordered);
        self.drain(out);
    }

    /// The track ended: deliver what is still held.
    pub fn finish(&mut self, out: &mut Vec<TimedFrame>) {
        self.reorder.flush(&mut self.ordered);
        self.drain(out);
        if self.codec == Codec::Vp8 {
            self.vp8.finish();
        }
    }

    /// Where the last frame ends, in milliseconds since the first: the file's duration.
    pub fn end_ms(&self) -> u64 {
        self.last_ms.map_or(0, |last| last + self.last_duration_ms)
    }

    /// Whether video waits for a keyframe (the shell may ask the publisher for one).
    pub fn needs_keyframe(&self) -> bool {
        self.codec == Codec::Vp8 && self.vp8.needs_keyframe()
    }

    /// Frames dropped: incomplete, undecodable for want of a keyframe, or out of time order.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped + self.vp8.dropped_frames()
    }

    fn drain(&mut self, out: &mut Vec<TimedFrame>) {
        let ordered = std::mem::take(&mut self.ordered);
        match self.codec {
            Codec::Vp8 => {
                for item in ordered {
                    self.vp8.push(item, &mut self.frames);
                }
                self.time_frames(out);
            }
            Codec::Opus => {
                for item in ordered {
                    // A lost audio packet is a moment of silence; nothing depends on it.
                    if let Ordered::Packet(p) = item
                        && !p.payload.is_empty()
                    {
                        let duration = opus::packet_samples(&p.payload)
                            .map_or(20, |s| u64::from(s) * 1000 / u64::from(opus::SAMPLE_RATE));
                        self.place(p.timestamp, true, p.payload, duration, out);
                    }
                }
            }
        }
    }

    fn time_frames(&mut self, out: &mut Vec<TimedFrame>) {
        for frame in std::mem::take(&mut self.frames) {
            let interval = self.last_duration_ms;
            self.place(frame.timestamp, frame.keyframe, frame.data, interval, out);
        }
    }

    fn place(
        &mut self,
        timestamp: u32,
        keyframe: bool,
        data: Vec<u8>,
        duration_ms: u64,
        out: &mut Vec<TimedFrame>,
    ) {
        let unwrapped = match self.unwrap {
            None => i64::from(timestamp),
            Some((last, value)) => value + i64::from(timestamp.wrapping_sub(last) as i32),
        };
        self.unwrap = Some((timestamp, unwrapped));
        let first = *self.first.get_or_insert(unwrapped);
        let ticks = unwrapped - first;
        if ticks < 0 {
            self.dropped += 1;
            return;
        }
        let rate = i64::from(self.codec.clock_rate());
        let time_ms = ((ticks * 1000 + rate / 2) / rate) as u64;
        if let Some(last) = self.last_ms {
            if time_ms < last {
                self.dropped += 1;
                return;
            }
            if self.codec == Codec::Vp8 {
                // A video frame lasts until the next one; the last one as long as the one before.
                self.last_duration_ms = time_ms - last;
            }
        }
        if self.codec == Codec::Opus {
            self.last_duration_ms = duration_ms;
        }
        self.last_ms = Some(time_ms);
        out.push(TimedFrame {
            time_ms,
            keyframe,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opus_packet(seq: u64, timestamp: u32) -> RtpPacket {
        RtpPacket {
            seq,
            timestamp,
            marker: false,
            payload: vec![15 << 3, seq as u8],
        }
    }

    #[test]
    fn timestamps_unwrap_across_the_32_bit_boundary() {
        let mut a = FrameAssembler::new(Codec::Opus);
        let mut out = Vec::new();
        let start = u32::MAX - 960 * 2;
        for i in 0..6u32 {
            a.push(
                opus_packet(u64::from(i), start.wrapping_add(960 * i)),
                &mut out,
            );
        }
        let times: Vec<u64> = out.iter().map(|f| f.time_ms).collect();
        assert_eq!(times, vec![0, 20, 40, 60, 80, 100]);
        assert_eq!(a.end_ms(), 120);
    }

    #[test]
    fn audio_keeps_its_timestamps_across_losses() {
        let mut a = FrameAssembler::new(Codec::Opus);
        let mut out = Vec::new();
        for i in [0u32, 1, 2, 5, 6] {
            a.push(opus_packet(u64::from(i), 960 * i), &mut out);
        }
        a.finish(&mut out);
        let times: Vec<u64> = out.iter().map(|f| f.time_ms).collect();
        assert_eq!(times, vec![0, 20, 40, 100, 120]);
    }

    proptest! {
        /// Whatever the starting timestamp and however packets are lost, times never go
        /// backwards and match the RTP clock.
        #[test]
        fn audio_times_follow_the_rtp_clock(
            start in any::<u32>(),
            kept in proptest::collection::vec(any::<bool>(), 1..300),
        ) {
            let mut a = FrameAssembler::new(Codec::Opus);
            let mut out = Vec::new();
            let mut first = None;
            for (i, keep) in kept.iter().enumerate() {
                if *keep {
                    first.get_or_insert(i as u64);
                    a.push(opus_packet(i as u64, start.wrapping_add(960 * i as u32)), &mut out);
                }
            }
            a.finish(&mut out);
            let first = first.unwrap_or(0);
            let expected: Vec<u64> = kept
                .iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .map(|(i, _)| (i as u64 - first) * 20)
                .collect();
            let times: Vec<u64> = out.iter().map(|f| f.time_ms).collect();
            prop_assert_eq!(times, expected);
        }
    }
}
