//! The breakout set of one session: its phase, rooms, options, assignments, help queue and
//! `version`. Plain data with small invariant-keeping methods; the decisions that involve peers
//! live in `session::breakouts`.

use std::collections::BTreeMap;

use caucus_proto::event::{BreakoutRoomView, BreakoutsView, HelpInfo, RoomState};
use caucus_proto::{
    BreakoutId, BreakoutOptions, HelpId, Location, PeerId, Phase, UserId, Visibility,
};

use crate::command::RoomPassword;
use crate::time::{Time, millis_between};

/// One breakout room.
#[derive(Debug, Clone)]
pub struct BreakoutRoom {
    pub(crate) id: BreakoutId,
    pub(crate) name: String,
    pub(crate) capacity: Option<u32>,
    /// Compared by the session, or known only as a stored hash (a restored plan): see
    /// `session::password`.
    pub(crate) password: Option<RoomPassword>,
    pub(crate) visibility: Visibility,
    /// When this room alone is closing: the moment it closes.
    pub(crate) closing_at: Option<Time>,
    /// This room alone was closed while the others stay open.
    pub(crate) closed: bool,
}

impl BreakoutRoom {
    pub fn id(&self) -> BreakoutId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn capacity(&self) -> Option<u32> {
        self.capacity
    }

    pub fn visibility(&self) -> &Visibility {
        &self.visibility
    }
}

/// A help request from a peer.
#[derive(Debug, Clone)]
pub(crate) struct HelpEntry {
    pub(crate) id: HelpId,
    pub(crate) peer: PeerId,
    pub(crate) breakout: Option<BreakoutId>,
    pub(crate) claimed_by: Option<PeerId>,
}

/// The breakout set of a session.
#[derive(Debug, Clone, Default)]
pub struct BreakoutSet {
    pub(crate) phase: Phase,
    pub(crate) version: u64,
    pub(crate) options: BreakoutOptions,
    pub(crate) rooms: BTreeMap<BreakoutId, BreakoutRoom>,
    /// Assignments of present peers, made by hand, by auto-assign or by choosing a room.
    pub(crate) assignments: BTreeMap<PeerId, BreakoutId>,
    /// Assignments by user id, valid before the user joins.
    pub(crate) preassignments: BTreeMap<UserId, BreakoutId>,
    pub(crate) help: BTreeMap<HelpId, HelpEntry>,
    /// When the running timer ends.
    pub(crate) ends_at: Option<Time>,
    pub(crate) warned: bool,
    /// When every room closes (phase `Closing`).
    pub(crate) closing_at: Option<Time>,
    /// Set by any change during a command; the session bumps `version` once and tells peers.
    pub(crate) changed: bool,
    /// Set by a change of what a plan keeps (rooms, options, pre-assignments); the session
    /// then hands the plan to the shell to write ([`crate::Effect::PersistPlan`]).
    pub(crate) plan_edited: bool,
}

impl BreakoutSet {
    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn options(&self) -> &BreakoutOptions {
        &self.options
    }

    pub fn room(&self, id: BreakoutId) -> Option<&BreakoutRoom> {
        self.rooms.get(&id)
    }

    pub fn rooms(&self) -> impl Iterator<Item = &BreakoutRoom> {
        self.rooms.values()
    }

    pub(crate) fn touch(&mut self) {
        self.changed = true;
    }

    /// A change of the plan itself: peers are told, and the plan is written.
    pub(crate) fn edit_plan(&mut self) {
        self.changed = true;
        self.plan_edited = true;
    }

    /// Whether a peer may stand in this breakout now (it exists, rooms are open, it is not
    /// closed or closing on its own).
    pub(crate) fn is_enterable(&self, id: BreakoutId) -> bool {
        self.phase == Phase::Open
            && self
                .rooms
                .get(&id)
                .is_some_and(|r| !r.closed && r.closing_at.is_none())
    }

    /// The room a peer belongs to by plan: its own assignment, else its user's pre-assignment.
    pub(crate) fn assignment_of(&self, peer: PeerId, user: &UserId) -> Option<BreakoutId> {
        self.assignments
            .get(&peer)
            .or_else(|| self.preassignments.get(user))
            .copied()
    }

    /// Forget everything that points at a removed room.
    pub(crate) fn forget_room(&mut self, id: BreakoutId) {
        self.rooms.remove(&id);
        self.assignments.retain(|_, b| *b != id);
        self.preassignments.retain(|_, b| *b != id);
        self.help.retain(|_, h| h.breakout != Some(id));
    }

    /// Build the view peers and the API see. `full` includes the help queue and
    /// pre-assignments (for managers).
    pub(crate) fn view(
        &self,
        now: Time,
        full: bool,
        located: impl Fn(Location) -> Vec<PeerId>,
    ) -> BreakoutsView {
        let mut assigned: BTreeMap<BreakoutId, Vec<PeerId>> = BTreeMap::new();
        for (peer, b) in &self.assignments {
            assigned.entry(*b).or_default().push(*peer);
        }
        let rooms = self
            .rooms
            .values()
            .map(|r| BreakoutRoomView {
                id: r.id,
                name: r.name.clone(),
                capacity: r.capacity,
                has_password: r.password.is_some(),
                visibility: r.visibility.clone(),
                state: if r.closed || matches!(self.phase, Phase::Draft | Phase::Closed) {
                    RoomState::Closed
                } else if r.closing_at.is_some() || self.phase == Phase::Closing {
                    RoomState::Closing
                } else {
                    RoomState::Open
                },
                peers: located(Location::Breakout(r.id)),
                assigned: assigned.remove(&r.id).unwrap_or_default(),
                closes_in_ms: r.closing_at.map(|at| millis_between(now, at)),
            })
            .collect();
        BreakoutsView {
            phase: self.phase,
            version: self.version,
            options: self.options.clone(),
            rooms,
            help: if full {
                self.help
                    .values()
                    .map(|h| HelpInfo {
                        id: h.id,
                        peer_id: h.peer,
                        breakout_id: h.breakout,
                        claimed_by: h.claimed_by,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            preassignments: if full {
                self.preassignments.clone()
            } else {
                BTreeMap::new()
            },
            ends_in_ms: self.ends_at.map(|at| millis_between(now, at)),
            closes_in_ms: self.closing_at.map(|at| millis_between(now, at)),
        }
    }
}
