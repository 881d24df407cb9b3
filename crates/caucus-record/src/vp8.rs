//! VP8 over RTP (RFC 7741): the payload descriptor, frame reassembly, keyframes.

use crate::RtpPacket;
use crate::reorder::Ordered;

/// The parts of a VP8 payload descriptor a recorder needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// S: the packet starts a VP8 partition.
    pub start: bool,
    /// PID: the partition index.
    pub partition: u8,
    /// N: the frame is not used as a reference by later frames.
    pub non_reference: bool,
    /// How many bytes the descriptor takes; the VP8 data follows.
    pub len: usize,
}

impl Descriptor {
    /// The first packet of a frame: start of partition 0.
    pub fn starts_frame(&self) -> bool {
        self.start && self.partition == 0
    }
}

/// Parse the descriptor at the front of `payload`; `None` if it is cut short.
pub fn parse_descriptor(payload: &[u8]) -> Option<Descriptor> {
    let first = *payload.first()?;
    let mut len = 1;
    if first & 0x80 != 0 {
        let ext = *payload.get(len)?;
        len += 1;
        if ext & 0x80 != 0 {
            // I: a 7- or (M set) 15-bit picture id.
            let picture_id = *payload.get(len)?;
            len += if picture_id & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            len += 1; // L: TL0PICIDX
        }
        if ext & 0x30 != 0 {
            len += 1; // T or K: TID / Y / KEYIDX
        }
    }
    if payload.len() < len {
        return None;
    }
    Some(Descriptor {
        start: first & 0x10 != 0,
        partition: first & 0x07,
        non_reference: first & 0x20 != 0,
        len,
    })
}

/// Whether a VP8 frame (the bitstream, descriptor removed) is a keyframe: the frame tag's P
/// bit is 0 and the keyframe start code follows.
pub fn is_keyframe(frame: &[u8]) -> bool {
    frame.len() >= 10 && frame[0] & 0x01 == 0 && frame[3..6] == [0x9d, 0x01, 0x2a]
}

/// The picture size a keyframe announces (14 bits each; the scaling bits are ignored).
pub fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    if !is_keyframe(frame) {
        return None;
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((width, height))
}

/// A reassembled VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub timestamp: u32,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// Reassembles frames from packets in sequence order: the packets of one frame share a
/// timestamp, the first starts partition 0, the last carries the marker bit (a new timestamp
/// ends a frame whose marker was lost).
///
/// A frame with a hole (a gap inside it, a missing start, a packet that does not parse) is
/// dropped, and so is a frame lost whole in a gap between frames. After such a loss nothing
/// is delivered until a keyframe — a decoder given a frame whose reference is missing shows
/// garbage — unless the lost frame was marked non-reference. The stream starts at a keyframe.
#[derive(Debug, Clone, Default)]
pub struct Depacketizer {
    partial: Option<Partial>,
    /// A gap happened after the last frame ended and before the next one started.
    hole: bool,
    /// A keyframe has been delivered, and no reference frame was lost since.
    in_sync: bool,
    dropped_frames: u64,
}

#[derive(Debug, Clone)]
struct Partial {
    timestamp: u32,
    data: Vec<u8>,
    /// No hole so far.
    intact: bool,
    non_reference: bool,
}

