//! The HTTP surface: `/healthz`, `/readyz`, `/metrics` ([`crate::metrics`]), the signaling WebSocket at `/v1/rtc` and the REST API
//! ([`crate::api`]); the web app, `/rooms/{room}` included, is in [`crate::web`]. Unknown paths
//! and wrong methods answer with the API's error envelope.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use caucus_proto::RoomId;
use caucus_proto::signal::MAX_MESSAGE_BYTES;
use serde::Deserialize;

use crate::api::ApiState;
use crate::connection::{self, ConnectionContext};
use crate::metrics::Metrics;
use crate::refusal::ApiError;

/// Frames up to this size are read whole so that the server can answer "too large" with a
/// proper error; anything bigger breaks the connection at the WebSocket layer.
const READ_LIMIT_BYTES: usize = 16 * MAX_MESSAGE_BYTES;
/// The WebSocket read buffer a connection starts with.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// The main router; `/metrics` is on it unless it has an address of its own
/// ([`metrics_router`]).
pub fn router(
    ctx: Arc<ConnectionContext>,
    api: ApiState,
    metrics: Arc<Metrics>,
    metrics_here: bool,
) -> Router {
    let probes = Router::new().route("/readyz", get(crate::metrics::readyz));
    let probes = if metrics_here {
        probes.route("/metrics", get(crate::metrics::scrape))
    } else {
        probes
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/rtc", get(rtc))
        .with_state(ctx)
        .merge(probes.with_state(metrics))
        .merge(crate::api::router(api))
        .fallback(crate::api::fallback)
        .method_not_allowed_fallback(crate::api::method_not_allowed)
}

/// `/metrics` (and the probes) alone, for `metrics_http`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::metrics::readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .with_state(metrics)
}

async fn healthz() -> &'static str {
    "ok\n"
}

#[derive(Debug, Deserialize)]
struct RtcQuery {
    room: Option<String>,
}

async fn rtc(
    State(ctx): State<Arc<ConnectionContext>>,
    Query(query): Query<RtcQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let hint = match query.room.as_deref().map(RoomId::parse).transpose() {
        Ok(hint) => hint,
        Err(e) => return ApiError::from(e.into_body("room")).into_response(),
    };
    upgrade
        // tungstenite zero-fills its whole read buffer on the first read: at the default
        // 128 KiB that is half of a peer's memory. Signaling messages are small; a larger
        // one grows the buffer as needed.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(READ_LIMIT_BYTES)
        .max_frame_size(READ_LIMIT_BYTES)
        .on_upgrade(move |socket| connection::serve(socket, ctx, hint))
}
