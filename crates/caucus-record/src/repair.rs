//! Finishing a file whose writer never finished (the process died): what it holds is read
//! back, and it is given the end [`crate::WebmWriter::finish`] would have written.
//!
//! A file the writer was cut off in holds its head (Segment of unknown size, Duration 0) and
//! the clusters flushed before the end; the last of them may be cut short. [`repair`] keeps
//! every whole cluster, writes the Cues after the last one, patches the Segment size, the
//! Duration and the SeekHead, and says where the file now ends: the caller cuts it there
//! (this crate has no file to truncate). A finished file is read the same way and comes out
//! the same.

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::Codec;
use crate::ebml::id;
use crate::opus;
use crate::webm::{Layout, SEEK_HEAD_ROOM, Summary, write_tail};

/// What a repaired file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    pub codec: Codec,
    /// `bytes` is where the file ends now: cut it there.
    pub summary: Summary,
}

/// A cluster larger than this is not one the writer made (it holds at most 30 s of a track).
const MAX_CLUSTER_BYTES: u64 = 64 * 1024 * 1024;

/// Read back a file [`crate::WebmWriter`] wrote, finished or not, and finish it. `Ok(None)`
/// when it holds no frame (nothing worth keeping); `InvalidData` when it is not a file of that
/// writer.
pub fn repair<F: Read + Write + Seek>(file: &mut F) -> io::Result<Option<Repaired>> {
    let len = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let mut reader = Reader { file, len };

    let ebml = reader.header()?.ok_or_else(|| invalid("no EBML header"))?;
    if ebml.id != id::EBML {
        return Err(invalid("no EBML header"));
    }
    reader.skip(&ebml)?;
    let segment = reader.header()?.ok_or_else(|| invalid("no Segment"))?;
    if segment.id != id::SEGMENT {
        return Err(invalid("no Segment"));
    }
    let segment_start = segment.data_at;
    let segment_end = segment.size.map_or(len, |s| (segment_start + s).min(len));

    let mut seek_head_at = None;
    let mut info = None;
    let mut tracks_at = None;
    let mut codec = None;
    let mut read = Clusters::default();
    let mut at = segment_start;
    while at < segment_end {
        reader.file.seek(SeekFrom::Start(at))?;
        let Some(element) = reader.header()? else {
            break;
        };
        let Some(size) = element.size else {
            break;
        };
        let end = element.data_at + size;
        if end > len {
            // Cut short by the crash.
            break;
        }
        match element.id {
            // The room for the SeekHead: a Void, or (finished) a SeekHead and a Void.
            id::VOID | id::SEEK_HEAD if at == segment_start => {
                seek_head_at = Some(at);
                at += SEEK_HEAD_ROOM as u64;
                continue;
            }
            id::INFO => {
                let body = reader.body(&element)?;
                let duration = find(&body, id::DURATION)
                    .filter(|(_, data)| data.len() == 8)
                    .ok_or_else(|| invalid("no 8-byte Duration in Info"))?;
                info = Some((at, element.data_at + duration.0 as u64));
            }
            id::TRACKS => {
                let body = reader.body(&element)?;
                let entry = find(&body, id::TRACK_ENTRY).ok_or_else(|| invalid("no TrackEntry"))?;
                codec = match find(entry.1, id::CODEC_ID).map(|(_, c)| c) {
                    Some(b"A_OPUS") => Some(Codec::Opus),
                    Some(b"V_VP8") => Some(Codec::Vp8),
                    _ => return Err(invalid("a codec the writer does not write")),
                };
                tracks_at = Some(at);
            }
            id::CLUSTER if size <= MAX_CLUSTER_BYTES => {
                let body = reader.body(&element)?;
                if !read.cluster(&body, at - segment_start) {
                    break;
                }
            }
            // The Cues are written again; anything else is not the writer's.
            _ => break,
        }
        at = end;
    }
    let (Some(seek_head_at), Some((info_at, duration_at)), Some(tracks_at), Some(codec)) =
        (seek_head_at, info, tracks_at, codec)
    else {
        return Err(invalid("the head is incomplete"));
    };
    if read.frames == 0 {
        return Ok(None);
    }
    let duration_ms = read.end_ms(codec);
    let layout = Layout {
        segment_start,
        segment_size_at: segment_start - 8,
        seek_head_at,
        duration_at,
        info_at,
        tracks_at,
    };
    if segment.size_len != 8 {
        return Err(invalid("the Segment size is not patchable"));
    }
    reader.file.seek(SeekFrom::Start(at))?;
    let bytes = write_tail(reader.file, &layout, &read.cues, duration_ms)?;
    reader.file.flush()?;
    Ok(Some(Repaired {
        codec,
        summary: Summary {
            frames: read.frames,
            keyframes: read.keyframes,
            duration_ms,
            bytes,
        },
    }))
}

/// What the whole clusters held.
#[derive(Debug, Default)]
struct Clusters {
    frames: u64,
    keyframes: u64,
    /// `(time, position in the Segment)` of each cluster that starts with a keyframe.
    cues: Vec<(u64, u64)>,
    last_ms: u64,
    previous_ms: u64,
    /// The last frame's first byte (an Opus TOC tells its duration).
    last_toc: Option<[u8; 2]>,
}

