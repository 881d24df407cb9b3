//! The room machine: one live session, the connections that carry its peers and the media
//! engine's view of them.
//!
//! Every input runs the same way: the input is translated into a core command (or an id-table
//! change), then [`Room::settle`] carries out every [`Effect`] the core produced — events
//! become [`Output::Send`] for the connections of the receiving peers (each event shared, so
//! the shell serializes it once), desired sets become engine subscriptions and layer hints,
//! mute and stop become pauses, lifecycle events go out for webhooks — and hands the durable
//! parts that changed (the breakout plan, the locked flag) to the shell as writes.
//!
//! Nothing here waits on a peer: a connection that cannot keep up is reported back by the
//! shell ([`Room::handle_slow`]) and dropped as if its socket had died; it may reconnect and
//! resume within the grace period.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use caucus_core::{
    Actor, Command, Denial, Effect, JoinRequest, Outcome, RoomPassword, SavedPlan, Session,
    SessionConfig, Template, Time,
};
use caucus_media::{MaxLayer, PeerKey, TrackKey as EngineTrack};
use caucus_proto::signal::{ReplyData, ServerMessage};
use caucus_proto::template::ViewCaps;
use caucus_proto::{ErrorBody, ErrorCode, PeerId, RoomId, TrackKey};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tracing::{debug, info, warn};

use crate::media_ids::MediaIds;
use crate::output::{AckId, CheckId, EngineCommand, Output, Signal};
use crate::recording::Recordings;
use crate::signaling::{PendingCheck, PendingJoin};

/// WebSocket close codes the server uses (4000–4999 are the application's).
pub mod close_code {
    /// After `leave`, removal or the end of the session (an event said why).
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame larger than the limit.
    pub const TOO_BIG: u16 = 1009;
    /// The connection could not keep up with what it was sent; reconnect and resume.
    pub const TOO_SLOW: u16 = 1013;
    /// The same user joined on a newer connection.
    pub const REPLACED: u16 = 4000;
}

/// The `reason` of `session_ended` (and of the `session.ended` webhook) when the server stops.
pub const SHUTDOWN_REASON: &str = "the server is shutting down";

/// Identifies one signaling connection (a peer that reconnects comes on a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What a new session of a durable room starts from.
#[derive(Debug, Clone)]
pub struct RoomSetup {
    pub id: RoomId,
    pub template: Arc<Template>,
    pub locked: bool,
    /// The stored hash of the room password, if it has one.
    pub password_hash: Option<String>,
    /// The saved breakout plan, restored into the fresh session.
    pub plan: Option<SavedPlan>,
    /// The room's recording policy: record main from the session's first join.
    pub auto_record: bool,
    /// This room's engine peer keys are `key_base + 1, key_base + 2, …`: the shell gives each
    /// room a range no other room uses, since one engine serves many rooms.
    pub key_base: u64,
    /// Seeds the room's generator (auto-assign shuffles, recording ids, placeholders).
    pub seed: [u8; 32],
}

impl RoomSetup {
    /// A room on `template`, unlocked, with no plan, no automatic recording, keys from 1 and a
    /// zero seed (tests and simulations; the server sets all of them).
    pub fn new(id: RoomId, template: Arc<Template>) -> Self {
        Self {
            id,
            template,
            locked: false,
            password_hash: None,
            plan: None,
            auto_record: false,
            key_base: 0,
            seed: [0; 32],
        }
    }
}

/// A live session's size, as `/metrics` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomCounts {
    /// Peers in the session, connected or within their reconnect grace.
    pub peers: u64,
    /// Peers whose connection is up.
    pub connected: u64,
    /// Published tracks, muted ones included.
    pub tracks: u64,
    /// Breakout rooms in the session's set (any phase).
    pub breakouts: u64,
}

