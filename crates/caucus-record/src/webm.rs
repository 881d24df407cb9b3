//! A WebM (Matroska) muxer for one track.
//!
//! Layout: the EBML header, then one Segment holding a SeekHead, Info, Tracks, the Clusters
//! and, at the end, Cues. Times are in milliseconds (`TimestampScale` 1 000 000 ns).
//!
//! Written front to back, with three places patched by [`WebmWriter::finish`]: the Segment
//! size (unknown until then, which Matroska allows, so an unfinished file still plays), the
//! Duration, and the SeekHead (room reserved as a Void element) that points at the Cues. A
//! cluster is built in memory and written whole when the next one starts.

use std::io::{self, Seek, SeekFrom, Write};

use crate::ebml::{self, id};
use crate::opus;

/// What the one track of a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackSpec {
    Opus { channels: u8 },
    Vp8 { width: u16, height: u16 },
}

impl TrackSpec {
    /// The spec for a track whose first frame is `frame`: the picture size of a VP8 keyframe,
    /// the channel count of an Opus packet. `None` if the frame cannot start a file.
    pub fn for_first_frame(codec: crate::Codec, frame: &crate::TimedFrame) -> Option<TrackSpec> {
        match codec {
            crate::Codec::Vp8 => crate::vp8::keyframe_size(&frame.data)
                .map(|(width, height)| TrackSpec::Vp8 { width, height }),
            crate::Codec::Opus => {
                opus::channels(&frame.data).map(|channels| TrackSpec::Opus { channels })
            }
        }
    }

    fn is_video(self) -> bool {
        matches!(self, TrackSpec::Vp8 { .. })
    }
}

/// What a finished file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub frames: u64,
    pub keyframes: u64,
    /// From the first frame's start to the last frame's end.
    pub duration_ms: u64,
    pub bytes: u64,
}

/// Room kept after the Info for the SeekHead written at the end.
pub(crate) const SEEK_HEAD_ROOM: usize = 80;
/// A cluster's block times are 16-bit signed offsets; start a new cluster well before that.
const MAX_CLUSTER_SPAN_MS: u64 = 30_000;
/// Audio (and video without keyframes for a while) gets a new cluster this often.
const CLUSTER_TARGET_MS: u64 = 5_000;
pub(crate) const TRACK_NUMBER: u8 = 1;

/// Writes one track to `out`. Frames must come in time order (equal times are allowed).
#[derive(Debug)]
pub struct WebmWriter<W: Write + Seek> {
    out: W,
    spec: TrackSpec,
    layout: Layout,
    cluster: Option<Cluster>,
    cues: Vec<(u64, u64)>,
    last_ms: u64,
    frames: u64,
    keyframes: u64,
}

/// Where the places patched at the end are (absolute file offsets).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Where the Segment's data starts: positions inside the Segment count from here.
    pub segment_start: u64,
    pub segment_size_at: u64,
    pub seek_head_at: u64,
    /// The Duration's 8-byte float.
    pub duration_at: u64,
    pub info_at: u64,
    pub tracks_at: u64,
}

#[derive(Debug)]
struct Cluster {
    start_ms: u64,
    body: Vec<u8>,
    starts_with_keyframe: bool,
}

impl<W: Write + Seek> WebmWriter<W> {
    /// Write the file's head: EBML header, Segment start, room for the SeekHead, Info, Tracks.
    /// `track_uid` names the track (any non-zero number; 0 becomes 1).
    pub fn new(mut out: W, spec: TrackSpec, track_uid: u64) -> io::Result<Self> {
        let base = out.stream_position()?;
        let mut head = Vec::with_capacity(256);
        let mut ebml_body = Vec::new();
        ebml::put_uint(&mut ebml_body, id::EBML_VERSION, 1);
        ebml::put_uint(&mut ebml_body, id::EBML_READ_VERSION, 1);
        ebml::put_uint(&mut ebml_body, id::EBML_MAX_ID_LENGTH, 4);
        ebml::put_uint(&mut ebml_body, id::EBML_MAX_SIZE_LENGTH, 8);
        ebml::put_bytes(&mut ebml_body, id::DOC_TYPE, b"webm");
        ebml::put_uint(&mut ebml_body, id::DOC_TYPE_VERSION, 4);
        ebml::put_uint(&mut ebml_body, id::DOC_TYPE_READ_VERSION, 2);
        ebml::put_master(&mut head, id::EBML, &ebml_body);

        ebml::put_id(&mut head, id::SEGMENT);
        let segment_size_at = base + head.len() as u64;
        head.extend_from_slice(&ebml::UNKNOWN_SIZE_8);
        let segment_start = base + head.len() as u64;

        let seek_head_at = base + head.len() as u64;
        ebml::put_void(&mut head, SEEK_HEAD_ROOM);

        let info_at = base + head.len() as u64;
        let mut info = Vec::new();
        ebml::put_uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000);
        ebml::put_bytes(&mut info, id::MUXING_APP, b"caucus-record");
        ebml::put_bytes(&mut info, id::WRITING_APP, b"caucus");
        let duration_offset = info.len();
        ebml::put_float(&mut info, id::DURATION, 0.0);
        ebml::put_id(&mut head, id::INFO);
        ebml::put_size(&mut head, info.len() as u64);
        head.extend_from_slice(&info);
        // Duration is Info's last element: its float is the last 8 bytes written.
        debug_assert_eq!(duration_offset + 11, info.len());
        let duration_at = base + head.len() as u64 - 8;

