//! The REST control API under `/v1` (the choices the contract leaves open are in
//! `docs/api.md`; this module serves its OpenAPI document at `/v1/openapi.json`, generated
//! from these handlers).
//!
//! What it is: axum handlers that check the management token ([`auth`]), read bodies with the
//! API's own reader ([`error::JsonBody`]: every refusal is the one error envelope, never a
//! 5xx for a client's mistake), talk to the store through the [`ControlPlane`] and to a
//! room's live session by message ([`ControlPlane::ask`]), and append an audit entry for
//! every management action.
//!
//! What it is not: a second place for decisions. Template validation is
//! `caucus_core::Template::compile`; every session change is a core command carried out by
//! the room task as `Actor::Server`, so REST and signaling can never disagree.

pub mod body;
mod breakouts;
pub mod error;
mod invites;
mod live;
mod paths;
mod recording_files;
mod recordings;
mod rooms;
pub mod schema;
mod templates;
mod tokens;

/// Every request body type lives in [`body`] but this one, which lives beside its handler;
/// public so the fuzz targets read it the way the handler does.
pub use recordings::RecordingCreate;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use caucus_proto::ids::check_chosen;
use caucus_proto::{ErrorCode, InvalidId, RoomId};
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::control::ControlPlane;
use crate::token::TokenIssuer;
use error::{ApiError, json_response};

/// Limits the API enforces itself.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body; larger is 413 `payload_too_large`.
    pub max_body_bytes: usize,
}

/// What every handler needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub control: Arc<ControlPlane>,
    pub tokens: TokenIssuer,
    pub limits: Limits,
    /// The start of the links the API returns (`Config::base_url`; never the request's
    /// `Host`).
    pub base_url: String,
    /// The data dir (recordings are read from it).
    pub data: std::path::PathBuf,
}

/// Every `/v1` management route, behind the management token; `/v1/openapi.json` and `/docs`
/// are public.
pub fn router(state: ApiState) -> Router {
    let managed = Router::new()
        .route("/v1/tokens", post(tokens::create))
        .route(
            "/v1/templates",
            get(templates::list).post(templates::create),
        )
        .route(
            "/v1/templates/{template_id}",
            get(templates::get_one)
                .put(templates::put)
                .delete(templates::delete),
        )
        .route(
            "/v1/templates/{template_id}/roles/{role}",
            put(templates::put_role).delete(templates::delete_role),
        )
        .route("/v1/rooms", get(rooms::list).post(rooms::create))
        .route(
            "/v1/rooms/{room_id}",
            get(rooms::get_one)
                .patch(rooms::patch)
                .delete(rooms::delete),
        )
        .route("/v1/rooms/{room_id}/peers", get(live::peers))
        .route(
            "/v1/rooms/{room_id}/peers/{peer_id}",
            get(live::peer)
                .patch(live::patch_peer)
                .delete(live::remove_peer),
        )
        .route("/v1/rooms/{room_id}/roles/change", post(live::change_roles))
        .route("/v1/rooms/{room_id}/messages", post(live::message))
        .route("/v1/rooms/{room_id}/end", post(live::end))
        .route(
            "/v1/rooms/{room_id}/breakouts",
            get(breakouts::view).post(breakouts::create),
        )
        .route(
            "/v1/rooms/{room_id}/breakouts/options",
            put(breakouts::options),
        )
        .route(
            "/v1/rooms/{room_id}/breakouts/assign",
            post(breakouts::assign),
        )
        .route(
            "/v1/rooms/{room_id}/breakouts/preassignments",
            put(breakouts::preassign),
        )
        .route("/v1/rooms/{room_id}/breakouts/open", post(breakouts::open))
        .route(
            "/v1/rooms/{room_id}/breakouts/close",
            post(breakouts::close),
        )
        .route(
            "/v1/rooms/{room_id}/breakouts/extend",
            post(breakouts::extend),
        )
        .route(
            "/v1/rooms/{room_id}/breakouts/broadcast",
            post(breakouts::broadcast),
        )
        .route(
            "/v1/rooms/{room_id}/breakouts/{breakout_id}",
            axum::routing::patch(breakouts::update).delete(breakouts::remove),
        )
        .route(
            "/v1/rooms/{room_id}/recordings",
            get(recordings::list).post(recordings::create),
        )
        .route("/v1/recordings/{recording_id}", get(recordings::get_one))
        .route("/v1/recordings/{recording_id}/stop", post(recordings::stop))
        .route(
            "/v1/recordings/{recording_id}/files/{name}",
            get(recording_files::download),
        )
        .route(
            "/v1/rooms/{room_id}/invites",
            get(invites::list).post(invites::create),
        )
        .route(
            "/v1/rooms/{room_id}/invites/{invite_id}",
            axum::routing::delete(invites::revoke),
        )
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state.clone());
    // The invite id is the credential: no management token (the HTTP rate limit applies).
    let invites = Router::new()
        .route("/invite/{invite_id}/join", post(invites::join))
        .with_state(state);
    let docs: Router = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/v1/openapi.json", ApiDoc::openapi())
        .into();
    managed.merge(invites).merge(docs)
}