/// One live room. See the crate docs for how to drive it.
#[derive(Debug)]
pub struct Room {
    pub(crate) id: RoomId,
    pub(crate) session: Session,
    /// The connection that carries each joined peer.
    pub(crate) links: BTreeMap<PeerId, ConnId>,
    pub(crate) ids: MediaIds,
    /// Engine peers whose `AddPeer` has not been answered yet.
    pub(crate) adding: BTreeSet<PeerKey>,
    next_key: u64,
    pub(crate) rng: StdRng,
    outputs: VecDeque<Output>,
    /// Self-selects into a restored breakout room waiting for their password to be checked
    /// against its hash.
    pub(crate) pending_checks: BTreeMap<CheckId, PendingCheck>,
    /// Joins waiting for the room password to be checked against its hash.
    pub(crate) pending_joins: BTreeMap<CheckId, PendingJoin>,
    next_check: u64,
    next_ack: u64,
    ended: bool,
    released: bool,
    /// The server is shutting down (connections then close with 1001).
    shutting_down: bool,
    /// The ack of the plan write the last input asked for (a REST reply waits for it).
    plan_ack: Option<AckId>,
    /// The layer hint last given to the engine per subscriber and camera track.
    pub(crate) layer_hints: BTreeMap<PeerId, BTreeMap<EngineTrack, MaxLayer>>,
    /// The camera cap of each subscriber's acting role, as the core last said.
    pub(crate) view_caps: BTreeMap<PeerId, Option<ViewCaps>>,
    /// The picture size each subscriber asked for per remote camera (`video_size`).
    pub(crate) view_sizes: BTreeMap<PeerId, BTreeMap<TrackKey, (u32, u32)>>,
    /// Recordings in progress, as the media plane was told.
    pub(crate) recordings: Recordings,
}

impl Room {
    /// A fresh session of `setup.id` at `now`, with the server's session settings.
    pub fn new(now: Time, setup: RoomSetup, config: SessionConfig) -> Self {
        let mut rng = StdRng::from_seed(setup.seed);
        let config = SessionConfig {
            locked: setup.locked,
            password: setup.password_hash.map(RoomPassword::Hash),
            auto_record: setup.auto_record.then(|| recording_id(&mut rng)),
            ..config
        };
        let mut session = Session::new(now, setup.template, config);
        if let Some(saved) = setup.plan {
            restore_plan(&mut session, now, saved);
        }
        // Nobody is there yet to be told anything.
        while session.poll_effect().is_some() {}
        Self {
            id: setup.id,
            session,
            links: BTreeMap::new(),
            ids: MediaIds::default(),
            adding: BTreeSet::new(),
            next_key: setup.key_base,
            rng,
            outputs: VecDeque::new(),
            pending_checks: BTreeMap::new(),
            pending_joins: BTreeMap::new(),
            next_check: 0,
            next_ack: 0,
            ended: false,
            released: false,
            shutting_down: false,
            plan_ack: None,
            layer_hints: BTreeMap::new(),
            view_caps: BTreeMap::new(),
            view_sizes: BTreeMap::new(),
            recordings: Recordings::default(),
        }
    }

    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The live session (read-only: every change goes through an input).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The id tables between the core and the engine.
    pub fn media_ids(&self) -> &MediaIds {
        &self.ids
    }

