//! The breakout set of a room, before and during its session. A room with no live session
//! gets one on demand (from its saved plan), so rooms, options and pre-assignments can be
//! prepared before anyone joins; every change is saved to the store before the call answers.
//! Every mutating call may send `version`: a stale one is 409 `stale_version`. Each answers
//! with the breakout set after the change (`POST` with the rooms it created).

use axum::extract::{RawQuery, State};
use axum::response::Response;
use caucus_core::Outcome;
use caucus_proto::signal::{BreakoutCommand, BreakoutUpdate};
use caucus_proto::{BreakoutId, ErrorCode, RoomId};
use caucus_store::RoomRecord;
use serde_json::json;

use super::body::{
    AssignBody, BreakoutPatch, BreakoutsCreate, BreakoutsCreated, BroadcastBody, CloseBody,
    ExtendBody, OpenBody, OptionsBody, PreassignBody,
};
use super::error::{ApiError, Envelope, JsonBody, version_query};
use super::paths::{BreakoutPath, RoomPath};
use super::schema::BreakoutsViewDoc;
use super::{ApiState, Ids, created, ok};
use crate::room::{ApiAnswer, ApiRequest, OptionsPatch};

/// The breakout set: phase, version, options, rooms, help queue, pre-assignments.
#[utoipa::path(
    get, path = "/v1/rooms/{room_id}/breakouts", tag = "breakouts", operation_id = "list_breakout_rooms",
    params(RoomPath),
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
    )
)]
pub async fn view(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let (_, view) = ask(&state, &record, ApiRequest::View).await?;
    Ok(ok(&view))
}

/// Create `count` rooms named "Room N" and/or rooms by name.
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/breakouts", tag = "breakouts", operation_id = "create_breakout_rooms",
    params(RoomPath),
    request_body = BreakoutsCreate,
    responses(
        (status = 201, body = BreakoutsCreated),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, description = "`stale_version`", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, description = "`invalid_value` (no count or names, too many rooms), `duplicate_name`…", body = Envelope),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<BreakoutsCreate>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let details = json!({"count": body.count, "names": body.names, "capacity": body.capacity});
    let op = BreakoutCommand::Create {
        count: body.count,
        names: body.names,
        capacity: body.capacity,
    };
    let (outcome, view) = mutate(&state, &record, body.version, op).await?;
    let new: Vec<BreakoutId> = match outcome {
        Outcome::BreakoutsCreated { rooms } => rooms,
        _ => Vec::new(),
    };
    audit(&state, &record, "breakouts.created", None, details).await;
    let rooms = view
        .rooms
        .iter()
        .filter(|r| new.contains(&r.id))
        .cloned()
        .collect();
    Ok(created(&BreakoutsCreated {
        rooms,
        version: view.version,
    }))
}

