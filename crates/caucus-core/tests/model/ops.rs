//! The vocabulary of a story: the universe (users, numbers, unknown ids) and the steps
//! a story is made of, with selectors resolved only when a step runs.

use caucus_proto::{BreakoutId, HelpId, PeerId, RequestId, TrackId};

pub(crate) const USERS: u8 = 8;
pub(crate) const MAX_SECONDS: u32 = 86_400;
pub(crate) const COUNTDOWNS: [u32; 8] = [0, 1, 5, 10, 30, 0, 5, 100_000];
pub(crate) const DURATIONS: [u32; 8] = [5, 20, 45, 90, 20, 45, 0, 100_000];
pub(crate) const WARNINGS: [u32; 4] = [0, 3, 10, 60];
pub(crate) const EXTENSIONS: [u32; 4] = [0, 5, 30, 100_000];
pub(crate) const ROOM_NAMES: [&str; 5] = ["Alpha", "beta", "ALPHA", "  ", "Gamma"];
pub(crate) const NO_PEER: PeerId = PeerId::new(999_999);
pub(crate) const NO_ROOM: BreakoutId = BreakoutId::new(888_888);
pub(crate) const NO_TRACK: TrackId = TrackId::new(777_777);
pub(crate) const NO_REQUEST: RequestId = RequestId::new(666_666);
pub(crate) const NO_HELP: HelpId = HelpId::new(555_555);

/// Who issues a command: the server API or a peer (chosen among present peers, sometimes a
/// departed or unknown one).
#[derive(Debug, Clone)]
pub(crate) enum Who {
    Server,
    /// A connected peer that manages breakouts, when there is one.
    Manager(u8),
    Peer(u8),
}

/// The `version` of a breakout command.
#[derive(Debug, Clone)]
pub(crate) enum Ver {
    Unchecked,
    Current,
    Stale,
}

#[derive(Debug, Clone)]
pub(crate) enum Place {
    Main,
    Room(u8),
}

#[derive(Debug, Clone)]
pub(crate) enum Whom {
    Peer(u8),
    User(u8),
}

/// One step of a story. Selectors (`u8`) are resolved against the session when the step runs,
/// so shrinking keeps every sequence meaningful.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Join {
        user: u8,
        role: u8,
    },
    /// Join again as the user of a (preferably disconnected) peer: resumes within the grace.
    Rejoin {
        peer: u8,
    },
    Leave {
        who: Who,
        peer: u8,
    },
    Disconnect {
        peer: u8,
    },
    Publish {
        who: u8,
        source: u8,
        muted: bool,
    },
    Unpublish {
        who: u8,
        track: u8,
    },
    SetMuted {
        who: u8,
        track: u8,
        muted: bool,
    },
    MutePeer {
        who: Who,
        peer: u8,
        source: Option<u8>,
    },
    AskUnmute {
        who: Who,
        peer: u8,
        source: u8,
    },
    ChangeRole {
        who: Who,
        peer: u8,
        role: u8,
        force: bool,
    },
    ChangeRoles {
        who: Who,
        from: Vec<u8>,
        to: u8,
    },
    Move {
        who: Who,
        peer: u8,
        to: Place,
        force: bool,
    },
    Respond {
        who: u8,
        request: u8,
        accept: bool,
    },
    Breakouts {
        who: Who,
        version: Ver,
        op: Bop,
    },
    JoinBreakout {
        who: u8,
        room: u8,
        password: u8,
    },
    ReturnToMain {
        who: u8,
    },
    ListenIn {
        who: Who,
        room: Option<u8>,
    },
    Broadcasting {
        who: Who,
        on: bool,
    },
    RequestHelp {
        who: Who,
    },
    SetLocked {
        who: Who,
        locked: bool,
    },
    End {
        who: Who,
        lock: bool,
    },
    Advance {
        ms: u64,
    },
    /// Many guests join at once (users `u100`…), so that moves take the bulk paths.
    Crowd {
        n: u8,
    },
}

/// Operations on the breakout set.
#[derive(Debug, Clone)]
pub(crate) enum Bop {
    Create {
        count: u8,
        names: Vec<u8>,
        capacity: u8,
    },
    Update {
        room: u8,
        capacity: Option<u8>,
        visibility: Option<Option<Vec<u8>>>,
        password: Option<Option<bool>>,
    },
    Remove {
        room: u8,
    },
    Options {
        self_select: bool,
        return_to_main: bool,
        auto_move: bool,
        countdown: u8,
        duration: Option<u8>,
        warning: u8,
    },
    Assign {
        list: Vec<(Whom, Place)>,
    },
    AutoAssign {
        exclude: Option<Vec<u8>>,
        seed: u64,
        keep_previous: bool,
    },
    Preassign {
        list: Vec<(u8, u8, bool)>,
    },
    Open {
        duration: Option<u8>,
    },
    Close {
        countdown: Option<u8>,
        room: Option<u8>,
    },
    Extend {
        seconds: u8,
    },
    Text,
    Help {
        claim: bool,
        entry: u8,
    },
}
