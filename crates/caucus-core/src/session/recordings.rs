//! Recordings: one per location at a time, any number of locations at once.
//!
//! A recording is a virtual subscriber standing in its location that hears everyone there: its
//! track set is every unmuted track published by a connected peer standing in the location
//! (whatever roles would receive it), plus broadcast sound, which is heard in every location.
//! Main-stage tracks and listen-ins do not cross into a breakout's recording: the recording of
//! main holds the main stage. After every command and timer the sets are recomputed; a changed
//! set is emitted whole ([`Effect::RecordingTracks`]), as desired subscriptions are.
//!
//! A recording ends when stopped, when its breakout closes or is removed, or with the session.

use std::collections::BTreeSet;
use std::sync::Arc;

use caucus_proto::event::{RecordingEndReason, RecordingInfo};
use caucus_proto::{
    ErrorCode, LifecycleEvent, Location, Phase, RecordingId, ServerEvent, TrackKey,
};

use super::Session;
use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::effect::Effect;
use crate::policy::Action;
use crate::state::State;

#[derive(Debug, Clone)]
pub(crate) struct Recording {
    location: Location,
    /// The set last emitted; `None` until the first emission.
    tracks: Option<BTreeSet<TrackKey>>,
}

impl Session {
    /// Recordings in progress, by id.
    pub fn recordings(&self) -> impl Iterator<Item = RecordingInfo> + '_ {
        self.recordings.iter().map(|(id, r)| RecordingInfo {
            id: *id,
            location: r.location,
        })
    }

    /// The tracks a recording in progress receives now.
    pub fn recording_tracks(&self, recording: RecordingId) -> Option<Vec<TrackKey>> {
        let r = self.recordings.get(&recording)?;
        Some(
            recorded_tracks(&self.state, r.location)
                .into_iter()
                .collect(),
        )
    }

    pub(super) fn start_recording(
        &mut self,
        actor: Actor,
        recording: RecordingId,
        location: Location,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::Record)?;
        if let Location::Breakout(b) = location {
            let set = &self.state.breakouts;
            let room = set.room(b).ok_or_else(|| {
                Denial::new(ErrorCode::UnknownBreakout, format!("no breakout {b}"))
                    .with_field("location")
            })?;
            if !matches!(set.phase, Phase::Open | Phase::Closing) || room.closed {
                return Err(Denial::new(
                    ErrorCode::BreakoutsNotOpen,
                    format!("breakout {b} is not open"),
                )
                .with_field("location"));
            }
        }
        if self.recordings.contains_key(&recording) {
            return Err(Denial::new(
                ErrorCode::AlreadyExists,
                format!("recording {recording} exists already"),
            ));
        }
        if let Some((id, _)) = self.recordings.iter().find(|(_, r)| r.location == location) {
            return Err(Denial::new(
                ErrorCode::AlreadyExists,
                format!("{location} is being recorded already ({id}); stop it first"),
            )
            .with_field("location"));
        }
        self.recordings.insert(
            recording,
            Recording {
                location,
                tracks: None,
            },
        );
        self.lifecycle(LifecycleEvent::RecordingStarted {
            recording_id: recording,
            location,
        });
        self.announce_recordings();
        Ok(Outcome::Done)
    }

    pub(super) fn stop_recording(
        &mut self,
        actor: Actor,
        recording: RecordingId,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::Record)?;
        if !self.recordings.contains_key(&recording) {
            return Err(Denial::new(
                ErrorCode::UnknownRecording,
                format!("no recording {recording} in progress"),
            ));
        }
        self.end_recording(recording, RecordingEndReason::Stopped);
        self.announce_recordings();
        Ok(Outcome::Done)
    }

    /// The session ends: every recording with it.
    pub(super) fn stop_all_recordings(&mut self, reason: RecordingEndReason) {
        let ids: Vec<RecordingId> = self.recordings.keys().copied().collect();
        for id in ids {
            self.end_recording(id, reason);
        }
    }

    /// After every command and timer: end recordings of rooms that closed, then emit each
    /// changed track set.
    pub(super) fn refresh_recordings(&mut self) {
        if self.recordings.is_empty() {
            return;
        }
        let closed: Vec<RecordingId> = self
            .recordings
            .iter()
            .filter(|(_, r)| match r.location {
                Location::Main => false,
                Location::Breakout(b) => {
                    let set = &self.state.breakouts;
                    !matches!(set.phase, Phase::Open | Phase::Closing)
                        || set.room(b).is_none_or(|room| room.closed)
                }
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &closed {
            self.end_recording(*id, RecordingEndReason::BreakoutClosed);
        }
        if !closed.is_empty() {
            self.announce_recordings();
        }
        let mut changed = Vec::new();
        for (id, r) in &mut self.recordings {
            let fresh = recorded_tracks(&self.state, r.location);
            if r.tracks.as_ref() != Some(&fresh) {
                changed.push(Effect::RecordingTracks {
                    recording: *id,
                    location: r.location,
                    tracks: fresh.iter().copied().collect(),
                });
                r.tracks = Some(fresh);
            }
        }
        self.effects.extend(changed);
    }

    fn end_recording(&mut self, id: RecordingId, reason: RecordingEndReason) {
        if let Some(r) = self.recordings.remove(&id) {
            self.effects.push_back(Effect::RecordingStopped {
                recording: id,
                reason,
            });
            self.lifecycle(LifecycleEvent::RecordingFinished {
                recording_id: id,
                location: r.location,
                reason,
            });
        }
    }

    /// Everyone learns the complete list of recordings in progress.
    fn announce_recordings(&mut self) {
        let active = self.recordings().collect();
        let everyone = self.everyone();
        self.push_send(everyone, Arc::new(ServerEvent::Recordings { active }));
    }
}

/// What a recording of `location` receives: every unmuted track of the connected peers
/// standing there (that their acting role may publish), and the sound of broadcasters.
fn recorded_tracks(state: &State, location: Location) -> BTreeSet<TrackKey> {
    let here = state.everyone_in(location).collect::<BTreeSet<_>>();
    let mut out = BTreeSet::new();
    for id in here.iter().chain(state.broadcasters.iter()) {
        let Some(p) = state.peers.get(id).filter(|p| p.is_connected()) else {
            continue;
        };
        let role = state.template.role(p.acting);
        for t in p.tracks.values() {
            let heard = p.location == location || (p.broadcasting && t.source.is_audio());
            if heard && !t.muted && role.may_publish(t.source) {
                out.insert(TrackKey {
                    peer: p.id,
                    track: t.id,
                });
            }
        }
    }
    out
}
