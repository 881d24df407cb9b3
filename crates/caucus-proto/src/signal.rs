//! The signaling protocol spoken over the WebSocket at `/v1/rtc` (see `docs/protocol.md`).
//!
//! Every frame is one JSON text message. Client messages carry an `id` chosen by the client;
//! the server answers each with exactly one `reply` carrying the same `id`. Server messages
//! without an `id` are pushed: events, server-initiated offers, slot assignments.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ErrorBody;
use crate::event::ServerEvent;
use crate::ids::{BreakoutId, HelpId, PeerId, RequestId, RoleName, TrackId, UserId};
use crate::model::{BreakoutOptions, ChatTarget, Location, Source, Visibility};
use crate::names::wire_names;

/// The largest text frame the server reads; larger frames are refused with
/// `payload_too_large` and the connection is closed.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A message from a client: an `id` and a body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMessage {
    pub id: u64,
    #[serde(flatten)]
    pub body: ClientBody,
}

/// What a client can say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientBody {
    /// The first message of a connection: the join token (and the room password, if any).
    /// Joining again with the same token within the reconnect grace resumes the same peer.
    Join {
        token: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// An SDP offer from the client (the first one, or when it adds a sending track). The reply
    /// carries the answer.
    Offer { sdp: String },
    /// The client's answer to a server `offer`.
    Answer { sdp: String },
    /// Announce that the client sends `source` on m-line `mid` (after the offer that holds it).
    Publish {
        source: Source,
        mid: String,
        #[serde(default)]
        muted: bool,
    },
    /// The largest picture the client wants of a remote camera track (say, the size of its
    /// tile): of a simulcast camera the server forwards the best layer that fits, within the
    /// role's own cap. Lasts until the track ends or a new size is sent.
    VideoSize {
        track_id: TrackId,
        max_width: u32,
        max_height: u32,
    },
    /// Any session command the peer may send.
    Command { command: PeerCommand },
    /// Keep-alive; the reply is empty.
    Ping,
}

// Its `type` on the wire, e.g. `publish`.
wire_names!(ClientBody {
    Join => "join",
    Offer => "offer",
    Answer => "answer",
    Publish => "publish",
    VideoSize => "video_size",
    Command => "command",
    Ping => "ping",
});

/// A message from the server.
// An `Event` is much larger than the other variants; messages are built, serialized once and
// dropped, never stored in bulk, so boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to the client message with the same `id`.
    Reply {
        id: u64,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<ReplyData>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// Something happened in the session.
    Event { event: ServerEvent },
    /// The server needs to renegotiate (new receive slots); answer with a client `answer`.
    Offer { sdp: String },
    /// Receive slot `mid` now carries this remote track (or nothing).
    Slot {
        mid: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        track: Option<RemoteTrack>,
    },
    /// A problem not tied to one request (e.g. an unreadable frame); the connection may close.
    Error { error: ErrorBody },
}

// Its `type` on the wire.
wire_names!(ServerMessage {
    Reply => "reply",
    Event => "event",
    Offer => "offer",
    Slot => "slot",
    Error => "error",
});

/// What a successful reply hands back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyData {
    Joined { peer_id: PeerId, resumed: bool },
    Answer { sdp: String },
    Published { track_id: TrackId },
    RequestSent { request_id: RequestId },
    BreakoutsCreated { rooms: Vec<BreakoutId> },
    HelpRequested { help_id: HelpId },
}

// Its key inside `data` on the wire, e.g. `{"joined": {…}}`.
wire_names!(ReplyData {
    Joined => "joined",
    Answer => "answer",
    Published => "published",
    RequestSent => "request_sent",
    BreakoutsCreated => "breakouts_created",
    HelpRequested => "help_requested",
});

/// A remote track as a receiving client needs to label it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteTrack {
    pub peer_id: PeerId,
    pub track_id: TrackId,
    pub source: Source,
}

/// Every session command a peer can send. Permission is decided by the server's policy; a
/// refused command is answered with a `reply` carrying the error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerCommand {
    Leave,
    UpdateSelf {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<serde_json::Value>,
    },
    /// Raise or lower one's hand, or (`peer_id` set, `mute_others`) lower someone else's.
    SetHand {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_id: Option<PeerId>,
        raised: bool,
    },
    Unpublish {
        track_id: TrackId,
    },
    SetMuted {
        track_id: TrackId,
        muted: bool,
    },
    MutePeer {
        peer_id: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<Source>,
    },
    AskUnmute {
        peer_id: PeerId,
        source: Source,
    },
    ChangeRole {
        peer_id: PeerId,
        role: RoleName,
        #[serde(default)]
        force: bool,
    },
    ChangeRoles {
        from_roles: Vec<RoleName>,
        to_role: RoleName,
    },
    MovePeer {
        peer_id: PeerId,
        to: Location,
        #[serde(default)]
        force: bool,
    },
    RespondRequest {
        request_id: RequestId,
        accept: bool,
    },
    RemovePeer {
        peer_id: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    EndSession {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default)]
        lock: bool,
    },
    SetLocked {
        locked: bool,
    },
    Chat {
        to: ChatTarget,
        text: String,
    },
    SetBroadcasting {
        on: bool,
    },
    ListenIn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        breakout_id: Option<BreakoutId>,
    },
    JoinBreakout {
        breakout_id: BreakoutId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    ReturnToMain,
    RequestHelp,
    /// Edit or drive the breakout set; a stale `version` is refused with `stale_version`.
    Breakouts {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
        #[serde(flatten)]
        op: BreakoutCommand,
    },
}

