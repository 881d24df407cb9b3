//! Files written by the muxer, read back two ways: by a small EBML reader written here from
//! the Matroska specification (independent of the writer's code), and by ffprobe/ffmpeg —
//! "playable by standard tools". `scripts/test-all` installs ffmpeg when it is missing; this
//! test fails without it rather than passing silently.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use caucus_record::{Codec, FrameAssembler, RtpPacket, TrackSpec, WebmWriter, repair};

// ---- an independent EBML reader -----------------------------------------------------------

#[derive(Debug)]
struct Element {
    id: u32,
    /// Offset of the element's data in the file.
    data_at: usize,
    data: Vec<u8>,
    children: Vec<Element>,
}

const MASTERS: &[u32] = &[
    0x1A45_DFA3, // EBML
    0x1853_8067, // Segment
    0x114D_9B74, // SeekHead
    0x4DBB,      // Seek
    0x1549_A966, // Info
    0x1654_AE6B, // Tracks
    0xAE,        // TrackEntry
    0xE0,        // Video
    0xE1,        // Audio
    0x1F43_B675, // Cluster
    0x1C53_BB6B, // Cues
    0xBB,        // CuePoint
    0xB7,        // CueTrackPositions
];

fn vint(bytes: &[u8], at: usize, keep_marker: bool) -> (u64, usize) {
    let first = bytes[at];
    let len = first.leading_zeros() as usize + 1;
    assert!(len <= 8, "bad vint at {at}");
    let mut value = if keep_marker {
        u64::from(first)
    } else {
        u64::from(first) & ((1u64 << (8 - len)) - 1)
    };
    for b in &bytes[at + 1..at + len] {
        value = (value << 8) | u64::from(*b);
    }
    (value, len)
}

fn parse(bytes: &[u8], mut at: usize, end: usize) -> Vec<Element> {
    let mut out = Vec::new();
    while at < end {
        let (id, id_len) = vint(bytes, at, true);
        let (size, size_len) = vint(bytes, at + id_len, false);
        let data_at = at + id_len + size_len;
        let data_end = data_at + size as usize;
        assert!(
            data_end <= end,
            "element {id:#x} at {at} overruns its parent"
        );
        let data = bytes[data_at..data_end].to_vec();
        let children = if MASTERS.contains(&(id as u32)) {
            parse(bytes, data_at, data_end)
        } else {
            Vec::new()
        };
        out.push(Element {
            id: id as u32,
            data_at,
            data,
            children,
        });
        at = data_end;
    }
    out
}

impl Element {
    fn child(&self, id: u32) -> &Element {
        self.children
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id:#x} in {:#x}", self.id))
    }
    fn all(&self, id: u32) -> impl Iterator<Item = &Element> {
        self.children.iter().filter(move |c| c.id == id)
    }
    fn uint(&self) -> u64 {
        self.data.iter().fold(0, |v, b| (v << 8) | u64::from(*b))
    }
    fn float(&self) -> f64 {
        f64::from_be_bytes(self.data.clone().try_into().unwrap())
    }
}

/// (time in ms, keyframe, frame bytes) of every SimpleBlock, in file order.
fn blocks(segment: &Element) -> Vec<(u64, bool, Vec<u8>)> {
    let mut out = Vec::new();
    for cluster in segment.all(0x1F43_B675) {
        let base = cluster.child(0xE7).uint();
        for block in cluster.all(0xA3) {
            let d = &block.data;
            assert_eq!(d[0], 0x81, "track 1");
            let offset = i16::from_be_bytes([d[1], d[2]]);
            out.push((
                (base as i64 + i64::from(offset)) as u64,
                d[3] & 0x80 != 0,
                d[4..].to_vec(),
            ));
        }
    }
    out
}

// ---- media ----------------------------------------------------------------------------------

/// 4 s of 20 ms Opus packets (TOC: hybrid full band, mono), starting near the timestamp wrap.
fn opus_packets() -> Vec<RtpPacket> {
    (0..200u32)
        .map(|i| RtpPacket {
            seq: 5000 + u64::from(i),
            timestamp: (u32::MAX - 48_000).wrapping_add(960 * i),
            marker: i == 0,
            payload: vec![15 << 3, i as u8, 0xAA, 0x55],
        })
        .collect()
}

