//! The synthetic media payload: a codec-shaped prefix, padding, and a fixed trailer that says
//! who sent the packet, of which source, in which order and when.
//!
//! The trailer sits at the *end* so the front of the payload can look like the codec the m-line
//! negotiated (an Opus TOC byte; a VP8 payload descriptor and, at the start of a frame, a VP8
//! frame header with a keyframe start code). A receiver decodes the trailer without knowing the
//! codec. All integers are big-endian.
//!
//! ```text
//! ┌────────────── prefix ─────────────┬── padding ──┬───────────── trailer (38 bytes) ─────────────┐
//! │ Opus TOC | VP8 descriptor+header  │  0x00 …     │ peer u64 · source u8 · flags u8 · gen u32 ·  │
//! │                                   │             │ seq u64 · sent_us u64 · frame u32 · "CCU1"   │
//! └───────────────────────────────────┴─────────────┴──────────────────────────────────────────────┘
//! ```

use caucus_proto::{PeerId, Source};

/// The last four bytes of every synthetic payload.
pub const MAGIC: [u8; 4] = *b"CCU1";

/// Length of the trailer, magic included.
pub const TRAILER_LEN: usize = 8 + 1 + 1 + 4 + 8 + 8 + 4 + MAGIC.len();

const FLAG_KEYFRAME: u8 = 0b01;
const FLAG_END_OF_FRAME: u8 = 0b10;

/// What one synthetic packet says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The sending peer.
    pub peer: PeerId,
    /// The source it was published as.
    pub source: Source,
    /// Changes whenever the sender (re)starts the stream; sequence numbers restart with it.
    pub generation: u32,
    /// Per-stream packet counter, from 0, without holes on the sending side.
    pub seq: u64,
    /// Send time, microseconds since the UNIX epoch.
    pub sent_unix_us: u64,
    /// Frame number (video) or packet number (audio).
    pub frame: u32,
    /// The packet belongs to a keyframe.
    pub keyframe: bool,
    /// Last packet of its frame (the RTP marker bit is set on it too).
    pub end_of_frame: bool,
}

/// Why a payload is not a synthetic one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload of {0} bytes is shorter than the trailer")]
    TooShort(usize),
    #[error("payload does not end with the magic")]
    NoMagic,
    #[error("unknown source tag {0}")]
    UnknownSource(u8),
}

/// Builds a payload: `prefix`, zero padding up to `total_len` bytes, then the trailer. A
/// `total_len` too small for prefix and trailer gives exactly prefix + trailer.
pub fn encode(prefix: &[u8], stamp: &Stamp, total_len: usize) -> Vec<u8> {
    let len = total_len.max(prefix.len() + TRAILER_LEN);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(prefix);
    out.resize(len - TRAILER_LEN, 0);
    out.extend_from_slice(&stamp.peer.get().to_be_bytes());
    out.push(source_tag(stamp.source));
    let mut flags = 0;
    if stamp.keyframe {
        flags |= FLAG_KEYFRAME;
    }
    if stamp.end_of_frame {
        flags |= FLAG_END_OF_FRAME;
    }
    out.push(flags);
    out.extend_from_slice(&stamp.generation.to_be_bytes());
    out.extend_from_slice(&stamp.seq.to_be_bytes());
    out.extend_from_slice(&stamp.sent_unix_us.to_be_bytes());
    out.extend_from_slice(&stamp.frame.to_be_bytes());
    out.extend_from_slice(&MAGIC);
    out
}

/// Reads the trailer of a payload.
pub fn decode(payload: &[u8]) -> Result<Stamp, DecodeError> {
    if payload.len() < TRAILER_LEN {
        return Err(DecodeError::TooShort(payload.len()));
    }
    let t = &payload[payload.len() - TRAILER_LEN..];
    if t[TRAILER_LEN - MAGIC.len()..] != MAGIC {
        return Err(DecodeError::NoMagic);
    }
    let mut r = Reader(t);
    let peer = PeerId::new(r.u64());
    let source = source_from_tag(r.u8())?;
    let flags = r.u8();
    Ok(Stamp {
        peer,
        source,
        generation: r.u32(),
        seq: r.u64(),
        sent_unix_us: r.u64(),
        frame: r.u32(),
        keyframe: flags & FLAG_KEYFRAME != 0,
        end_of_frame: flags & FLAG_END_OF_FRAME != 0,
    })
}

/// The Opus TOC byte of a 20 ms full-band hybrid mono frame (config 15, code 0).
pub const OPUS_TOC: u8 = 15 << 3;

/// The front of a VP8 RTP payload (RFC 7741): a one-byte payload descriptor and, on the first
/// packet of a frame, the VP8 frame header — for a keyframe with the `9d 01 2a` start code and
/// the picture size, so an SFU or recorder that sniffs keyframes recognises it.
pub fn vp8_prefix(start_of_frame: bool, keyframe: bool, width: u16, height: u16) -> Vec<u8> {
    // Descriptor: X=0 R=0 N=0 S=start R=0 PID=0.
    let descriptor = if start_of_frame { 0x10 } else { 0x00 };
    let mut out = vec![descriptor];
    if start_of_frame {
        // Frame tag (little-endian, 24 bits): P (0 = key), version 0, show_frame 1, size of the
        // first partition.
        let first_partition: u32 = 64;
        let tag = (first_partition << 5) | (1 << 4) | u32::from(!keyframe);
        out.extend_from_slice(&tag.to_le_bytes()[..3]);
        if keyframe {
            out.extend_from_slice(&[0x9d, 0x01, 0x2a]);
            out.extend_from_slice(&(width & 0x3fff).to_le_bytes());
            out.extend_from_slice(&(height & 0x3fff).to_le_bytes());
        }
    }
    out
}

