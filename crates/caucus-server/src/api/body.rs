//! REST request and response bodies. Requests refuse unknown fields (422 with the field); a
//! field that may be cleared takes `null` ("absent" leaves it as it is).

use std::collections::BTreeMap;

use caucus_proto::event::{BreakoutRoomView, PeerInfo};
use caucus_proto::signal::present;
use caucus_proto::{
    BreakoutId, ChatTarget, Location, RoleName, RoleSpec, TemplateSpec, UserId, Visibility,
};
use caucus_store::RoomRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::{BreakoutRoomViewDoc, ChatTargetDoc, PeerInfoDoc, RoleSpecDoc, VisibilityDoc};

// ---- tokens -------------------------------------------------------------------------------

/// `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")]
    pub room: String,
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?$")]
    pub user_id: String,
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")]
    pub role: String,
    /// Display name; default: the user id.
    #[serde(default)]
    #[schema(
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    /// Seconds the token is valid (1 to 30 days); default 3600.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2_592_000)]
    pub ttl_s: Option<u64>,
}

/// A join token and the browser link that uses it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub token: String,
    /// `http://HOST/rooms/{room}?token=…`
    pub url: String,
    pub expires_in_s: u64,
}

// ---- templates ----------------------------------------------------------------------------

/// `POST /v1/templates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateCreate {
    /// Default: a slug of the name, made unique.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")]
    pub id: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$"
    )]
    pub name: String,
    #[schema(value_type = BTreeMap<String, RoleSpecDoc>)]
    pub roles: BTreeMap<RoleName, RoleSpec>,
}

/// `PUT /v1/templates/{template_id}`: the whole document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatePut {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$"
    )]
    pub name: String,
    #[schema(value_type = BTreeMap<String, RoleSpecDoc>)]
    pub roles: BTreeMap<RoleName, RoleSpec>,
}

/// A template.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateOut {
    pub id: String,
    pub name: String,
    #[schema(value_type = BTreeMap<String, RoleSpecDoc>)]
    pub roles: BTreeMap<RoleName, RoleSpec>,
    /// A built-in template (`breakout`, `classroom`, `webinar`, `meeting`): listed, read-only.
    pub builtin: bool,
}

impl TemplateOut {
    pub fn new(id: &str, spec: TemplateSpec, builtin: bool) -> Self {
        Self {
            id: id.to_owned(),
            name: spec.name,
            roles: spec.roles,
            builtin,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<TemplateOut>,
}

// ---- rooms --------------------------------------------------------------------------------

/// `POST /v1/rooms`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomCreate {
    /// Default: a slug of the name, made unique. Letters, digits, `-`, `_` and `.`, up to 64.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")]
    pub id: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$"
    )]
    pub name: String,
    /// A template id (`breakout`, `classroom`, `webinar` and `meeting` are built in).
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")]
    pub template: String,
    /// Stored hashed; joins must give it.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub locked: Option<bool>,
    /// `true`: record the main room from the first join of every session (room policy).
    #[serde(default)]
    pub auto_record: Option<bool>,
}

/// `PATCH /v1/rooms/{room_id}`: absent fields stay; `"password": null` removes the password.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPatchBody {
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    /// Takes effect when the room's next session starts.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")]
    pub template: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
    /// Applies to the live session at once, too.
    #[serde(default)]
    pub locked: Option<bool>,
    /// Record main from the first join of the room's next sessions.
    #[serde(default)]
    pub auto_record: Option<bool>,
}

/// A durable room. The password is never shown, only whether there is one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomOut {
    pub id: String,
    pub name: String,
    pub template: String,
    pub has_password: bool,
    pub locked: bool,
    /// Main is recorded from the first join of every session.
    #[serde(default)]
    pub auto_record: bool,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