impl Clusters {
    /// Count one cluster's blocks; false (nothing counted) when it does not parse.
    fn cluster(&mut self, body: &[u8], position: u64) -> bool {
        let mut start = None;
        let mut blocks = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let Some((element_id, data_at, size)) = element(body, at) else {
                return false;
            };
            let Some(data) = body.get(data_at..data_at + size) else {
                return false;
            };
            match element_id {
                id::TIMESTAMP => start = Some(uint(data)),
                id::SIMPLE_BLOCK if data.len() >= 4 => {
                    let offset = i16::from_be_bytes([data[1], data[2]]);
                    blocks.push((offset, data[3] & 0x80 != 0, &data[4..]));
                }
                _ => return false,
            }
            at = data_at + size;
        }
        let Some(start) = start else {
            return false;
        };
        if blocks.first().is_some_and(|(_, keyframe, _)| *keyframe) {
            self.cues.push((start, position));
        }
        for (offset, keyframe, frame) in blocks {
            let time = start.saturating_add_signed(i64::from(offset));
            self.previous_ms = self.last_ms;
            self.last_ms = time;
            self.frames += 1;
            self.keyframes += u64::from(keyframe);
            self.last_toc = Some([
                frame.first().copied().unwrap_or(0),
                frame.get(1).copied().unwrap_or(0),
            ]);
        }
        true
    }

    /// The end of the last frame: its Opus duration, or (video) the gap before it again.
    fn end_ms(&self, codec: Codec) -> u64 {
        let last = match (codec, self.last_toc) {
            (Codec::Opus, Some(toc)) => opus::packet_samples(&toc).map_or(0, |samples| {
                u64::from(samples) * 1000 / u64::from(opus::SAMPLE_RATE)
            }),
            _ if self.frames > 1 => self.last_ms - self.previous_ms,
            _ => 0,
        };
        self.last_ms + last
    }
}

struct Header {
    id: u32,
    data_at: u64,
    /// `None`: unknown (all ones).
    size: Option<u64>,
    size_len: usize,
}

struct Reader<'a, F> {
    file: &'a mut F,
    len: u64,
}

impl<F: Read + Seek> Reader<'_, F> {
    /// The element header at the current position; `None` at (or cut short by) the end.
    fn header(&mut self) -> io::Result<Option<Header>> {
        let start = self.file.stream_position()?;
        let mut head = [0u8; 12];
        let available = usize::try_from(self.len.saturating_sub(start))
            .unwrap_or(usize::MAX)
            .min(head.len());
        self.file.read_exact(&mut head[..available])?;
        let Some((element_id, data_at, size, size_len)) = header(&head[..available]) else {
            return Ok(None);
        };
        Ok(Some(Header {
            id: element_id,
            data_at: start + data_at as u64,
            size,
            size_len,
        }))
    }

    fn skip(&mut self, element: &Header) -> io::Result<()> {
        let size = element
            .size
            .ok_or_else(|| invalid("an element of unknown size"))?;
        self.file.seek(SeekFrom::Start(element.data_at + size))?;
        Ok(())
    }

    fn body(&mut self, element: &Header) -> io::Result<Vec<u8>> {
        let size = element
            .size
            .ok_or_else(|| invalid("an element of unknown size"))?;
        let mut body = vec![0; usize::try_from(size).map_err(|_| invalid("too large"))?];
        self.file.seek(SeekFrom::Start(element.data_at))?;
        self.file.read_exact(&mut body)?;
        Ok(body)
    }
}

/// `(id, data offset, size or unknown, size length)` of the element header starting `bytes`.
fn header(bytes: &[u8]) -> Option<(u32, usize, Option<u64>, usize)> {
    let first = *bytes.first()?;
    let id_len = first.leading_zeros() as usize + 1;
    if id_len > 4 || bytes.len() < id_len {
        return None;
    }
    let element_id = bytes[..id_len]
        .iter()
        .fold(0u32, |v, b| (v << 8) | u32::from(*b));
    let size_first = *bytes.get(id_len)?;
    let size_len = size_first.leading_zeros() as usize + 1;
    if size_len > 8 || bytes.len() < id_len + size_len {
        return None;
    }
    let mask = if size_len == 8 { 0 } else { 0xFFu8 >> size_len };
    let mut size = u64::from(size_first & mask);
    for b in &bytes[id_len + 1..id_len + size_len] {
        size = (size << 8) | u64::from(*b);
    }
    let unknown = size == (1u64 << (7 * size_len)) - 1;
    Some((
        element_id,
        id_len + size_len,
        (!unknown).then_some(size),
        size_len,
    ))
}

/// `(id, data offset, size)` of the element at `at` of an in-memory body (known sizes only).
fn element(body: &[u8], at: usize) -> Option<(u32, usize, usize)> {
    let (element_id, data, size, _) = header(body.get(at..)?)?;
    Some((element_id, at + data, usize::try_from(size?).ok()?))
}

/// The first child `wanted` of a master element's body: `(data offset, data)`.
fn find(body: &[u8], wanted: u32) -> Option<(usize, &[u8])> {
    let mut at = 0;
    while at < body.len() {
        let (element_id, data_at, size) = element(body, at)?;
        let data = body.get(data_at..data_at + size)?;
        if element_id == wanted {
            return Some((data_at, data));
        }
        at = data_at + size;
    }
    None
}

fn uint(data: &[u8]) -> u64 {
    data.iter().fold(0, |v, b| (v << 8) | u64::from(*b))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not a caucus WebM file: {what}"),
    )
}
