//! The web app, embedded in the binary: `web/*` at the repository root, served with no build
//! step.
//!
//! - `GET /` — the landing page (pick the demo room and a role, join in one click);
//! - `GET /rooms/{room}` — the meeting (the join token travels in `?token=`; the page reads it);
//! - `GET /assets/{file}` — the modules and the stylesheet, from a fixed list;
//! - `GET /demo` and `POST /demo/token {role, name}` — the demo setup: mints a join token for the
//!   demo room (config `demo_room`, `"demo"` by default) with a fresh user id. Enabled only when
//!   a demo room is configured (an empty `demo_room` disables it; `Config::ephemeral` has none),
//!   since anyone who can reach the HTTP port may then join the demo room in any role.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use caucus_core::builtin;
use caucus_proto::RoomId;
use serde::{Deserialize, Serialize};

use crate::token::{JoinGrant, TokenIssuer};

/// How long a demo token is valid.
const DEMO_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);
/// Longest display name accepted by the demo endpoint.
const MAX_NAME_CHARS: usize = 64;

/// One embedded file.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `/assets/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "caucus.js",
        mime: JS,
        body: include_str!("../../../web/caucus.js"),
    },
    Asset {
        name: "ui.js",
        mime: JS,
        body: include_str!("../../../web/ui.js"),
    },
    Asset {
        name: "landing.js",
        mime: JS,
        body: include_str!("../../../web/landing.js"),
    },
    Asset {
        name: "meeting.js",
        mime: JS,
        body: include_str!("../../../web/meeting.js"),
    },
    Asset {
        name: "console.js",
        mime: JS,
        body: include_str!("../../../web/console.js"),
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        body: include_str!("../../../web/app.css"),
    },
    Asset {
        name: "favicon.svg",
        mime: "image/svg+xml",
        body: include_str!("../../../web/favicon.svg"),
    },
];

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const ROOM_HTML: &str = include_str!("../../../web/room.html");

/// What the demo endpoints need.
#[derive(Debug, Clone)]
struct WebState {
    tokens: TokenIssuer,
    demo_room: Option<RoomId>,
}

/// The web app's routes. `demo_room` enables the demo token endpoint (see the module docs).
pub fn router(tokens: TokenIssuer, demo_room: Option<String>) -> Router {
    let demo_room = demo_room
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .map(RoomId::from);
    Router::new()
        .route("/", get(index))
        .route("/rooms/{room}", get(room))
        .route("/assets/{file}", get(asset))
        .route("/demo", get(demo_info))
        .route("/demo/token", post(demo_token))
        .with_state(WebState { tokens, demo_room })
}

fn html(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    html(INDEX_HTML)
}

async fn room(Path(_room): Path<String>) -> Response {
    html(ROOM_HTML)
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.mime),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[derive(Debug, Serialize)]
struct DemoInfo {
    enabled: bool,
    room: Option<String>,
    roles: Vec<String>,
}

async fn demo_info(State(state): State<WebState>) -> Json<DemoInfo> {
    let roles = builtin::breakout_template_spec()
        .roles
        .keys()
        .map(|r| r.to_string())
        .collect();
    Json(DemoInfo {
        enabled: state.demo_room.is_some(),
        room: state.demo_room.as_ref().map(|r| r.to_string()),
        roles,
    })
}

#[derive(Debug, Deserialize)]
struct DemoTokenRequest {
    role: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Serialize)]
struct DemoToken {
    room: String,
    token: String,
    url: String,
}

#[derive(Debug, Serialize)]
struct DemoError {
    code: &'static str,
    message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    (
        status,
        Json(DemoError {
            code,
            message: message.into(),
        }),
    )
        .into_response()
}

async fn demo_token(
    State(state): State<WebState>,
    Json(request): Json<DemoTokenRequest>,
) -> Response {
    let Some(room) = state.demo_room else {
        return refuse(
            StatusCode::NOT_FOUND,
            "not_permitted",
            "the demo setup is not enabled on this server",
        );
    };
    let spec = builtin::breakout_template_spec();
    if !spec.roles.keys().any(|r| r.as_str() == request.role) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unknown_role",
            format!("no role `{}` in the demo template", request.role),
        );
    }
    let name: String = request.name.trim().chars().take(MAX_NAME_CHARS).collect();
    let user_id = format!("web-{}", crate::secret::random_hex(6));
    let name = if name.is_empty() {
        format!("Demo {}", request.role)
    } else {
        name
    };
    let grant = JoinGrant::new(room.clone(), user_id, request.role.as_str()).with_name(name);
    match state.tokens.mint_join(&grant, DEMO_TOKEN_TTL) {
        Ok(token) => Json(DemoToken {
            url: format!("/rooms/{room}?token={token}"),
            room: room.to_string(),
            token,
        })
        .into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}
