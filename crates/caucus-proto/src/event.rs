//! What peers are told (`ServerEvent`) and what the outside world is told (`LifecycleEvent`,
//! delivered as webhooks).
//!
//! Times inside events are relative (`*_in_ms`), measured when the event was produced: a peer's
//! clock and the server's monotonic clock never need to agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{BreakoutId, HelpId, PeerId, RecordingId, RequestId, RoleName, TrackId, UserId};
use crate::model::{BreakoutOptions, ChatTarget, Location, Phase, Source, Visibility};
use crate::names::wire_names;
use crate::template::{Permissions, PublishSpec, RoleInfo};

/// One STUN or TURN server, in the shape of the browser's `RTCIceServer`: `urls` such as
/// `stun:stun.example.org:3478` or `turns:turn.example.org:443?transport=tcp`, and for TURN
/// the username and credential to authenticate with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A peer as other peers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub id: PeerId,
    pub user_id: UserId,
    pub name: String,
    /// The role the peer was given (by its token or a role change).
    pub role: RoleName,
    /// The role it acts as where it stands now (differs in a breakout when the role names a
    /// `breakout_role`).
    pub acting_role: RoleName,
    pub location: Location,
    pub tracks: Vec<TrackInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    pub hand_raised: bool,
    pub connected: bool,
    pub broadcasting: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_to: Option<BreakoutId>,
}

/// One published track as peers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    pub id: TrackId,
    pub source: Source,
    pub muted: bool,
}

/// Why a peer is no longer in the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Left,
    Removed,
    ReconnectTimeout,
    SessionEnded,
    /// The server stopped without ending the session (a crash): said by the next start, in
    /// the `peer.left` webhook only (no peer is there to be told).
    Restart,
}

/// Why a track stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackEndReason {
    Unpublished,
    /// The peer's role (or acting role) may no longer publish this source.
    RoleRevoked,
    Disconnected,
}

/// What a pending request asks of its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RequestKind {
    ChangeRole { role: RoleName },
    Move { to: Location },
    Unmute { source: Source },
}

/// A request as its target sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub id: RequestId,
    /// `None` when the server API asked.
    pub from: Option<PeerId>,
    pub target: PeerId,
    #[serde(flatten)]
    pub kind: RequestKind,
    pub expires_in_ms: u64,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    Accepted,
    Rejected,
    Expired,
    /// The target left, or the request could no longer be carried out when accepted.
    Cancelled,
}

/// One room of the breakout set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakoutRoomView {
    pub id: BreakoutId,
    pub name: String,
    /// `None` = unlimited.
    pub capacity: Option<u32>,
    pub has_password: bool,
    pub visibility: Visibility,
    pub state: RoomState,
    /// Peers standing in the room now.
    pub peers: Vec<PeerId>,
    /// Peers assigned to it (they may still be in main when invited).
    pub assigned: Vec<PeerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_in_ms: Option<u64>,
}

/// Whether one breakout room can be entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomState {
    Open,
    Closing,
    Closed,
}

/// An entry of the help queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpInfo {
    pub id: HelpId,
    pub peer_id: PeerId,
    pub breakout_id: Option<BreakoutId>,
    pub claimed_by: Option<PeerId>,
}

/// The whole breakout set, as `GET /v1/rooms/{room}/breakouts` and the `breakouts` event show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakoutsView {
    pub phase: Phase,
    pub version: u64,
    pub options: BreakoutOptions,
    pub rooms: Vec<BreakoutRoomView>,
    /// The help queue; empty in the view sent to peers that do not manage breakouts.
    pub help: Vec<HelpInfo>,
    /// Pre-assignments by user id; empty in the view sent to peers that do not manage breakouts.
    pub preassignments: BTreeMap<UserId, BreakoutId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_in_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_in_ms: Option<u64>,
}

/// A recording in progress: everyone standing in `location` is being recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingInfo {
    pub id: RecordingId,
    pub location: Location,
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingEndReason {
    /// Stopped through the API or by a peer with `record`.
    Stopped,
    /// The breakout room it recorded closed (or was removed).
    BreakoutClosed,
    SessionEnded,
}

/// One peer's move between locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub peer_id: PeerId,
    pub from: Location,
    pub to: Location,
}

