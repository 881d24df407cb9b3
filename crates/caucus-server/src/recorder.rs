//! The recorder: per-track WebM files from the media plane's recording tap, on its own thread.
//!
//! What it is: one OS thread that owns every recording's open files. It receives, in order on
//! one channel, what the media thread forwards: a recording's start, its track sets (as the
//! core emits them, translated to engine tracks by the room), the tapped packets, its stop.
//! Each track becomes `{data}/recordings/{room}/{recording}/{peer}-{track}.webm` — a track that
//! leaves the set and comes back gets a new file (`…-2.webm`, `…-3.webm`). Depacketizing and
//! muxing are `caucus-record`'s; this thread only opens files and keeps the metadata in the
//! store current (at the start, after every finished file, at the stop), so that
//! `GET /v1/recordings/{id}` answers during and after a recording, and after a restart.
//!
//! Why a thread and not a task: writing files blocks, and a slow disk must never hold up the
//! media loop or the room tasks. The channel is unbounded because packets must not be lost
//! while a file is opened; at recording bitrates the queue stays short.
//!
//! What it is not: a decision maker. Which tracks a recording receives is the core's rule;
//! which packets reach it is the engine's default deny.
//!
//! How to drive it: [`Recorder::spawn`], give [`Recorder::handle`] to the media thread (it
//! forwards [`RecorderInput`]s and tapped packets), and [`Recorder::stop`] after the media
//! thread has stopped: every open file is finished and every recording marked ended.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use caucus_media::{Codec as EngineCodec, RecordedPacket, TrackKey as EngineTrack};
use caucus_proto::event::RecordingEndReason;
use caucus_proto::{Location, PeerId, RecordingId, RoomId, TrackId};
use caucus_record::{Codec, FrameAssembler, RtpPacket, TimedFrame, TrackSpec, WebmWriter};
use caucus_store::{RecordingFile, RecordingRecord, Store};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::clock::unix_ms;

pub use caucus_room::RecordedTrack;

/// What the recorder is told, in order (the media thread forwards all of it).
#[derive(Debug)]
pub enum RecorderInput {
    /// A recording started; `ack` fires once its metadata is stored.
    Start {
        recording: RecordingId,
        room: RoomId,
        location: Location,
        ack: Option<oneshot::Sender<()>>,
    },
    /// The complete set of tracks the recording receives now.
    Tracks {
        recording: RecordingId,
        tracks: Vec<RecordedTrack>,
    },
    Packet(RecordedPacket),
    /// The recording ended; `ack` fires once every file is finished and the metadata stored.
    Stop {
        recording: RecordingId,
        reason: RecordingEndReason,
        ack: Option<oneshot::Sender<()>>,
    },
}

/// The way to reach the recorder. Cheap to clone; sending never blocks.
#[derive(Debug, Clone)]
pub struct RecorderHandle(mpsc::UnboundedSender<RecorderInput>);

impl RecorderHandle {
    pub fn send(&self, input: RecorderInput) {
        if self.0.send(input).is_err() {
            debug!("recorder gone; input dropped");
        }
    }
}

/// The running recorder thread.
#[derive(Debug)]
pub struct Recorder {
    handle: RecorderHandle,
    join: std::thread::JoinHandle<()>,
}

impl Recorder {
    /// Start the thread; files go under `{data}/recordings`.
    pub fn spawn(data: &Path, store: Arc<dyn Store>) -> io::Result<Recorder> {
        let (tx, rx) = mpsc::unbounded_channel();
        let root = data.to_owned();
        let join = std::thread::Builder::new()
            .name("caucus-recorder".to_owned())
            .spawn(move || Files::new(root, store).run(rx))?;
        Ok(Recorder {
            handle: RecorderHandle(tx),
            join,
        })
    }

    pub fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// Finish every recording and wait for the thread. Call when nothing else holds a handle
    /// any more (the media thread has stopped), so the queue drains first.
    pub async fn stop(self) {
        drop(self.handle);
        let join = self.join;
        match tokio::task::spawn_blocking(move || join.join()).await {
            Ok(Ok(())) => info!("recorder stopped"),
            Ok(Err(_)) => error!("recorder thread panicked"),
            Err(e) => error!(error = %e, "could not join the recorder thread"),
        }
    }
}

/// Every recording in progress.
struct Files {
    /// The data dir.
    root: PathBuf,
    store: Arc<dyn Store>,
    recordings: HashMap<RecordingId, Active>,
}