// Its `command.type` on the wire.
wire_names!(PeerCommand {
    Leave => "leave",
    UpdateSelf => "update_self",
    SetHand => "set_hand",
    Unpublish => "unpublish",
    SetMuted => "set_muted",
    MutePeer => "mute_peer",
    AskUnmute => "ask_unmute",
    ChangeRole => "change_role",
    ChangeRoles => "change_roles",
    MovePeer => "move_peer",
    RespondRequest => "respond_request",
    RemovePeer => "remove_peer",
    EndSession => "end_session",
    SetLocked => "set_locked",
    Chat => "chat",
    SetBroadcasting => "set_broadcasting",
    ListenIn => "listen_in",
    JoinBreakout => "join_breakout",
    ReturnToMain => "return_to_main",
    RequestHelp => "request_help",
    Breakouts => "breakouts",
});

/// Breakout operations; the same bodies as the REST API's breakout endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BreakoutCommand {
    Create {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        names: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capacity: Option<u32>,
    },
    Update {
        breakout_id: BreakoutId,
        #[serde(flatten)]
        update: BreakoutUpdate,
    },
    Remove {
        breakout_id: BreakoutId,
    },
    SetOptions {
        options: BreakoutOptions,
    },
    /// Keys are peer ids of present peers, or user ids (who may not have joined yet).
    Assign {
        assignments: BTreeMap<String, Location>,
    },
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exclude_roles: Option<Vec<RoleName>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
        #[serde(default)]
        keep_previous: bool,
    },
    /// Values are breakout ids or names.
    Preassign {
        by_user_id: BTreeMap<UserId, String>,
    },
    Open {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_s: Option<u32>,
    },
    Close {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        countdown_s: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        breakout_id: Option<BreakoutId>,
    },
    Extend {
        seconds: u32,
    },
    Broadcast {
        text: String,
    },
    ClaimHelp {
        help_id: HelpId,
    },
    DismissHelp {
        help_id: HelpId,
    },
}

// Its `command.op` on the wire.
wire_names!(BreakoutCommand {
    Create => "create",
    Update => "update",
    Remove => "remove",
    SetOptions => "set_options",
    Assign => "assign",
    Auto => "auto",
    Preassign => "preassign",
    Open => "open",
    Close => "close",
    Extend => "extend",
    Broadcast => "broadcast",
    ClaimHelp => "claim_help",
    DismissHelp => "dismiss_help",
});

/// A change to one breakout room. An absent field stays as it is; `null` clears `capacity`
/// and `password`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BreakoutUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub capacity: Option<Option<u32>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub password: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// Tell "absent" (`None`) from "null" (`Some(None)`).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_body_names_its_wire_type() {
        let bodies = [
            ClientBody::Join {
                token: "t".into(),
                password: None,
            },
            ClientBody::Offer { sdp: "v=0".into() },
            ClientBody::Answer { sdp: "v=0".into() },
            ClientBody::Publish {
                source: crate::Source::Audio,
                mid: "0".into(),
                muted: false,
            },
            ClientBody::VideoSize {
                track_id: TrackId::new(1),
                max_width: 320,
                max_height: 180,
            },
            ClientBody::Command {
                command: PeerCommand::Leave,
            },
            ClientBody::Ping,
        ];
        let mut tags = Vec::new();
        for body in bodies {
            let value = serde_json::to_value(&body).unwrap();
            assert_eq!(value["type"], body.name());
            tags.push(body.name());
        }
        assert_eq!(
            tags,
            ClientBody::NAMES,
            "a sample of every variant, in order"
        );
    }

    #[test]
    fn a_command_message_has_the_documented_shape() {
        let text = r#"{"id": 7, "type": "command", "command": {"type": "breakouts", "version": 3,
            "op": "update", "breakout_id": "b2", "name": "Design", "capacity": null}}"#;
        let msg: ClientMessage = serde_json::from_str(text).unwrap();
        let ClientBody::Command {
            command: PeerCommand::Breakouts { version, op },
        } = &msg.body
        else {
            panic!("{msg:?}")
        };
        assert_eq!(*version, Some(3));
        let BreakoutCommand::Update {
            breakout_id,
            update,
        } = op
        else {
            panic!("{op:?}")
        };
        assert_eq!(*breakout_id, BreakoutId::new(2));
        assert_eq!(update.name.as_deref(), Some("Design"));
        assert_eq!(update.capacity, Some(None), "null clears the capacity");
        assert_eq!(update.password, None, "absent leaves the password");
    }

    #[test]
    fn replies_carry_data_or_an_error() {
        let reply = ServerMessage::Reply {
            id: 1,
            ok: true,
            data: Some(ReplyData::Joined {
                peer_id: PeerId::new(4),
                resumed: false,
            }),
            error: None,
        };
        let value = serde_json::to_value(&reply).unwrap();
        assert_eq!(value["type"], "reply");
        assert_eq!(value["data"]["joined"]["peer_id"], "p4");
        assert!(value.get("error").is_none());
    }
}