/// Peers that moved together from one location to another (one group of a `peers_moved`
/// event: a bulk move of a thousand peers into a hundred rooms is a hundred groups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveGroup {
    pub from: Location,
    pub to: Location,
    pub peers: Vec<PeerId>,
}

impl MoveGroup {
    /// Groups moves by (from, to), in order of first appearance.
    pub fn group(moves: &[Move]) -> Vec<MoveGroup> {
        let mut groups: Vec<MoveGroup> = Vec::new();
        let mut index: std::collections::HashMap<(Location, Location), usize> =
            std::collections::HashMap::new();
        for m in moves {
            let i = *index.entry((m.from, m.to)).or_insert_with(|| {
                groups.push(MoveGroup {
                    from: m.from,
                    to: m.to,
                    peers: Vec::new(),
                });
                groups.len() - 1
            });
            if let Some(g) = groups.get_mut(i) {
                g.peers.push(m.peer_id);
            }
        }
        groups
    }

    /// The moves again, one per peer.
    pub fn moves(groups: &[MoveGroup]) -> impl Iterator<Item = Move> + '_ {
        groups.iter().flat_map(|g| {
            g.peers.iter().map(|p| Move {
                peer_id: *p,
                from: g.from,
                to: g.to,
            })
        })
    }
}

/// Everything a connected peer can be told by the session.
// `Joined` is much larger than the rest; events are built, serialized once (shared by `Arc`
// among recipients) and dropped, never stored in bulk, so boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// Sent to a peer once it is in (or back in) the session.
    Joined {
        peer: PeerInfo,
        is_breakout: bool,
        permissions: Permissions,
        /// The sources the peer's acting role may publish where it stands (as in `RoleChanged`).
        may_publish: Vec<Source>,
        /// How to publish: per-source caps and whether to send the camera as simulcast.
        #[serde(default)]
        publish: PublishSpec,
        resumed: bool,
        peers: Vec<PeerInfo>,
        breakouts: BreakoutsView,
        locked: bool,
        /// Recordings in progress, in every location.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        recordings: Vec<RecordingInfo>,
        /// The session's roles (from its template), highest priority first: what a console
        /// offers when it assigns or changes roles.
        #[serde(default)]
        roles: Vec<RoleInfo>,
        /// The STUN and TURN servers this peer's `RTCPeerConnection` should use (its
        /// `iceServers`). TURN credentials are minted per user and join and expire, so the
        /// server fills this in for the one connection the event goes to; the session leaves
        /// it empty.
        #[serde(default)]
        ice_servers: Vec<IceServer>,
    },
    PeerJoined {
        peer: PeerInfo,
    },
    PeerLeft {
        peer_id: PeerId,
        reason: LeaveReason,
    },
    /// Name, metadata, hand, role or connection state changed.
    PeerUpdated {
        peer: PeerInfo,
    },
    /// The receiving peer's own role (or acting role) changed: what it may do now.
    RoleChanged {
        peer_id: PeerId,
        role: RoleName,
        acting_role: RoleName,
        permissions: Permissions,
        may_publish: Vec<Source>,
        /// How to publish: per-source caps and whether to send the camera as simulcast.
        #[serde(default)]
        publish: PublishSpec,
    },
    PeersMoved {
        moves: Vec<MoveGroup>,
    },
    TrackPublished {
        peer_id: PeerId,
        track: TrackInfo,
    },
    TrackUnpublished {
        peer_id: PeerId,
        track_id: TrackId,
        reason: TrackEndReason,
    },
    TrackMuted {
        peer_id: PeerId,
        track_id: TrackId,
        muted: bool,
        /// Who muted it, when it was not the owner.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<PeerId>,
    },
    RequestReceived {
        request: RequestInfo,
    },
    RequestResolved {
        request_id: RequestId,
        outcome: RequestOutcome,
    },
    Breakouts {
        state: BreakoutsView,
    },
    /// Rooms opened without auto-move: this peer is invited to its assigned room.
    BreakoutInvite {
        breakout_id: BreakoutId,
        name: String,
    },
    BreakoutsClosing {
        /// `None` = every room.
        breakout_id: Option<BreakoutId>,
        countdown_ms: u64,
    },
    TimerWarning {
        remaining_ms: u64,
    },
    /// A text sent to every location.
    Broadcast {
        from: Option<PeerId>,
        text: String,
    },
    Chat {
        from: Option<PeerId>,
        from_name: String,
        to: ChatTarget,
        text: String,
    },
    HelpRequested {
        help: HelpInfo,
    },
    ListeningTo {
        breakout_id: Option<BreakoutId>,
    },
    RoomLocked {
        locked: bool,
    },
    /// The recordings in progress changed (one started or ended): the complete list, so a peer
    /// knows whether its location is recorded wherever it moves.
    Recordings {
        active: Vec<RecordingInfo>,
    },
    Removed {
        reason: String,
    },
    SessionEnded {
        reason: String,
    },
}

