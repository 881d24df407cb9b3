//! Durable rooms. Passwords are stored hashed (`caucus_store::password`) and never shown.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use caucus_core::Command;
use caucus_proto::{RoomId, TemplateId};
use caucus_store::{RecordingPolicy, RoomPatch, RoomRecord};
use serde_json::json;

use super::body::{RoomCreate, RoomList, RoomOut, RoomPatchBody};
use super::error::{ApiError, Envelope, JsonBody};
use super::paths::RoomPath;
use super::{ApiState, Ids, check_id, check_name, created, ok, slug, unique};
use crate::clock::unix_ms;
use crate::room::ApiRequest;

/// Every room.
#[utoipa::path(
    get, path = "/v1/rooms", tag = "rooms", operation_id = "list_rooms",
    responses((status = 200, body = RoomList), (status = 401, body = Envelope))
)]
pub async fn list(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let rooms = state.control.store(|s| s.list_rooms()).await?;
    Ok(ok(&RoomList {
        rooms: rooms.iter().map(RoomOut::from).collect(),
    }))
}

/// Create a room.
#[utoipa::path(
    post, path = "/v1/rooms", tag = "rooms", operation_id = "create_room",
    request_body = RoomCreate,
    responses(
        (status = 201, body = RoomOut),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, description = "The template does not exist (`unknown_template`, field `template`)", body = Envelope),
        (status = 409, description = "The id is taken (`already_exists`) or the server holds its maximum of rooms (`capacity_exceeded`)", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<RoomCreate>,
) -> Result<Response, ApiError> {
    let name = check_name("name", &body.name)?;
    if let Some(id) = &body.id {
        check_id("id", id)?;
    }
    check_id("template", &body.template)?;
    let template = TemplateId::from(body.template.as_str());
    state
        .control
        .compiled_template(&template)
        .await
        .map_err(|e| e.with_field("template"))?;
    check_password(body.password.as_deref())?;
    state.control.check_room_limit().await?;
    let id = match body.id {
        Some(id) => id,
        None => {
            let existing: Vec<String> = state
                .control
                .store(|s| s.list_rooms())
                .await?
                .into_iter()
                .map(|r| r.id.to_string())
                .collect();
            unique(&slug(&name), |c| existing.iter().any(|e| e == c))
        }
    };
    let password_hash = hash(body.password).await?;
    let now = unix_ms();
    let record = RoomRecord {
        id: RoomId::from(id.as_str()),
        name,
        template,
        password_hash,
        locked: body.locked.unwrap_or(false),
        recording: RecordingPolicy {
            auto: body.auto_record.unwrap_or(false),
        },
        created_at_ms: now,
        updated_at_ms: now,
    };
    let to_store = record.clone();
    state
        .control
        .store(move |s| s.create_room(&to_store))
        .await
        .map_err(|e| ApiError::from(e).with_field("id"))?;
    state
        .control
        .audit(
            "room.created",
            Some(&record.id),
            None,
            json!({"name": record.name, "template": record.template.as_str(),
                   "password": record.password_hash.is_some(), "locked": record.locked}),
        )
        .await;
    Ok(created(&RoomOut::from(&record)))
}

/// One room.
#[utoipa::path(
    get, path = "/v1/rooms/{room_id}", tag = "rooms", operation_id = "get_room",
    params(RoomPath),
    responses(
        (status = 200, body = RoomOut),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room`", body = Envelope),
    )
)]
pub async fn get_one(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(id)).await?;
    Ok(ok(&RoomOut::from(&record)))
}

/// Change a room: name, template (from its next session on), password, locked.
#[utoipa::path(
    patch, path = "/v1/rooms/{room_id}", tag = "rooms", operation_id = "update_room",
    params(RoomPath),
    request_body = Option<RoomPatchBody>,
    responses(
        (status = 200, body = RoomOut),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn patch(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
    JsonBody(body): JsonBody<RoomPatchBody>,
) -> Result<Response, ApiError> {
    let room = RoomId::from(id);
    let current = state.control.room_record(&room).await?;
    let name = body
        .name
        .as_deref()
        .map(|n| check_name("name", n))
        .transpose()?;
    let template = match &body.template {
        Some(t) => {
            check_id("template", t)?;
            let t = TemplateId::from(t.as_str());
            state
                .control
                .compiled_template(&t)
                .await
                .map_err(|e| e.with_field("template"))?;
            Some(t)
        }
        None => None,
    };
    let password_hash = match body.password {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => {
            check_password(Some(&p))?;
            Some(hash(Some(p)).await?)
        }
    };
    let patch = RoomPatch {
        name,
        template,
        password_hash,
        locked: body.locked,
        recording: body.auto_record.map(|auto| RecordingPolicy { auto }),
    };
    let details = json!({
        "name": patch.name, "template": patch.template.as_ref().map(TemplateId::as_str),
        "password": patch.password_hash.as_ref().map(Option::is_some), "locked": patch.locked,
    });
    let (to_update, patch_) = (room.clone(), patch.clone());
    let updated = state
        .control
        .store(move |s| s.update_room(&to_update, &patch_, unix_ms()))
        .await?;
    if let Some(hash) = &patch.password_hash {
        // Joins of the live session need the new password at once.
        state
            .control
            .ask(
                &current,
                false,
                ApiRequest::SetPassword { hash: hash.clone() },
            )
            .await?;
    }
    if let Some(locked) = body.locked {
        // The live session follows at once (and writes the same flag back: harmless).
        state
            .control
            .ask(
                &current,
                false,
                ApiRequest::Command(Command::SetLocked { locked }),
            )
            .await?;
    }
    state
        .control
        .audit("room.updated", Some(&room), None, details)
        .await;
    Ok(ok(&RoomOut::from(&updated)))
}

/// Delete a room: its live session ends, its breakout plan goes with it.
#[utoipa::path(
    delete, path = "/v1/rooms/{room_id}", tag = "rooms", operation_id = "delete_room",
    params(RoomPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
    )
)]
pub async fn delete(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
) -> Result<Response, ApiError> {
    let room = RoomId::from(id);
    let record = state.control.room_record(&room).await?;
    let to_delete = room.clone();
    state
        .control
        .store(move |s| s.delete_room(&to_delete))
        .await?;
    let end = Command::EndSession {
        reason: Some("the room was deleted".to_owned()),
        lock: false,
    };
    if let Err(e) = state
        .control
        .ask(&record, false, ApiRequest::Command(end))
        .await
    {
        tracing::debug!(room = %room, error = ?e, "ending the deleted room's session");
    }
    state
        .control
        .audit("room.deleted", Some(&room), None, json!({}))
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn check_password(password: Option<&str>) -> Result<(), ApiError> {
    match password {
        Some(p) if p.is_empty() || p.chars().count() > 128 => Err(ApiError::invalid(
            "password",
            "passwords are 1 to 128 characters",
        )),
        _ => Ok(()),
    }
}

/// PBKDF2 on a blocking thread.
async fn hash(password: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(password) = password else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || caucus_store::password::hash(&password))
        .await
        .map(Some)
        .map_err(ApiError::storage)
}
