//! What a start does about a stop that was not clean (SIGKILL, a power cut, a crash): it ends
//! what the last run left open, before anything else runs.
//!
//! - **Live sessions.** The store knows which sessions and peers were live (written with their
//!   webhooks; see [`caucus_store::LiveChange`]). Each one left gets the events its end would
//!   have sent — `peer.left` per peer with `reason: "restart"`, then `session.ended` with
//!   `reason: "restart"` — queued in the outbox in the commit that forgets it, so a crash
//!   during this start repeats none and loses none.
//! - **Recordings.** A recording still `recording` in the store is closed out from what is on
//!   disk: each of its files not listed yet is finished ([`caucus_record::repair`]: the whole
//!   clusters are kept, the end written) and listed with its duration; a file with no frame
//!   is removed. It ends at the time its last file was written, with `session_ended`.
//!
//! After a clean stop there is nothing to do: sessions ended and recordings finished then.

use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use caucus_proto::event::{LeaveReason, RecordingEndReason};
use caucus_proto::{LifecycleEvent, PeerId, TrackId};
use caucus_record::{Codec, repair};
use caucus_store::{RecordingFile, RecordingRecord, Store, StoreError};
use tracing::{info, warn};

use crate::webhooks::Webhooks;

/// The `reason` of the `session.ended` (and `peer.left`) a start sends for a session the last
/// run left live.
pub const RESTART_REASON: &str = "restart";

/// Queue the end of every session the last run left live; returns how many there were.
pub fn end_live_sessions(
    store: &dyn Store,
    hooks: &Webhooks,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let sessions = store.live_sessions()?;
    if sessions.is_empty() {
        return Ok(0);
    }
    let mut items = Vec::new();
    for session in &sessions {
        for peer in &session.peers {
            let left = LifecycleEvent::PeerLeft {
                peer_id: peer.peer,
                user_id: peer.user.clone(),
                reason: LeaveReason::Restart,
            };
            items.extend(hooks.deliveries(&session.room, &left, now_ms));
        }
        let ended = LifecycleEvent::SessionEnded {
            reason: RESTART_REASON.to_owned(),
        };
        items.extend(hooks.deliveries(&session.room, &ended, now_ms));
        info!(room = %session.room, peers = session.peers.len(),
            "a session left live by the last run ended (restart)");
    }
    store.end_live_sessions(&items)?;
    Ok(sessions.len())
}

/// Close out every recording the last run left `recording`; returns how many there were.
pub fn close_out_recordings(store: &dyn Store, data: &Path) -> Result<usize, StoreError> {
    let open = store.unfinished_recordings()?;
    for record in &open {
        let closed = close_out(record, &data.join(crate::recorder::recording_path(record)));
        info!(recording = %closed.id, room = %closed.room, files = closed.files.len(),
            "a recording left open by the last run closed out");
        store.put_recording(&closed)?;
    }
    Ok(open.len())
}

/// `record` with the files in `dir` it did not list yet finished and listed.
fn close_out(record: &RecordingRecord, dir: &Path) -> RecordingRecord {
    let mut closed = record.clone();
    let mut last_write_ms = record.started_at_ms;
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".webm"))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            warn!(dir = %dir.display(), error = %e, "cannot list a recording's files");
            Vec::new()
        }
    };
    names.sort();
    for name in names {
        let path = dir.join(&name);
        last_write_ms = last_write_ms.max(modified_ms(&path));
        if record.files.iter().any(|f| f.name == name) {
            continue;
        }
        match finish_file(&path, &name, record.started_at_ms) {
            Ok(Some(file)) => closed.files.push(file),
            Ok(None) => {
                if let Err(e) = fs::remove_file(&path) {
                    warn!(file = %path.display(), error = %e, "cannot remove an empty recording file");
                }
            }
            Err(e) => warn!(file = %path.display(), error = %e, "cannot finish a recording file"),
        }
    }
    closed.ended_at_ms = Some(last_write_ms);
    closed.end_reason = Some(RecordingEndReason::SessionEnded);
    closed
}

/// Finish one file in place; `None` when it holds no frame.
fn finish_file(path: &Path, name: &str, started_at_ms: u64) -> io::Result<Option<RecordingFile>> {
    let (peer, track) = parse_name(name)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a track file's name"))?;
    let opened_ms = created_ms(path);
    let mut file = File::options().read(true).write(true).open(path)?;
    let Some(repaired) = repair(&mut file)? else {
        return Ok(None);
    };
    file.set_len(repaired.summary.bytes)?;
    file.sync_all()?;
    let (kind, codec) = match repaired.codec {
        Codec::Opus => ("audio", "opus"),
        Codec::Vp8 => ("video", "vp8"),
    };
    Ok(Some(RecordingFile {
        name: name.to_owned(),
        peer,
        track,
        kind: kind.to_owned(),
        codec: codec.to_owned(),
        // When the file was opened is not written in it; its creation time says it where the
        // file system keeps one.
        offset_ms: opened_ms.map_or(0, |at| at.saturating_sub(started_at_ms)),
        duration_ms: repaired.summary.duration_ms,
        frames: repaired.summary.frames,
        bytes: repaired.summary.bytes,
    }))
}

/// `p3-t7.webm` or `p3-t7-2.webm` → (p3, t7), as the recorder names its files.
fn parse_name(name: &str) -> Option<(PeerId, TrackId)> {
    let stem = name.strip_suffix(".webm")?;
    let mut parts = stem.split('-');
    let peer = parts.next()?.parse().ok()?;
    let track = parts.next()?.parse().ok()?;
    match parts.next() {
        None => {}
        Some(n) if n.parse::<u32>().is_ok() && parts.next().is_none() => {}
        Some(_) => return None,
    }
    Some((peer, track))
}

fn modified_ms(path: &Path) -> u64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn created_ms(path: &Path) -> Option<u64> {
    let created = fs::metadata(path).and_then(|m| m.created()).ok()?;
    let since = created.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_file_names_give_their_peer_and_track() {
        assert_eq!(
            parse_name("p3-t7.webm"),
            Some((PeerId::new(3), TrackId::new(7)))
        );
        assert_eq!(
            parse_name("p3-t7-2.webm"),
            Some((PeerId::new(3), TrackId::new(7)))
        );
        for bad in [
            "p3.webm",
            "p3-t7-x.webm",
            "p3-t7-2-1.webm",
            "x-t7.webm",
            "p3-t7.mkv",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