// Its `event.type` on the wire.
wire_names!(ServerEvent {
    Joined => "joined",
    PeerJoined => "peer_joined",
    PeerLeft => "peer_left",
    PeerUpdated => "peer_updated",
    RoleChanged => "role_changed",
    PeersMoved => "peers_moved",
    TrackPublished => "track_published",
    TrackUnpublished => "track_unpublished",
    TrackMuted => "track_muted",
    RequestReceived => "request_received",
    RequestResolved => "request_resolved",
    Breakouts => "breakouts",
    BreakoutInvite => "breakout_invite",
    BreakoutsClosing => "breakouts_closing",
    TimerWarning => "timer_warning",
    Broadcast => "broadcast",
    Chat => "chat",
    HelpRequested => "help_requested",
    ListeningTo => "listening_to",
    RoomLocked => "room_locked",
    Recordings => "recordings",
    Removed => "removed",
    SessionEnded => "session_ended",
});

/// Lifecycle events for webhooks. Serialized with `event` = the dotted name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum LifecycleEvent {
    #[serde(rename = "session.started")]
    SessionStarted {},
    #[serde(rename = "session.ended")]
    SessionEnded { reason: String },
    #[serde(rename = "peer.joined")]
    PeerJoined {
        peer_id: PeerId,
        user_id: UserId,
        role: RoleName,
        location: Location,
    },
    #[serde(rename = "peer.left")]
    PeerLeft {
        peer_id: PeerId,
        user_id: UserId,
        reason: LeaveReason,
    },
    #[serde(rename = "role.changed")]
    RoleChanged {
        peer_id: PeerId,
        user_id: UserId,
        from: RoleName,
        to: RoleName,
    },
    #[serde(rename = "peer.moved")]
    PeerMoved {
        peer_id: PeerId,
        user_id: UserId,
        from: Location,
        to: Location,
    },
    #[serde(rename = "breakouts.opened")]
    BreakoutsOpened {
        rooms: Vec<BreakoutId>,
        ends_in_s: Option<u32>,
    },
    #[serde(rename = "breakouts.closing")]
    BreakoutsClosing {
        breakout_id: Option<BreakoutId>,
        countdown_s: u32,
    },
    #[serde(rename = "breakouts.closed")]
    BreakoutsClosed { breakout_id: Option<BreakoutId> },
    #[serde(rename = "breakouts.timer_warning")]
    BreakoutsTimerWarning { remaining_s: u32 },
    #[serde(rename = "help.requested")]
    HelpRequested {
        help_id: HelpId,
        peer_id: PeerId,
        breakout_id: Option<BreakoutId>,
    },
    #[serde(rename = "recording.started")]
    RecordingStarted {
        recording_id: RecordingId,
        location: Location,
    },
    #[serde(rename = "recording.finished")]
    RecordingFinished {
        recording_id: RecordingId,
        location: Location,
        reason: RecordingEndReason,
    },
}