fn vp8_frame(keyframe: bool, n: u32) -> Vec<u8> {
    let mut frame = vec![if keyframe { 0x10 } else { 0x11 }, 0x02, 0x00];
    if keyframe {
        // Start code, 320 × 240.
        frame.extend_from_slice(&[0x9d, 0x01, 0x2a, 0x40, 0x01, 0xF0, 0x00]);
    }
    frame.extend_from_slice(&n.to_be_bytes());
    frame.resize(if keyframe { 2500 } else { 700 }, n as u8);
    frame
}

/// 3 s of 30 fps VP8 (a keyframe a second), each frame in 1200-byte packets, with a few packets
/// swapped in flight. Returns the packets and the frames they carry.
fn vp8_packets() -> (Vec<RtpPacket>, Vec<Vec<u8>>) {
    let mut packets = Vec::new();
    let mut frames = Vec::new();
    let mut seq = 65_000u64;
    for n in 0..90u32 {
        let frame = vp8_frame(n % 30 == 0, n);
        let chunks: Vec<&[u8]> = frame.chunks(1200).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut payload = vec![if i == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(chunk);
            packets.push(RtpPacket {
                seq,
                timestamp: 123_456 + 3000 * n,
                marker: i == chunks.len() - 1,
                payload,
            });
            seq += 1;
        }
        frames.push(frame);
    }
    for at in [10, 40, 77] {
        packets.swap(at, at + 1);
    }
    (packets, frames)
}

fn record(codec: Codec, packets: Vec<RtpPacket>) -> (Vec<u8>, caucus_record::Summary) {
    let mut assembler = FrameAssembler::new(codec);
    let mut frames = Vec::new();
    for p in packets {
        assembler.push(p, &mut frames);
    }
    assembler.finish(&mut frames);
    let spec = TrackSpec::for_first_frame(codec, &frames[0]).expect("first frame starts a file");
    let mut writer = WebmWriter::new(Cursor::new(Vec::new()), spec, 7).unwrap();
    for f in &frames {
        writer.write_frame(f.time_ms, f.keyframe, &f.data).unwrap();
    }
    let (cursor, summary) = writer.finish(assembler.end_ms()).unwrap();
    (cursor.into_inner(), summary)
}

fn read(bytes: &[u8]) -> Element {
    let top = parse(bytes, 0, bytes.len());
    assert_eq!(top.len(), 2, "EBML header and one Segment");
    let ebml = &top[0];
    assert_eq!(ebml.id, 0x1A45_DFA3);
    assert_eq!(ebml.child(0x4282).data, b"webm");
    let mut top = top;
    let segment = top.remove(1);
    assert_eq!(segment.id, 0x1853_8067);
    segment
}

/// Every SeekHead entry and every Cue points at the element it names.
fn check_positions(bytes: &[u8], segment: &Element) {
    let base = segment.data_at;
    let seek_head = segment.child(0x114D_9B74);
    let mut targets = Vec::new();
    for seek in seek_head.all(0x4DBB) {
        let id = seek.child(0x53AB).uint() as u32;
        let at = base + seek.child(0x53AC).uint() as usize;
        let (found, _) = vint(bytes, at, true);
        assert_eq!(found as u32, id, "seek entry for {id:#x}");
        targets.push(id);
    }
    assert!(targets.contains(&0x1549_A966) && targets.contains(&0x1654_AE6B));
    assert!(
        targets.contains(&0x1C53_BB6B),
        "the SeekHead finds the Cues"
    );
    for point in segment.child(0x1C53_BB6B).all(0xBB) {
        let time = point.child(0xB3).uint();
        let at = base + point.child(0xB7).child(0xF1).uint() as usize;
        let cluster = parse(bytes, at, bytes.len()).remove(0);
        assert_eq!(
            cluster.id, 0x1F43_B675,
            "cue at {time} ms points at a cluster"
        );
        assert_eq!(cluster.child(0xE7).uint(), time);
    }
}