struct Active {
    record: RecordingRecord,
    dir: PathBuf,
    tracks: HashMap<EngineTrack, TrackFile>,
    /// Files made so far per (peer, track), for the names of the next ones.
    made: HashMap<(PeerId, TrackId), u32>,
}

/// One track's current file, opened at its first frame.
struct TrackFile {
    track: RecordedTrack,
    name: String,
    assembler: Option<FrameAssembler>,
    writer: Option<WebmWriter<BufWriter<File>>>,
    offset_ms: u64,
    /// Writing failed: the rest of this track is dropped (logged once).
    failed: bool,
    frames: Vec<TimedFrame>,
}

impl Files {
    fn new(root: PathBuf, store: Arc<dyn Store>) -> Self {
        Self {
            root,
            store,
            recordings: HashMap::new(),
        }
    }

    fn run(mut self, mut rx: mpsc::UnboundedReceiver<RecorderInput>) {
        while let Some(input) = rx.blocking_recv() {
            match input {
                RecorderInput::Start {
                    recording,
                    room,
                    location,
                    ack,
                } => self.start(recording, room, location, ack),
                RecorderInput::Tracks { recording, tracks } => self.tracks(recording, tracks),
                RecorderInput::Packet(packet) => self.packet(packet),
                RecorderInput::Stop {
                    recording,
                    reason,
                    ack,
                } => self.stop(recording, reason, ack),
            }
        }
        // The server is stopping: its sessions end with it.
        let ids: Vec<RecordingId> = self.recordings.keys().copied().collect();
        for id in ids {
            self.stop(id, RecordingEndReason::SessionEnded, None);
        }
    }

    fn start(
        &mut self,
        id: RecordingId,
        room: RoomId,
        location: Location,
        ack: Option<oneshot::Sender<()>>,
    ) {
        let record = RecordingRecord {
            id,
            room,
            location,
            started_at_ms: unix_ms(),
            ended_at_ms: None,
            end_reason: None,
            files: Vec::new(),
        };
        let dir = self.root.join(recording_path(&record));
        info!(recording = %id, room = %record.room, %location, dir = %dir.display(), "recording started");
        self.save(&record);
        self.recordings.insert(
            id,
            Active {
                record,
                dir,
                tracks: HashMap::new(),
                made: HashMap::new(),
            },
        );
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }

    fn tracks(&mut self, id: RecordingId, tracks: Vec<RecordedTrack>) {
        let Some(active) = self.recordings.get_mut(&id) else {
            return;
        };
        let gone: Vec<EngineTrack> = active
            .tracks
            .keys()
            .filter(|k| tracks.iter().all(|t| t.engine != **k))
            .copied()
            .collect();
        let mut finished = false;
        for key in gone {
            if let Some(file) = active.tracks.remove(&key) {
                finished |= finish(active, file);
            }
        }
        for t in tracks {
            if active.tracks.contains_key(&t.engine) {
                continue;
            }
            let n = active.made.entry((t.peer, t.track)).or_insert(0);
            *n += 1;
            let name = if *n == 1 {
                format!("{}-{}.webm", t.peer, t.track)
            } else {
                format!("{}-{}-{n}.webm", t.peer, t.track)
            };
            active.tracks.insert(
                t.engine,
                TrackFile {
                    track: t,
                    name,
                    assembler: None,
                    writer: None,
                    offset_ms: 0,
                    failed: false,
                    frames: Vec::new(),
                },
            );
        }
        if finished {
            let record = active.record.clone();
            self.save(&record);
        }
    }

    fn packet(&mut self, packet: RecordedPacket) {
        let Some(active) = self
            .recordings
            .get_mut(&RecordingId::new(packet.recording.0))
        else {
            return;
        };
        let started_at_ms = active.record.started_at_ms;
        let dir = active.dir.clone();
        let Some(file) = active.tracks.get_mut(&packet.track) else {
            return;
        };
        if file.failed {
            return;
        }
        let assembler = match &mut file.assembler {
            Some(a) => a,
            None => {
                let codec = match packet.codec {
                    EngineCodec::Opus => Codec::Opus,
                    EngineCodec::Vp8 => Codec::Vp8,
                    other => {
                        warn!(track = %packet.track, codec = ?other, "codec not recordable; track skipped");
                        file.failed = true;
                        return;
                    }
                };
                file.assembler.insert(FrameAssembler::new(codec))
            }
        };
        assembler.push(
            RtpPacket {
                seq: packet.seq,
                timestamp: packet.timestamp,
                marker: packet.marker,
                payload: packet.payload.to_vec(),
            },
            &mut file.frames,
        );
        if let Err(e) = write_frames(file, &dir, started_at_ms) {
            warn!(file = %file.name, error = %e, "cannot write a recording; track dropped");
            file.failed = true;
            file.writer = None;
        }
    }