// The dotted event name (`event` on the wire), e.g. `peer.joined`: what a webhook carries
// and an endpoint's `events` may list.
wire_names!(LifecycleEvent {
    SessionStarted => "session.started",
    SessionEnded => "session.ended",
    PeerJoined => "peer.joined",
    PeerLeft => "peer.left",
    RoleChanged => "role.changed",
    PeerMoved => "peer.moved",
    BreakoutsOpened => "breakouts.opened",
    BreakoutsClosing => "breakouts.closing",
    BreakoutsClosed => "breakouts.closed",
    BreakoutsTimerWarning => "breakouts.timer_warning",
    HelpRequested => "help.requested",
    RecordingStarted => "recording.started",
    RecordingFinished => "recording.finished",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_events_carry_their_dotted_name() {
        let event = LifecycleEvent::PeerMoved {
            peer_id: PeerId::new(1),
            user_id: UserId::from("ana"),
            from: Location::Main,
            to: Location::Breakout(BreakoutId::new(2)),
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["event"], event.name());
        assert_eq!(value["to"], "b2");
        let back: LifecycleEvent = serde_json::from_value(value).unwrap();
        assert_eq!(back, event);
    }

    /// One value of every lifecycle event, in declaration order. (No fixture file covers them,
    /// unlike the signaling messages.)
    fn every_lifecycle_event() -> Vec<LifecycleEvent> {
        let (peer_id, user_id) = (PeerId::new(1), UserId::from("ana"));
        let b1 = BreakoutId::new(1);
        let recording_id = RecordingId::new(7);
        vec![
            LifecycleEvent::SessionStarted {},
            LifecycleEvent::SessionEnded {
                reason: "ended".into(),
            },
            LifecycleEvent::PeerJoined {
                peer_id,
                user_id: user_id.clone(),
                role: RoleName::from("guest"),
                location: Location::Main,
            },
            LifecycleEvent::PeerLeft {
                peer_id,
                user_id: user_id.clone(),
                reason: LeaveReason::Left,
            },
            LifecycleEvent::RoleChanged {
                peer_id,
                user_id: user_id.clone(),
                from: RoleName::from("guest"),
                to: RoleName::from("host"),
            },
            LifecycleEvent::PeerMoved {
                peer_id,
                user_id,
                from: Location::Main,
                to: Location::Breakout(b1),
            },
            LifecycleEvent::BreakoutsOpened {
                rooms: vec![b1],
                ends_in_s: Some(600),
            },
            LifecycleEvent::BreakoutsClosing {
                breakout_id: None,
                countdown_s: 30,
            },
            LifecycleEvent::BreakoutsClosed {
                breakout_id: Some(b1),
            },
            LifecycleEvent::BreakoutsTimerWarning { remaining_s: 60 },
            LifecycleEvent::HelpRequested {
                help_id: HelpId::new(2),
                peer_id,
                breakout_id: Some(b1),
            },
            LifecycleEvent::RecordingStarted {
                recording_id,
                location: Location::Main,
            },
            LifecycleEvent::RecordingFinished {
                recording_id,
                location: Location::Main,
                reason: RecordingEndReason::Stopped,
            },
        ]
    }

    #[test]
    fn every_lifecycle_event_is_named_by_its_wire_tag_and_listed_once() {
        let events = every_lifecycle_event();
        let tags: Vec<String> = events
            .iter()
            .map(|e| {
                let value = serde_json::to_value(e).unwrap();
                assert_eq!(value["event"], e.name(), "{e:?}");
                let back: LifecycleEvent = serde_json::from_value(value.clone()).unwrap();
                assert_eq!(&back, e);
                value["event"].as_str().unwrap().to_owned()
            })
            .collect();
        // Every variant has a sample: `NAMES` comes from the same list as `name()`'s
        // exhaustive match, so a new variant grows `NAMES` and fails here until it has one.
        assert_eq!(tags, LifecycleEvent::NAMES);
    }

    #[test]
    fn moves_are_grouped_by_from_and_to_in_order_and_ungroup_back() {
        let (b1, b2) = (
            Location::Breakout(BreakoutId::new(1)),
            Location::Breakout(BreakoutId::new(2)),
        );
        let mv = |p: u64, from, to| Move {
            peer_id: PeerId::new(p),
            from,
            to,
        };
        let moves = [
            mv(1, Location::Main, b2),
            mv(2, Location::Main, b1),
            mv(3, Location::Main, b2),
            mv(4, b1, b2),
        ];
        let groups = MoveGroup::group(&moves);
        let shape: Vec<(Location, Location, Vec<u64>)> = groups
            .iter()
            .map(|g| (g.from, g.to, g.peers.iter().map(|p| p.get()).collect()))
            .collect();
        assert_eq!(
            shape,
            [
                (Location::Main, b2, vec![1, 3]),
                (Location::Main, b1, vec![2]),
                (b1, b2, vec![4]),
            ]
        );
        let mut back: Vec<Move> = MoveGroup::moves(&groups).collect();
        back.sort_by_key(|m| m.peer_id);
        assert_eq!(back, moves);
    }

    #[test]
    fn server_events_are_tagged_by_type() {
        let event = ServerEvent::TimerWarning {
            remaining_ms: 60_000,
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["type"], "timer_warning");
    }
}
