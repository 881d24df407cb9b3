//! The reference model: the routing rule by brute force and the breakout set as a plain
//! state machine, written from the rules of `docs/product.md`, never from the core's private logic.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use caucus_core::{Peer, Session, Time};
use caucus_proto::event::RoomState;
use caucus_proto::{
    BreakoutId, BreakoutOptions, Location, Phase, RoleName, RoleSpec, Source, TrackKey, Visibility,
};

pub(crate) fn publish_class(source: Source) -> Source {
    match source {
        Source::ScreenAudio => Source::Screen,
        other => other,
    }
}

pub(crate) fn spec_may_publish(spec: &RoleSpec, source: Source) -> bool {
    spec.publish.allowed.contains(&publish_class(source))
}

pub(crate) fn is_sound(source: Source) -> bool {
    matches!(source, Source::Audio | Source::ScreenAudio)
}

/// The product's routing rule, by brute force over every publisher and track.
pub(crate) fn brute_force(session: &Session, s: &Peer) -> BTreeSet<TrackKey> {
    let template = session.template();
    let mut out = BTreeSet::new();
    if !s.is_connected() {
        return out;
    }
    let s_role = template.role(s.acting_role());
    for p in session.peers() {
        if p.id() == s.id() || !p.is_connected() {
            continue;
        }
        let p_role = template.role(p.acting_role());
        // 2. S's role subscribes to P's role.
        if !s_role.spec().subscribe.roles.contains(p_role.name()) {
            continue;
        }
        // 3. Same location, or an explicit cross-room rule.
        let same = s.location() == p.location();
        let listen_in = matches!(p.location(), Location::Breakout(b) if s.listening() == Some(b));
        let main_stage = match (s.location(), p.location()) {
            (Location::Breakout(b), Location::Main) => matches!(
                session.breakouts().room(b).map(|r| r.visibility()),
                Some(Visibility::MainStage { roles }) if roles.contains(p_role.name())
            ),
            _ => false,
        };
        for (track, source, _muted) in p.tracks() {
            // 1. P's role may publish the source.
            if !spec_may_publish(p_role.spec(), source) {
                continue;
            }
            // A broadcast is *heard* everywhere: its sound crosses every boundary.
            let broadcast = p.is_broadcasting() && is_sound(source);
            if same || listen_in || main_stage || broadcast {
                out.insert(TrackKey {
                    peer: p.id(),
                    track,
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoomModel {
    pub(crate) capacity: Option<u32>,
    pub(crate) password: bool,
    pub(crate) visibility: Visibility,
    pub(crate) closing_at: Option<Time>,
    pub(crate) closed: bool,
}

/// The breakout set as a plain state machine: phase, rooms, options, the timer and countdowns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub(crate) phase: Phase,
    pub(crate) options: BreakoutOptions,
    pub(crate) rooms: BTreeMap<BreakoutId, RoomModel>,
    pub(crate) ends_at: Option<Time>,
    pub(crate) closing_at: Option<Time>,
}

impl Model {
    pub(crate) fn enterable(&self, b: BreakoutId) -> bool {
        self.phase == Phase::Open
            && self
                .rooms
                .get(&b)
                .is_some_and(|r| !r.closed && r.closing_at.is_none())
    }

    pub(crate) fn live(&self, b: BreakoutId) -> bool {
        matches!(self.phase, Phase::Open | Phase::Closing)
            && self.rooms.get(&b).is_some_and(|r| !r.closed)
    }

    /// Everyone is back in main; the plan is kept.
    pub(crate) fn finish_all(&mut self) {
        self.phase = Phase::Closed;
        self.closing_at = None;
        self.ends_at = None;
        for room in self.rooms.values_mut() {
            room.closed = false;
            room.closing_at = None;
        }
    }

    pub(crate) fn close_all(&mut self, now: Time, countdown_s: u32) {
        self.ends_at = None;
        if countdown_s == 0 {
            self.finish_all();
        } else {
            self.phase = Phase::Closing;
            self.closing_at = Some(now + Duration::from_secs(u64::from(countdown_s)));
        }
    }

    pub(crate) fn close_room(&mut self, b: BreakoutId) {
        if let Some(room) = self.rooms.get_mut(&b) {
            room.closed = true;
            room.closing_at = None;
        }
        if self.rooms.values().all(|r| r.closed) {
            self.finish_all();
        }
    }

    pub(crate) fn room_state(&self, room: &RoomModel) -> RoomState {
        if room.closed || matches!(self.phase, Phase::Draft | Phase::Closed) {
            RoomState::Closed
        } else if room.closing_at.is_some() || self.phase == Phase::Closing {
            RoomState::Closing
        } else {
            RoomState::Open
        }
    }

    /// The next thing the clock will do to the set (ties: timer end, close all, close a room).
    pub(crate) fn next_event(&self) -> Option<(Time, u8, Option<BreakoutId>)> {
        let mut events = Vec::new();
        if self.phase == Phase::Open {
            if let Some(at) = self.ends_at {
                events.push((at, 0, None));
            }
            for (b, room) in &self.rooms {
                if let (false, Some(at)) = (room.closed, room.closing_at) {
                    events.push((at, 2, Some(*b)));
                }
            }
        }
        if self.phase == Phase::Closing
            && let Some(at) = self.closing_at
        {
            events.push((at, 1, None));
        }
        events.into_iter().min()
    }

    pub(crate) fn advance_to(&mut self, now: Time) {
        while let Some((at, kind, room)) = self.next_event() {
            if at > now {
                break;
            }
            match (kind, room) {
                (0, _) => {
                    let countdown = self.options.countdown_s;
                    self.close_all(at, countdown);
                }
                (1, _) => self.finish_all(),
                (_, Some(b)) => self.close_room(b),
                (_, None) => unreachable!("a room event names its room"),
            }
        }
    }
}

/// A pending request, as the model remembers it.
#[derive(Debug, Clone)]
pub(crate) enum Asked {
    Role(RoleName),
    Move(Location),
    Unmute(Source),
}