#[test]
fn opus_file_reads_back() {
    let (bytes, summary) = record(Codec::Opus, opus_packets());
    let segment = read(&bytes);
    let info = segment.child(0x1549_A966);
    assert_eq!(info.child(0x2AD7B1).uint(), 1_000_000);
    assert_eq!(info.child(0x4489).float(), 4000.0);
    assert_eq!(summary.duration_ms, 4000);
    let entry = segment.child(0x1654_AE6B).child(0xAE);
    assert_eq!(entry.child(0x86).data, b"A_OPUS");
    assert_eq!(entry.child(0x83).uint(), 2);
    assert_eq!(&entry.child(0x63A2).data[..8], b"OpusHead");
    assert_eq!(
        entry.child(0xE1).child(0x9F).uint(),
        1,
        "mono, from the TOC"
    );
    let blocks = blocks(&segment);
    assert_eq!(blocks.len(), 200);
    for (i, (time, key, data)) in blocks.iter().enumerate() {
        assert_eq!(*time, 20 * i as u64);
        assert!(*key);
        assert_eq!(data[1], i as u8);
    }
    check_positions(&bytes, &segment);
}

#[test]
fn vp8_file_reads_back() {
    let (packets, frames) = vp8_packets();
    let (bytes, summary) = record(Codec::Vp8, packets);
    let segment = read(&bytes);
    let entry = segment.child(0x1654_AE6B).child(0xAE);
    assert_eq!(entry.child(0x86).data, b"V_VP8");
    assert_eq!(entry.child(0x83).uint(), 1);
    let video = entry.child(0xE0);
    assert_eq!(
        (video.child(0xB0).uint(), video.child(0xBA).uint()),
        (320, 240)
    );
    let blocks = blocks(&segment);
    assert_eq!(blocks.len(), 90, "swapped packets are put back in order");
    for (n, (time, key, data)) in blocks.iter().enumerate() {
        assert_eq!(
            *time,
            (n as u64 * 100 + 1) / 3,
            "30 fps on the 90 kHz clock"
        );
        assert_eq!(*key, n % 30 == 0);
        assert_eq!(data, &frames[n]);
    }
    let clusters: Vec<&Element> = segment.all(0x1F43_B675).collect();
    assert_eq!(clusters.len(), 3, "one cluster per keyframe");
    assert_eq!(segment.child(0x1C53_BB6B).all(0xBB).count(), 3);
    assert!((2999..=3001).contains(&summary.duration_ms), "{summary:?}");
    check_positions(&bytes, &segment);
}

// ---- standard tools ------------------------------------------------------------------------

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("`{name}` is missing: install Debian's ffmpeg (scripts/test-all does)")
    })
}

#[allow(clippy::disallowed_methods)] // the test writes a file for ffprobe; the crate never does
fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caucus-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn ffprobe(path: &Path) -> String {
    let out = Command::new(tool("ffprobe"))
        .args(["-v", "error", "-show_entries"])
        .arg("format=format_name,duration:stream=codec_type,codec_name,width,height,channels")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Demux every packet (no decoding: the frames are synthetic) and report container errors.
fn ffmpeg_reads_every_packet(path: &Path) -> usize {
    let out = Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0", "-c", "copy", "-f", "framecrc", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffmpeg: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
}

#[test]
fn standard_tools_read_the_files() {
    let (opus, _) = record(Codec::Opus, opus_packets());
    let path = write_temp("audio.webm", &opus);
    let probe = ffprobe(&path);
    assert!(probe.contains("codec_name=opus"), "{probe}");
    assert!(probe.contains("codec_type=audio"), "{probe}");
    assert!(probe.contains("format_name=matroska,webm"), "{probe}");
    assert!(probe.contains("duration=4.0"), "{probe}");
    assert_eq!(ffmpeg_reads_every_packet(&path), 200);

    let (packets, _) = vp8_packets();
    let (vp8, _) = record(Codec::Vp8, packets);
    let path = write_temp("video.webm", &vp8);
    let probe = ffprobe(&path);
    assert!(probe.contains("codec_name=vp8"), "{probe}");
    assert!(
        probe.contains("width=320") && probe.contains("height=240"),
        "{probe}"
    );
    assert!(probe.contains("duration=3.0"), "{probe}");
    assert_eq!(ffmpeg_reads_every_packet(&path), 90);
}

// ---- files whose writer never finished -------------------------------------------------------

/// What a process that dies while recording leaves on disk: everything flushed so far (the
/// head and the clusters written), without the cluster being built and without the end; `cut`
/// bytes fewer when the crash tore the last write.
fn unfinished(codec: Codec, packets: Vec<RtpPacket>, cut: usize) -> Vec<u8> {
    let mut assembler = FrameAssembler::new(codec);
    let mut frames = Vec::new();
    for p in packets {
        assembler.push(p, &mut frames);
    }
    let spec = TrackSpec::for_first_frame(codec, &frames[0]).unwrap();
    let disk = Shared::default();
    let mut writer = WebmWriter::new(disk.clone(), spec, 7).unwrap();
    for f in &frames {
        writer.write_frame(f.time_ms, f.keyframe, &f.data).unwrap();
    }
    writer.flush().unwrap();
    // The process dies here: the writer is never finished.
    std::mem::forget(writer);
    let bytes = disk.0.borrow().get_ref().clone();
    bytes[..bytes.len() - cut].to_vec()
}

/// A file the test can read while the writer still holds it.
#[derive(Debug, Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Cursor<Vec<u8>>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for Shared {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.borrow_mut().seek(pos)
    }
}