/// The management token check: `Authorization: Bearer <token>` with `mgmt: true`.
async fn auth(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(header) = header else {
        return ApiError::new(
            ErrorCode::Unauthorized,
            "send `Authorization: Bearer <management token>`",
        )
        .into_response();
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return ApiError::new(
            ErrorCode::Unauthorized,
            "the Authorization header must be `Bearer <management token>`",
        )
        .into_response();
    };
    match state.tokens.verify_management(token) {
        Ok(_) => next.run(request).await,
        Err(e) => ApiError::from(e.into_body()).into_response(),
    }
}

/// Path parameters whose rejection is the API's envelope (axum's own is plain text).
#[derive(Debug)]
pub struct Ids<T>(pub T);

impl<T, S> FromRequestParts<S> for Ids<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Ids(t))
            .map_err(|e| ApiError::new(ErrorCode::MalformedRequest, e.body_text()))
    }
}

/// `201 Created` with a JSON body.
fn created<T: serde::Serialize>(body: &T) -> Response {
    json_response(StatusCode::CREATED, body)
}

/// `200 OK` with a JSON body.
fn ok<T: serde::Serialize>(body: &T) -> Response {
    json_response(StatusCode::OK, body)
}

/// The answer to an unknown path or a wrong method anywhere on the server.
pub async fn fallback() -> ApiError {
    ApiError::not_found_path()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// A room, template or role id from a request (the rule of chosen ids, at most
/// [`RoomId::MAX_LEN`] bytes): 422 `invalid_id` with the field otherwise.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    check_parsed(field, check_chosen("", RoomId::MAX_LEN, id))
}

/// The verdict of an id's own check (`UserId::check`, …) as a refusal of `field`.
pub fn check_parsed(field: &str, checked: Result<(), InvalidId>) -> Result<(), ApiError> {
    checked.map_err(|e| ApiError::from(e.into_body(field)))
}

/// A display name: 1 to 200 characters after trimming, none of them a control or
/// direction-changing character (the core's rule for names, `caucus_core::text`).
pub fn check_name(field: &str, name: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > 200
        || !caucus_core::text::is_printable_name(trimmed)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidName,
            "names are 1 to 200 printable characters, without control or direction-changing characters",
        )
        .with_field(field));
    }
    Ok(trimmed.to_owned())
}

/// A slug of `name` (lowercase letters, digits and `-`), never empty, at most 48 characters.
pub fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "room".to_owned()
    } else {
        slug
    }
}

/// `base`, or `base-2`, `base-3`… — the first that `taken` says is free.
pub fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| base.to_owned())
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Caucus REST API",
        description = "Management API of the Caucus video-conferencing server. Every path under \
            /v1 except this document needs `Authorization: Bearer <management token>` \
            (`caucus token --management`). Errors are always {\"error\": {\"code\", \"message\", \
            \"field\"?}}.",
    ),
    paths(
        tokens::create,
        templates::list, templates::create, templates::get_one, templates::put,
        templates::delete, templates::put_role, templates::delete_role,
        rooms::list, rooms::create, rooms::get_one, rooms::patch, rooms::delete,
        live::peers, live::peer, live::patch_peer, live::remove_peer, live::change_roles,
        live::message, live::end,
        breakouts::view, breakouts::create, breakouts::update, breakouts::remove,
        breakouts::options, breakouts::assign, breakouts::preassign, breakouts::open,
        breakouts::close, breakouts::extend, breakouts::broadcast,
        recordings::create, recordings::list, recordings::get_one, recordings::stop,
        recording_files::download,
        invites::create, invites::list, invites::revoke,
    ),
    components(schemas(error::Envelope, schema::BreakoutsViewDoc, schema::PeerInfoDoc)),
    modifiers(&BearerAuth, &OptionalBodies),
    security(("bearer" = [])),
)]
#[derive(Debug)]
pub struct ApiDoc;

