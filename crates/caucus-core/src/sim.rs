//! A driver for stories: a session with simulated time and people addressed by name.
//!
//! ```
//! use std::time::Duration;
//! use caucus_core::sim::Sim;
//!
//! let mut sim = Sim::new();
//! let host = sim.join("hana", "host");
//! let ana = sim.join("ana", "guest");
//! sim.advance(Duration::from_secs(30));
//! assert!(sim.peer(ana).is_some());
//! # let _ = host;
//! ```
//!
//! It keeps every effect the session produced, per peer, so a story can ask "what was Ana
//! told?" and "what does Ana receive now?". Time only moves when the story says so.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use caucus_proto::{
    BreakoutId, LifecycleEvent, Location, PeerId, RecordingId, ServerEvent, TrackKey, Visibility,
};

use crate::command::{Actor, Assignee, BreakoutOp, Command, JoinRequest, Outcome, RoomUpdate};
use crate::denial::Denial;
use crate::effect::Effect;
use crate::knowledge::Knowledge;
use crate::session::{Session, SessionConfig};
use crate::state::Peer;
use crate::template::Template;
use crate::time::Time;

/// A session, a clock, and a record of everything the session said.
#[derive(Debug)]
pub struct Sim {
    pub session: Session,
    pub now: Time,
    /// Events each peer was sent, in order.
    pub inbox: BTreeMap<PeerId, Vec<Arc<ServerEvent>>>,
    /// The last complete desired set each peer was given.
    pub subscriptions: BTreeMap<PeerId, Vec<TrackKey>>,
    /// The last camera cap each peer was given.
    pub view_caps: BTreeMap<PeerId, Option<caucus_proto::template::ViewCaps>>,
    pub lifecycle: Vec<LifecycleEvent>,
    pub disconnected: Vec<PeerId>,
    /// The last complete track set of each recording in progress.
    pub recordings: BTreeMap<RecordingId, Vec<TrackKey>>,
    /// Every breakout plan the session asked to write, oldest first.
    pub plan_writes: Vec<crate::SavedPlan>,
    /// Every effect, in order.
    pub log: Vec<Effect>,
    /// What each peer was told so far.
    pub knowledge: Knowledge,
    /// Every event that named a peer or track its receiver did not know of (see
    /// [`crate::knowledge`]); a story that ends with this non-empty broke the rule.
    pub unknown_named: Vec<String>,
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    /// A session of the built-in `breakout` template.
    pub fn new() -> Self {
        Self::with(
            crate::builtin::breakout_template(),
            SessionConfig::default(),
        )
    }

    pub fn with(template: Arc<Template>, config: SessionConfig) -> Self {
        let now = Time::from_secs(1_000);
        let mut sim = Self {
            session: Session::new(now, template, config),
            now,
            inbox: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            view_caps: BTreeMap::new(),
            lifecycle: Vec::new(),
            disconnected: Vec::new(),
            recordings: BTreeMap::new(),
            plan_writes: Vec::new(),
            log: Vec::new(),
            knowledge: Knowledge::new(),
            unknown_named: Vec::new(),
        };
        sim.drain();
        sim
    }

    /// Join `user` with `role`; panics if refused (use `try_join` to see a refusal).
    pub fn join(&mut self, user: &str, role: &str) -> PeerId {
        match self.try_join(user, role) {
            Ok(id) => id,
            Err(denial) => panic!("{user} could not join as {role}: {denial}"),
        }
    }

    pub fn try_join(&mut self, user: &str, role: &str) -> Result<PeerId, Denial> {
        let request = JoinRequest {
            user_id: user.into(),
            name: user.to_owned(),
            role: role.into(),
            password: None,
            metadata: None,
        };
        self.join_with(request)
    }

    pub fn join_with(&mut self, request: JoinRequest) -> Result<PeerId, Denial> {
        match self.run(Actor::Server, Command::Join(request))? {
            Outcome::Joined { peer, .. } => Ok(peer),
            other => panic!("join answered {other:?}"),
        }
    }

    /// `peer` publishes `source`, unmuted; panics if refused.
    pub fn publish(&mut self, peer: PeerId, source: caucus_proto::Source) -> TrackKey {
        match self.by(
            peer,
            Command::Publish {
                source,
                muted: false,
            },
        ) {
            Ok(Outcome::Published { track }) => TrackKey { peer, track },
            other => panic!("publishing {source} answered {other:?}"),
        }
    }

    /// Run a command at the current time and collect its effects.
    pub fn run(&mut self, actor: Actor, command: Command) -> Result<Outcome, Denial> {
        let result = self.session.handle_command(self.now, actor, command);
        self.drain();
        result
    }

    /// Run a command as a peer.
    pub fn by(&mut self, peer: PeerId, command: Command) -> Result<Outcome, Denial> {
        self.run(Actor::Peer(peer), command)
    }

