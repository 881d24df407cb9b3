//! The path parameters of the REST API as the OpenAPI document names them: one type per shape
//! of path, each id with its pattern and an example (the property-based test starts from the
//! examples). Documentation only: handlers read their ids with [`super::Ids`].
#![allow(dead_code)] // read by the OpenAPI derive, never built; the constants by the tests

use utoipa::IntoParams;

/// The document's pattern of a chosen id (room, template, role): what [`super::check_id`]
/// accepts. utoipa's `pattern` takes only a literal, so every attribute spells it out; the test
/// `every_id_pattern_is_the_validated_one` (`api/mod.rs`) finds each one in the document and
/// checks this pattern against `check_id`, so the document cannot drift from the validation.
pub const ID_PATTERN: &str = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$";
/// The pattern of a user id: the same alphabet, up to 128 characters.
pub const USER_ID_PATTERN: &str = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?$";
/// A peer id as the session issues it.
pub const PEER_PATTERN: &str = "^p[0-9]+$";
/// A breakout id as the session issues it.
pub const BREAKOUT_PATTERN: &str = "^b[0-9]+$";
/// An invite id as the server issues it.
pub const INVITE_PATTERN: &str = "^[0-9a-f]{32}$";
/// A recording id as the server issues it.
pub const RECORDING_PATTERN: &str = "^rec[0-9]+$";
/// The pattern of a name people read (display, room, breakout, template names): no control,
/// separator or bidirectional formatting character (`caucus_core::text`).
pub const NAME_PATTERN: &str =
    "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$";

/// `/v1/rooms/{room_id}…`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RoomPath {
    /// A room id.
    #[param(
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$",
        example = "demo"
    )]
    room_id: String,
}

/// `/v1/rooms/{room_id}/peers/{peer_id}`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PeerPath {
    /// A room id.
    #[param(
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$",
        example = "demo"
    )]
    room_id: String,
    /// A peer of the live session, e.g. `p1`.
    #[param(pattern = "^p[0-9]+$", example = "p1")]
    peer_id: String,
}

/// `/v1/rooms/{room_id}/breakouts/{breakout_id}`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BreakoutPath {
    /// A room id.
    #[param(
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$",
        example = "demo"
    )]
    room_id: String,
    /// A breakout room of the session, e.g. `b1`.
    #[param(pattern = "^b[0-9]+$", example = "b1")]
    breakout_id: String,
}

/// `/v1/templates/{template_id}`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TemplatePath {
    /// A template id.
    #[param(
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$",
        example = "breakout"
    )]
    template_id: String,
}

/// `/v1/templates/{template_id}/roles/{role}`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RolePath {
    /// A template id.
    #[param(
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$",
        example = "breakout"
    )]
    template_id: String,
    /// A role name.
    #[param(
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$",
        example = "guest"
    )]
    role: String,
}

/// `/v1/recordings/{recording_id}…`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RecordingPath {
    /// A recording, e.g. `rec4021`.
    #[param(pattern = "^rec[0-9]+$", example = "rec4021")]
    recording_id: String,
}

/// `/v1/recordings/{recording_id}/files/{name}`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RecordingFilePath {
    /// A recording, e.g. `rec4021`.
    #[param(pattern = "^rec[0-9]+$", example = "rec4021")]
    recording_id: String,
    /// One of the recording's files, as its metadata lists it, e.g. `p3-t7.webm`.
    #[param(example = "p3-t7.webm")]
    name: String,
}

/// `/v1/rooms/{room_id}/invites/{invite_id}`
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InvitePath {
    /// A room id.
    #[param(
        pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$",
        example = "demo"
    )]
    room_id: String,
    /// An invite of the room: 32 lowercase hex digits.
    #[param(
        pattern = "^[0-9a-f]{32}$",
        example = "3f9c0a6b1e2d4c5a7b8e9f0112233445"
    )]
    invite_id: String,
}