/// Where the VP8 payload header starts if this RTP payload starts a frame (descriptor S=1,
/// PID=0), past the descriptor's optional extension.
fn vp8_frame_start(payload: &[u8]) -> Option<usize> {
    let descriptor = *payload.first()?;
    let mut at = 1;
    if descriptor & 0x80 != 0 {
        // Extended control bits: I (picture id), L (tl0picidx), T/K (tid/keyidx).
        let ext = *payload.get(at)?;
        at += 1;
        if ext & 0x80 != 0 {
            let long = payload.get(at).is_some_and(|b| b & 0x80 != 0);
            at += if long { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1;
        }
        if ext & 0x30 != 0 {
            at += 1;
        }
    }
    (descriptor & 0x10 != 0 && descriptor & 0x0f == 0).then_some(at)
}

/// Whether a VP8 RTP payload starts a keyframe (descriptor S=1, PID=0, frame tag P=0).
pub fn vp8_is_keyframe_start(payload: &[u8]) -> bool {
    vp8_frame_start(payload).is_some_and(|at| payload.get(at).is_some_and(|tag| tag & 0x01 == 0))
}

/// The picture size a VP8 keyframe's first packet declares (`None` for anything else).
pub fn vp8_keyframe_size(payload: &[u8]) -> Option<(u16, u16)> {
    let at = vp8_frame_start(payload)?;
    let header = payload.get(at..at + 10)?;
    if header[0] & 0x01 != 0 || header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([header[6], header[7]]) & 0x3fff;
    let height = u16::from_le_bytes([header[8], header[9]]) & 0x3fff;
    Some((width, height))
}

fn source_tag(source: Source) -> u8 {
    match source {
        Source::Audio => 0,
        Source::Video => 1,
        Source::Screen => 2,
        Source::ScreenAudio => 3,
    }
}

fn source_from_tag(tag: u8) -> Result<Source, DecodeError> {
    match tag {
        0 => Ok(Source::Audio),
        1 => Ok(Source::Video),
        2 => Ok(Source::Screen),
        3 => Ok(Source::ScreenAudio),
        other => Err(DecodeError::UnknownSource(other)),
    }
}

/// Reads big-endian integers from a slice whose length the caller has checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let (head, tail) = self.0.split_at(N.min(self.0.len()));
        out[..head.len()].copy_from_slice(head);
        self.0 = tail;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            peer: PeerId::new(42),
            source: Source::Screen,
            generation: 0xdead_beef,
            seq: 1 << 40,
            sent_unix_us: 1_700_000_000_123_456,
            frame: 77,
            keyframe: true,
            end_of_frame: false,
        }
    }

    #[test]
    fn a_stamp_round_trips_through_a_padded_payload() {
        let prefix = vp8_prefix(true, true, 640, 360);
        let bytes = encode(&prefix, &stamp(), 1000);
        assert_eq!(bytes.len(), 1000);
        assert!(bytes.starts_with(&prefix));
        assert!(bytes.ends_with(&MAGIC));
        assert_eq!(decode(&bytes), Ok(stamp()));
    }

    #[test]
    fn a_small_target_length_still_holds_prefix_and_trailer() {
        let bytes = encode(&[OPUS_TOC], &stamp(), 3);
        assert_eq!(bytes.len(), 1 + TRAILER_LEN);
        assert_eq!(bytes[0], OPUS_TOC);
        assert_eq!(decode(&bytes), Ok(stamp()));
    }

    #[test]
    fn every_source_and_flag_combination_round_trips() {
        for source in Source::ALL {
            for (keyframe, end_of_frame) in [(false, false), (true, false), (false, true)] {
                let s = Stamp {
                    source,
                    keyframe,
                    end_of_frame,
                    ..stamp()
                };
                assert_eq!(decode(&encode(&[], &s, 0)), Ok(s));
            }
        }
    }

    #[test]
    fn foreign_payloads_are_refused() {
        assert_eq!(decode(b"alice/audio/1"), Err(DecodeError::TooShort(13)));
        assert_eq!(decode(&[0u8; 100]), Err(DecodeError::NoMagic));
        let mut bad = encode(&[], &stamp(), 0);
        bad[8] = 9; // the source tag
        assert_eq!(decode(&bad), Err(DecodeError::UnknownSource(9)));
    }

    #[test]
    fn vp8_prefixes_mark_keyframes_only_at_their_start() {
        let key = vp8_prefix(true, true, 640, 360);
        assert_eq!(&key[4..7], &[0x9d, 0x01, 0x2a]);
        assert_eq!(u16::from_le_bytes([key[7], key[8]]), 640);
        assert_eq!(u16::from_le_bytes([key[9], key[10]]), 360);
        assert!(vp8_is_keyframe_start(&key));
        assert!(!vp8_is_keyframe_start(&vp8_prefix(true, false, 640, 360)));
        assert!(!vp8_is_keyframe_start(&vp8_prefix(false, true, 640, 360)));
        assert!(!vp8_is_keyframe_start(&[]));
        // An extended descriptor with a 15-bit picture id before a keyframe tag.
        assert!(vp8_is_keyframe_start(&[
            0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00
        ]));
    }
}
