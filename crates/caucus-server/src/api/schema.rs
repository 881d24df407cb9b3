//! OpenAPI schemas for the wire types that live in `caucus-proto` (a serde-only crate that does
//! not depend on `utoipa`). Each mirror names exactly the fields its proto type serializes;
//! the test `wire_values_match_their_openapi_schemas` (`tests/api.rs`) checks real answers of
//! the running server against these schemas, so the document cannot drift from the wire
//! silently. (Deriving `ToSchema` in `caucus-proto` behind a feature would remove the mirrors.)
#![allow(dead_code)] // schema-only types: read by the OpenAPI derive, never built

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

/// A published source.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Source)]
#[allow(clippy::enum_variant_names)]
#[serde(rename_all = "snake_case")]
pub enum SourceDoc {
    Audio,
    Video,
    Screen,
    ScreenAudio,
}

/// Upper bounds for one video-like source.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = SourceCaps)]
pub struct SourceCapsDoc {
    max_width: u32,
    max_height: u32,
    max_fps: u32,
    /// Bits per second.
    max_bitrate: u32,
}

/// The publish strategy: allowed sources and their caps.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = PublishSpec)]
pub struct PublishSpecDoc {
    #[schema(value_type = Vec<SourceDoc>)]
    allowed: Option<Vec<String>>,
    video: Option<SourceCapsDoc>,
    screen: Option<SourceCapsDoc>,
    simulcast: Option<bool>,
}

/// The roles whose tracks this role receives.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = SubscribeSpec)]
pub struct SubscribeSpecDoc {
    roles: Option<Vec<String>>,
    /// The largest camera picture this role is sent (the simulcast layer that fits).
    video: Option<ViewCapsDoc>,
}

/// The largest picture a subscriber should get of a camera track.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = ViewCaps)]
pub struct ViewCapsDoc {
    max_width: u32,
    max_height: u32,
}

/// One flag per permission; absent flags are `false`.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Permissions)]
pub struct PermissionsDoc {
    end_room: Option<bool>,
    remove_peers: Option<bool>,
    mute_others: Option<bool>,
    ask_unmute: Option<bool>,
    change_role: Option<bool>,
    manage_breakouts: Option<bool>,
    move_peers: Option<bool>,
    self_select_breakout: Option<bool>,
    broadcast: Option<bool>,
    record: Option<bool>,
    see_peer_list: Option<bool>,
    lock_room: Option<bool>,
    send_chat: Option<bool>,
}

/// A role: what it may send, whom it receives and what it may do. Unknown fields are refused.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Role)]
pub struct RoleSpecDoc {
    publish: Option<PublishSpecDoc>,
    subscribe: Option<SubscribeSpecDoc>,
    permissions: Option<PermissionsDoc>,
    /// Higher shows first in lists.
    priority: Option<i32>,
    /// How many peers may hold this role at once; 0 = unlimited.
    max_peers: Option<u32>,
    /// The role a peer of this role acts as while it stands in a breakout room.
    breakout_role: Option<String>,
    /// A peer of this role joins with its microphone and camera off. Default `false`.
    join_muted: Option<bool>,
}

/// What a breakout room sees of the main room: `"isolated"` or
/// `{"main_stage": {"roles": [...]}}`.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Visibility)]
#[serde(rename_all = "snake_case")]
pub enum VisibilityDoc {
    Isolated,
    MainStage(MainStageDoc),
}

/// The main-room roles a breakout room sees and hears.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = MainStage)]
pub struct MainStageDoc {
    roles: Vec<String>,
}

/// Session-wide breakout options.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = BreakoutOptions)]
pub struct BreakoutOptionsDoc {
    allow_self_select: bool,
    allow_return_to_main: bool,
    auto_move_on_open: bool,
    countdown_s: u32,
    duration_s: Option<u32>,
    warning_s: u32,
}

/// One published track.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = TrackInfo)]
pub struct TrackInfoDoc {
    /// `t3`.
    id: String,
    source: SourceDoc,
    muted: bool,
}

/// A peer of the live session.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Peer)]
pub struct PeerInfoDoc {
    /// `p7`.
    id: String,
    user_id: String,
    name: String,
    role: String,
    /// The role it acts as where it stands now.
    acting_role: String,
    /// `"main"` or a breakout id (`b2`).
    location: String,
    tracks: Vec<TrackInfoDoc>,
    metadata: Option<serde_json::Value>,
    hand_raised: bool,
    connected: bool,
    broadcasting: bool,
    listening_to: Option<String>,
}

/// The breakout set's phase.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Phase)]
#[serde(rename_all = "snake_case")]
pub enum PhaseDoc {
    Draft,
    Open,
    Closing,
    Closed,
}

/// Whether one breakout room can be entered.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = RoomState)]
#[serde(rename_all = "snake_case")]
pub enum RoomStateDoc {
    Open,
    Closing,
    Closed,
}

/// One breakout room.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = BreakoutRoom)]
pub struct BreakoutRoomViewDoc {
    /// `b2`.
    id: String,
    name: String,
    /// `null` = unlimited.
    capacity: Option<u32>,
    has_password: bool,
    visibility: VisibilityDoc,
    state: RoomStateDoc,
    /// Peers standing in the room now.
    peers: Vec<String>,
    /// Peers assigned to it.
    assigned: Vec<String>,
    closes_in_ms: Option<u64>,
}

/// An entry of the help queue.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Help)]
pub struct HelpInfoDoc {
    id: String,
    peer_id: String,
    breakout_id: Option<String>,
    claimed_by: Option<String>,
}

/// The whole breakout set of a room.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = Breakouts)]
pub struct BreakoutsViewDoc {
    phase: PhaseDoc,
    /// Grows with every change; send it back to refuse stale edits.
    version: u64,
    options: BreakoutOptionsDoc,
    rooms: Vec<BreakoutRoomViewDoc>,
    help: Vec<HelpInfoDoc>,
    /// user id → breakout id.
    preassignments: BTreeMap<String, String>,
    ends_in_ms: Option<u64>,
    closes_in_ms: Option<u64>,
}

/// Whom a message is for: `{"peer_id": "p4"}`, `{"role": "guest"}`, `{"location": "b2"}` or
/// `"everyone"`.
#[derive(Debug, ToSchema, Serialize)]
#[schema(as = MessageTarget)]
#[serde(rename_all = "snake_case")]
pub enum ChatTargetDoc {
    Location(String),
    Role(String),
    PeerId(String),
    Everyone,
}
