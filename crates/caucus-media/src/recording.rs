//! The recording tap: which recordings take which tracks, and the copy of each packet
//! they get.

use std::collections::HashMap;

use str0m::media::Rid;
use tracing::debug;

use crate::driver::Driver;
use crate::ids::{Codec, MediaKind, RecordingKey, TrackKey};
use crate::incoming::Incoming;
use crate::output::{EngineOutput, RecordedPacket};
use crate::tracks::Tracks;

/// Each recording's current track set (the recording side of the tap; each track's
/// [`Tap`] is the other side).
#[derive(Debug, Default)]
pub(crate) struct Recordings {
    sets: HashMap<RecordingKey, Vec<TrackKey>>,
}

impl Recordings {
    /// Replaces the set of `recording` (default deny: unknown tracks are left out; an
    /// empty set ends it). Returns the video tracks that joined, with the layer to ask a
    /// keyframe of, so their files can start soon.
    pub(crate) fn set(
        &mut self,
        recording: RecordingKey,
        tracks: &[TrackKey],
        table: &mut Tracks,
    ) -> Vec<(TrackKey, Option<Rid>)> {
        let old = self.sets.remove(&recording).unwrap_or_default();
        let mut new: Vec<TrackKey> = Vec::with_capacity(tracks.len());
        for t in tracks {
            if table.contains(t) && !new.contains(t) {
                new.push(*t);
            }
        }
        for t in old.iter().filter(|t| !new.contains(t)) {
            if let Some(track) = table.get_mut(t) {
                track.tap.leave(recording);
            }
        }
        let mut wants_keyframe = Vec::new();
        for t in new.iter().filter(|t| !old.contains(t)) {
            let Some(track) = table.get_mut(t) else {
                continue;
            };
            let best = track.layers.list.last().and_then(|l| l.rid);
            if let Some(rid) = track.tap.join(recording, best, track.kind) {
                wants_keyframe.push((*t, rid));
            }
        }
        if !new.is_empty() {
            debug!(%recording, tracks = new.len(), "recording set");
            self.sets.insert(recording, new);
        }
        wants_keyframe
    }

    /// The tracks `recording` takes now (empty for an unknown or ended recording).
    pub(crate) fn tracks(&self, recording: RecordingKey) -> Vec<TrackKey> {
        self.sets.get(&recording).cloned().unwrap_or_default()
    }

    /// An ended track leaves the recordings that took it; a recording left empty ends.
    pub(crate) fn forget_track(&mut self, track: TrackKey, tap: &Tap) {
        for recording in &tap.recordings {
            if let Some(set) = self.sets.get_mut(recording) {
                set.retain(|r| *r != track);
                if set.is_empty() {
                    self.sets.remove(recording);
                }
            }
        }
    }
}

/// One track's side of the tap.
#[derive(Debug, Default)]
pub(crate) struct Tap {
    /// Recordings whose current set holds the track.
    pub(crate) recordings: Vec<RecordingKey>,
    /// The layer the recordings get, fixed when the first recording takes the track.
    layer: Option<Rid>,
    /// A recording took this video track and no keyframe of its layer has come through yet:
    /// keyframe requests repeat (at the throttle's pace) until one does. A publisher that
    /// sends keyframes only when asked (browsers) would otherwise never start the file if
    /// the first request fell inside the throttle window.
    keyframe_pending: bool,
}

/// What the tap did with one packet.
pub(crate) struct Tapped {
    /// Copies handed out (one per recording; 0: not recorded).
    pub(crate) copies: usize,
    /// The recorded layer still waits for a keyframe: ask for one (throttled).
    pub(crate) wants_keyframe: Option<Option<Rid>>,
}

impl Tap {
    /// `recording` takes the track; the first one fixes the layer (`best`, the best layer
    /// now). Returns the layer to ask a keyframe of (video only).
    fn join(
        &mut self,
        recording: RecordingKey,
        best: Option<Rid>,
        kind: MediaKind,
    ) -> Option<Option<Rid>> {
        if self.recordings.is_empty() {
            self.layer = best;
        }
        self.recordings.push(recording);
        if kind != MediaKind::Video {
            return None;
        }
        self.keyframe_pending = true;
        Some(self.layer)
    }

    fn leave(&mut self, recording: RecordingKey) {
        self.recordings.retain(|r| *r != recording);
    }

    /// Hands one incoming packet to every recording of its track (unless the track is
    /// paused or the packet is of another layer). The payload is shared, not copied.
    pub(crate) fn on_packet(
        &mut self,
        inc: &Incoming<'_>,
        paused: bool,
        out: &mut Driver,
    ) -> Tapped {
        let recorded = !paused && !self.recordings.is_empty() && inc.rid == self.layer;
        if !recorded {
            return Tapped {
                copies: 0,
                wants_keyframe: None,
            };
        }
        let codec = inc
            .params
            .map_or(Codec::Other, |p| Codec::from_str0m(p.spec().codec));
        let packet = inc.packet;
        for recording in &self.recordings {
            out.output(EngineOutput::Recorded(RecordedPacket {
                recording: *recording,
                track: inc.track,
                kind: inc.kind,
                codec,
                payload_type: *packet.header.payload_type,
                seq: *packet.seq_no,
                timestamp: packet.header.timestamp,
                marker: packet.header.marker,
                payload: packet.payload.clone(),
            }));
        }
        let mut wants_keyframe = None;
        if self.keyframe_pending {
            if inc.keyframe == Some(true) {
                self.keyframe_pending = false;
            } else {
                wants_keyframe = Some(self.layer);
            }
        }
        Tapped {
            copies: self.recordings.len(),
            wants_keyframe,
        }
    }
}
