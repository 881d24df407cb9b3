//! Invite links: `POST/GET /v1/rooms/{room_id}/invites`, `DELETE …/invites/{invite_id}`
//! (management), and the public redeem `POST /invite/{invite_id}/join {name}`.
//!
//! One link is opened by many people: each visitor who gives a name redeems one use and gets
//! a join token of their own — a fresh user id in the invite's role — so two visitors never
//! share a peer. The invite id is the credential of the redeem (128 random bits); the store
//! counts uses atomically and says why an invite no longer redeems (expired, revoked, used up:
//! 410 with a stable code; unknown: 404), and nothing is minted then. The page that asks for
//! the name is `web/invite.html`, served at `GET /invite/{invite_id}` by [`crate::web`].

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use caucus_proto::{ErrorCode, RoleName, RoomId};
use caucus_store::{InviteRecord, InviteRefusal, is_invite_id, new_invite_id};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::error::{ApiError, Envelope, JsonBody};
use super::paths::{InvitePath, RoomPath};
use super::{ApiState, Ids, check_id, created, ok};
use crate::clock::unix_ms;
use crate::token::JoinGrant;

/// The longest an invite may live: a year.
pub const MAX_EXPIRES_IN_S: u64 = 365 * 24 * 3600;
/// The most uses an invite may allow.
pub const MAX_USES: u64 = 100_000;
/// How long the join token of a redeemed invite is valid: as long as a demo token.
const JOIN_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);
/// Longest display name a visitor may give (the demo endpoint's limit).
const MAX_NAME_CHARS: usize = 64;

/// `POST /v1/rooms/{room_id}/invites`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteCreate {
    /// The role every visitor joins in: a role of the room's template.
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")]
    pub role: String,
    /// Seconds the link redeems (1 to a year); default: until revoked.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_536_000)]
    pub expires_in_s: Option<u64>,
    /// How many visitors it admits (1 to 100000); default: any number.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000)]
    pub max_uses: Option<u64>,
}

/// An invite link.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    /// 32 lowercase hex digits (128 random bits).
    pub id: String,
    pub room_id: String,
    /// `{base_url}/invite/{id}`: all a visitor needs to join.
    pub url: String,
    pub role: String,
    pub created_at_ms: u64,
    /// `null`: never expires.
    pub expires_at_ms: Option<u64>,
    /// `null`: any number of uses.
    pub max_uses: Option<u64>,
    /// Visitors admitted so far.
    pub uses: u64,
    pub revoked: bool,
}

/// `GET /v1/rooms/{room_id}/invites`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteList {
    /// Oldest first, revoked ones too.
    pub invites: Vec<InviteView>,
}

/// `POST /invite/{invite_id}/join`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteJoin {
    pub name: String,
}

/// What a redeemed invite gives a visitor.
#[derive(Debug, Serialize)]
pub struct InviteJoined {
    pub room: String,
    pub token: String,
    /// `/rooms/{room}?token=…`, relative to the page that asked.
    pub url: String,
}

fn view(state: &ApiState, invite: InviteRecord) -> InviteView {
    InviteView {
        url: format!("{}/invite/{}", state.base_url, invite.id),
        id: invite.id,
        room_id: invite.room.to_string(),
        role: invite.role.to_string(),
        created_at_ms: invite.created_at_ms,
        expires_at_ms: invite.expires_at_ms,
        max_uses: invite.max_uses,
        uses: invite.uses,
        revoked: invite.revoked,
    }
}

/// Create an invite link to the room: many people may open it, each joins as someone new.
#[utoipa::path(
    post, path = "/v1/rooms/{room_id}/invites", tag = "invites", operation_id = "create_invite",
    params(RoomPath),
    request_body = InviteCreate,
    responses(
        (status = 201, description = "The invite and its link", body = InviteView),
        (status = 400, description = "Malformed JSON", body = Envelope),
        (status = 401, description = "No or bad management token", body = Envelope),
        (status = 404, description = "`unknown_room`; `unknown_role` (field `role`: not a role of the room's template)", body = Envelope),
        (status = 413, description = "Body too large", body = Envelope),
        (status = 422, description = "`invalid_value` (field `expires_in_s` or `max_uses`), `invalid_id` (field `role`)", body = Envelope),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
    JsonBody(body): JsonBody<InviteCreate>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    check_id("role", &body.role)?;
    if let Some(s) = body.expires_in_s
        && !(1..=MAX_EXPIRES_IN_S).contains(&s)
    {
        return Err(ApiError::invalid(
            "expires_in_s",
            format!("expires_in_s is 1 to {MAX_EXPIRES_IN_S} seconds"),
        ));
    }
    if let Some(n) = body.max_uses
        && !(1..=MAX_USES).contains(&n)
    {
        return Err(ApiError::invalid(
            "max_uses",
            format!("max_uses is 1 to {MAX_USES}"),
        ));
    }
    let role = RoleName::from(body.role.as_str());
    let template = state.control.compiled_template(&record.template).await?;
    if template.role_idx(&role).is_none() {
        return Err(ApiError::new(
            ErrorCode::UnknownRole,
            format!("the room's template {} has no role {role}", record.template),
        )
        .with_field("role"));
    }
    let now = unix_ms();
    let invite = InviteRecord {
        id: new_invite_id(),
        room: record.id.clone(),
        role,
        created_at_ms: now,
        expires_at_ms: body.expires_in_s.map(|s| now.saturating_add(s * 1000)),
        max_uses: body.max_uses,
        uses: 0,
        revoked: false,
    };
    let stored = invite.clone();
    state
        .control
        .store(move |s| s.create_invite(&stored))
        .await?;
    state
        .control
        .audit(
            "invite.created",
            Some(&record.id),
            Some(invite.id.clone()),
            json!({"role": invite.role, "expires_in_s": body.expires_in_s, "max_uses": body.max_uses}),
        )
        .await;
    Ok(created(&view(&state, invite)))
}

