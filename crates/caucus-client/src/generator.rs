//! Synthetic media sources: Opus-shaped audio every 20 ms and VP8-shaped video frames, stamped
//! so that receivers can tell exactly what arrived from whom (see [`crate::payload`]).
//!
//! A generator only decides *what* to send and *when*; the media peer writes the packets. It
//! never reads the clock: `now` and the wall-clock stamp are arguments.

use std::time::{Duration, Instant};

use caucus_proto::{PeerId, Source};

use crate::payload::{OPUS_TOC, Stamp, encode, vp8_prefix};

/// How a synthetic audio source behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioProfile {
    /// Time between packets (Opus frame length).
    pub interval: Duration,
    /// Payload size in bytes, trailer included (80 B every 20 ms ≈ 32 kbit/s).
    pub packet_bytes: usize,
}

impl Default for AudioProfile {
    fn default() -> Self {
        AudioProfile {
            interval: Duration::from_millis(20),
            packet_bytes: 80,
        }
    }
}

/// How a synthetic video (or screen) source behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoProfile {
    pub fps: u32,
    /// RTP packets per delta frame; keyframes get twice as many.
    pub packets_per_frame: u32,
    /// Payload size of each packet, trailer included.
    pub packet_bytes: usize,
    /// A keyframe every this many frames (0 = only the first and on request).
    pub keyframe_interval: u32,
    pub width: u16,
    pub height: u16,
}

impl Default for VideoProfile {
    /// 15 fps, 3 × 1000 B per frame ≈ 360 kbit/s, a keyframe every 2 s.
    fn default() -> Self {
        VideoProfile {
            fps: 15,
            packets_per_frame: 3,
            packet_bytes: 1000,
            keyframe_interval: 30,
            width: 640,
            height: 360,
        }
    }
}

/// One RTP packet to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Extended RTP sequence number.
    pub rtp_seq: u64,
    pub rtp_time: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
    pub keyframe: bool,
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Audio(AudioProfile),
    Video(VideoProfile),
}

/// One running source.
#[derive(Debug)]
pub struct Generator {
    peer: PeerId,
    source: Source,
    shape: Shape,
    generation: u32,
    seq: u64,
    rtp_seq_base: u64,
    rtp_time: u32,
    frame: u32,
    next_at: Instant,
    paused: bool,
    keyframe_due: bool,
}

impl Generator {
    /// An audio generator whose first packet is due at `now`.
    pub fn audio(
        peer: PeerId,
        source: Source,
        profile: AudioProfile,
        now: Instant,
        seeds: Seeds,
    ) -> Generator {
        Generator::new(peer, source, Shape::Audio(profile), now, seeds)
    }

    /// A video generator whose first frame (a keyframe) is due at `now`.
    pub fn video(
        peer: PeerId,
        source: Source,
        profile: VideoProfile,
        now: Instant,
        seeds: Seeds,
    ) -> Generator {
        Generator::new(peer, source, Shape::Video(profile), now, seeds)
    }

    fn new(peer: PeerId, source: Source, shape: Shape, now: Instant, seeds: Seeds) -> Generator {
        Generator {
            peer,
            source,
            shape,
            generation: seeds.generation,
            seq: 0,
            rtp_seq_base: u64::from(seeds.rtp_seq),
            rtp_time: seeds.rtp_time,
            frame: 0,
            next_at: now,
            paused: false,
            keyframe_due: true,
        }
    }

    pub fn is_video(&self) -> bool {
        matches!(self.shape, Shape::Video(_))
    }

    /// When the next packet (or frame) is due; `None` while paused.
    pub fn due(&self) -> Option<Instant> {
        (!self.paused).then_some(self.next_at)
    }

    /// Pauses or resumes. Nothing is numbered while paused, so a receiver sees no hole.
    pub fn set_paused(&mut self, paused: bool, now: Instant) {
        if self.paused && !paused {
            self.next_at = now;
            // A decoder that waited through the pause needs a picture to start from.
            self.keyframe_due = true;
        }
        self.paused = paused;
    }

    /// The next frame is a keyframe (the server asked for one).
    pub fn request_keyframe(&mut self) {
        self.keyframe_due = true;
    }

    /// The packets due at `now` (one audio packet or one video frame), or nothing. A generator
    /// that fell far behind (a stalled task) skips ahead instead of bursting.
    pub fn poll(&mut self, now: Instant, now_unix_us: u64) -> Vec<Packet> {
        if self.paused || now < self.next_at {
            return Vec::new();
        }
        let interval = self.interval();
        self.next_at += interval;
        if self.next_at + interval * 5 < now {
            self.next_at = now + interval;
        }
        match self.shape {
            Shape::Audio(profile) => vec![self.audio_packet(profile, now_unix_us)],
            Shape::Video(profile) => self.video_frame(profile, now_unix_us),
        }
    }

    fn interval(&self) -> Duration {
        match self.shape {
            Shape::Audio(p) => p.interval,
            Shape::Video(p) => Duration::from_secs(1) / p.fps.max(1),
        }
    }

    fn stamp(&self, now_unix_us: u64, keyframe: bool, end_of_frame: bool) -> Stamp {
        Stamp {
            peer: self.peer,
            source: self.source,
            generation: self.generation,
            seq: self.seq,
            sent_unix_us: now_unix_us,
            frame: self.frame,
            keyframe,
            end_of_frame,
        }
    }

