//! The live session of a room: its peers, bulk role changes, messages, ending it. Every call
//! is a core command carried out by the room task as the server; a room with no live session
//! has no peers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use caucus_core::Command;
use caucus_proto::{ChatTarget, ErrorCode, PeerId, RoleName, RoomId};
use caucus_store::{RoomPatch, RoomRecord};
use serde_json::json;

use super::body::{EndBody, MessageBody, PeerList, PeerPatchBody, RolesChange};
use super::error::{ApiError, Envelope, JsonBody};
use super::paths::{PeerPath, RoomPath};
use super::schema::PeerInfoDoc;
use super::{ApiState, Ids, ok};
use crate::clock::unix_ms;
use crate::room::{ApiAnswer, ApiRequest, PeerPatch};

/// The peers of the room's live session (none when it has no session).
#[utoipa::path(
    get, path = "/v1/rooms/{room_id}/peers", tag = "session", operation_id = "list_peers",
    params(RoomPath),
    responses(
        (status = 200, body = PeerList),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room`", body = Envelope),
    )
)]
pub async fn peers(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    let peers = match state.control.ask(&record, false, ApiRequest::Peers).await? {
        Some(ApiAnswer::Peers(peers)) => peers,
        _ => Vec::new(),
    };
    Ok(ok(&PeerList { peers }))
}

/// One peer.
#[utoipa::path(
    get, path = "/v1/rooms/{room_id}/peers/{peer_id}", tag = "session", operation_id = "get_peer",
    params(PeerPath),
    responses(
        (status = 200, body = PeerInfoDoc),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room` or `unknown_peer`", body = Envelope),
    )
)]
pub async fn peer(
    State(state): State<ApiState>,
    Ids((room, peer)): Ids<(String, String)>,
) -> Result<Response, ApiError> {
    let (record, peer) = room_and_peer(&state, room, &peer).await?;
    answer_peer(
        state
            .control
            .ask(&record, false, ApiRequest::Peer(peer))
            .await?,
        peer,
    )
}