impl Depacketizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take the next packet (or gap) in sequence order; append finished frames to `out`.
    pub fn push(&mut self, item: Ordered, out: &mut Vec<Frame>) {
        match item {
            Ordered::Gap => match &mut self.partial {
                Some(p) => p.intact = false,
                None => self.hole = true,
            },
            Ordered::Packet(packet) => self.packet(packet, out),
        }
    }

    /// The stream ended. A frame still waiting for its marker is dropped: nothing shows
    /// whether its last packets were lost.
    pub fn finish(&mut self) {
        if self.partial.take().is_some() {
            self.dropped_frames += 1;
        }
    }

    /// Frames dropped (holes, or waiting for a keyframe).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
    }

    /// Whether the depacketizer waits for a keyframe (worth asking the publisher for one).
    pub fn needs_keyframe(&self) -> bool {
        !self.in_sync
    }

    fn packet(&mut self, packet: RtpPacket, out: &mut Vec<Frame>) {
        let descriptor = parse_descriptor(&packet.payload);
        let starts = descriptor.is_some_and(|d| d.starts_frame());
        if let Some(p) = &self.partial
            && (p.timestamp != packet.timestamp || starts)
            && let Some(p) = self.partial.take()
        {
            self.close(p, out);
        }
        let hole = std::mem::take(&mut self.hole);
        match (&mut self.partial, descriptor) {
            (Some(p), Some(d)) => p.data.extend_from_slice(&packet.payload[d.len..]),
            (Some(p), None) => p.intact = false,
            (None, Some(d)) if starts => {
                if hole {
                    // Whole packets went missing between two frames: a frame was lost.
                    self.lost(false);
                }
                self.partial = Some(Partial {
                    timestamp: packet.timestamp,
                    data: packet.payload[d.len..].to_vec(),
                    intact: true,
                    non_reference: d.non_reference,
                });
            }
            (None, _) => {
                // A continuation whose start never arrived, or a packet that does not parse.
                self.partial = Some(Partial {
                    timestamp: packet.timestamp,
                    data: Vec::new(),
                    intact: false,
                    non_reference: false,
                });
            }
        }
        if packet.marker
            && let Some(p) = self.partial.take()
        {
            self.close(p, out);
        }
    }

    fn close(&mut self, p: Partial, out: &mut Vec<Frame>) {
        if !p.intact || p.data.is_empty() {
            self.lost(p.non_reference);
            return;
        }
        let keyframe = is_keyframe(&p.data);
        if keyframe {
            self.in_sync = true;
        }
        if !self.in_sync {
            self.dropped_frames += 1;
            return;
        }
        out.push(Frame {
            timestamp: p.timestamp,
            keyframe,
            data: p.data,
        });
    }

    fn lost(&mut self, non_reference: bool) {
        self.dropped_frames += 1;
        if !non_reference {
            self.in_sync = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reorder::Reorder;
    use proptest::prelude::*;

    /// A VP8 frame body: keyframes carry the start code and a picture size.
    fn frame_body(keyframe: bool, n: u8, len: usize) -> Vec<u8> {
        let mut body = vec![if keyframe { 0x10 } else { 0x11 }, 0x02, 0x00];
        if keyframe {
            body.extend_from_slice(&[0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
        }
        body.push(n);
        body.resize(len.max(body.len()), n);
        body
    }

    /// Cut a frame into packets of at most `mtu` body bytes, with an extended descriptor on
    /// some (picture id), the start bit on the first and the marker on the last.
    fn packetize(seq: &mut u64, ts: u32, body: &[u8], mtu: usize, ext: bool) -> Vec<RtpPacket> {
        let chunks: Vec<&[u8]> = body.chunks(mtu).collect();
        let last = chunks.len() - 1;
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, chunk)| {
                let start = if i == 0 { 0x10 } else { 0x00 };
                let mut payload = if ext {
                    vec![0x80 | start, 0x80, 0x80 | 0x12, 0x34]
                } else {
                    vec![start]
                };
                payload.extend_from_slice(chunk);
                *seq += 1;
                RtpPacket {
                    seq: *seq,
                    timestamp: ts,
                    marker: i == last,
                    payload,
                }
            })
            .collect()
    }

    #[test]
    fn descriptors_of_every_shape_parse() {
        assert_eq!(
            parse_descriptor(&[0x10, 0xAA]),
            Some(Descriptor {
                start: true,
                partition: 0,
                non_reference: false,
                len: 1
            })
        );
        // X, I with a 15-bit picture id, L, T.
        let d = parse_descriptor(&[0x90 | 0x20, 0xE0, 0x81, 0x02, 0x05, 0x40, 0xAA]).unwrap();
        assert_eq!(d.len, 6);
        assert!(d.start && d.non_reference && d.starts_frame());
        // X with a 7-bit picture id only.
        assert_eq!(parse_descriptor(&[0x81, 0x80, 0x12]).unwrap().len, 3);
        assert!(
            !parse_descriptor(&[0x11]).unwrap().starts_frame(),
            "partition 1"
        );
        assert_eq!(parse_descriptor(&[0x80]), None);
        assert_eq!(parse_descriptor(&[0x80, 0x80, 0x81]), None);
        assert_eq!(parse_descriptor(&[]), None);
    }

    #[test]
    fn keyframes_announce_their_size() {
        let key = frame_body(true, 1, 40);
        assert!(is_keyframe(&key));
        assert_eq!(keyframe_size(&key), Some((640, 360)));
        assert!(!is_keyframe(&frame_body(false, 1, 40)));
        assert_eq!(keyframe_size(&[0x10, 0, 0]), None);
    }

    /// Every packet in order through a fresh depacketizer: it and the frames it gave.
    fn depacketize(packets: Vec<RtpPacket>) -> (Depacketizer, Vec<Frame>) {
        let mut d = Depacketizer::new();
        let mut out = Vec::new();
        for p in packets {
            d.push(Ordered::Packet(p), &mut out);
        }
        (d, out)
    }

    #[test]
    fn frames_reassemble_and_start_at_a_keyframe() {
        let mut seq = 100;
        let mut packets = packetize(&mut seq, 1000, &frame_body(false, 0, 50), 20, false);
        packets.extend(packetize(
            &mut seq,
            4000,
            &frame_body(true, 1, 50),
            20,
            true,
        ));
        packets.extend(packetize(
            &mut seq,
            7000,
            &frame_body(false, 2, 50),
            20,
            false,
        ));
        let (d, out) = depacketize(packets);
        assert_eq!(
            out.len(),
            2,
            "the delta frame before the keyframe is dropped"
        );
        assert_eq!(
            out[0],
            Frame {
                timestamp: 4000,
                keyframe: true,
                data: frame_body(true, 1, 50)
            }
        );
        assert_eq!(out[1].data, frame_body(false, 2, 50));
        assert_eq!(d.dropped_frames(), 1);
    }

    #[test]
    fn a_hole_drops_the_frame_and_waits_for_a_keyframe() {
        let mut seq = 0;
        let mut packets = packetize(&mut seq, 0, &frame_body(true, 0, 60), 20, false);
        let mut broken = packetize(&mut seq, 3000, &frame_body(false, 1, 60), 20, false);
        broken.remove(1);
        packets.extend(broken);
        packets.extend(packetize(
            &mut seq,
            6000,
            &frame_body(false, 2, 60),
            20,
            false,
        ));
        packets.extend(packetize(
            &mut seq,
            9000,
            &frame_body(true, 3, 60),
            20,
            false,
        ));
        let mut reorder = Reorder::new(4);
        let mut ordered = Vec::new();
        for p in packets {
            reorder.push(p, &mut ordered);
        }
        reorder.flush(&mut ordered);
        let mut d = Depacketizer::new();
        let mut out = Vec::new();
        for item in ordered {
            d.push(item, &mut out);
        }
        let stamps: Vec<u32> = out.iter().map(|f| f.timestamp).collect();
        assert_eq!(stamps, vec![0, 9000]);
        assert!(!d.needs_keyframe());
    }

    #[test]
    fn a_lost_marker_is_recovered_by_the_next_timestamp() {
        let mut seq = 0;
        let mut packets = packetize(&mut seq, 0, &frame_body(true, 0, 30), 20, false);
        packets.last_mut().unwrap().marker = false;
        packets.extend(packetize(
            &mut seq,
            3000,
            &frame_body(false, 1, 30),
            20,
            false,
        ));
        let (_, out) = depacketize(packets);
        assert_eq!(out.len(), 2);
    }

    proptest! {
        /// Whatever is lost: every delivered frame is exactly one that was sent, in order; the
        /// first is a keyframe; after a lost frame the next delivered one is a keyframe. With no
        /// loss, every frame from the first keyframe on is delivered.
        #[test]
        fn delivered_frames_are_whole_sent_frames(
            frames in proptest::collection::vec((any::<bool>(), 1usize..120), 1..40),
            mtu in 5usize..50,
            losses in proptest::collection::btree_set(0usize..400, 0..6),
        ) {
            let mut seq = 0;
            let mut sent = Vec::new();
            let mut packets = Vec::new();
            for (i, (key, len)) in frames.iter().enumerate() {
                let ts = 3000 * i as u32;
                let body = frame_body(*key, i as u8, *len);
                packets.extend(packetize(&mut seq, ts, &body, mtu, i % 2 == 0));
                sent.push(Frame { timestamp: ts, keyframe: *key, data: body });
            }
            let lossless = losses.iter().all(|l| *l >= packets.len());
            let kept: Vec<RtpPacket> = packets
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !losses.contains(i))
                .map(|(_, p)| p)
                .collect();
            let mut reorder = Reorder::new(8);
            let mut ordered = Vec::new();
            for p in kept {
                reorder.push(p, &mut ordered);
            }
            reorder.flush(&mut ordered);
            let mut d = Depacketizer::new();
            let mut out = Vec::new();
            for item in ordered {
                d.push(item, &mut out);
            }
            d.finish();

            let mut last_index = None;
            for frame in &out {
                let index = sent.iter().position(|s| s == frame);
                prop_assert!(index.is_some(), "a delivered frame was never sent whole");
                let index = index.unwrap();
                if last_index.is_none_or(|last: usize| index != last + 1) {
                    prop_assert!(frame.keyframe, "a stream (re)starts at a keyframe");
                }
                prop_assert!(last_index.is_none_or(|last| index > last));
                last_index = Some(index);
            }
            if lossless {
                let first_key = sent.iter().position(|f| f.keyframe);
                let expected: Vec<Frame> = match first_key {
                    Some(k) => sent[k..].to_vec(),
                    None => Vec::new(),
                };
                prop_assert_eq!(out, expected);
            }
        }
    }
}
