//! The web app, embedded in the binary: `web/*` at the repository root, served with no build
//! step.
//!
//! - `GET /` — the landing page (pick the demo room and a role, join in one click);
//! - `GET /rooms/{room}` — the meeting (the join token travels in `?token=`; the page reads it
//!   and takes it out of the address bar);
//! - `GET /invite/{id}` — the invite page: a visitor gives a name, redeems one use of the
//!   invite (`POST /invite/{id}/join`, in [`crate::api`]) and goes to the meeting;
//! - `GET /assets/{file}` — the modules and the stylesheet, from a fixed list;
//! - `GET /demo` and `POST /demo/token {role, name}` — the demo setup: mints a join token for the
//!   demo room (config `demo_room`, `"demo"` by default) with a fresh user id, in a role of the
//!   demo room's own template (the built-in one until the room exists). Served only when
//!   the configuration serves the demo ([`crate::Config::demo`]: a demo room, and HTTP bound to
//!   loopback or `demo_public` on), since anyone who can reach the HTTP port may then join the
//!   demo room in any role; otherwise `/demo` says `enabled: false` and `/demo/token` does not
//!   exist (404).
//!
//! Every response carries [`security_headers`]: `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer` (a join link's token must not leak to another site) and a
//! `Content-Security-Policy` that runs only the server's own scripts and styles and lets
//! only `frame_ancestors` embed the pages.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use caucus_core::builtin;
use caucus_proto::template::RoleInfo;
use caucus_proto::{ErrorCode, RoleName, RoomId};
use serde::{Deserialize, Serialize};

use crate::control::ControlPlane;
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
        name: "invite.js",
        mime: JS,
        body: include_str!("../../../web/invite.js"),
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
const INVITE_HTML: &str = include_str!("../../../web/invite.html");

/// What the demo endpoints need.
#[derive(Debug, Clone)]
struct WebState {
    tokens: TokenIssuer,
    demo_room: RoomId,
    control: Arc<ControlPlane>,
}

/// The web app's routes; `demo_room` ([`crate::Config::demo`]) adds the demo token endpoint.
pub fn router(
    tokens: TokenIssuer,
    demo_room: Option<RoomId>,
    control: Arc<ControlPlane>,
) -> Router {
    let pages = Router::new()
        .route("/", get(index))
        .route("/rooms/{room}", get(room))
        .route("/invite/{invite}", get(invite))
        .route("/assets/{file}", get(asset));
    match demo_room {
        Some(demo_room) => pages.merge(
            Router::new()
                .route("/demo", get(demo_info))
                .route("/demo/token", post(demo_token))
                .with_state(WebState {
                    tokens,
                    demo_room,
                    control,
                }),
        ),
        None => pages.route(
            "/demo",
            get(|| async {
                Json(DemoInfo {
                    enabled: false,
                    room: None,
                    roles: Vec::new(),
                })
            }),
        ),
    }
}

/// The roles of the demo room's template, highest priority first: the room's own template
/// once it exists (an operator may have moved it to another), the built-in one before (a
/// first join creates it on that).
async fn demo_roles(state: &WebState) -> Result<Vec<RoleName>, Response> {
    let spec = match state.control.room_record(&state.demo_room).await {
        Ok(record) => state.control.template_spec(&record.template).await,
        Err(e) if e.code == ErrorCode::UnknownRoom => Ok(builtin::breakout_template_spec()),
        Err(e) => Err(e),
    }
    .map_err(IntoResponse::into_response)?;
    Ok(RoleInfo::list(&spec.roles)
        .into_iter()
        .map(|role| role.name)
        .collect())
}

/// The headers every response gets, built once from the configuration.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    /// The policy of the web app's pages and everything else.
    strict: HeaderValue,
    /// Swagger UI's (`/docs`): it sets styles inline.
    docs: HeaderValue,
}

impl SecurityHeaders {
    /// `frame_ancestors` is a checked CSP source list (`Config::validate`).
    pub fn new(frame_ancestors: &str) -> SecurityHeaders {
        let policy = |style: &str| {
            let text = format!(
                "default-src 'self'; script-src 'self'; style-src {style}; img-src 'self' data: blob:; \
                 media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
            );
            HeaderValue::from_str(&text).unwrap_or_else(|_| {
                // Unreachable with a validated configuration; refuse every frame rather
                // than send no policy.
                HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'")
            })
        };
        SecurityHeaders {
            strict: policy("'self'"),
            docs: policy("'self' 'unsafe-inline'"),
        }
    }
}

/// Middleware: [`SecurityHeaders`] on every response (a handler's own value wins).
pub async fn security_headers(
    State(headers): State<SecurityHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let docs = request.uri().path().starts_with("/docs");
    let mut response = next.run(request).await;
    let out = response.headers_mut();
    let csp = if docs { &headers.docs } else { &headers.strict };
    out.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| csp.clone());
    out.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    out.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    response
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

async fn room(Path(room): Path<String>) -> Response {
    match RoomId::check(&room) {
        Ok(()) => html(ROOM_HTML),
        Err(e) => crate::refusal::ApiError::from(e.into_body("room")).into_response(),
    }
}

/// The invite page: the same page for every id (it learns whether the invite still admits
/// anyone when it redeems, `POST /invite/{id}/join`).
async fn invite() -> Response {
    html(INVITE_HTML)
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

async fn demo_info(State(state): State<WebState>) -> Response {
    match demo_roles(&state).await {
        Ok(roles) => Json(DemoInfo {
            enabled: true,
            room: Some(state.demo_room.to_string()),
            roles: roles.iter().map(ToString::to_string).collect(),
        })
        .into_response(),
        Err(refusal) => refusal,
    }
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
    let roles = match demo_roles(&state).await {
        Ok(roles) => roles,
        Err(refusal) => return refusal,
    };
    if !roles.iter().any(|r| r.as_str() == request.role) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unknown_role",
            "no such role in the demo room's template",
        );
    }
    let room = state.demo_room;
    let name: String = request.name.trim().chars().take(MAX_NAME_CHARS).collect();
    if !caucus_core::text::is_printable_name(&name) {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidName.as_str(),
            "a display name may not hold control or direction-changing characters",
        );
    }
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
        Err(e) => {
            tracing::warn!(error = %e, "cannot mint a demo token");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server could not mint a token",
            )
        }
    }
}
