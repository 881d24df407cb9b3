//! The path parameters of the REST API as the OpenAPI document names them: one type per shape
//! of path, each id with its pattern and an example (the property-based test starts from the
//! examples). Documentation only: handlers read their ids with [`super::Ids`].
#![allow(dead_code)] // read by the OpenAPI derive, never built

use utoipa::IntoParams;

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
    recording_id: String,
}