/// Repair `bytes` as the server does with a file: in place, then cut at the new end.
fn repaired(bytes: Vec<u8>) -> (Vec<u8>, caucus_record::Repaired) {
    let mut file = Cursor::new(bytes);
    let done = repair(&mut file).unwrap().expect("frames survived");
    let mut bytes = file.into_inner();
    bytes.truncate(done.summary.bytes as usize);
    (bytes, done)
}

#[test]
fn a_file_cut_short_keeps_its_whole_clusters_and_plays() {
    // VP8 with a keyframe a second: a cluster a second. The crash tore the second cluster's
    // write; the first (frames 0..30) is whole.
    let (packets, frames) = vp8_packets();
    let (bytes, done) = repaired(unfinished(Codec::Vp8, packets, 300));
    assert_eq!(done.codec, Codec::Vp8);
    let segment = read(&bytes);
    let blocks = blocks(&segment);
    assert_eq!(
        blocks.len(),
        30,
        "the whole first cluster, nothing of the torn one"
    );
    for (i, (_, key, data)) in blocks.iter().enumerate() {
        assert_eq!(*key, i == 0);
        assert_eq!(data, &frames[i]);
    }
    assert_eq!(done.summary.frames, 30);
    assert_eq!(done.summary.keyframes, 1);
    let last = blocks.last().unwrap().0;
    assert!(
        done.summary.duration_ms > last,
        "{done:?}, last frame at {last}"
    );
    let info = segment.child(0x1549_A966);
    assert_eq!(info.child(0x4489).float(), done.summary.duration_ms as f64);
    check_positions(&bytes, &segment);
    let path = write_temp("repaired-video.webm", &bytes);
    let probe = ffprobe(&path);
    assert!(probe.contains("codec_name=vp8"), "{probe}");
    assert!(probe.contains("duration=1.0"), "{probe}");
    assert_eq!(ffmpeg_reads_every_packet(&path), 30);

    // 8 s of Opus: the first 5 s cluster was written whole, the rest was still in memory.
    let long: Vec<RtpPacket> = (0..400u32)
        .map(|i| RtpPacket {
            seq: u64::from(i),
            timestamp: 960 * i,
            marker: false,
            payload: vec![15 << 3, i as u8, 0xAA, 0x55],
        })
        .collect();
    let (bytes, done) = repaired(unfinished(Codec::Opus, long, 0));
    assert_eq!(done.codec, Codec::Opus);
    assert_eq!(done.summary.frames, 250);
    assert_eq!(
        done.summary.duration_ms, 5000,
        "the last frame's 20 ms included"
    );
    let segment = read(&bytes);
    check_positions(&bytes, &segment);
    let path = write_temp("repaired-audio.webm", &bytes);
    assert!(ffprobe(&path).contains("duration=5.0"));
    assert_eq!(ffmpeg_reads_every_packet(&path), 250);
}

#[test]
fn a_finished_file_repairs_to_itself_and_a_head_alone_holds_nothing() {
    let (packets, _) = vp8_packets();
    let (finished, summary) = record(Codec::Vp8, packets);
    let (again, done) = repaired(finished.clone());
    assert_eq!(again, finished);
    assert_eq!(done.summary.frames, summary.frames);
    assert_eq!(done.summary.bytes, summary.bytes);

    // Killed before the first cluster was written: nothing to keep.
    let (packets, _) = vp8_packets();
    let head_only = unfinished(Codec::Vp8, packets[..3].to_vec(), 0);
    assert!(repair(&mut Cursor::new(head_only)).unwrap().is_none());
    assert_eq!(
        repair(&mut Cursor::new(b"not a webm".to_vec()))
            .unwrap_err()
            .kind(),
        std::io::ErrorKind::InvalidData
    );
}