    /// Whether the session is over; once it is, [`Output::Ended`] has been (or is being) polled.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The next thing the shell must do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Room::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.ended {
            None
        } else {
            self.session.poll_timeout()
        }
    }

    /// Let time pass: reconnect grace, request expiry, breakout timers.
    pub fn handle_timeout(&mut self, now: Time) {
        self.session.handle_timeout(now);
        self.settle();
    }

    /// The session's size.
    pub fn counts(&self, now: Time) -> RoomCounts {
        let mut counts = RoomCounts {
            breakouts: self.session.breakouts_view(now).rooms.len() as u64,
            ..RoomCounts::default()
        };
        for peer in self.session.peers() {
            counts.peers += 1;
            counts.connected += u64::from(peer.is_connected());
            counts.tracks += peer.tracks().count() as u64;
        }
        counts
    }

    // ---- connections ------------------------------------------------------------------

    /// A verified join on `conn` (whose first message had id `message_id`). The verdict comes
    /// out as [`Output::Joined`]; on success the `joined` reply and everything after follow.
    pub fn handle_join(&mut self, now: Time, conn: ConnId, message_id: u64, request: JoinRequest) {
        let result =
            self.session
                .handle_command(now, Actor::Server, Command::Join(request.clone()));
        self.join_answered(conn, message_id, request, result);
        self.settle();
    }

    /// What the core said to a join: joined, refused, or first check the password.
    pub(crate) fn join_answered(
        &mut self,
        conn: ConnId,
        message_id: u64,
        request: JoinRequest,
        result: Result<Outcome, Denial>,
    ) {
        match result {
            Ok(Outcome::CheckPassword { hash, plain }) => {
                let check = self.next_check();
                self.pending_joins.insert(
                    check,
                    PendingJoin {
                        conn,
                        message_id,
                        request,
                    },
                );
                self.outputs
                    .push_back(Output::VerifyPassword { check, hash, plain });
            }
            Ok(Outcome::Joined { peer, resumed }) => {
                info!(room = %self.id, %peer, resumed, ?conn, "peer joined");
                // The core let a newer connection take the peer over: the old one goes.
                if self.links.get(&peer).is_some_and(|old| *old != conn) {
                    info!(room = %self.id, %peer, "replaced by a new connection of the same user");
                    self.close_link(
                        peer,
                        crate::close_code::REPLACED,
                        "replaced by a newer connection",
                    );
                    self.detach_media(peer);
                }
                self.outputs.push_back(Output::Joined {
                    conn,
                    result: Ok(peer),
                });
                self.links.insert(peer, conn);
                self.reply(
                    peer,
                    message_id,
                    Ok(Some(ReplyData::Joined {
                        peer_id: peer,
                        resumed,
                    })),
                );
            }
            Ok(other) => {
                warn!(room = %self.id, ?other, "join gave an unexpected outcome");
                self.outputs.push_back(Output::Joined {
                    conn,
                    result: Err(ErrorBody {
                        code: ErrorCode::InvalidValue,
                        message: "the join could not be completed".to_owned(),
                        field: None,
                    }),
                });
            }
            Err(denial) => {
                debug!(room = %self.id, %denial, "join refused");
                self.outputs.push_back(Output::Joined {
                    conn,
                    result: Err(denial),
                });
            }
        }
    }

    /// The peer's socket closed without `leave`: the core keeps its place for the grace period.
    pub fn handle_connection_lost(&mut self, now: Time, conn: ConnId, peer: PeerId) {
        if self.links.get(&peer) == Some(&conn) {
            info!(room = %self.id, %peer, "connection lost; the peer may resume");
            self.lose_connection(now, peer);
            self.settle();
        }
    }

    /// The shell could not queue a frame for `conn`: it cannot keep up, so it is dropped as
    /// if its socket had died (it may reconnect and resume).
    pub fn handle_slow(&mut self, now: Time, conn: ConnId) {
        let Some(peer) = self.peer_on(conn) else {
            return;
        };
        warn!(room = %self.id, %peer, "connection too slow; dropped");
        self.close_link(peer, crate::close_code::TOO_SLOW, "too slow; reconnect");
        self.lose_connection(now, peer);
        self.settle();
    }

    /// The server is shutting down: the session ends as if the server had ended it — peers are
    /// told (`session_ended`), recordings stop with everything they received, the lifecycle
    /// events go out — then every connection closes with 1001 and the media plane is released.
    pub fn handle_shutdown(&mut self, now: Time) {
        self.shutting_down = true;
        if !self.ended {
            let end = Command::EndSession {
                reason: Some(SHUTDOWN_REASON.to_owned()),
                lock: false,
            };
            if let Err(denial) = self.session.handle_command(now, Actor::Server, end) {
                warn!(room = %self.id, %denial, "the session could not be ended at shutdown");
            }
            self.settle();
        }
        let links: Vec<PeerId> = self.links.keys().copied().collect();
        for peer in links {
            self.close_link(
                peer,
                crate::close_code::GOING_AWAY,
                "the server is shutting down",
            );
        }
        self.ended = true;
        self.release();
    }

    // ---- carrying out -----------------------------------------------------------------

    /// After every input: carry out the core's effects, hand over what must be written, and
    /// release everything once the session is over. Returns the ack of a plan write.
    pub(crate) fn settle(&mut self) -> Option<AckId> {
        self.carry_out();
        if self.ended {
            self.release();
        }
        self.plan_ack.take()
    }

    pub(crate) fn carry_out(&mut self) {
        while let Some(effect) = self.session.poll_effect() {
            self.effect(effect);
        }
    }

    fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Send { to, event } => {
                let conns: Vec<ConnId> = to
                    .iter()
                    .filter_map(|p| self.links.get(p))
                    .copied()
                    .collect();
                if !conns.is_empty() {
                    self.outputs.push_back(Output::Send {
                        to: conns,
                        message: Signal::Event(event),
                    });
                }
            }
            Effect::ViewCap { peer, max } => {
                self.view_caps.insert(peer, max);
                self.push_subscriptions(peer);
            }
            Effect::Subscriptions { peer, tracks } => {
                self.ids.set_desired(peer, tracks);
                self.push_subscriptions(peer);
            }
            Effect::TrackMuted { peer, track, muted } => {
                if let Some(engine) = self.ids.set_muted(TrackKey { peer, track }, muted) {
                    self.engine(EngineCommand::SetPaused {
                        track: engine,
                        paused: muted,
                    });
                }
            }
            Effect::TrackStopped { peer, track } => {
                if let Some(engine) = self.ids.stop(TrackKey { peer, track }) {
                    self.engine(EngineCommand::SetPaused {
                        track: engine,
                        paused: true,
                    });
                }
            }
            Effect::Disconnect { peer } => {
                info!(room = %self.id, %peer, "peer disconnected by the session");
                // At shutdown the session ends for a reason that is not the peer's: 1001 says
                // "the server went away", so a client may come back later.
                let (code, reason) = if self.shutting_down {
                    (crate::close_code::GOING_AWAY, "the server is shutting down")
                } else {
                    (crate::close_code::NORMAL, "removed from the session")
                };
                self.close_link(peer, code, reason);
                self.forget(peer);
            }
            Effect::RecordingTracks {
                recording,
                location,
                tracks,
            } => self.recording_tracks(recording, location, tracks),
            Effect::RecordingStopped { recording, reason } => {
                self.recording_stopped(recording, reason);
            }
            Effect::PersistLocked { locked } => {
                self.outputs.push_back(Output::PersistLocked { locked });
            }
            Effect::PersistPlan { plan } => {
                let ack = self.next_ack();
                self.plan_ack = Some(ack);
                self.outputs.push_back(Output::PersistPlan { plan, ack });
            }
            Effect::Lifecycle(event) => {
                info!(room = %self.id, event = event.name(), details = ?event, "lifecycle");
                self.outputs.push_back(Output::Lifecycle(event));
            }
            Effect::SessionEnded => {
                info!(room = %self.id, "session ended");
                self.ended = true;
            }
        }
    }

    /// Once the session is over: every engine peer removed, every connection let go, and
    /// [`Output::Ended`] — exactly once.
    fn release(&mut self) {
        if std::mem::replace(&mut self.released, true) {
            return;
        }
        let links: Vec<PeerId> = self.links.keys().copied().collect();
        for peer in links {
            self.close_link(peer, crate::close_code::NORMAL, "the session ended");
        }
        let peers: Vec<PeerId> = self.session.peers().map(|p| p.id()).collect();
        for peer in peers {
            self.detach_media(peer);
        }
        self.outputs.push_back(Output::Ended);
    }

    // ---- helpers ------------------------------------------------------------------------

    pub(crate) fn engine(&mut self, command: EngineCommand) {
        self.outputs.push_back(Output::Engine(command));
    }

    pub(crate) fn output(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    pub(crate) fn next_key(&mut self) -> PeerKey {
        self.next_key += 1;
        PeerKey(self.next_key)
    }

    pub(crate) fn next_check(&mut self) -> CheckId {
        self.next_check += 1;
        CheckId(self.next_check)
    }

    pub(crate) fn next_ack(&mut self) -> AckId {
        self.next_ack += 1;
        AckId(self.next_ack)
    }

    pub(crate) fn peer_on(&self, conn: ConnId) -> Option<PeerId> {
        self.links
            .iter()
            .find(|(_, c)| **c == conn)
            .map(|(p, _)| *p)
    }

    pub(crate) fn send_message(&mut self, peer: PeerId, message: ServerMessage) {
        if let Some(conn) = self.links.get(&peer) {
            self.outputs.push_back(Output::Send {
                to: vec![*conn],
                message: Signal::Message(Box::new(message)),
            });
        }
    }

    pub(crate) fn reply(
        &mut self,
        peer: PeerId,
        id: u64,
        result: Result<Option<ReplyData>, ErrorBody>,
    ) {
        let message = match result {
            Ok(data) => ServerMessage::Reply {
                id,
                ok: true,
                data,
                error: None,
            },
            Err(error) => ServerMessage::Reply {
                id,
                ok: false,
                data: None,
                error: Some(error),
            },
        };
        self.send_message(peer, message);
    }

    pub(crate) fn reply_err(&mut self, peer: PeerId, id: u64, error: ErrorBody) {
        self.reply(peer, id, Err(error));
    }

    /// The socket is gone but the peer may come back: the core keeps its place.
    pub(crate) fn lose_connection(&mut self, now: Time, peer: PeerId) {
        self.links.remove(&peer);
        self.detach_media(peer);
        if let Err(denial) =
            self.session
                .handle_command(now, Actor::Server, Command::Disconnect { peer })
        {
            debug!(room = %self.id, %peer, %denial, "disconnect refused");
        }
    }

    pub(crate) fn close_link(&mut self, peer: PeerId, code: u16, reason: &'static str) {
        if let Some(conn) = self.links.remove(&peer) {
            self.outputs.push_back(Output::Close { conn, code, reason });
        }
    }

    pub(crate) fn detach_media(&mut self, peer: PeerId) {
        self.layer_hints.remove(&peer);
        if let Some(key) = self.ids.detach(peer) {
            self.adding.remove(&key);
            self.engine(EngineCommand::RemovePeer { key });
        }
    }

    pub(crate) fn forget(&mut self, peer: PeerId) {
        self.layer_hints.remove(&peer);
        self.view_sizes.remove(&peer);
        self.view_caps.remove(&peer);
        if let Some(key) = self.ids.forget(peer) {
            self.adding.remove(&key);
            self.engine(EngineCommand::RemovePeer { key });
        }
    }
}

/// Put a saved plan into a fresh session. Parts that no longer fit (a visibility naming a role
/// the template lost) are logged and left out.
fn restore_plan(session: &mut Session, now: Time, plan: SavedPlan) {
    match session.restore_breakouts(now, plan) {
        Ok(skipped) => {
            for denial in skipped {
                warn!(%denial, "part of a saved breakout plan could not be restored");
            }
        }
        Err(denial) => warn!(%denial, "the saved breakout plan could not be restored"),
    }
}

/// A recording id unique across sessions and restarts without asking the store; below 2^53 so
/// JavaScript clients keep it exact.
pub(crate) fn recording_id(rng: &mut StdRng) -> caucus_proto::RecordingId {
    use rand::Rng;
    caucus_proto::RecordingId::new((rng.random::<u64>() >> 11).max(1))
}