        let tracks_at = base + head.len() as u64;
        ebml::put_master(&mut head, id::TRACKS, &track_entry(spec, track_uid.max(1)));

        out.write_all(&head)?;
        Ok(Self {
            out,
            spec,
            layout: Layout {
                segment_start,
                segment_size_at,
                seek_head_at,
                duration_at,
                info_at,
                tracks_at,
            },
            cluster: None,
            cues: Vec::new(),
            last_ms: 0,
            frames: 0,
            keyframes: 0,
        })
    }

    /// Add one frame at `time_ms` (from the start of the recording). Audio frames are all
    /// keyframes; a video keyframe starts a new cluster. A frame earlier than the previous one
    /// is refused (`InvalidInput`): the assembler never produces one.
    pub fn write_frame(&mut self, time_ms: u64, keyframe: bool, data: &[u8]) -> io::Result<()> {
        if time_ms < self.last_ms {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frames must come in time order",
            ));
        }
        let keyframe = keyframe || !self.spec.is_video();
        let new_cluster = match &self.cluster {
            None => true,
            Some(c) => {
                let span = time_ms - c.start_ms;
                span >= MAX_CLUSTER_SPAN_MS
                    || span >= CLUSTER_TARGET_MS
                    || (self.spec.is_video() && keyframe && span > 0)
            }
        };
        if new_cluster {
            self.close_cluster()?;
            let mut body = Vec::with_capacity(64 * 1024);
            ebml::put_uint(&mut body, id::TIMESTAMP, time_ms);
            self.cluster = Some(Cluster {
                start_ms: time_ms,
                body,
                starts_with_keyframe: keyframe,
            });
        }
        let Some(cluster) = self.cluster.as_mut() else {
            return Err(io::Error::other("invariant: a cluster is open"));
        };
        let offset = i16::try_from(time_ms - cluster.start_ms)
            .map_err(|_| io::Error::other("invariant: cluster span fits in 16 bits"))?;
        ebml::put_id(&mut cluster.body, id::SIMPLE_BLOCK);
        ebml::put_size(&mut cluster.body, 4 + data.len() as u64);
        cluster.body.push(0x80 | TRACK_NUMBER);
        cluster.body.extend_from_slice(&offset.to_be_bytes());
        cluster.body.push(if keyframe { 0x80 } else { 0x00 });
        cluster.body.extend_from_slice(data);
        self.last_ms = time_ms;
        self.frames += 1;
        self.keyframes += u64::from(keyframe);
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flush what is written so far (every cluster but the one being built) to the output, so
    /// that a process that dies leaves it on disk for [`crate::repair`].
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Write the last cluster and the Cues, patch the Segment size, the Duration (`end_ms`,
    /// at least the last frame's time) and the SeekHead; hand the writer back.
    pub fn finish(mut self, end_ms: u64) -> io::Result<(W, Summary)> {
        self.close_cluster()?;
        let duration_ms = end_ms.max(self.last_ms);
        let end = write_tail(&mut self.out, &self.layout, &self.cues, duration_ms)?;
        self.out.flush()?;
        let summary = Summary {
            frames: self.frames,
            keyframes: self.keyframes,
            duration_ms,
            bytes: end,
        };
        Ok((self.out, summary))
    }

    fn close_cluster(&mut self) -> io::Result<()> {
        let Some(cluster) = self.cluster.take() else {
            return Ok(());
        };
        let position = self.out.stream_position()? - self.layout.segment_start;
        if cluster.starts_with_keyframe {
            self.cues.push((cluster.start_ms, position));
        }
        let mut head = Vec::with_capacity(12);
        ebml::put_id(&mut head, id::CLUSTER);
        ebml::put_size(&mut head, cluster.body.len() as u64);
        self.out.write_all(&head)?;
        self.out.write_all(&cluster.body)
    }
}

