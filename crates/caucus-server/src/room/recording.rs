//! Recordings inside the room task: the core decides which tracks a recording receives
//! ([`Effect::RecordingTracks`](caucus_core::Effect)); the room translates them to engine
//! tracks and hands start, track sets and stop to the media thread, which applies them to the
//! engine's recording tap and forwards them to the recorder in order with the packets.
//!
//! A REST call that starts or stops a recording is answered once the recorder has stored the
//! metadata (start) or finished every file (stop): the call's reply waits on an ack.

use std::collections::HashMap;

use caucus_core::Command;
use caucus_proto::event::{RecordingEndReason, RecordingInfo};
use caucus_proto::{ErrorBody, Location, RecordingId, TrackKey};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::RoomTask;
use crate::media_thread::MediaCommand;
use crate::recorder::{RecordedTrack, RecorderInput};

/// The room's view of its recordings in progress.
#[derive(Debug, Default)]
pub(super) struct Recordings {
    /// Each recording's track set as the core last gave it (core keys).
    active: HashMap<RecordingId, Vec<TrackKey>>,
    /// Acks for REST calls in flight, handed to the recorder with the start or stop.
    acks: HashMap<RecordingId, oneshot::Sender<()>>,
    /// What the current REST call's reply waits for.
    reply_ack: Option<oneshot::Receiver<()>>,
    /// The room's policy records main from the first join; cleared once done.
    auto_main: bool,
}

impl Recordings {
    /// `auto_main`: the room's recording policy says to record main when the session starts.
    pub(super) fn new(auto_main: bool) -> Self {
        Self {
            auto_main,
            ..Self::default()
        }
    }

    /// The ack the current REST reply waits on, if a recording started or stopped.
    pub(super) fn take_reply_ack(&mut self) -> Option<oneshot::Receiver<()>> {
        self.reply_ack.take()
    }
}

impl RoomTask {
    /// A peer joined: with an automatic recording policy, the session's first join starts
    /// recording main (as the server).
    pub(super) fn auto_record(&mut self) {
        if !std::mem::take(&mut self.recordings.auto_main) {
            return;
        }
        match self.start_recording(Location::Main, false) {
            Ok(info) => {
                info!(room = %self.id, recording = %info.id, "recording main by room policy")
            }
            Err(e) => warn!(room = %self.id, error = %e.message, "automatic recording refused"),
        }
    }

    /// `POST /v1/rooms/{room}/recordings`: a new recording of `location`; with `reply`, the
    /// REST reply waits until its metadata is stored.
    pub(super) fn start_recording(
        &mut self,
        location: Location,
        reply: bool,
    ) -> Result<RecordingInfo, ErrorBody> {
        // Unique across sessions and restarts without asking the store; below 2^53 so
        // JavaScript clients keep it exact.
        let id = RecordingId::new((rand::random::<u64>() >> 11).max(1));
        let (tx, rx) = oneshot::channel();
        if reply {
            self.recordings.acks.insert(id, tx);
        }
        match self.server_command(Command::StartRecording {
            recording: id,
            location,
        }) {
            Ok(_) => {
                if reply {
                    self.recordings.reply_ack = Some(rx);
                }
                Ok(RecordingInfo { id, location })
            }
            Err(e) => {
                self.recordings.acks.remove(&id);
                Err(e)
            }
        }
    }

    /// `POST /v1/recordings/{id}/stop`.
    pub(super) fn stop_recording(&mut self, id: RecordingId) -> Result<(), ErrorBody> {
        let (tx, rx) = oneshot::channel();
        self.recordings.acks.insert(id, tx);
        match self.server_command(Command::StopRecording { recording: id }) {
            Ok(_) => {
                self.recordings.reply_ack = Some(rx);
                Ok(())
            }
            Err(e) => {
                self.recordings.acks.remove(&id);
                Err(e)
            }
        }
    }

    /// The core's complete track set for a recording (the first one starts it).
    pub(super) fn recording_tracks(
        &mut self,
        id: RecordingId,
        location: Location,
        tracks: Vec<TrackKey>,
    ) {
        if !self.recordings.active.contains_key(&id) {
            let ack = self.recordings.acks.remove(&id);
            self.ctx
                .media
                .send(MediaCommand::Record(RecorderInput::Start {
                    recording: id,
                    room: self.id.clone(),
                    location,
                    ack,
                }));
        }
        self.recordings.active.insert(id, tracks);
        self.push_recording(id);
    }

    pub(super) fn recording_stopped(&mut self, id: RecordingId, reason: RecordingEndReason) {
        self.recordings.active.remove(&id);
        let ack = self.recordings.acks.remove(&id);
        self.ctx
            .media
            .send(MediaCommand::Record(RecorderInput::Stop {
                recording: id,
                reason,
                ack,
            }));
    }

    /// A track reached the engine (it may belong to a recording's set already): every
    /// recording's engine set again.
    pub(super) fn push_recordings(&mut self) {
        let ids: Vec<RecordingId> = self.recordings.active.keys().copied().collect();
        for id in ids {
            self.push_recording(id);
        }
    }

    fn push_recording(&mut self, id: RecordingId) {
        let Some(set) = self.recordings.active.get(&id) else {
            return;
        };
        let tracks: Vec<RecordedTrack> = set
            .iter()
            .filter_map(|key| {
                self.ids.engine_track_of(*key).map(|engine| RecordedTrack {
                    engine,
                    peer: key.peer,
                    track: key.track,
                })
            })
            .collect();
        debug!(room = %self.id, recording = %id, tracks = tracks.len(), "recording set");
        self.ctx
            .media
            .send(MediaCommand::Record(RecorderInput::Tracks {
                recording: id,
                tracks,
            }));
    }
}