    fn stop(
        &mut self,
        id: RecordingId,
        reason: RecordingEndReason,
        ack: Option<oneshot::Sender<()>>,
    ) {
        if let Some(mut active) = self.recordings.remove(&id) {
            let files: Vec<TrackFile> = active.tracks.drain().map(|(_, f)| f).collect();
            for file in files {
                finish(&mut active, file);
            }
            active.record.ended_at_ms = Some(unix_ms());
            active.record.end_reason = Some(reason);
            info!(recording = %id, ?reason, files = active.record.files.len(), "recording finished");
            self.save(&active.record);
        } else if let Ok(mut record) = self.store.get_recording(id)
            && record.ended_at_ms.is_none()
        {
            // Left running by a server that stopped without finishing it: it ended back then.
            record.ended_at_ms = Some(unix_ms());
            record.end_reason = Some(reason);
            self.save(&record);
        }
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }

    fn save(&self, record: &RecordingRecord) {
        if let Err(e) = self.store.put_recording(record) {
            error!(recording = %record.id, error = %e, "cannot store recording metadata");
        }
    }
}

/// A recording's directory inside the data dir: `recordings/{room}/{id}`.
pub fn recording_path(record: &RecordingRecord) -> PathBuf {
    Path::new("recordings")
        .join(record.room.as_str())
        .join(record.id.to_string())
}

/// Write the frames the assembler produced, opening the file at the first one, and flush what
/// the writer wrote: a process that dies leaves every written cluster on disk for the next
/// start to finish (see [`crate::recovery`]). A flush with nothing new costs nothing.
fn write_frames(file: &mut TrackFile, dir: &Path, started_at_ms: u64) -> io::Result<()> {
    for frame in std::mem::take(&mut file.frames) {
        if file.writer.is_none() {
            let Some(codec) = file.assembler.as_ref().map(FrameAssembler::codec) else {
                return Ok(());
            };
            let Some(spec) = TrackSpec::for_first_frame(codec, &frame) else {
                continue;
            };
            crate::private_fs::create_dir_all(dir)?;
            let out = BufWriter::new(crate::private_fs::create_file(&dir.join(&file.name))?);
            file.writer = Some(WebmWriter::new(out, spec, file.track.track.get().max(1))?);
            file.offset_ms = unix_ms().saturating_sub(started_at_ms);
            debug!(file = %file.name, ?spec, "recording file opened");
        }
        if let Some(writer) = &mut file.writer {
            writer.write_frame(frame.time_ms, frame.keyframe, &frame.data)?;
        }
    }
    if let Some(writer) = &mut file.writer {
        writer.flush()?;
    }
    Ok(())
}

/// Finish a track's file and list it in the recording; true if a file was listed.
fn finish(active: &mut Active, mut file: TrackFile) -> bool {
    if let Some(assembler) = &mut file.assembler {
        assembler.finish(&mut file.frames);
    }
    if !file.failed && !file.frames.is_empty() {
        let started_at_ms = active.record.started_at_ms;
        if let Err(e) = write_frames(&mut file, &active.dir, started_at_ms) {
            warn!(file = %file.name, error = %e, "cannot write a recording");
            return false;
        }
    }
    let (Some(writer), Some(assembler)) = (file.writer.take(), file.assembler.as_ref()) else {
        return false;
    };
    match writer.finish(assembler.end_ms()) {
        Ok((out, summary)) => {
            if let Err(e) = out
                .into_inner()
                .map_err(io::IntoInnerError::into_error)
                .and_then(|f| f.sync_all())
            {
                warn!(file = %file.name, error = %e, "cannot flush a recording");
            }
            let (kind, codec) = match assembler.codec() {
                Codec::Opus => ("audio", "opus"),
                Codec::Vp8 => ("video", "vp8"),
            };
            debug!(file = %file.name, ?summary, dropped = assembler.dropped_frames(), "recording file finished");
            active.record.files.push(RecordingFile {
                name: file.name,
                peer: file.track.peer,
                track: file.track.track,
                kind: kind.to_owned(),
                codec: codec.to_owned(),
                offset_ms: file.offset_ms,
                duration_ms: summary.duration_ms,
                frames: summary.frames,
                bytes: summary.bytes,
            });
            true
        }
        Err(e) => {
            warn!(file = %file.name, error = %e, "cannot finish a recording");
            false
        }
    }
}
