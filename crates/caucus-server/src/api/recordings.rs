//! Recordings: start one per location (main or an open breakout, any number of locations at
//! once), list a room's, stop one, read one with its files and durations. Metadata lives in the
//! store, so reading works after the session ended and after a restart; the files are under
//! `{data}/recordings/{room}/{id}/`.
//!
//! Start answers once the recording's metadata is stored; stop answers once every file is
//! finished (so the answer lists them all).

use axum::extract::State;
use axum::response::Response;
use caucus_proto::event::RecordingEndReason;
use caucus_proto::{ErrorCode, Location, RecordingId, RoomId};
use caucus_store::{RecordingFile, RecordingRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;
use utoipa::ToSchema;

use super::error::{ApiError, Envelope, JsonBody};
use super::paths::{RecordingPath, RoomPath};
use super::{ApiState, Ids, created, ok};
use crate::media_thread::MediaCommand;
use crate::recorder::RecorderInput;
use crate::room::{ApiAnswer, ApiRequest};

/// `POST /v1/rooms/{room_id}/recordings`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingCreate {
    /// `"main"` (the default) or an open breakout's id.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub location: Option<Location>,
}

/// A recording and the per-track WebM files finished so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingView {
    /// `rec…`
    pub id: String,
    pub room_id: String,
    /// `"main"` or a breakout id.
    pub location: String,
    /// `recording` or `finished`.
    pub state: String,
    pub started_at_ms: u64,
    pub ended_at_ms: Option<u64>,
    /// `stopped`, `breakout_closed` or `session_ended`.
    pub end_reason: Option<String>,
    /// The directory of the files, relative to the data dir.
    pub path: String,
    pub files: Vec<RecordingFileView>,
}

/// One per-track file.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingFileView {
    /// The file name in the recording's directory: `{peer}-{track}.webm` (`-2`, `-3`… when a
    /// track came back).
    pub name: String,
    pub peer_id: String,
    pub track_id: String,
    /// `audio` or `video`.
    pub kind: String,
    /// `opus` or `vp8`.
    pub codec: String,
    /// When the file starts, in milliseconds after the recording started.
    pub offset_ms: u64,
    pub duration_ms: u64,
    pub frames: u64,
    pub bytes: u64,
}

/// `GET /v1/rooms/{room_id}/recordings`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingList {
    pub recordings: Vec<RecordingView>,
}

/// Start recording a location of the room's session (started on demand).
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/recordings", tag = "recordings", operation_id = "start_recording",
    params(RoomPath),
    request_body = Option<RecordingCreate>,
    responses(
        (status = 201, body = RecordingView),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room`, `unknown_breakout`", body = Envelope),
        (status = 409, description = "`already_exists` (the location is being recorded), `breakouts_not_open`", body = Envelope),
        (status = 422, description = "`invalid_value` (a location that is neither `main` nor a breakout id)", body = Envelope),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<RecordingCreate>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    let location = body.location.unwrap_or(Location::Main);
    let answer = state
        .control
        .ask(&record, true, ApiRequest::StartRecording { location })
        .await?;
    let Some(ApiAnswer::Recording(info)) = answer else {
        return Err(ApiError::new(
            ErrorCode::SessionEnded,
            "the session ended; retry",
        ));
    };
    let recording = load(&state, info.id).await?;
    state
        .control
        .audit(
            "recording.started",
            Some(&record.id),
            Some(info.id.to_string()),
            json!({"location": location}),
        )
        .await;
    Ok(created(&view(recording)))
}

/// The room's recordings, oldest first (also those of earlier sessions).
#[utoipa::path(
    get, path = "/v1/rooms/{room_id}/recordings", tag = "recordings", operation_id = "list_recordings",
    params(RoomPath),
    responses(
        (status = 200, body = RecordingList),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room`", body = Envelope),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    let id = record.id.clone();
    let recordings = state.control.store(move |s| s.list_recordings(&id)).await?;
    Ok(ok(&RecordingList {
        recordings: recordings.into_iter().map(view).collect(),
    }))
}

