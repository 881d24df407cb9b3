//! Recordings inside the room: the core decides which tracks a recording receives
//! ([`Effect::RecordingTracks`](caucus_core::Effect)); the room translates them to engine
//! tracks and hands start, track sets and stop to the recorder (through the media thread,
//! which applies them to the engine's recording tap and forwards them in order with the
//! packets).
//!
//! A REST call that starts or stops a recording is answered once the recorder has stored the
//! metadata (start) or finished every file (stop): the call's [`crate::ApiResult`] lists the
//! ack it waits on.

use std::collections::BTreeMap;

use caucus_core::{Command, Time};
use caucus_proto::event::{RecordingEndReason, RecordingInfo};
use caucus_proto::{ErrorBody, Location, RecordingId, TrackKey};
use tracing::debug;

use crate::output::{AckId, Output, RecordCommand, RecordedTrack};
use crate::room::Room;

/// The room's view of its recordings in progress.
#[derive(Debug, Default)]
pub(crate) struct Recordings {
    /// Each recording's track set as the core last gave it (core keys).
    active: BTreeMap<RecordingId, Vec<TrackKey>>,
    /// Acks of REST calls in flight, handed to the recorder with the start or stop.
    acks: BTreeMap<RecordingId, AckId>,
    /// What the current REST call's answer waits for.
    reply_ack: Option<AckId>,
}

impl Recordings {
    /// The ack the current REST answer waits on, if a recording started or stopped.
    pub(crate) fn take_reply_ack(&mut self) -> Option<AckId> {
        self.reply_ack.take()
    }
}

impl Room {
    /// A new recording of `location`; with `reply`, the REST answer waits until its metadata
    /// is stored.
    pub(crate) fn start_recording(
        &mut self,
        now: Time,
        location: Location,
        reply: bool,
    ) -> Result<RecordingInfo, ErrorBody> {
        let id = crate::room::recording_id(&mut self.rng);
        let ack = reply.then(|| self.next_ack());
        if let Some(ack) = ack {
            self.recordings.acks.insert(id, ack);
        }
        match self.server_command(
            now,
            Command::StartRecording {
                recording: id,
                location,
            },
        ) {
            Ok(_) => {
                self.recordings.reply_ack = ack;
                Ok(RecordingInfo { id, location })
            }
            Err(e) => {
                self.recordings.acks.remove(&id);
                Err(e)
            }
        }
    }

    /// `POST /v1/recordings/{id}/stop`.
    pub(crate) fn stop_recording(&mut self, now: Time, id: RecordingId) -> Result<(), ErrorBody> {
        let ack = self.next_ack();
        self.recordings.acks.insert(id, ack);
        match self.server_command(now, Command::StopRecording { recording: id }) {
            Ok(_) => {
                self.recordings.reply_ack = Some(ack);
                Ok(())
            }
            Err(e) => {
                self.recordings.acks.remove(&id);
                Err(e)
            }
        }
    }

    /// The core's complete track set for a recording (the first one starts it).
    pub(crate) fn recording_tracks(
        &mut self,
        id: RecordingId,
        location: Location,
        tracks: Vec<TrackKey>,
    ) {
        if !self.recordings.active.contains_key(&id) {
            let ack = self.recordings.acks.remove(&id);
            self.output(Output::Record(RecordCommand::Start {
                recording: id,
                location,
                ack,
            }));
        }
        self.recordings.active.insert(id, tracks);
        self.push_recording(id);
    }

    pub(crate) fn recording_stopped(&mut self, id: RecordingId, reason: RecordingEndReason) {
        self.recordings.active.remove(&id);
        let ack = self.recordings.acks.remove(&id);
        self.output(Output::Record(RecordCommand::Stop {
            recording: id,
            reason,
            ack,
        }));
    }

    /// A track reached the engine (it may belong to a recording's set already): every
    /// recording's engine set again.
    pub(crate) fn push_recordings(&mut self) {
        let mut ids: Vec<RecordingId> = self.recordings.active.keys().copied().collect();
        ids.sort();
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
        self.output(Output::Record(RecordCommand::Tracks {
            recording: id,
            tracks,
        }));
    }
}
