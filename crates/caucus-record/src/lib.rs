//! # caucus-record — RTP in, per-track WebM out, with no IO of its own
//!
//! **What it is.** The pure pieces of recording one RTP track to a WebM file that standard
//! tools play (ffprobe, ffmpeg, browsers, mkvinfo):
//! - [`Reorder`]: puts packets back in sequence order within a small window (so a NACK
//!   retransmission that arrives late still lands in its frame) and reports gaps;
//! - [`vp8`]: the RFC 7741 payload descriptor, frame reassembly by timestamp and marker bit,
//!   keyframe detection (the picture size comes from the keyframe header); a frame with a
//!   hole is dropped, and after a dropped frame nothing is written until the next keyframe,
//!   so the file never holds a picture that references something missing;
//! - [`opus`]: one packet is one frame; the `OpusHead` the Matroska codec mapping needs, and
//!   packet durations from the TOC byte;
//! - [`FrameAssembler`]: the above for one track plus the timeline — RTP timestamps unwrapped
//!   and made relative to the first frame, in milliseconds, never going backwards;
//! - [`WebmWriter`]: a Matroska/WebM muxer for one track — EBML header, a Segment whose size
//!   is patched at the end, a SeekHead, Info (Duration patched at the end), Tracks, Clusters of
//!   SimpleBlocks (video clusters start at keyframes), and Cues; [`repair`] finishes a file
//!   whose writer never did (the process died), from the clusters it holds.
//!
//! **What it is not.** It reads no clock (time is RTP time), opens no file, spawns no thread:
//! bytes go to the `Write + Seek` the caller hands in. It does not decode media: a frame is
//! copied as it arrived. It knows nothing about rooms, peers or recordings — the shell does.
//!
//! **How to drive it.**
//! ```
//! use std::io::Cursor;
//! use caucus_record::{Codec, FrameAssembler, RtpPacket, TrackSpec, WebmWriter};
//!
//! let mut assembler = FrameAssembler::new(Codec::Opus);
//! let mut frames = Vec::new();
//! for i in 0..50u32 {
//!     let packet = RtpPacket { seq: u64::from(i), timestamp: 960 * i, marker: false,
//!                              payload: vec![0x78, 1, 2, 3] };
//!     assembler.push(packet, &mut frames);
//! }
//! assembler.finish(&mut frames);
//! let spec = TrackSpec::for_first_frame(Codec::Opus, &frames[0]).unwrap();
//! let mut writer = WebmWriter::new(Cursor::new(Vec::new()), spec, 1).unwrap();
//! for frame in &frames {
//!     writer.write_frame(frame.time_ms, frame.keyframe, &frame.data).unwrap();
//! }
//! let (file, summary) = writer.finish(assembler.end_ms()).unwrap();
//! assert_eq!(summary.duration_ms, 1000);
//! assert!(file.into_inner().starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
//! ```

mod assembler;
mod ebml;
pub mod opus;
mod reorder;
mod repair;
pub mod vp8;
mod webm;

pub use assembler::{Codec, FrameAssembler, TimedFrame};
pub use reorder::{Ordered, Reorder};
pub use repair::{Repaired, repair};
pub use webm::{Summary, TrackSpec, WebmWriter};

/// One RTP packet of a track, as the media plane hands it over (decrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// The extended sequence number (no wrap at 65 536).
    pub seq: u64,
    /// The RTP timestamp (wraps at 2^32; [`FrameAssembler`] unwraps it).
    pub timestamp: u32,
    /// The RTP marker bit: for video, the last packet of a frame.
    pub marker: bool,
    pub payload: Vec<u8>,
}
