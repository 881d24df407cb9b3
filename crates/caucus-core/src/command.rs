//! Commands: what peers and the server API ask a session to do (imperative), and what a
//! command hands back when it succeeds.

use std::collections::BTreeMap;

use caucus_proto::{
    BreakoutId, BreakoutOptions, ChatTarget, HelpId, Location, PeerId, RecordingId, RequestId,
    RoleName, Source, TrackId, UserId, Visibility,
};

/// Who issues a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The server's own API (a management token) or the shell itself: may do everything.
    Server,
    /// A connected peer, judged by its acting role.
    Peer(PeerId),
}

/// A person joining (or coming back), as the shell has verified from the join token.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRequest {
    pub user_id: UserId,
    pub name: String,
    pub role: RoleName,
    pub password: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// Everything a session can be asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Join, or resume a peer of the same user whose connection was lost (server only).
    Join(JoinRequest),
    /// Leave for good (the peer itself, or the server on its behalf).
    Leave {
        peer: PeerId,
    },
    /// The peer's connection was lost; it may come back within the grace period (server only).
    Disconnect {
        peer: PeerId,
    },
    /// Change a peer's name or metadata (itself, or the server).
    UpdatePeer {
        peer: PeerId,
        name: Option<String>,
        metadata: Option<serde_json::Value>,
    },
    /// Raise or lower a hand (one's own; others' needs `mute_others`).
    SetHand {
        peer: PeerId,
        raised: bool,
    },
    /// Publish a source (the actor's own).
    Publish {
        source: Source,
        muted: bool,
    },
    Unpublish {
        track: TrackId,
    },
    /// Mute or unmute one's own track.
    SetMuted {
        track: TrackId,
        muted: bool,
    },
    /// Mute another peer's tracks of `source`, or all of them (`mute_others`).
    MutePeer {
        peer: PeerId,
        source: Option<Source>,
    },
    /// Ask a peer to unmute `source` (`ask_unmute`); the peer accepts or rejects.
    AskUnmute {
        peer: PeerId,
        source: Source,
    },
    /// Change one peer's role, at once (`force`) or as a request (`change_role`).
    ChangeRole {
        peer: PeerId,
        role: RoleName,
        force: bool,
    },
    /// Change the role of every peer holding one of `from_roles` (forced, `change_role`).
    ChangeRoles {
        from_roles: Vec<RoleName>,
        to_role: RoleName,
    },
    /// Move a peer anywhere, at once (`force`) or as a request (`move_peers`).
    MovePeer {
        peer: PeerId,
        to: Location,
        force: bool,
    },
    /// Several changes of one peer at once — role, location, name, metadata — carried out
    /// whole or not at all (the REST `PATCH` of a peer). Role and location go as requests
    /// unless `force`.
    PatchPeer(PeerPatch),
    /// Accept or reject a request addressed to the actor.
    RespondRequest {
        request: RequestId,
        accept: bool,
    },
    RemovePeer {
        peer: PeerId,
        reason: Option<String>,
    },
    EndSession {
        reason: Option<String>,
        lock: bool,
    },
    SetLocked {
        locked: bool,
    },
    Chat {
        to: ChatTarget,
        text: String,
    },
    /// Start or stop being heard in every location (`broadcast`).
    SetBroadcasting {
        on: bool,
    },
    /// Listen in to a breakout without moving, or stop (`manage_breakouts`).
    ListenIn {
        breakout: Option<BreakoutId>,
    },
    /// Enter a breakout oneself: one's assigned room, or any room when self-select is allowed.
    JoinBreakout {
        breakout: BreakoutId,
        password: Option<String>,
    },
    /// Go back to main oneself, when allowed.
    ReturnToMain,
    /// Ask the managers for help.
    RequestHelp,
    /// Record `location` (main or an open breakout) under `recording`, an id the shell issues
    /// unique across sessions (`record`). One recording per location at a time.
    StartRecording {
        recording: RecordingId,
        location: Location,
    },
    /// End a recording in progress (`record`).
    StopRecording {
        recording: RecordingId,
    },
    /// Edit or drive the breakout set (`manage_breakouts`). A `version` that is not the current
    /// one is refused with `stale_version`.
    Breakouts {
        version: Option<u64>,
        op: BreakoutOp,
    },
}

/// Who an assignment is for: a present peer, or a user who may not have joined yet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assignee {
    Peer(PeerId),
    User(UserId),
}

/// A breakout named by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakoutRef {
    Id(BreakoutId),
    Name(String),
}

/// A change to one room; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoomUpdate {
    pub name: Option<String>,
    /// `Some(None)` removes the limit.
    pub capacity: Option<Option<u32>>,
    /// `Some(None)` removes the password.
    pub password: Option<Option<String>>,
    pub visibility: Option<Visibility>,
}

/// Operations on the breakout set.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakoutOp {
    /// Create `count` rooms named "Room N", and/or rooms with the given names.
    Create {
        count: u32,
        names: Vec<String>,
        capacity: Option<u32>,
    },
    Update {
        breakout: BreakoutId,
        update: RoomUpdate,
    },
    Remove {
        breakout: BreakoutId,
    },
    SetOptions(BreakoutOptions),
    /// Assign by hand; `Location::Main` removes an assignment.
    Assign {
        assignments: Vec<(Assignee, Location)>,
    },
    /// Spread peers evenly at random (seeded). `exclude_roles: None` excludes the roles that
    /// manage breakouts. `keep_previous` keeps existing assignments and places only the rest.
    AutoAssign {
        exclude_roles: Option<Vec<RoleName>>,
        seed: u64,
        keep_previous: bool,
    },
    /// Replace the pre-assignments by user id.
    SetPreassignments {
        by_user_id: BTreeMap<UserId, BreakoutRef>,
    },
    Open {
        duration_s: Option<u32>,
    },
    /// Close every room, or one, after a countdown (`None` = the option's countdown).
    Close {
        countdown_s: Option<u32>,
        breakout: Option<BreakoutId>,
    },
    Extend {
        seconds: u32,
    },
    Broadcast {
        text: String,
    },
    ClaimHelp {
        help: HelpId,
    },
    DismissHelp {
        help: HelpId,
    },
}

/// What [`Command::PatchPeer`] changes; absent fields keep their value.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerPatch {
    pub peer: PeerId,
    pub role: Option<RoleName>,
    pub location: Option<Location>,
    pub name: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub force: bool,
}

/// The room password as a session holds it.
#[derive(Clone, PartialEq, Eq)]
pub enum RoomPassword {
    /// Compared by the session itself.
    Plain(String),
    /// Known only as a stored hash: the session asks for a given password to be checked
    /// against it ([`Outcome::CheckPassword`]) and takes the verdict with
    /// `Session::handle_checked`.
    Hash(String),
}

impl std::fmt::Debug for RoomPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never in logs.
        match self {
            Self::Plain(_) => f.write_str("Plain(…)"),
            Self::Hash(_) => f.write_str("Hash(…)"),
        }
    }
}

/// What a successful command hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Nothing happened yet: check `plain` against `hash` (slow on purpose, so not here), then
    /// give the same command again with the verdict (`Session::handle_checked`).
    CheckPassword {
        hash: String,
        plain: String,
    },
    Joined {
        peer: PeerId,
        resumed: bool,
    },
    Published {
        track: TrackId,
    },
    RequestSent {
        request: RequestId,
    },
    BreakoutsCreated {
        rooms: Vec<BreakoutId>,
    },
    HelpRequested {
        help: HelpId,
    },
}