/// utoipa states an optional body (`request_body = Option<T>`) as "T or `null`"; the server
/// reads an absent body as `{}` and refuses `null`, so the document says "optional T".
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::Schema;
        use utoipa::openapi::{RefOr, Required};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for body in operations
                .into_iter()
                .flatten()
                .filter_map(|op| op.request_body.as_mut())
            {
                if body.required == Some(Required::True) {
                    continue;
                }
                for content in body.content.values_mut() {
                    let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                        continue;
                    };
                    let inner = one_of.items.iter().find(|s| match s {
                        RefOr::T(Schema::Object(o)) => !matches!(
                            &o.schema_type,
                            utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::Type::Null)
                        ),
                        _ => true,
                    });
                    if let Some(inner) = inner.cloned() {
                        content.schema = Some(inner);
                    }
                }
            }
        }
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `pattern` in the document, with where it stands.
    fn patterns(value: &serde_json::Value, at: String, found: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    if key == "pattern" {
                        if let Some(p) = inner.as_str() {
                            found.push((at.clone(), p.to_owned()));
                        }
                    } else {
                        patterns(inner, format!("{at}/{key}"), found);
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    patterns(inner, format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_id_pattern_is_the_validated_one() {
        let document = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        let mut found = Vec::new();
        patterns(&document, String::new(), &mut found);
        assert!(found.len() > 10, "{found:?}");
        let known = [
            paths::ID_PATTERN,
            paths::USER_ID_PATTERN,
            paths::PEER_PATTERN,
            paths::BREAKOUT_PATTERN,
            paths::RECORDING_PATTERN,
            paths::INVITE_PATTERN,
            paths::NAME_PATTERN,
        ];
        for (at, pattern) in &found {
            assert!(known.contains(&pattern.as_str()), "{at}: {pattern}");
        }
        // The id pattern accepts exactly what the server validates.
        let id = regex::Regex::new(paths::ID_PATTERN).expect("the id pattern compiles");
        let long = "x".repeat(64);
        let too_long = "x".repeat(65);
        for sample in [
            "demo", "a", "a.b", "a_b-c", "A9", ".", "..", ".a", "a.", "a b", "", "ü", "a/b", "a\0",
            &long, &too_long,
        ] {
            assert_eq!(
                id.is_match(sample),
                check_id("id", sample).is_ok(),
                "{sample:?}: the document's id pattern and check_id disagree"
            );
        }
        let user = regex::Regex::new(paths::USER_ID_PATTERN).expect("the user id pattern compiles");
        for sample in [
            "gus",
            "a.b",
            ".",
            "..",
            ".a",
            "a b",
            "",
            &"u".repeat(128),
            &"u".repeat(129),
        ] {
            assert_eq!(
                user.is_match(sample),
                caucus_proto::UserId::check(sample).is_ok(),
                "{sample:?}: the document's user id pattern and the validation disagree"
            );
        }
        let name = regex::Regex::new(paths::NAME_PATTERN).expect("the name pattern compiles");
        for sample in [
            "Ana",
            "Zoë Ōtsuka",
            "محمد",
            "王芳 🎉",
            "a\0b",
            "\u{1b}[31m",
            "tab\t",
            "c1\u{85}",
            "del\u{7f}",
            "sep\u{2028}",
            "Ana\u{202e}nimda",
            "\u{2066}x",
            "\u{200f}",
            "\u{61c}",
        ] {
            assert_eq!(
                name.is_match(sample),
                caucus_core::text::is_printable_name(sample),
                "{sample:?}: the document's name pattern and the name rule disagree"
            );
        }
        let invite = regex::Regex::new(paths::INVITE_PATTERN).expect("compiles");
        let issued = caucus_store::new_invite_id();
        for sample in [
            issued.as_str(),
            "3F9C0A6B1E2D4C5A7B8E9F0112233445",
            "abc",
            "",
        ] {
            assert_eq!(
                invite.is_match(sample),
                caucus_store::is_invite_id(sample),
                "{sample:?}"
            );
        }
        let recording = regex::Regex::new(paths::RECORDING_PATTERN).expect("compiles");
        for sample in ["rec1", "rec4021", "rec", "recx", "p1"] {
            assert_eq!(
                recording.is_match(sample),
                sample.parse::<caucus_proto::RecordingId>().is_ok(),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug("Weekly Sync!"), "weekly-sync");
        assert_eq!(slug("  Ünïcode  Room "), "n-code-room");
        assert_eq!(slug("!!!"), "room");
        assert_eq!(unique("a", |s| s == "a" || s == "a-2"), "a-3");
    }
}