/// Change a peer: role, name, metadata, location (a move). `force` (default `true`) does it
/// at once; `false` sends the peer a request to accept. The changes apply in the order role,
/// location, name/metadata, all or nothing: if one is refused, none is made and the peer stays
/// as it was.
#[utoipa::path(
    patch, path = "/v1/rooms/{room_id}/peers/{peer_id}", tag = "session", operation_id = "update_peer",
    params(PeerPath),
    request_body = Option<PeerPatchBody>,
    responses(
        (status = 200, description = "The peer after the change", body = PeerInfoDoc),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 403, body = Envelope),
        (status = 404, description = "`unknown_peer`, `unknown_role`, `unknown_breakout`", body = Envelope),
        (status = 409, description = "`breakout_full`, `role_full`, `breakouts_not_open`, `already_there`…", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn patch_peer(
    State(state): State<ApiState>,
    Ids((room, peer)): Ids<(String, String)>,
    JsonBody(body): JsonBody<PeerPatchBody>,
) -> Result<Response, ApiError> {
    let (record, peer) = room_and_peer(&state, room, &peer).await?;
    let details = json!({"role": body.role, "name": body.name, "location": body.location,
                         "metadata": body.metadata.is_some(), "force": body.force});
    let patch = PeerPatch {
        peer: Some(peer),
        role: body.role.map(RoleName::from),
        name: body.name,
        metadata: body.metadata,
        location: body.location,
        force: body.force.unwrap_or(true),
    };
    let answer = state
        .control
        .ask(&record, false, ApiRequest::PatchPeer(patch))
        .await?;
    let response = answer_peer(answer, peer)?;
    state
        .control
        .audit(
            "peer.updated",
            Some(&record.id),
            Some(peer.to_string()),
            details,
        )
        .await;
    Ok(response)
}

/// Remove a peer from the session.
#[utoipa::path(
    delete, path = "/v1/rooms/{room_id}/peers/{peer_id}", tag = "session", operation_id = "remove_peer",
    params(PeerPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
    )
)]
pub async fn remove_peer(
    State(state): State<ApiState>,
    Ids((room, peer)): Ids<(String, String)>,
) -> Result<Response, ApiError> {
    let (record, peer) = room_and_peer(&state, room, &peer).await?;
    let command = Command::RemovePeer { peer, reason: None };
    if state
        .control
        .ask(&record, false, ApiRequest::Command(command))
        .await?
        .is_none()
    {
        return Err(unknown_peer(peer));
    }
    state
        .control
        .audit(
            "peer.removed",
            Some(&record.id),
            Some(peer.to_string()),
            json!({}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Give every peer holding one of `from_roles` the role `to_role`, at once.
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/roles/change", tag = "session", operation_id = "change_roles",
    params(RoomPath),
    request_body = RolesChange,
    responses(
        (status = 204, description = "Changed (nothing to change without a live session)"),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room`, `unknown_role`", body = Envelope),
        (status = 409, description = "`role_full`", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn change_roles(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<RolesChange>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    let details = json!({"from_roles": body.from_roles, "to_role": body.to_role});
    let template = state.control.compiled_template(&record.template).await?;
    template
        .require_role(&body.to_role)
        .map_err(|d| ApiError::from(d).with_field("to_role"))?;
    let command = Command::ChangeRoles {
        from_roles: body.from_roles,
        to_role: body.to_role,
    };
    state
        .control
        .ask(&record, false, ApiRequest::Command(command))
        .await?;
    state
        .control
        .audit("roles.changed", Some(&record.id), None, details)
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Send a chat message as the server: to a peer, a role, a location, or (no `to`) everyone.
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/messages", tag = "session", operation_id = "send_message",
    params(RoomPath),
    request_body = MessageBody,
    responses(
        (status = 204, description = "Sent"),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 409, description = "The room has no live session (`session_ended`)", body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn message(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    let command = Command::Chat {
        to: body.to.clone().unwrap_or(ChatTarget::Everyone),
        text: body.text,
    };
    if state
        .control
        .ask(&record, false, ApiRequest::Command(command))
        .await?
        .is_none()
    {
        return Err(no_session());
    }
    state
        .control
        .audit(
            "message.sent",
            Some(&record.id),
            None,
            json!({"to": body.to}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// End the live session for everyone; `lock: true` also locks the room (stored).
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/end", tag = "session", operation_id = "end_session",
    params(RoomPath),
    request_body(content = Option<EndBody>, description = "May be empty"),
    responses(
        (status = 204, description = "Ended (or no live session)"),
        (status = 400, body = Envelope),
        (status = 401, body = Envelope),
        (status = 404, body = Envelope),
        (status = 413, body = Envelope),
        (status = 422, body = Envelope),
    )
)]
pub async fn end(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<EndBody>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    let lock = body.lock.unwrap_or(false);
    if lock {
        let (id, patch) = (
            record.id.clone(),
            RoomPatch {
                locked: Some(true),
                ..RoomPatch::default()
            },
        );
        state
            .control
            .store(move |s| s.update_room(&id, &patch, unix_ms()))
            .await?;
    }
    let command = Command::EndSession {
        reason: body.reason.clone(),
        lock,
    };
    state
        .control
        .ask(&record, false, ApiRequest::Command(command))
        .await?;
    state
        .control
        .audit(
            "session.ended",
            Some(&record.id),
            None,
            json!({"reason": body.reason, "lock": lock}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn room_and_peer(
    state: &ApiState,
    room: String,
    peer: &str,
) -> Result<(RoomRecord, PeerId), ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    let peer = peer
        .parse::<PeerId>()
        .map_err(|_| ApiError::new(ErrorCode::UnknownPeer, format!("{peer:?} is not a peer id")))?;
    Ok((record, peer))
}

fn answer_peer(answer: Option<ApiAnswer>, peer: PeerId) -> Result<Response, ApiError> {
    match answer {
        Some(ApiAnswer::Peer(info)) => Ok(ok(&info)),
        _ => Err(unknown_peer(peer)),
    }
}

fn unknown_peer(peer: PeerId) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownPeer,
        format!("no peer {peer} in this room"),
    )
}

fn no_session() -> ApiError {
    ApiError::new(ErrorCode::SessionEnded, "the room has no live session")
}