    fn audio_packet(&mut self, profile: AudioProfile, now_unix_us: u64) -> Packet {
        let stamp = self.stamp(now_unix_us, false, true);
        let packet = Packet {
            rtp_seq: self.rtp_seq_base + self.seq,
            rtp_time: self.rtp_time,
            marker: self.seq == 0,
            payload: encode(&[OPUS_TOC], &stamp, profile.packet_bytes),
            keyframe: false,
        };
        self.seq += 1;
        self.frame = self.frame.wrapping_add(1);
        let samples = profile.interval.as_micros() * 48 / 1000;
        self.rtp_time = self.rtp_time.wrapping_add(samples as u32);
        packet
    }

    fn video_frame(&mut self, profile: VideoProfile, now_unix_us: u64) -> Vec<Packet> {
        let periodic =
            profile.keyframe_interval > 0 && self.frame.is_multiple_of(profile.keyframe_interval);
        let keyframe = self.keyframe_due || periodic;
        self.keyframe_due = false;
        let count = profile.packets_per_frame.max(1) * if keyframe { 2 } else { 1 };
        let mut packets = Vec::with_capacity(count as usize);
        for i in 0..count {
            let last = i + 1 == count;
            let prefix = vp8_prefix(i == 0, keyframe, profile.width, profile.height);
            let stamp = self.stamp(now_unix_us, keyframe, last);
            packets.push(Packet {
                rtp_seq: self.rtp_seq_base + self.seq,
                rtp_time: self.rtp_time,
                marker: last,
                payload: encode(&prefix, &stamp, profile.packet_bytes),
                keyframe,
            });
            self.seq += 1;
        }
        self.frame = self.frame.wrapping_add(1);
        self.rtp_time = self.rtp_time.wrapping_add(90_000 / profile.fps.max(1));
        packets
    }
}

/// The random starting points of a stream (drawn by the caller, so generators stay
/// deterministic under test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    pub generation: u32,
    /// Below 2^15, so the extended sequence never starts near a rollover.
    pub rtp_seq: u16,
    pub rtp_time: u32,
}

impl Seeds {
    pub fn random() -> Seeds {
        Seeds {
            generation: rand::random(),
            rtp_seq: rand::random::<u16>() & 0x7fff,
            rtp_time: rand::random(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{decode, vp8_is_keyframe_start};

    const SEEDS: Seeds = Seeds {
        generation: 7,
        rtp_seq: 1000,
        rtp_time: 5,
    };

    #[test]
    fn audio_is_one_packet_every_20_ms() {
        let t0 = Instant::now();
        let mut g = Generator::audio(
            PeerId::new(3),
            Source::Audio,
            AudioProfile::default(),
            t0,
            SEEDS,
        );
        let p = g.poll(t0, 1);
        assert_eq!(p.len(), 1);
        assert!(g.poll(t0 + Duration::from_millis(19), 1).is_empty());
        let q = g.poll(t0 + Duration::from_millis(20), 2);
        assert_eq!((q[0].rtp_seq, q[0].rtp_time), (1001, 5 + 960));
        let s = decode(&q[0].payload).expect("synthetic");
        assert_eq!(
            (s.peer, s.source, s.seq, s.generation),
            (PeerId::new(3), Source::Audio, 1, 7)
        );
        assert_eq!(q[0].payload.len(), 80);
    }

    #[test]
    fn video_frames_share_a_timestamp_and_mark_their_last_packet() {
        let t0 = Instant::now();
        let profile = VideoProfile::default();
        let mut g = Generator::video(PeerId::new(3), Source::Video, profile, t0, SEEDS);
        let key = g.poll(t0, 0);
        assert_eq!(key.len(), 6, "a keyframe is twice as large");
        assert!(vp8_is_keyframe_start(&key[0].payload));
        assert!(key.iter().all(|p| p.keyframe && p.rtp_time == 5));
        assert_eq!(key.iter().filter(|p| p.marker).count(), 1);
        assert!(key[5].marker);
        let delta = g.poll(t0 + Duration::from_millis(67), 0);
        assert_eq!(delta.len(), 3);
        assert!(!vp8_is_keyframe_start(&delta[0].payload));
        assert_eq!(delta[0].rtp_time, 5 + 6000);
        assert_eq!(
            delta[0].rtp_seq, 1006,
            "sequence numbers run on across frames"
        );
        g.request_keyframe();
        let asked = g.poll(t0 + Duration::from_millis(134), 0);
        assert!(vp8_is_keyframe_start(&asked[0].payload));
    }

    #[test]
    fn a_paused_generator_numbers_nothing() {
        let t0 = Instant::now();
        let mut g = Generator::audio(
            PeerId::new(1),
            Source::Audio,
            AudioProfile::default(),
            t0,
            SEEDS,
        );
        g.poll(t0, 0);
        g.set_paused(true, t0);
        assert_eq!(g.due(), None);
        assert!(g.poll(t0 + Duration::from_secs(1), 0).is_empty());
        let later = t0 + Duration::from_secs(2);
        g.set_paused(false, later);
        let p = g.poll(later, 0);
        assert_eq!(decode(&p[0].payload).expect("synthetic").seq, 1);
    }

    #[test]
    fn a_stalled_generator_skips_ahead_instead_of_bursting() {
        let t0 = Instant::now();
        let mut g = Generator::audio(
            PeerId::new(1),
            Source::Audio,
            AudioProfile::default(),
            t0,
            SEEDS,
        );
        g.poll(t0, 0);
        let late = t0 + Duration::from_secs(1);
        assert_eq!(g.poll(late, 0).len(), 1);
        assert!(g.poll(late, 0).is_empty(), "no burst of 49 packets");
        assert_eq!(g.due(), Some(late + Duration::from_millis(20)));
    }
}