    /// Run a breakout operation as `actor`, without a version check.
    pub fn breakouts(&mut self, actor: Actor, op: BreakoutOp) -> Result<Outcome, Denial> {
        self.run(actor, Command::Breakouts { version: None, op })
    }

    /// The server creates `count` rooms (no names, no capacity); panics if refused.
    pub fn create_rooms(&mut self, count: u32) -> Vec<BreakoutId> {
        let create = BreakoutOp::Create {
            count,
            names: vec![],
            capacity: None,
        };
        match self.breakouts(Actor::Server, create) {
            Ok(Outcome::BreakoutsCreated { rooms }) => rooms,
            other => panic!("creating rooms answered {other:?}"),
        }
    }

    /// The server lets `room` watch these roles on the main stage; panics if refused.
    pub fn show_main_stage(&mut self, room: BreakoutId, roles: &[&str]) {
        let update = RoomUpdate {
            visibility: Some(Visibility::MainStage {
                roles: roles.iter().map(|r| (*r).into()).collect(),
            }),
            ..RoomUpdate::default()
        };
        let op = BreakoutOp::Update {
            breakout: room,
            update,
        };
        if let Err(denial) = self.breakouts(Actor::Server, op) {
            panic!("showing the main stage was refused: {denial}");
        }
    }

    /// As the server: create `count` rooms, assign `plan` (peer → index of a new room) and
    /// open them without moving anyone else. Panics (it is a test driver) if any step is
    /// refused.
    pub fn open_rooms(&mut self, count: u32, plan: &[(PeerId, usize)]) -> Vec<BreakoutId> {
        let rooms = self.create_rooms(count);
        let assignments = plan
            .iter()
            .map(|(p, i)| (Assignee::Peer(*p), Location::Breakout(rooms[*i])))
            .collect();
        for op in [
            BreakoutOp::Assign { assignments },
            BreakoutOp::Open { duration_s: None },
        ] {
            if let Err(denial) = self.breakouts(Actor::Server, op) {
                panic!("opening rooms was refused: {denial}");
            }
        }
        rooms
    }

    /// Let `by` pass, firing every timer that falls due on the way, in order.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(at) = self.session.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            self.session.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
        self.session.handle_timeout(self.now);
        self.drain();
    }

    /// Collect every pending effect.
    pub fn drain(&mut self) {
        while let Some(effect) = self.session.poll_effect() {
            self.unknown_named.extend(self.knowledge.observe(&effect));
            match &effect {
                Effect::Send { to, event } => {
                    for peer in to {
                        self.inbox.entry(*peer).or_default().push(event.clone());
                    }
                }
                Effect::Subscriptions { peer, tracks } => {
                    self.subscriptions.insert(*peer, tracks.clone());
                }
                Effect::Lifecycle(event) => self.lifecycle.push(event.clone()),
                Effect::Disconnect { peer } => self.disconnected.push(*peer),
                Effect::RecordingTracks {
                    recording, tracks, ..
                } => {
                    self.recordings.insert(*recording, tracks.clone());
                }
                Effect::RecordingStopped { recording, .. } => {
                    self.recordings.remove(recording);
                }
                Effect::ViewCap { peer, max } => {
                    self.view_caps.insert(*peer, *max);
                }
                Effect::PersistPlan { plan } => self.plan_writes.push(plan.clone()),
                Effect::TrackMuted { .. }
                | Effect::TrackStopped { .. }
                | Effect::PersistLocked { .. }
                | Effect::SessionEnded => {}
            }
            self.log.push(effect);
        }
    }

    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.session.peer(id)
    }

    /// The publishers whose tracks `peer` receives now, per the last subscription effect.
    pub fn hears(&self, peer: PeerId) -> Vec<PeerId> {
        let mut out: Vec<PeerId> = self
            .subscriptions
            .get(&peer)
            .into_iter()
            .flatten()
            .map(|k| k.peer)
            .collect();
        out.dedup();
        out
    }

    /// Events `peer` was sent, forgetting them.
    pub fn take_inbox(&mut self, peer: PeerId) -> Vec<Arc<ServerEvent>> {
        self.inbox.remove(&peer).unwrap_or_default()
    }

    /// Whether `peer` was sent an event matching `pred`.
    pub fn was_told(&self, peer: PeerId, pred: impl Fn(&ServerEvent) -> bool) -> bool {
        self.inbox.get(&peer).into_iter().flatten().any(|e| pred(e))
    }

    /// Lifecycle events of one kind, by dotted name.
    pub fn lifecycle_named(&self, name: &str) -> Vec<&LifecycleEvent> {
        self.lifecycle.iter().filter(|e| e.name() == name).collect()
    }
}
