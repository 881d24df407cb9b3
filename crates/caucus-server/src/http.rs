//! The HTTP surface: `/healthz`, the signaling WebSocket at `/v1/rtc`, the join page
//! `/rooms/{room}` (a placeholder until the web app lands), and the REST API ([`crate::api`]).
//! Unknown paths and wrong methods answer with the API's error envelope.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use caucus_proto::RoomId;
use caucus_proto::signal::MAX_MESSAGE_BYTES;
use serde::Deserialize;

use crate::api::ApiState;
use crate::connection::{self, ConnectionContext};

/// Frames up to this size are read whole so that the server can answer "too large" with a
/// proper error; anything bigger breaks the connection at the WebSocket layer.
const READ_LIMIT_BYTES: usize = 16 * MAX_MESSAGE_BYTES;

pub fn router(ctx: Arc<ConnectionContext>, api: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/rtc", get(rtc))
        .route("/rooms/{room}", get(room_page))
        .with_state(ctx)
        .merge(crate::api::router(api))
        .fallback(crate::api::fallback)
        .method_not_allowed_fallback(crate::api::method_not_allowed)
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
    let hint = query.room.map(RoomId::from);
    upgrade
        .max_message_size(READ_LIMIT_BYTES)
        .max_frame_size(READ_LIMIT_BYTES)
        .on_upgrade(move |socket| connection::serve(socket, ctx, hint))
}

async fn room_page(Path(room): Path<String>) -> impl IntoResponse {
    let room = escape(&room);
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Caucus — {room}</title>\
         <h1>Caucus: room {room}</h1>\
         <p>The web app is not served yet. A client joins this room by opening a WebSocket to \
         <code>/v1/rtc</code> and sending <code>join</code> with the token from this link \
         (see <code>docs/protocol.md</code>).</p>"
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(body))
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