/// The room's invite links, oldest first (revoked ones too, with their uses).
#[utoipa::path(
    get, path = "/v1/rooms/{room_id}/invites", tag = "invites", operation_id = "list_invites",
    params(RoomPath),
    responses(
        (status = 200, body = InviteList),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room`", body = Envelope),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    Ids(room): Ids<String>,
) -> Result<Response, ApiError> {
    let room = RoomId::from(room);
    let listed = room.clone();
    let invites = state
        .control
        .store(move |s| s.list_invites(&listed))
        .await?;
    Ok(ok(&InviteList {
        invites: invites.into_iter().map(|i| view(&state, i)).collect(),
    }))
}

/// Revoke an invite link: it never redeems again (visitors already in stay).
#[utoipa::path(
    delete, path = "/v1/rooms/{room_id}/invites/{invite_id}", tag = "invites",
    operation_id = "revoke_invite",
    params(InvitePath),
    responses(
        (status = 204, description = "Revoked (again is fine)"),
        (status = 401, body = Envelope),
        (status = 404, description = "`unknown_room`, `unknown_invite` (not an invite of this room)", body = Envelope),
    )
)]
pub async fn revoke(
    State(state): State<ApiState>,
    Ids((room, id)): Ids<(String, String)>,
) -> Result<Response, ApiError> {
    let record = state.control.room_record(&RoomId::from(room)).await?;
    if !is_invite_id(&id) {
        return Err(unknown(&id));
    }
    let (room, revoked) = (record.id.clone(), id.clone());
    state
        .control
        .store(move |s| s.revoke_invite(&room, &revoked))
        .await?;
    state
        .control
        .audit("invite.revoked", Some(&record.id), Some(id), json!({}))
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn unknown(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownInvite,
        format!("no invite {id:?}: check the link"),
    )
}

/// Redeem one use of an invite for a visitor named `name`: a join token for a fresh user id
/// in the invite's role. No management token: the invite id is the credential.
pub async fn join(
    State(state): State<ApiState>,
    Ids(id): Ids<String>,
    JsonBody(body): JsonBody<InviteJoin>,
) -> Result<Response, ApiError> {
    // The demo endpoint's rule: trimmed, at most 64 characters, printable; and not empty,
    // since the name is how the others will know this visitor.
    let name: String = body.name.trim().chars().take(MAX_NAME_CHARS).collect();
    if name.is_empty() || !caucus_core::text::is_printable_name(&name) {
        return Err(ApiError::new(
            ErrorCode::InvalidName,
            "give a name of printable characters, without control or direction-changing ones",
        )
        .with_field("name"));
    }
    if !is_invite_id(&id) {
        return Err(unknown(&id));
    }
    // A role the template lost since the invite was made would fail at the join: refuse
    // before counting a use.
    let found = id.clone();
    let invite = state.control.store(move |s| s.get_invite(&found)).await?;
    let record = state.control.room_record(&invite.room).await?;
    let template = state.control.compiled_template(&record.template).await?;
    if template.role_idx(&invite.role).is_none() {
        return Err(ApiError::new(
            ErrorCode::UnknownRole,
            format!("the room no longer has the role {}", invite.role),
        ));
    }
    let redeemed = id.clone();
    let now = unix_ms();
    let invite = match state
        .control
        .store(move |s| s.redeem_invite(&redeemed, now))
        .await?
    {
        Ok(invite) => invite,
        Err(why) => return Err(refusal(&id, why)),
    };
    let user_id = format!("inv-{}", crate::secret::random_hex(8));
    let grant = JoinGrant::new(invite.room.clone(), user_id, invite.role.clone()).with_name(name);
    let token = state
        .tokens
        .mint_join(&grant, JOIN_TOKEN_TTL)
        .map_err(|e| ApiError::from(e.into_body()))?;
    Ok(ok(&InviteJoined {
        url: format!("/rooms/{}?token={token}", invite.room),
        room: invite.room.to_string(),
        token,
    }))
}

/// Why an invite did not redeem, as its stable code.
fn refusal(id: &str, why: InviteRefusal) -> ApiError {
    match why {
        InviteRefusal::Unknown => unknown(id),
        InviteRefusal::Expired => {
            ApiError::new(ErrorCode::InviteExpired, "this invite has expired")
        }
        InviteRefusal::Revoked => {
            ApiError::new(ErrorCode::InviteRevoked, "this invite was revoked")
        }
        InviteRefusal::UsedUp => ApiError::new(
            ErrorCode::InviteUsedUp,
            "this invite has been used as many times as it allows",
        ),
    }
}
