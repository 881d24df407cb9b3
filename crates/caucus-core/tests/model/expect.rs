//! What a command must do, decided before it runs, and the snapshot a refusal must leave
//! unchanged.

use std::collections::BTreeMap;

use caucus_core::Time;
use caucus_proto::event::{BreakoutsView, PeerInfo};
use caucus_proto::{ErrorCode, PeerId, RequestId, TrackKey};

/// Everything observable about a session, for "a refusal changes nothing".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) peers: BTreeMap<PeerId, PeerInfo>,
    pub(crate) desired: BTreeMap<PeerId, Vec<TrackKey>>,
    pub(crate) view: BreakoutsView,
    pub(crate) locked: bool,
    pub(crate) ended: bool,
    pub(crate) requests: BTreeMap<PeerId, Vec<RequestId>>,
    pub(crate) next_timeout: Option<Time>,
}

/// What a command must do, decided before it runs.
#[derive(Debug, Default)]
pub(crate) struct Expect {
    pub(crate) refuse: Option<(String, Option<ErrorCode>)>,
    pub(crate) succeed: Option<String>,
}

impl Expect {
    pub(crate) fn refuse(reason: impl Into<String>) -> Self {
        Self {
            refuse: Some((reason.into(), None)),
            succeed: None,
        }
    }

    pub(crate) fn refuse_with(reason: impl Into<String>, code: ErrorCode) -> Self {
        Self {
            refuse: Some((reason.into(), Some(code))),
            succeed: None,
        }
    }

    pub(crate) fn succeed(reason: impl Into<String>) -> Self {
        Self {
            refuse: None,
            succeed: Some(reason.into()),
        }
    }
}