/// At the current position (the end of the last cluster): the Cues; then patch the Segment
/// size, the Duration and the SeekHead. Returns the file's end, where the position is left.
pub(crate) fn write_tail<W: Write + Seek>(
    out: &mut W,
    layout: &Layout,
    cue_list: &[(u64, u64)],
    duration_ms: u64,
) -> io::Result<u64> {
    let cues_at = out.stream_position()?;
    let mut cues = Vec::new();
    for (time, position) in cue_list {
        let mut positions = Vec::new();
        ebml::put_uint(&mut positions, id::CUE_TRACK, u64::from(TRACK_NUMBER));
        ebml::put_uint(&mut positions, id::CUE_CLUSTER_POSITION, *position);
        let mut point = Vec::new();
        ebml::put_uint(&mut point, id::CUE_TIME, *time);
        ebml::put_master(&mut point, id::CUE_TRACK_POSITIONS, &positions);
        ebml::put_master(&mut cues, id::CUE_POINT, &point);
    }
    let mut element = Vec::new();
    if !cue_list.is_empty() {
        ebml::put_master(&mut element, id::CUES, &cues);
    }
    out.write_all(&element)?;
    let end = out.stream_position()?;

    out.seek(SeekFrom::Start(layout.duration_at))?;
    out.write_all(&(duration_ms as f64).to_be_bytes())?;

    out.seek(SeekFrom::Start(layout.segment_size_at))?;
    let mut size = Vec::new();
    ebml::put_size_fixed(&mut size, end - layout.segment_start, 8);
    out.write_all(&size)?;

    let mut seek_head = Vec::new();
    let mut seeks = vec![(id::INFO, layout.info_at), (id::TRACKS, layout.tracks_at)];
    if !cue_list.is_empty() {
        seeks.push((id::CUES, cues_at));
    }
    for (target, at) in seeks {
        let mut seek = Vec::new();
        let mut target_id = Vec::new();
        ebml::put_id(&mut target_id, target);
        ebml::put_bytes(&mut seek, id::SEEK_ID, &target_id);
        ebml::put_uint_fixed(&mut seek, id::SEEK_POSITION, at - layout.segment_start);
        ebml::put_master(&mut seek_head, id::SEEK, &seek);
    }
    let mut room = Vec::with_capacity(SEEK_HEAD_ROOM);
    ebml::put_master(&mut room, id::SEEK_HEAD, &seek_head);
    let filler = SEEK_HEAD_ROOM - room.len();
    if filler > 0 {
        ebml::put_void(&mut room, filler);
    }
    debug_assert_eq!(room.len(), SEEK_HEAD_ROOM);
    out.seek(SeekFrom::Start(layout.seek_head_at))?;
    out.write_all(&room)?;

    out.seek(SeekFrom::Start(end))?;
    Ok(end)
}

fn track_entry(spec: TrackSpec, uid: u64) -> Vec<u8> {
    let mut entry = Vec::new();
    ebml::put_uint(&mut entry, id::TRACK_NUMBER, u64::from(TRACK_NUMBER));
    ebml::put_uint(&mut entry, id::TRACK_UID, uid);
    ebml::put_uint(&mut entry, id::FLAG_LACING, 0);
    match spec {
        TrackSpec::Vp8 { width, height } => {
            ebml::put_uint(&mut entry, id::TRACK_TYPE, 1);
            ebml::put_bytes(&mut entry, id::CODEC_ID, b"V_VP8");
            let mut video = Vec::new();
            ebml::put_uint(&mut video, id::PIXEL_WIDTH, u64::from(width));
            ebml::put_uint(&mut video, id::PIXEL_HEIGHT, u64::from(height));
            ebml::put_master(&mut entry, id::VIDEO, &video);
        }
        TrackSpec::Opus { channels } => {
            ebml::put_uint(&mut entry, id::TRACK_TYPE, 2);
            ebml::put_bytes(&mut entry, id::CODEC_ID, b"A_OPUS");
            ebml::put_bytes(&mut entry, id::CODEC_PRIVATE, &opus::opus_head(channels));
            // The pre-skip in nanoseconds, and the 80 ms pre-roll Matroska asks for Opus.
            let pre_skip_ns = u64::from(opus::PRE_SKIP) * 1_000_000_000 / 48_000;
            ebml::put_uint(&mut entry, id::CODEC_DELAY, pre_skip_ns);
            ebml::put_uint(&mut entry, id::SEEK_PRE_ROLL, 80_000_000);
            let mut audio = Vec::new();
            ebml::put_float(
                &mut audio,
                id::SAMPLING_FREQUENCY,
                f64::from(opus::SAMPLE_RATE),
            );
            ebml::put_uint(&mut audio, id::CHANNELS, u64::from(channels.clamp(1, 2)));
            ebml::put_master(&mut entry, id::AUDIO, &audio);
        }
    }
    let mut out = Vec::new();
    ebml::put_master(&mut out, id::TRACK_ENTRY, &entry);
    out
}
