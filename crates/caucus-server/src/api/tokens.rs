//! `POST /v1/tokens`: mint a join token for a durable room.

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use caucus_proto::{ErrorCode, RoleName, RoomId, UserId};
use serde_json::json;

use super::body::{TokenRequest, TokenResponse};
use super::error::{ApiError, Envelope, JsonBody};
use super::{ApiState, check_id, check_parsed, ok};
use crate::token::JoinGrant;

const DEFAULT_TTL_S: u64 = 3600;
const MAX_TTL_S: u64 = 30 * 24 * 3600;

/// Mint a join token (and its browser link) for a room of this server.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens", operation_id = "create_token",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A join token and its link", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Envelope),
        (status = 401, description = "No or bad management token", body = Envelope),
        (status = 404, description = "Unknown room or role (`unknown_room`, `unknown_role`)", body = Envelope),
        (status = 413, description = "Body too large", body = Envelope),
        (status = 422, description = "Invalid values", body = Envelope),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> Result<Response, ApiError> {
    check_id("room", &body.room)?;
    check_parsed("user_id", UserId::check(&body.user_id))?;
    check_id("role", &body.role)?;
    if let Some(name) = &body.name {
        // The join checks it again (the core's rule); refusing here keeps such a token from
        // being handed out at all.
        if !caucus_core::text::is_printable_name(name) {
            return Err(ApiError::new(
                ErrorCode::InvalidName,
                "a display name may not hold control or direction-changing characters",
            )
            .with_field("name"));
        }
    }
    let ttl = body.ttl_s.unwrap_or(DEFAULT_TTL_S);
    if ttl == 0 || ttl > MAX_TTL_S {
        return Err(ApiError::invalid(
            "ttl_s",
            format!("ttl_s is 1 to {MAX_TTL_S} seconds"),
        ));
    }
    let room = RoomId::from(body.room.as_str());
    let record = state.control.room_record(&room).await?;
    let role = RoleName::from(body.role.as_str());
    let template = state.control.compiled_template(&record.template).await?;
    if template.role_idx(&role).is_none() {
        return Err(ApiError::new(
            ErrorCode::UnknownRole,
            format!("template {} has no role {role}", record.template),
        )
        .with_field("role"));
    }
    let mut grant = JoinGrant::new(room.clone(), body.user_id.as_str(), role);
    grant.name = body.name.clone();
    let token = state
        .tokens
        .mint_join(&grant, Duration::from_secs(ttl))
        .map_err(|e| ApiError::from(e.into_body()))?;
    // Never from the request's `Host`: whoever can send a request could make the server
    // hand out links to another site, with the token in them.
    let url = format!("{}/rooms/{room}?token={token}", state.base_url);
    state
        .control
        .audit(
            "token.created",
            Some(&room),
            Some(body.user_id.clone()),
            json!({"role": body.role, "ttl_s": ttl}),
        )
        .await;
    Ok(ok(&TokenResponse {
        token,
        url,
        expires_in_s: ttl,
    }))
}
