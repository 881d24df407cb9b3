//! The live session of a room: a deterministic state machine.
//!
//! Drive it with `handle_command(now, actor, command)` and `handle_timeout(now)`; collect what
//! it asks of the world with `poll_effect()` and when it next needs the clock with
//! `poll_timeout()`. It never reads a clock, never does IO and never draws entropy: the same
//! inputs give the same effects, which is what the story and property tests rely on.
//!
//! A command is either refused — a [`Denial`], and nothing changed — or carried out whole.
//! Every handler validates everything before it mutates anything.

mod audience;
mod breakouts;
mod media;
mod moderation;
mod password;
mod patch;
mod peers;
mod recordings;
mod requests;
mod roles;

pub use breakouts::{SavedPlan, SavedRoom};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use caucus_proto::event::{BreakoutsView, PeerInfo, RequestKind};
use caucus_proto::{
    BreakoutId, ErrorCode, LifecycleEvent, Location, PeerId, Permission, Phase, RequestId,
    ServerEvent, TrackId, TrackKey,
};

use crate::command::{Actor, Command, Outcome, RoomPassword};
use crate::denial::Denial;
use crate::effect::Effect;
use crate::policy::{Action, Principal, authorize};
use crate::routing::Routing;
use crate::state::{Peer, State};
use crate::template::{RoleIdx, Template};
use crate::time::Time;

/// Settings of one session, taken from the room and the server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// A password every joining peer must give (returning peers excepted).
    pub password: Option<RoomPassword>,
    /// A locked room admits no new peers (returning ones still come back).
    pub locked: bool,
    /// How long a peer whose connection dropped keeps its place.
    pub reconnect_grace: Duration,
    /// How long an empty session lives before it ends.
    pub empty_grace: Duration,
    /// How long a request (role change, move, unmute) waits for an answer.
    pub request_ttl: Duration,
    /// At most this many peers at once; 0 = unlimited.
    pub max_peers: u32,
    /// The room's recording policy: record main, under this id, from the session's first
    /// join (the shell draws the id so that it is unique across sessions and restarts).
    pub auto_record: Option<caucus_proto::RecordingId>,
    /// The breakout versions this session may show: above `version_floor`, up to
    /// `version_ceiling`. The shell reserves the block durably before the session starts, so
    /// every version a room shows is larger than any an earlier session of it showed, and a
    /// client holding an old one is refused (`stale_version`) instead of matching by chance.
    /// A session whose block is used up ends rather than repeat a version.
    pub version_floor: u64,
    pub version_ceiling: u64,
    /// The breakout plan outlives the session: the room's next session starts from it. When
    /// false, the end of the session writes an empty plan, so the next meeting starts fresh
    /// (the demo room, which anyone may use for anything).
    pub keep_plan: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            password: None,
            locked: false,
            reconnect_grace: Duration::from_secs(30),
            empty_grace: Duration::from_secs(60),
            request_ttl: Duration::from_secs(30),
            max_peers: 0,
            auto_record: None,
            version_floor: 0,
            version_ceiling: u64::MAX,
            keep_plan: true,
        }
    }
}

/// The live side of a room.
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    state: State,
    routing: Routing,
    requests: BTreeMap<RequestId, PendingRequest>,
    timers: BTreeSet<(Time, Timer)>,
    effects: VecDeque<Effect>,
    /// Peers, tracks, requests and help requests share one counter.
    next_id: u64,
    /// Breakout rooms count on their own, so a session's first rooms are `b1`, `b2`… whatever
    /// else was issued before; a restored plan moves it past every saved id.
    next_breakout: u64,
    started: bool,
    ended: bool,
    empty_since: Option<Time>,
    /// Recordings in progress, each with the track set it was last given.
    recordings: BTreeMap<caucus_proto::RecordingId, recordings::Recording>,
    /// How many room password checks against a hash may still run.
    password_checks: password::CheckBudget,
    /// Who was told of each track (news of a track goes to them, and only them).
    audiences: audience::Audiences,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingRequest {
    pub(crate) id: RequestId,
    pub(crate) from: Option<PeerId>,
    pub(crate) target: PeerId,
    pub(crate) kind: RequestKind,
    pub(crate) expires_at: Time,
}