impl From<&RoomRecord> for RoomOut {
    fn from(room: &RoomRecord) -> Self {
        Self {
            id: room.id.to_string(),
            name: room.name.clone(),
            template: room.template.to_string(),
            has_password: room.password_hash.is_some(),
            locked: room.locked,
            auto_record: room.recording.auto,
            created_at_ms: room.created_at_ms,
            updated_at_ms: room.updated_at_ms,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomList {
    pub rooms: Vec<RoomOut>,
}

// ---- the live session ---------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct PeerList {
    #[schema(value_type = Vec<PeerInfoDoc>)]
    pub peers: Vec<PeerInfo>,
}

/// `PATCH /v1/rooms/{room_id}/peers/{peer_id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerPatchBody {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    #[schema(
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// `"main"` or a breakout id: a move.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub location: Option<Location>,
    /// At once (default `true`), or as a request the peer accepts or rejects.
    #[serde(default)]
    pub force: Option<bool>,
}

/// `POST /v1/rooms/{room_id}/roles/change`: every peer holding one of `from_roles` gets
/// `to_role`, forced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesChange {
    #[schema(value_type = Vec<String>)]
    pub from_roles: Vec<RoleName>,
    #[schema(value_type = String)]
    pub to_role: RoleName,
}

/// `POST /v1/rooms/{room_id}/messages`. Without `to`: everyone, in every location.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
    #[serde(default)]
    #[schema(value_type = Option<ChatTargetDoc>)]
    pub to: Option<ChatTarget>,
}

/// `POST /v1/rooms/{room_id}/end`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    #[serde(default)]
    pub reason: Option<String>,
    /// Also lock the room (stored): nobody new can join until unlocked.
    #[serde(default)]
    pub lock: Option<bool>,
}

// ---- breakouts ----------------------------------------------------------------------------

/// `POST /v1/rooms/{room_id}/breakouts`: `count` rooms named "Room N" and/or rooms by name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakoutsCreate {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// The rooms just created, and the set's new version.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakoutsCreated {
    #[schema(value_type = Vec<BreakoutRoomViewDoc>)]
    pub rooms: Vec<BreakoutRoomView>,
    pub version: u64,
}

/// `PATCH /v1/rooms/{room_id}/breakouts/{breakout_id}`: absent fields stay; `null` clears
/// `capacity` and `password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakoutPatch {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    #[schema(
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub capacity: Option<Option<u32>>,
    /// Guards self-select; a moved peer never needs it. Stored hashed.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = Option<VisibilityDoc>)]
    pub visibility: Option<Visibility>,
}

/// `PUT /v1/rooms/{room_id}/breakouts/options`: absent fields keep their value;
/// `"duration_s": null` removes the timer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsBody {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub allow_self_select: Option<bool>,
    #[serde(default)]
    pub allow_return_to_main: Option<bool>,
    #[serde(default)]
    pub auto_move_on_open: Option<bool>,
    #[serde(default)]
    pub countdown_s: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub duration_s: Option<Option<u32>>,
    #[serde(default)]
    pub warning_s: Option<u32>,
}

/// `POST /v1/rooms/{room_id}/breakouts/assign`: exactly one of `assignments` and `auto`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    #[serde(default)]
    pub version: Option<u64>,
    /// Peer id (`p4`) or user id → `"main"` or a breakout id.
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub assignments: Option<BTreeMap<String, Location>>,
    #[serde(default)]
    pub auto: Option<AutoAssign>,
}

/// Spread peers evenly at random (seeded).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoAssign {
    /// Default: the roles that manage breakouts.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub exclude_roles: Option<Vec<RoleName>>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Keep existing assignments and place only the rest.
    #[serde(default)]
    pub keep_previous: bool,
}

/// `PUT /v1/rooms/{room_id}/breakouts/preassignments`: replaces them all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreassignBody {
    #[serde(default)]
    pub version: Option<u64>,
    /// user id → breakout id or name.
    #[schema(value_type = BTreeMap<String, String>)]
    pub by_user_id: BTreeMap<UserId, String>,
}

/// `POST /v1/rooms/{room_id}/breakouts/open`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub duration_s: Option<u32>,
}

/// `POST /v1/rooms/{room_id}/breakouts/close`: every room, or one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub countdown_s: Option<u32>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub breakout_id: Option<BreakoutId>,
}

/// `POST /v1/rooms/{room_id}/breakouts/extend`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    #[serde(default)]
    pub version: Option<u64>,
    pub seconds: u32,
}

/// `POST /v1/rooms/{room_id}/breakouts/broadcast`: a text to every room.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastBody {
    #[serde(default)]
    pub version: Option<u64>,
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
}