/// One recording: its state and its files with durations.
#[utoipa::path(
    get, path = "/v1/recordings/{recording_id}", tag = "recordings", operation_id = "get_recording",
    params(RecordingPath),
    responses(
        (status = 200, body = RecordingView),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_recording`", body = Envelope),
    )
)]
pub async fn get_one(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    Ok(ok(&view(load(&state, id).await?)))
}

/// Stop a recording; answers once every file is finished. Stopping a finished recording
/// answers it as it is.
#[utoipa::path(
    post, path = "/v1/recordings/{recording_id}/stop", tag = "recordings", operation_id = "stop_recording",
    params(RecordingPath),
    responses(
        (status = 200, body = RecordingView),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_recording`", body = Envelope),
    )
)]
pub async fn stop(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let recording = load(&state, id).await?;
    if recording.ended_at_ms.is_some() {
        return Ok(ok(&view(recording)));
    }
    let room = state.control.room_record(&recording.room).await;
    let stopped = match &room {
        Ok(room) => state
            .control
            .ask(room, false, ApiRequest::StopRecording(id))
            .await
            .map(|answer| answer.is_some()),
        Err(_) => Ok(false),
    };
    let unknown_to_session = match stopped {
        Ok(live) => !live,
        Err(e) if e.code == ErrorCode::UnknownRecording => true,
        Err(e) => return Err(e),
    };
    if unknown_to_session {
        // No session runs it: the session ended it a moment ago (the recorder may still be
        // finishing its files), or the server stopped while it ran. The recorder finishes
        // or closes it, after whatever is queued before.
        let (ack, done) = oneshot::channel();
        state
            .control
            .registry()
            .media()
            .send(MediaCommand::Record(RecorderInput::Stop {
                recording: id,
                reason: RecordingEndReason::Stopped,
                ack: Some(ack),
            }));
        let _ = done.await;
    }
    let recording = load(&state, id).await?;
    state
        .control
        .audit(
            "recording.stopped",
            Some(&recording.room),
            Some(id.to_string()),
            json!({}),
        )
        .await;
    Ok(ok(&view(recording)))
}

pub(super) fn parse_id(id: &str) -> Result<RecordingId, ApiError> {
    id.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::UnknownRecording,
            format!("no recording {id:?} (ids look like `rec123`)"),
        )
    })
}

pub(super) async fn load(state: &ApiState, id: RecordingId) -> Result<RecordingRecord, ApiError> {
    state
        .control
        .store(move |s| s.get_recording(id))
        .await
        .map_err(ApiError::from)
}

fn view(r: RecordingRecord) -> RecordingView {
    let reason = r.end_reason.map(|reason| match reason {
        RecordingEndReason::Stopped => "stopped",
        RecordingEndReason::BreakoutClosed => "breakout_closed",
        RecordingEndReason::SessionEnded => "session_ended",
    });
    RecordingView {
        id: r.id.to_string(),
        room_id: r.room.to_string(),
        location: r.location.to_string(),
        state: if r.ended_at_ms.is_some() {
            "finished"
        } else {
            "recording"
        }
        .to_owned(),
        started_at_ms: r.started_at_ms,
        ended_at_ms: r.ended_at_ms,
        end_reason: reason.map(str::to_owned),
        path: format!("recordings/{}/{}", r.room, r.id),
        files: r.files.into_iter().map(file_view).collect(),
    }
}

fn file_view(f: RecordingFile) -> RecordingFileView {
    RecordingFileView {
        name: f.name,
        peer_id: f.peer.to_string(),
        track_id: f.track.to_string(),
        kind: f.kind,
        codec: f.codec,
        offset_ms: f.offset_ms,
        duration_ms: f.duration_ms,
        frames: f.frames,
        bytes: f.bytes,
    }
}
