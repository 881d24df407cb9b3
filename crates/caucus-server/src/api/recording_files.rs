//! A recording's files for download: `GET /v1/recordings/{recording_id}/files/{name}` answers
//! one of the per-track WebM files its metadata lists, with range requests (`206 Partial
//! Content`, `416` past the end), so a browser's `<video>` can seek in it. Only names the
//! metadata lists are served: a name is never joined to a path unchecked.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use caucus_proto::ErrorCode;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::error::{ApiError, Envelope};
use super::paths::RecordingFilePath;
use super::recordings::{load, parse_id};
use super::{ApiState, Ids};
use crate::recorder::recording_path;

/// One finished file of a recording (`audio/webm` or `video/webm`), whole or by byte range.
#[utoipa::path(
    get, path = "/v1/recordings/{recording_id}/files/{name}", tag = "recordings",
    operation_id = "download_recording_file",
    params(RecordingFilePath),
    responses(
        (status = 200, description = "The whole file", content_type = "video/webm"),
        (status = 206, description = "The byte range the `Range` header asked for", content_type = "video/webm"),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_recording`; `unknown_file` (no such file in the recording)", body = Envelope),
        (status = 416, description = "The range starts past the end of the file"),
    )
)]
pub async fn download(
    State(state): State<ApiState>,
    Ids((id, name)): Ids<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let recording = load(&state, parse_id(&id)?).await?;
    let Some(file) = recording.files.iter().find(|f| f.name == name) else {
        return Err(ApiError::new(
            ErrorCode::UnknownFile,
            format!("recording {id} has no file {name:?}"),
        ));
    };
    let content_type = if file.kind == "audio" {
        "audio/webm"
    } else {
        "video/webm"
    };
    let path = state.data.join(recording_path(&recording)).join(&file.name);
    let served = ServeFile::new_with_mime(
        path,
        &content_type.parse().expect("invariant: a valid mime type"),
    )
    .oneshot(request)
    .await;
    let mut response = match served {
        Ok(response) => response.map(axum::body::Body::new),
        Err(e) => {
            return Err(ApiError::storage(format!(
                "cannot read a recording file: {e}"
            )));
        }
    };
    if response.status() == axum::http::StatusCode::NOT_FOUND {
        return Err(ApiError::new(
            ErrorCode::UnknownFile,
            format!("the file {name:?} of recording {id} is gone from the disk"),
        ));
    }
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{id}-{name}\""))
            .unwrap_or(HeaderValue::from_static("attachment")),
    );
    Ok(response.into_response())
}