/// Something that will happen at a time unless the state has moved on by then; each handler
/// checks the state, so a timer left behind by a change is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    ReconnectGrace(PeerId),
    RequestExpiry(RequestId),
    BreakoutWarning,
    BreakoutEnd,
    CloseAll,
    CloseRoom(BreakoutId),
    Empty,
}

impl Session {
    pub fn new(now: Time, template: Arc<Template>, config: SessionConfig) -> Self {
        let mut state = State::new(template);
        state.breakouts.version = config.version_floor;
        let mut session = Self {
            config,
            state,
            routing: Routing::default(),
            requests: BTreeMap::new(),
            timers: BTreeSet::new(),
            effects: VecDeque::new(),
            next_id: 0,
            next_breakout: 0,
            started: false,
            ended: false,
            empty_since: Some(now),
            recordings: BTreeMap::new(),
            password_checks: password::CheckBudget::default(),
            audiences: audience::Audiences::default(),
        };
        session
            .timers
            .insert((now + session.config.empty_grace, Timer::Empty));
        session
    }

    /// Carry out `command` for `actor`, or refuse it and change nothing.
    pub fn handle_command(
        &mut self,
        now: Time,
        actor: Actor,
        command: Command,
    ) -> Result<Outcome, Denial> {
        if self.ended {
            return Err(Denial::new(
                ErrorCode::SessionEnded,
                "the session has ended",
            ));
        }
        let result = self.dispatch(now, actor, command, None);
        self.finish(now);
        result
    }

    /// Give again a command that answered [`Outcome::CheckPassword`], with the verdict of that
    /// check. Every other check runs again, in the same order: the room may have been locked
    /// meanwhile.
    pub fn handle_checked(
        &mut self,
        now: Time,
        actor: Actor,
        command: Command,
        password_ok: bool,
    ) -> Result<Outcome, Denial> {
        if self.ended {
            return Err(Denial::new(
                ErrorCode::SessionEnded,
                "the session has ended",
            ));
        }
        let result = self.dispatch(now, actor, command, Some(password_ok));
        self.finish(now);
        result
    }

    /// The room password changed (the durable room was edited): later joins need the new one.
    pub fn set_password(&mut self, password: Option<RoomPassword>) {
        self.config.password = password;
    }