/// Rename a room, set its capacity, password or visibility.
#[utoipa::path(
    patch, path = "/v1/rooms/{room_id}/breakouts/{breakout_id}", tag = "breakouts", operation_id = "update_breakout_room",
    params(BreakoutPath),
    request_body = Option<BreakoutPatch>,
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_breakout`", body = Envelope),
        (status = 409, description = "`stale_version`", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn update(
    State(state): State<ApiState>,
    Ids((room, breakout)): Ids<(String, String)>,
    JsonBody(body): JsonBody<BreakoutPatch>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let breakout_id = breakout_id(&breakout)?;
    let details = json!({"name": body.name, "capacity": body.capacity,
        "password": body.password.as_ref().map(Option::is_some), "visibility": body.visibility});
    let op = BreakoutCommand::Update {
        breakout_id,
        update: BreakoutUpdate {
            name: body.name,
            capacity: body.capacity,
            password: body.password,
            visibility: body.visibility,
        },
    };
    let (_, view) = mutate(&state, &record, body.version, op).await?;
    audit(&state, &record, "breakout.updated", Some(breakout), details).await;
    Ok(ok(&view))
}

/// Remove a room; its peers return to main. `?version=N` refuses a stale edit.
#[utoipa::path(
    delete, path = "/v1/rooms/{room_id}/breakouts/{breakout_id}", tag = "breakouts", operation_id = "delete_breakout_room",
    params(
        BreakoutPath,
        ("version" = Option<u64>, Query, description = "The version the caller saw"),
    ),
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, description = "`stale_version`", body = Envelope),
        (status = 422, description = "A `version` that is not a number", body = Envelope),
    )
)]
pub async fn remove(
    State(state): State<ApiState>,
    Ids((room, breakout)): Ids<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let version = version_query(query.as_deref())?;
    let record = record(&state, room).await?;
    let breakout_id = breakout_id(&breakout)?;
    let op = BreakoutCommand::Remove { breakout_id };
    let (_, view) = mutate(&state, &record, version, op).await?;
    audit(
        &state,
        &record,
        "breakout.removed",
        Some(breakout),
        json!({}),
    )
    .await;
    Ok(ok(&view))
}

/// Set the options; absent fields keep their value.
#[utoipa::path(
    put, path = "/v1/rooms/{room_id}/breakouts/options", tag = "breakouts", operation_id = "set_breakout_options",
    params(RoomPath),
    request_body = Option<OptionsBody>,
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn options(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<OptionsBody>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let patch = OptionsPatch {
        allow_self_select: body.allow_self_select,
        allow_return_to_main: body.allow_return_to_main,
        auto_move_on_open: body.auto_move_on_open,
        countdown_s: body.countdown_s,
        duration_s: body.duration_s,
        warning_s: body.warning_s,
    };
    let request = ApiRequest::Options {
        version: body.version,
        patch,
    };
    let (_, view) = ask(&state, &record, request).await?;
    audit(
        &state,
        &record,
        "breakouts.options_set",
        None,
        json!(view.options),
    )
    .await;
    Ok(ok(&view))
}

/// Assign by hand (`assignments`: peer id or user id → `"main"` or a breakout id) or
/// automatically (`auto`).
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/breakouts/assign", tag = "breakouts", operation_id = "assign_breakouts",
    params(RoomPath),
    request_body = AssignBody,
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, description = "`stale_version`, `breakout_full`…", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, description = "Neither or both of `assignments` and `auto`", body = Envelope),
    )
)]
pub async fn assign(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> Result<Response, ApiError> {
    let op = match (body.assignments, body.auto) {
        (Some(assignments), None) => BreakoutCommand::Assign { assignments },
        (None, Some(auto)) => BreakoutCommand::Auto {
            exclude_roles: auto.exclude_roles,
            seed: auto.seed,
            keep_previous: auto.keep_previous,
        },
        _ => {
            return Err(ApiError::invalid(
                "assignments",
                "give exactly one of `assignments` and `auto`",
            ));
        }
    };
    let record = record(&state, room).await?;
    let details = json!({"op": format!("{op:?}")});
    let (_, view) = mutate(&state, &record, body.version, op).await?;
    audit(&state, &record, "breakouts.assigned", None, details).await;
    Ok(ok(&view))
}

/// Replace the pre-assignments by user id (valid before the users join).
#[utoipa::path(
    put, path = "/v1/rooms/{room_id}/breakouts/preassignments", tag = "breakouts", operation_id = "set_breakout_preassignments",
    params(RoomPath),
    request_body = PreassignBody,
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, description = "A named room does not exist", body = Envelope),
        (status = 409, body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn preassign(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<PreassignBody>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let details = json!({"users": body.by_user_id.len()});
    let op = BreakoutCommand::Preassign {
        by_user_id: body.by_user_id,
    };
    let (_, view) = mutate(&state, &record, body.version, op).await?;
    audit(&state, &record, "breakouts.preassigned", None, details).await;
    Ok(ok(&view))
}

/// Open every room (moving or inviting the assigned peers).
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/breakouts/open", tag = "breakouts", operation_id = "open_breakouts",
    params(RoomPath),
    request_body(content = Option<OpenBody>, description = "May be empty"),
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn open(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<OpenBody>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let op = BreakoutCommand::Open {
        duration_s: body.duration_s,
    };
    let (_, view) = mutate(&state, &record, body.version, op).await?;
    audit(
        &state,
        &record,
        "breakouts.opened",
        None,
        json!({"duration_s": body.duration_s}),
    )
    .await;
    Ok(ok(&view))
}

/// Close every room, or one, after a countdown.
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/breakouts/close", tag = "breakouts", operation_id = "close_breakouts",
    params(RoomPath),
    request_body(content = Option<CloseBody>, description = "May be empty"),
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, description = "`breakouts_not_open`, `stale_version`…", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn close(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<CloseBody>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let details = json!({"countdown_s": body.countdown_s, "breakout_id": body.breakout_id});
    let op = BreakoutCommand::Close {
        countdown_s: body.countdown_s,
        breakout_id: body.breakout_id,
    };
    let (_, view) = mutate(&state, &record, body.version, op).await?;
    audit(&state, &record, "breakouts.closed", None, details).await;
    Ok(ok(&view))
}

/// Extend the running timer.
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/breakouts/extend", tag = "breakouts", operation_id = "extend_breakouts",
    params(RoomPath),
    request_body = ExtendBody,
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, description = "`no_timer`, `stale_version`…", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn extend(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<ExtendBody>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let op = BreakoutCommand::Extend {
        seconds: body.seconds,
    };
    let (_, view) = mutate(&state, &record, body.version, op).await?;
    audit(
        &state,
        &record,
        "breakouts.extended",
        None,
        json!({"seconds": body.seconds}),
    )
    .await;
    Ok(ok(&view))
}

/// Send a text to every breakout room.
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/breakouts/broadcast", tag = "breakouts", operation_id = "broadcast_to_breakouts",
    params(RoomPath),
    request_body = BroadcastBody,
    responses(
        (status = 200, body = BreakoutsViewDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn broadcast(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<BroadcastBody>,
) -> Result<Response, ApiError> {
    let record = record(&state, room).await?;
    let op = BreakoutCommand::Broadcast { text: body.text };
    let (_, view) = mutate(&state, &record, body.version, op).await?;
    audit(&state, &record, "breakouts.broadcast", None, json!({})).await;
    Ok(ok(&view))
}

async fn record(state: &ApiState, room: String) -> Result<RoomRecord, ApiError> {
    state.control.room_record(&RoomId::from(room)).await
}

fn breakout_id(text: &str) -> Result<BreakoutId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::UnknownBreakout,
            format!("{text:?} is not a breakout id"),
        )
    })
}

async fn mutate(
    state: &ApiState,
    record: &RoomRecord,
    version: Option<u64>,
    op: BreakoutCommand,
) -> Result<(Outcome, caucus_proto::event::BreakoutsView), ApiError> {
    ask(state, record, ApiRequest::Breakouts { version, op }).await
}

async fn ask(
    state: &ApiState,
    record: &RoomRecord,
    request: ApiRequest,
) -> Result<(Outcome, caucus_proto::event::BreakoutsView), ApiError> {
    match state.control.ask(record, true, request).await? {
        Some(ApiAnswer::Breakouts { outcome, view }) => Ok((outcome, view)),
        _ => Err(ApiError::new(
            ErrorCode::SessionEnded,
            "the room's session ended; retry",
        )),
    }
}

async fn audit(
    state: &ApiState,
    record: &RoomRecord,
    action: &str,
    target: Option<String>,
    details: serde_json::Value,
) {
    state
        .control
        .audit(action, Some(&record.id), target, details)
        .await;
}