    /// Let time pass: reconnect grace periods, request expiry, breakout timers and countdowns.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now || self.ended {
                break;
            }
            self.timers.pop_first();
            self.fire(now, at, timer);
            self.finish(now);
        }
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.ended {
            None
        } else {
            self.timers.first().map(|(at, _)| *at)
        }
    }

    /// The next thing the shell must do.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    // ---- queries -------------------------------------------------------------------------

    pub fn template(&self) -> &Arc<Template> {
        &self.state.template
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub fn is_locked(&self) -> bool {
        self.config.locked
    }

    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.state.peers.get(&id)
    }

    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.state.peers.values()
    }

    pub fn peer_info(&self, id: PeerId) -> Option<PeerInfo> {
        self.peer(id).map(|p| p.info(&self.state.template))
    }

    pub fn breakouts(&self) -> &crate::breakout_set::BreakoutSet {
        &self.state.breakouts
    }

    /// The breakout set as the API shows it (everything, for managers).
    pub fn breakouts_view(&self, now: Time) -> BreakoutsView {
        self.view(now, true)
    }

    /// The desired set of `peer`: exactly the tracks the media plane may forward to it.
    pub fn desired(&self, peer: PeerId) -> Vec<TrackKey> {
        self.routing.desired(peer).collect()
    }

    /// Pending requests addressed to `peer`.
    pub fn requests_for(&self, peer: PeerId) -> Vec<RequestId> {
        self.requests
            .values()
            .filter(|r| r.target == peer)
            .map(|r| r.id)
            .collect()
    }

    // ---- dispatch ------------------------------------------------------------------------

    fn dispatch(
        &mut self,
        now: Time,
        actor: Actor,
        command: Command,
        password_ok: Option<bool>,
    ) -> Result<Outcome, Denial> {
        match command {
            Command::Join(request) => {
                self.require_server(actor)?;
                self.join(now, request, password_ok)
            }
            Command::Leave { peer } => self.leave(actor, peer),
            Command::Disconnect { peer } => {
                self.require_server(actor)?;
                self.disconnect(now, peer)
            }
            Command::UpdatePeer {
                peer,
                name,
                metadata,
            } => self.update_peer(actor, peer, name, metadata),
            Command::PatchPeer(patch) => self.patch_peer(now, actor, patch),
            Command::SetHand { peer, raised } => self.set_hand(actor, peer, raised),
            Command::Publish { source, muted } => self.publish(actor, source, muted),
            Command::Unpublish { track } => self.unpublish(actor, track),
            Command::SetMuted { track, muted } => self.set_muted(actor, track, muted),
            Command::MutePeer { peer, source } => self.mute_peer(actor, peer, source),
            Command::AskUnmute { peer, source } => self.ask_unmute(now, actor, peer, source),
            Command::ChangeRole { peer, role, force } => {
                self.change_role(now, actor, peer, &role, force)
            }
            Command::ChangeRoles {
                from_roles,
                to_role,
            } => self.change_roles(actor, &from_roles, &to_role),
            Command::MovePeer { peer, to, force } => self.move_peer(now, actor, peer, to, force),
            Command::RespondRequest { request, accept } => self.respond(actor, request, accept),
            Command::RemovePeer { peer, reason } => self.remove_peer(actor, peer, reason),
            Command::EndSession { reason, lock } => self.end_session(actor, reason, lock),
            Command::SetLocked { locked } => self.set_locked(actor, locked),
            Command::Chat { to, text } => self.chat(actor, to, text),
            Command::SetBroadcasting { on } => self.set_broadcasting(actor, on),
            Command::ListenIn { breakout } => self.listen_in(actor, breakout),
            Command::JoinBreakout { breakout, password } => {
                self.join_breakout(now, actor, breakout, password.as_deref(), password_ok)
            }
            Command::ReturnToMain => self.return_to_main(actor),
            Command::StartRecording {
                recording,
                location,
            } => self.start_recording(actor, recording, location),
            Command::StopRecording { recording } => self.stop_recording(actor, recording),
            Command::RequestHelp => self.request_help(actor),
            Command::Breakouts { version, op } => {
                self.require(actor, Action::ManageBreakouts)?;
                if let Some(expected) = version
                    && expected != self.state.breakouts.version
                {
                    return Err(Denial::new(
                        ErrorCode::StaleVersion,
                        format!(
                            "the breakout set is at version {}, not {expected}; reload and retry",
                            self.state.breakouts.version
                        ),
                    )
                    .with_field("version"));
                }
                self.breakout_op(now, actor, op)
            }
        }
    }

    /// A timer scheduled for `at` fell due. Each kind acts only if the state still expects it
    /// at that very moment: a countdown replaced by a newer one, or one cancelled when the rooms
    /// closed and reopened, must do nothing.
    fn fire(&mut self, now: Time, at: Time, timer: Timer) {
        match timer {
            Timer::ReconnectGrace(peer) => {
                let expired = self
                    .state
                    .peers
                    .get(&peer)
                    .and_then(|p| p.disconnected_at)
                    .is_some_and(|since| since + self.config.reconnect_grace <= now);
                if expired {
                    self.drop_peer(peer, caucus_proto::event::LeaveReason::ReconnectTimeout);
                }
            }
            Timer::RequestExpiry(id) => self.expire_request(now, id),
            Timer::BreakoutWarning => self.breakout_warning(now),
            Timer::BreakoutEnd => {
                let set = &self.state.breakouts;
                if set.phase == Phase::Open && set.ends_at == Some(at) {
                    self.breakout_timer_end(now);
                }
            }
            Timer::CloseAll => {
                let set = &self.state.breakouts;
                if set.phase == Phase::Closing && set.closing_at == Some(at) {
                    self.close_all_now();
                }
            }
            Timer::CloseRoom(b) => {
                let set = &self.state.breakouts;
                let due = set.phase == Phase::Open
                    && set
                        .room(b)
                        .is_some_and(|r| !r.closed && r.closing_at == Some(at));
                if due {
                    self.close_room_now(b);
                }
            }
            Timer::Empty => {
                let empty_long_enough = self
                    .empty_since
                    .is_some_and(|since| since + self.config.empty_grace <= now);
                if empty_long_enough && self.state.peers.is_empty() {
                    self.end(None, "the session was empty".to_owned());
                }
            }
        }
    }

    /// After every command and timer: bump the breakout version once and tell peers (or end,
    /// when the session's versions are used up), then bring desired subscriptions up to date.
    fn finish(&mut self, now: Time) {
        let changed = std::mem::take(&mut self.state.breakouts.changed);
        if changed && self.state.breakouts.version >= self.config.version_ceiling {
            // One more version could be one a later session (reserved above this block) shows
            // too: end instead; the next session starts in a fresh block.
            if !self.ended {
                self.end(None, "the session used up its breakout versions".to_owned());
            }
        } else if changed {
            self.state.breakouts.version += 1;
            let full_view = self.view(now, true);
            let mut public_view = full_view.clone();
            public_view.help.clear();
            public_view.preassignments.clear();
            let full = Arc::new(ServerEvent::Breakouts { state: full_view });
            let public = Arc::new(ServerEvent::Breakouts { state: public_view });
            let (managers, others): (Vec<&Peer>, Vec<&Peer>) = self
                .state
                .connected()
                .partition(|p| self.state.role_of(p).has(Permission::ManageBreakouts));
            let managers: Vec<PeerId> = managers.into_iter().map(|p| p.id).collect();
            let others: Vec<PeerId> = others.into_iter().map(|p| p.id).collect();
            self.push_send(managers, full);
            self.push_send(others, public);
        }
        if std::mem::take(&mut self.state.breakouts.plan_edited) {
            let plan = self.saved_plan();
            self.effects.push_back(Effect::PersistPlan { plan });
        }
        let before = self.effects.len();
        self.routing.flush(&self.state, &mut self.effects);
        // A track entering a peer's desired set is named to it in a slot: first it is
        // introduced, so that no slot (and no later event) names a track or peer the
        // receiver was never told of — an arrival in a room meets the tracks there.
        let flushed: Vec<Effect> = self.effects.drain(before..).collect();
        for effect in flushed {
            if let Effect::Subscriptions { peer, tracks } = &effect {
                for track in tracks {
                    if !self.audiences.knows(*track, *peer) {
                        self.introduce(*peer, *track);
                    }
                    self.audiences.tell(*track, [*peer]);
                }
            }
            self.effects.push_back(effect);
        }
        self.refresh_recordings();
        if !self.state.peers.is_empty() {
            self.empty_since = None;
        } else if self.empty_since.is_none() && !self.ended {
            self.empty_since = Some(now);
            self.schedule(now + self.config.empty_grace, Timer::Empty);
        }
    }

    fn view(&self, now: Time, full: bool) -> BreakoutsView {
        self.state
            .breakouts
            .view(now, full, |loc| self.state.everyone_in(loc).collect())
    }

    // ---- helpers shared by the handlers ----------------------------------------------------

    fn issue_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn issue_breakout_id(&mut self) -> BreakoutId {
        self.next_breakout += 1;
        BreakoutId::new(self.next_breakout)
    }

    fn schedule(&mut self, at: Time, timer: Timer) {
        self.timers.insert((at, timer));
    }

    fn require_server(&self, actor: Actor) -> Result<(), Denial> {
        match actor {
            Actor::Server => Ok(()),
            Actor::Peer(_) => Err(Denial::new(
                ErrorCode::NotPermitted,
                "only the server may do this on a peer's behalf",
            )),
        }
    }

    /// The connected peer behind `actor`, if it is a peer.
    fn actor_peer(&self, actor: Actor) -> Result<Option<&Peer>, Denial> {
        match actor {
            Actor::Server => Ok(None),
            Actor::Peer(id) => self.connected_peer(id).map(Some),
        }
    }

    /// The connected peer behind `actor`, refusing the server (the command needs a peer).
    fn acting_peer(&self, actor: Actor) -> Result<&Peer, Denial> {
        match actor {
            Actor::Server => Err(Denial::new(
                ErrorCode::InvalidValue,
                "only a peer can do this for itself",
            )),
            Actor::Peer(id) => self.connected_peer(id),
        }
    }

    fn connected_peer(&self, id: PeerId) -> Result<&Peer, Denial> {
        let peer = self.known_peer(id)?;
        if peer.is_connected() {
            Ok(peer)
        } else {
            Err(Denial::new(
                ErrorCode::NotConnected,
                format!("peer {id} is reconnecting"),
            ))
        }
    }

    fn known_peer(&self, id: PeerId) -> Result<&Peer, Denial> {
        self.state.peers.get(&id).ok_or_else(|| {
            Denial::new(
                ErrorCode::UnknownPeer,
                format!("no peer {id} in this session"),
            )
        })
    }

    /// The one permission gate: the policy decides for the actor's acting role.
    fn require(&self, actor: Actor, action: Action) -> Result<(), Denial> {
        match self.actor_peer(actor)? {
            None => authorize(Principal::Server, action),
            Some(peer) => authorize(Principal::Peer(self.state.role_of(peer)), action),
        }
    }

    /// Like `require`, but acting on oneself needs no permission.
    fn require_unless_self(
        &self,
        actor: Actor,
        target: PeerId,
        action: Action,
    ) -> Result<(), Denial> {
        if actor == Actor::Peer(target) {
            self.connected_peer(target).map(|_| ())
        } else {
            self.require(actor, action)
        }
    }

    fn may(&self, peer: &Peer, permission: Permission) -> bool {
        self.state.role_of(peer).has(permission)
    }

    fn push_send(&mut self, to: Vec<PeerId>, event: Arc<ServerEvent>) {
        if !to.is_empty() {
            self.audiences.observe(&to, &event);
            self.effects.push_back(Effect::Send { to, event });
        }
    }

    fn send(&mut self, to: Vec<PeerId>, event: ServerEvent) {
        self.push_send(to, Arc::new(event));
    }

    fn send_one(&mut self, to: PeerId, event: ServerEvent) {
        if self.state.peers.get(&to).is_some_and(Peer::is_connected) {
            self.push_send(vec![to], Arc::new(event));
        }
    }

    /// Those of `peers` that are connected now.
    fn connected_of(&self, mut peers: Vec<PeerId>) -> Vec<PeerId> {
        peers.retain(|p| self.state.peers.get(p).is_some_and(Peer::is_connected));
        peers
    }

    /// Tell `receiver` of `track` before it is sent it: the whole publisher (`peer_updated`,
    /// with every track) when the receiver has not met it, else `track_published`.
    fn introduce(&mut self, receiver: PeerId, track: TrackKey) {
        let Some(publisher) = self.state.peers.get(&track.peer) else {
            return;
        };
        if self.audiences.acquainted(receiver, track.peer) {
            let Some(t) = publisher.tracks.get(&track.track) else {
                return;
            };
            let event = ServerEvent::TrackPublished {
                peer_id: track.peer,
                track: caucus_proto::event::TrackInfo {
                    id: t.id,
                    source: t.source,
                    muted: t.muted,
                },
            };
            self.send_one(receiver, event);
        } else {
            let info = publisher.info(&self.state.template);
            self.told_peer_info(track.peer, &[receiver]);
            self.send_one(receiver, ServerEvent::PeerUpdated { peer: info });
        }
    }

    /// `to` are told everything about `subject` (its `PeerInfo`): they know its tracks now.
    fn told_peer_info(&mut self, subject: PeerId, to: &[PeerId]) {
        let Some(peer) = self.state.peers.get(&subject) else {
            return;
        };
        for track in peer.tracks.keys() {
            let key = TrackKey {
                peer: subject,
                track: *track,
            };
            self.audiences.tell(key, to.iter().copied());
        }
    }

    fn lifecycle(&mut self, event: LifecycleEvent) {
        self.effects.push_back(Effect::Lifecycle(event));
    }

    fn everyone(&self) -> Vec<PeerId> {
        self.state.connected().map(|p| p.id).collect()
    }

    fn managers(&self) -> Vec<PeerId> {
        self.state
            .connected()
            .filter(|p| self.may(p, Permission::ManageBreakouts))
            .map(|p| p.id)
            .collect()
    }

    /// Who is told about changes to `subject`: itself, everyone allowed the peer list, everyone
    /// standing with it (also at `also`, e.g. where it came from), and anyone receiving it.
    fn observers(&self, subject: PeerId, also: Option<Location>) -> Vec<PeerId> {
        let Some(peer) = self.state.peers.get(&subject) else {
            return Vec::new();
        };
        let receivers = crate::routing::receivers(&self.state, peer);
        self.state
            .connected()
            .filter(|p| {
                p.id == subject
                    || p.location == peer.location
                    || Some(p.location) == also
                    || self.may(p, Permission::SeePeerList)
                    || receivers.contains(&p.id)
            })
            .map(|p| p.id)
            .collect()
    }

    /// Check that placing each peer with its role at its location keeps every breakout within
    /// capacity (managers take no place, see [`crate::policy::exempt_from_capacity`]) and every role within `max_peers` (counted over the peers *holding* a role,
    /// wherever they stand, so that moving never runs into a role limit).
    fn check_placements(&self, moves: &[(PeerId, RoleIdx, Location)]) -> Result<(), Denial> {
        let mut location_delta: BTreeMap<Location, i64> = BTreeMap::new();
        let mut role_delta: BTreeMap<RoleIdx, i64> = BTreeMap::new();
        for &(id, role, to) in moves {
            let peer = self.known_peer(id)?;
            if let Location::Breakout(b) = to
                && to != peer.location
            {
                self.check_enterable(b)?;
            }
            if self.state.counts_toward_capacity(peer.role) {
                *location_delta.entry(peer.location).or_default() -= 1;
            }
            if self.state.counts_toward_capacity(role) {
                *location_delta.entry(to).or_default() += 1;
            }
            *role_delta.entry(peer.role).or_default() -= 1;
            *role_delta.entry(role).or_default() += 1;
        }
        for (location, delta) in location_delta {
            let Location::Breakout(b) = location else {
                continue;
            };
            let capacity = self.state.breakouts.room(b).and_then(|r| r.capacity);
            if let Some(capacity) = capacity
                && delta > 0
                && self.state.count_toward_capacity(location) as i64 + delta > i64::from(capacity)
            {
                return Err(Denial::new(
                    ErrorCode::BreakoutFull,
                    format!("breakout {b} holds at most {capacity} peers"),
                ));
            }
        }
        for (role, delta) in role_delta {
            if delta > 0 {
                self.check_role_limit(role, delta.unsigned_abs() as usize)?;
            }
        }
        Ok(())
    }

    fn check_enterable(&self, b: BreakoutId) -> Result<(), Denial> {
        let set = &self.state.breakouts;
        let room = set
            .room(b)
            .ok_or_else(|| Denial::new(ErrorCode::UnknownBreakout, format!("no breakout {b}")))?;
        match set.phase {
            caucus_proto::Phase::Open => {}
            caucus_proto::Phase::Closing => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsClosing,
                    "breakout rooms are closing",
                ));
            }
            _ => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsNotOpen,
                    "breakout rooms are not open",
                ));
            }
        }
        check_room_not_closing(room)
    }

    /// Whether `adding` more peers may hold `role` (its `max_peers`, counted over holders).
    fn check_role_limit(&self, role: RoleIdx, adding: usize) -> Result<(), Denial> {
        let template = &self.state.template;
        let max = template.role(role).max_peers() as usize;
        if max > 0 && self.state.count_holding(role) + adding > max {
            return Err(Denial::new(
                ErrorCode::RoleFull,
                format!(
                    "role {} is held by at most {max} peers",
                    template.role(role).name()
                ),
            ));
        }
        Ok(())
    }

    fn stop_track_effects(&mut self, peer: PeerId, tracks: &[TrackId]) {
        for track in tracks {
            self.effects.push_back(Effect::TrackStopped {
                peer,
                track: *track,
            });
        }
    }
}

/// A room closed or closing on its own accepts nobody and cannot be closed again.
fn check_room_not_closing(room: &crate::breakout_set::BreakoutRoom) -> Result<(), Denial> {
    let b = room.id;
    if room.closed {
        return Err(Denial::new(
            ErrorCode::BreakoutClosed,
            format!("breakout {b} is closed"),
        ));
    }
    if room.closing_at.is_some() {
        return Err(Denial::new(
            ErrorCode::BreakoutsClosing,
            format!("breakout {b} is closing"),
        ));
    }
    Ok(())
}
