//! The room task: the one owner of a live session.
//!
//! What it is: a tokio task per live room that owns a [`Session`] (the pure core) and this
//! room's half of the media translation ([`MediaIds`]). Everything reaches it as a message —
//! joins and client messages from connection tasks ([`RoomInput`]), engine reports from the
//! media thread ([`MediaReport`]) — and its own timer fires at the session's
//! `poll_timeout()`. After every input it carries out every [`Effect`]: events to the peers'
//! connections (each serialized once, then shared), subscriptions and pauses to the media
//! plane, disconnects, lifecycle logs, the end of the session.
//!
//! What it is not: a place for decisions. Who may do what and who receives what is the
//! core's; how packets flow is the engine's. The room only translates ids and delivers.
//!
//! Nothing here waits on a peer: sends to a connection never block (a connection whose queue
//! is full is dropped as if its socket had died, and may reconnect and resume), and media
//! commands are fire-and-forget with answers coming back as reports.

mod api;
mod media_ids;
pub mod plan;
mod recording;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use caucus_core::{
    Actor, Command, Denial, Effect, JoinRequest, Outcome, Session, SessionConfig, Template,
};
use caucus_media::{EngineEvent, MaxLayer, MediaError, PeerKey, TrackKey as EngineTrack};
use caucus_proto::signal::{
    BreakoutCommand, ClientBody, ClientMessage, PeerCommand, ReplyData, ServerMessage,
};
use caucus_proto::{ErrorBody, ErrorCode, PeerId, RoomId, Source, TrackId, TrackKey, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::clock::Clock;
use crate::connection::ConnId;
use crate::media_thread::{MediaCommand, MediaHandle, MediaReport, MediaReports};
use crate::outbound::{Outbound, OutboundSender, event_frame, frame};
use crate::persist::PersistHandle;
use crate::webhooks::WebhookSink;
pub use api::{ApiAnswer, ApiReply, ApiRequest, OptionsPatch, PeerPatch};
use caucus_store::BreakoutPlan;
pub use media_ids::MediaIds;
use media_ids::by_priority;
use plan::{Captured, Secret, Secrets};

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

/// What the server shares with every room it creates.
#[derive(Debug, Clone)]
pub struct RoomContext {
    pub clock: Clock,
    pub session: SessionConfig,
    pub media: MediaHandle,
    /// Engine peer keys are unique across rooms: one server-wide counter.
    pub peer_keys: Arc<AtomicU64>,
    /// Where a room says it has ended: `(room, generation)`.
    pub ended: mpsc::UnboundedSender<(RoomId, u64)>,
    /// Where breakout plans and the locked flag are written.
    pub persist: PersistHandle,
    /// Where lifecycle events go (webhooks).
    pub webhooks: WebhookSink,
}

/// What a new session of a durable room starts from.
#[derive(Debug, Clone)]
pub struct RoomSetup {
    pub template: Arc<Template>,
    pub locked: bool,
    /// The saved breakout plan, restored into the fresh session.
    pub plan: Option<BreakoutPlan>,
    /// The room's recording policy: record main from the session's first join.
    pub auto_record: bool,
    /// The breakout versions this session may show (reserved in the store above every
    /// earlier session's).
    pub versions: std::ops::Range<u64>,
}

/// The way to reach a room task.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    generation: u64,
    tx: mpsc::UnboundedSender<RoomInput>,
}

/// The room task is gone (its session ended); ask the registry again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomGone;

impl RoomHandle {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn send(&self, input: RoomInput) -> Result<(), RoomGone> {
        self.tx.send(input).map_err(|_| RoomGone)
    }
}

/// What connection tasks and the registry tell a room.
#[derive(Debug)]
pub enum RoomInput {
    Join(JoinAttempt),
    /// A message from a joined peer's connection (anything but `join` and `ping`).
    Message {
        conn: ConnId,
        peer: PeerId,
        message: ClientMessage,
    },
    /// The peer's socket closed without `leave`.
    ConnectionLost {
        conn: ConnId,
        peer: PeerId,
    },
    /// A REST call, acting as [`Actor::Server`].
    Api {
        request: ApiRequest,
        reply: oneshot::Sender<ApiReply>,
    },
    /// How many peers, tracks and breakout rooms the session has (for `/metrics`).
    Counts {
        reply: oneshot::Sender<RoomCounts>,
    },
    /// Close every connection and stop.
    Shutdown,
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

/// A verified join: the room answers on `reply`, and on success also writes the `joined`
/// reply (and everything after it) to `outbound`.
#[derive(Debug)]
pub struct JoinAttempt {
    pub conn: ConnId,
    pub message_id: u64,
    pub request: JoinRequest,
    pub outbound: OutboundSender,
    pub reply: oneshot::Sender<Result<PeerId, ErrorBody>>,
}

/// Start a room task for a fresh session.
pub fn spawn(
    id: RoomId,
    generation: u64,
    ctx: RoomContext,
    setup: RoomSetup,
) -> (RoomHandle, JoinHandle<()>) {
    let (tx, inbox) = mpsc::unbounded_channel();
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let (checks_tx, checks) = mpsc::unbounded_channel();
    let now = ctx.clock.now();
    let config = SessionConfig {
        // The room password is checked against its hash before a join gets here.
        password: None,
        locked: setup.locked,
        version_floor: setup.versions.start,
        version_ceiling: setup.versions.end,
        ..ctx.session.clone()
    };
    let mut session = Session::new(now, setup.template, config);
    let mut secrets = Secrets::new();
    if let Some(saved) = &setup.plan {
        plan::restore(&mut session, now, saved, &mut secrets);
    }
    // Restoring is not a change: what was loaded is what is stored.
    while session.poll_effect().is_some() {}
    let last_plan = plan::capture(&session.breakouts_view(now), &secrets);
    let task = RoomTask {
        plan_version: session.breakouts().version(),
        last_plan,
        secrets,
        locked: setup.locked,
        layer_hints: HashMap::new(),
        view_sizes: HashMap::new(),
        id,
        generation,
        ctx,
        session,
        links: HashMap::new(),
        ids: MediaIds::default(),
        adding: HashSet::new(),
        slow: Vec::new(),
        reports_tx,
        checks_tx,
        password_checks: HashMap::new(),
        ended: false,
        recordings: recording::Recordings::new(setup.auto_record),
    };
    let join = tokio::spawn(task.run(inbox, reports, checks));
    (RoomHandle { generation, tx }, join)
}

/// The least time between two password checks of one peer against a stored hash.
const PASSWORD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A `join_breakout` whose password was checked against the stored hash.
#[derive(Debug)]
struct PasswordCheck {
    peer: PeerId,
    id: u64,
    command: PeerCommand,
    breakout: caucus_proto::BreakoutId,
    plain: String,
    ok: bool,
}

/// A joined peer's connection.
#[derive(Debug)]
struct Link {
    conn: ConnId,
    outbound: OutboundSender,
}

struct RoomTask {
    id: RoomId,
    generation: u64,
    ctx: RoomContext,
    session: Session,
    links: HashMap<PeerId, Link>,
    ids: MediaIds,
    /// Engine peers whose `AddPeer` has not been answered yet.
    adding: HashSet<PeerKey>,
    /// Peers whose outbound queue overflowed; dropped after the current effects.
    slow: Vec<PeerId>,
    reports_tx: MediaReports,
    /// Where password checks done off the task come back.
    checks_tx: mpsc::UnboundedSender<PasswordCheck>,
    /// When each peer last had a password checked against a hash (at most one a second: a
    /// check costs a core for tens of milliseconds, and guessing must stay slow).
    password_checks: HashMap<PeerId, caucus_core::Time>,
    ended: bool,
    /// The breakout version whose plan was last compared with `last_plan`.
    plan_version: u64,
    /// The plan last written (or loaded).
    last_plan: Captured,
    /// Breakout passwords as the shell knows them (see [`plan`]).
    secrets: Secrets,
    /// The locked flag last written (or loaded).
    locked: bool,
    /// The layer hint last given to the engine per subscriber and camera track.
    layer_hints: HashMap<PeerId, HashMap<EngineTrack, MaxLayer>>,
    /// The picture size each subscriber asked for per remote camera (`video_size`).
    view_sizes: HashMap<PeerId, HashMap<TrackKey, (u32, u32)>>,
    /// Recordings in progress, as the media plane was told.
    recordings: recording::Recordings,
}

impl RoomTask {
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<RoomInput>,
        mut reports: mpsc::UnboundedReceiver<MediaReport>,
        mut checks: mpsc::UnboundedReceiver<PasswordCheck>,
    ) {
        info!(room = %self.id, generation = self.generation, "room started");
        while !self.ended {
            let deadline = self
                .session
                .poll_timeout()
                .map(|at| self.ctx.clock.instant(at));
            tokio::select! {
                input = inbox.recv() => match input {
                    Some(RoomInput::Shutdown) | None => {
                        self.close_all(close_code::GOING_AWAY, "the server is shutting down");
                        break;
                    }
                    Some(input) => self.input(input),
                },
                Some(report) = reports.recv() => self.report(report),
                Some(check) = checks.recv() => self.password_checked(check),
                () = sleep_until(deadline), if deadline.is_some() => {
                    let now = self.ctx.clock.now();
                    self.session.handle_timeout(now);
                }
            }
            self.carry_out();
            self.persist_changes();
        }
        for peer in self.links.keys().copied().collect::<Vec<_>>() {
            self.detach_media(peer);
        }
        let peers: Vec<PeerId> = self.session.peers().map(|p| p.id()).collect();
        for peer in peers {
            self.detach_media(peer);
        }
        let _ = self.ctx.ended.send((self.id.clone(), self.generation));
        info!(room = %self.id, generation = self.generation, "room stopped");
    }

    fn input(&mut self, input: RoomInput) {
        match input {
            RoomInput::Join(attempt) => self.join(attempt),
            RoomInput::Message {
                conn,
                peer,
                message,
            } => {
                if self.links.get(&peer).is_some_and(|l| l.conn == conn) {
                    self.message(peer, message);
                } else {
                    debug!(room = %self.id, %peer, ?conn, "message from a replaced connection");
                }
            }
            RoomInput::ConnectionLost { conn, peer } => {
                if self.links.get(&peer).is_some_and(|l| l.conn == conn) {
                    info!(room = %self.id, %peer, "connection lost; the peer may resume");
                    self.lose_connection(peer);
                }
            }
            RoomInput::Api { request, reply } => {
                let result = self.api(request);
                self.carry_out();
                let persisted = both(self.persist_changes(), self.recordings.take_reply_ack());
                let _ = reply.send(ApiReply { result, persisted });
            }
            RoomInput::Counts { reply } => {
                let mut counts = RoomCounts {
                    breakouts: self
                        .session
                        .breakouts_view(self.ctx.clock.now())
                        .rooms
                        .len() as u64,
                    ..RoomCounts::default()
                };
                for peer in self.session.peers() {
                    counts.peers += 1;
                    counts.connected += u64::from(peer.is_connected());
                    counts.tracks += peer.tracks().count() as u64;
                }
                let _ = reply.send(counts);
            }
            RoomInput::Shutdown => {}
        }
    }

    /// Hand what changed to the writer: the breakout plan (when the set changed in a way a
    /// plan keeps) and the locked flag. The receiver resolves once the plan is written.
    fn persist_changes(&mut self) -> Option<oneshot::Receiver<()>> {
        if self.session.is_locked() != self.locked {
            self.locked = self.session.is_locked();
            self.ctx.persist.locked(self.id.clone(), self.locked);
        }
        let version = self.session.breakouts().version();
        if version == self.plan_version {
            return None;
        }
        self.plan_version = version;
        let now = self.ctx.clock.now();
        let captured = plan::capture(&self.session.breakouts_view(now), &self.secrets);
        if captured == self.last_plan {
            return None;
        }
        self.last_plan = captured.clone();
        let (plan, plain) = captured;
        Some(self.ctx.persist.plan(self.id.clone(), plan, plain))
    }

    /// Remember a breakout password that a successful command set or cleared.
    fn note_secret(&mut self, op: &BreakoutCommand) {
        if let BreakoutCommand::Update {
            breakout_id,
            update,
        } = op
            && let Some(password) = &update.password
        {
            match password {
                Some(p) => self.secrets.insert(*breakout_id, Secret::Plain(p.clone())),
                None => self.secrets.remove(breakout_id),
            };
        }
    }

    // ---- joining ------------------------------------------------------------------------

    fn join(&mut self, attempt: JoinAttempt) {
        let now = self.ctx.clock.now();
        // One connection per user: a newer connection takes the peer over (the old socket
        // may be half-dead and not noticed yet), so a client that reconnects at once resumes.
        if let Some(old) = self.connected_peer_of(&attempt.request.user_id) {
            info!(room = %self.id, peer = %old, "replaced by a new connection of the same user");
            if let Some(link) = self.links.remove(&old) {
                let _ = link.outbound.push(Outbound::Close {
                    code: close_code::REPLACED,
                    reason: "replaced by a newer connection",
                });
            }
            self.detach_media(old);
            if let Err(denial) =
                self.session
                    .handle_command(now, Actor::Server, Command::Disconnect { peer: old })
            {
                debug!(room = %self.id, peer = %old, %denial, "disconnect before takeover");
            }
            self.carry_out();
        }
        match self
            .session
            .handle_command(now, Actor::Server, Command::Join(attempt.request))
        {
            Ok(Outcome::Joined { peer, resumed }) => {
                info!(room = %self.id, %peer, resumed, conn = ?attempt.conn, "peer joined");
                let reply = frame(&ServerMessage::Reply {
                    id: attempt.message_id,
                    ok: true,
                    data: Some(ReplyData::Joined {
                        peer_id: peer,
                        resumed,
                    }),
                    error: None,
                });
                if attempt.outbound.push(Outbound::Frame(reply)).is_err() {
                    self.slow.push(peer);
                }
                self.links.insert(
                    peer,
                    Link {
                        conn: attempt.conn,
                        outbound: attempt.outbound,
                    },
                );
                let _ = attempt.reply.send(Ok(peer));
                self.auto_record();
            }
            Ok(other) => {
                warn!(room = %self.id, ?other, "join gave an unexpected outcome");
                let _ = attempt.reply.send(Err(ErrorBody {
                    code: ErrorCode::InvalidValue,
                    message: "the join could not be completed".to_owned(),
                    field: None,
                }));
            }
            Err(denial) => {
                debug!(room = %self.id, %denial, "join refused");
                let _ = attempt.reply.send(Err(denial.into_body()));
            }
        }
    }

    fn connected_peer_of(&self, user: &UserId) -> Option<PeerId> {
        self.session
            .peers()
            .find(|p| p.user_id() == user && p.is_connected() && self.links.contains_key(&p.id()))
            .map(|p| p.id())
    }

    // ---- client messages --------------------------------------------------------------

    fn message(&mut self, peer: PeerId, message: ClientMessage) {
        let id = message.id;
        match message.body {
            ClientBody::Join { .. } => self.reply_err(
                peer,
                id,
                ErrorBody {
                    code: ErrorCode::InvalidValue,
                    message: "already joined".to_owned(),
                    field: None,
                },
            ),
            ClientBody::Ping => self.reply(peer, id, Ok(None)),
            ClientBody::Offer { sdp } => self.offer(peer, id, sdp),
            ClientBody::Answer { sdp } => self.answer(peer, id, sdp),
            ClientBody::Publish { source, mid, muted } => {
                self.publish(peer, id, source, &mid, muted)
            }
            ClientBody::VideoSize {
                track_id,
                max_width,
                max_height,
            } => self.video_size(peer, id, track_id, max_width, max_height),
            ClientBody::Command { command } => self.command(peer, id, command),
        }
    }

    fn offer(&mut self, peer: PeerId, id: u64, sdp: String) {
        let reports = self.reports_tx.clone();
        match self.ids.key_of(peer) {
            Some(key) => self.ctx.media.send(MediaCommand::Offer {
                key,
                sdp,
                request: id,
                reports,
            }),
            None => {
                let key = PeerKey(self.ctx.peer_keys.fetch_add(1, Ordering::Relaxed));
                self.ids.attach(peer, key);
                self.adding.insert(key);
                self.ctx.media.send(MediaCommand::AddPeer {
                    key,
                    offer: sdp,
                    request: id,
                    reports,
                });
                // Subscriptions follow once the engine says the peer is connected.
            }
        }
    }

    fn answer(&mut self, peer: PeerId, id: u64, sdp: String) {
        match self.ids.key_of(peer) {
            Some(key) => self.ctx.media.send(MediaCommand::Answer {
                key,
                sdp,
                request: id,
                reports: self.reports_tx.clone(),
            }),
            None => self.reply_err(peer, id, no_media()),
        }
    }

    fn publish(&mut self, peer: PeerId, id: u64, source: Source, mid: &str, muted: bool) {
        if let Err(denial) = self.ids.check_announce(peer, mid, source) {
            return self.reply_err(peer, id, denial.into_body());
        }
        let now = self.ctx.clock.now();
        match self.session.handle_command(
            now,
            Actor::Peer(peer),
            Command::Publish { source, muted },
        ) {
            Ok(Outcome::Published { track }) => {
                let bound = self.ids.announce(peer, mid, track, source, muted);
                self.reply(peer, id, Ok(Some(ReplyData::Published { track_id: track })));
                if let Some(bound) = bound {
                    self.on_bound(bound);
                }
            }
            Ok(outcome) => self.reply(peer, id, Ok(reply_data(outcome))),
            Err(denial) => self.reply_err(peer, id, denial.into_body()),
        }
    }

    fn command(&mut self, peer: PeerId, id: u64, command: PeerCommand) {
        // A restored breakout room's password is known here only as its hash: check the
        // attempt off the task (PBKDF2 is slow on purpose), then run the command.
        if let PeerCommand::JoinBreakout {
            breakout_id,
            password: Some(plain),
        } = &command
            && let Some(Secret::Hash(hash)) = self.secrets.get(breakout_id)
        {
            let now = self.ctx.clock.now();
            if let Some(last) = self.password_checks.get(&peer)
                && last.until(now) < PASSWORD_CHECK_INTERVAL
            {
                return self.reply_err(
                    peer,
                    id,
                    ErrorBody {
                        code: ErrorCode::RateLimited,
                        message: "one password attempt per second".to_owned(),
                        field: Some("password".to_owned()),
                    },
                );
            }
            self.password_checks.insert(peer, now);
            let (breakout, plain, hash) = (*breakout_id, plain.clone(), hash.clone());
            let back = self.checks_tx.clone();
            tokio::task::spawn_blocking(move || {
                let ok = caucus_store::password::verify(&plain, &hash);
                let _ = back.send(PasswordCheck {
                    peer,
                    id,
                    command,
                    breakout,
                    plain,
                    ok,
                });
            });
            return;
        }
        self.run_command(peer, id, command);
    }

    /// A password check is back: a right password is taught to the core (and remembered for
    /// the plan), then the command runs as if it had just arrived — a wrong one is refused by
    /// the core as any wrong password is.
    fn password_checked(&mut self, check: PasswordCheck) {
        if !self.links.contains_key(&check.peer) {
            return;
        }
        if check.ok && matches!(self.secrets.get(&check.breakout), Some(Secret::Hash(_))) {
            self.session
                .learn_breakout_password(check.breakout, check.plain.clone());
            self.secrets
                .insert(check.breakout, Secret::Plain(check.plain));
        }
        self.run_command(check.peer, check.id, check.command);
        self.carry_out();
        self.persist_changes();
    }

    fn run_command(&mut self, peer: PeerId, id: u64, command: PeerCommand) {
        let now = self.ctx.clock.now();
        let actor = Actor::Peer(peer);
        let breakout_op = match &command {
            PeerCommand::Breakouts { op, .. } => Some(op.clone()),
            _ => None,
        };
        let result = self
            .session
            .command_from_wire(actor, command, rand::random())
            .and_then(|command| {
                let leaving = matches!(command, Command::Leave { .. });
                self.session
                    .handle_command(now, actor, command)
                    .map(|outcome| (outcome, leaving))
            });
        match result {
            Ok((outcome, leaving)) => {
                if let Some(op) = &breakout_op {
                    self.note_secret(op);
                }
                self.reply(peer, id, Ok(reply_data(outcome)));
                if leaving {
                    info!(room = %self.id, %peer, "peer left");
                    self.carry_out();
                    self.close_link(peer, close_code::NORMAL, "left");
                    self.forget(peer);
                }
            }
            Err(denial) => self.reply_err(peer, id, denial.into_body()),
        }
    }

    // ---- media reports ----------------------------------------------------------------

    fn report(&mut self, report: MediaReport) {
        match report {
            MediaReport::Negotiated {
                key,
                request,
                result,
            } => self.negotiated(key, request, result),
            MediaReport::Event(event) => self.engine_event(event),
        }
    }

    fn negotiated(
        &mut self,
        key: PeerKey,
        request: u64,
        result: Result<Option<String>, MediaError>,
    ) {
        let was_adding = self.adding.remove(&key);
        let Some(peer) = self.ids.peer_of(key) else {
            debug!(room = %self.id, %key, "negotiation result for a gone engine peer");
            return;
        };
        match result {
            Ok(sdp) => self.reply(peer, request, Ok(sdp.map(|sdp| ReplyData::Answer { sdp }))),
            Err(e) => {
                debug!(room = %self.id, %peer, %key, error = %e, "negotiation failed");
                if was_adding {
                    // The engine never took the peer: the next offer starts afresh.
                    self.ids.detach(peer);
                }
                self.reply_err(peer, request, media_error(&e));
            }
        }
    }

    fn engine_event(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::PeerConnected { peer: key } => {
                if let Some(peer) = self.ids.connected(key) {
                    debug!(room = %self.id, %key, %peer, "media connected");
                    self.push_subscriptions(peer);
                }
            }
            EngineEvent::PeerDisconnected { peer: key, reason } => {
                if let Some(peer) = self.ids.peer_of(key) {
                    info!(room = %self.id, %peer, %key, ?reason, "media connection lost");
                    self.ids.detach(peer);
                }
            }
            EngineEvent::TrackPublished {
                peer: key,
                track,
                mid,
                kind,
            } => match self.ids.received(key, &mid, track, kind) {
                Some(bound) => self.on_bound(bound),
                // Not announced (yet): forwarded to nobody, and paused so it costs nothing.
                None => self.ctx.media.send(MediaCommand::SetPaused {
                    track,
                    paused: true,
                }),
            },
            EngineEvent::TrackEnded { track, .. } => self.ids.ended(track),
            EngineEvent::NeedsOffer { peer: key, sdp } => {
                if let Some(peer) = self.ids.peer_of(key) {
                    self.push(peer, Outbound::Frame(frame(&ServerMessage::Offer { sdp })));
                }
            }
            EngineEvent::SlotAssigned {
                subscriber,
                mid,
                track,
            } => {
                if let Some(peer) = self.ids.peer_of(subscriber) {
                    let track = track.and_then(|t| self.ids.remote(t));
                    self.push(
                        peer,
                        Outbound::Frame(frame(&ServerMessage::Slot { mid, track })),
                    );
                }
            }
            EngineEvent::Stats(_) => {}
        }
    }

    fn on_bound(&mut self, bound: media_ids::Bound) {
        self.ctx.media.send(MediaCommand::SetPaused {
            track: bound.engine,
            paused: bound.muted,
        });
        for subscriber in bound.subscribers {
            self.push_subscriptions(subscriber);
        }
        self.push_recordings();
    }

    // ---- effects ------------------------------------------------------------------------

    fn carry_out(&mut self) {
        loop {
            while let Some(effect) = self.session.poll_effect() {
                self.effect(effect);
            }
            let Some(peer) = self.slow.pop() else {
                break;
            };
            warn!(room = %self.id, %peer, "connection too slow; dropped");
            if let Some(link) = self.links.remove(&peer) {
                let _ = link.outbound.push(Outbound::Close {
                    code: close_code::TOO_SLOW,
                    reason: "too slow; reconnect",
                });
            }
            self.lose_connection(peer);
        }
    }

    fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Send { to, event } => {
                let frame = event_frame(&event);
                for peer in to {
                    self.push(peer, Outbound::Frame(frame.clone()));
                }
                // A new (acting) role may see cameras at another size.
                if let caucus_proto::ServerEvent::RoleChanged { peer_id, .. } = *event {
                    self.push_subscriptions(peer_id);
                }
            }
            Effect::Subscriptions { peer, tracks } => {
                self.ids.set_desired(peer, tracks);
                self.push_subscriptions(peer);
            }
            Effect::TrackMuted { peer, track, muted } => {
                if let Some(engine) = self.ids.set_muted(TrackKey { peer, track }, muted) {
                    self.ctx.media.send(MediaCommand::SetPaused {
                        track: engine,
                        paused: muted,
                    });
                }
            }
            Effect::TrackStopped { peer, track } => {
                if let Some(engine) = self.ids.stop(TrackKey { peer, track }) {
                    self.ctx.media.send(MediaCommand::SetPaused {
                        track: engine,
                        paused: true,
                    });
                }
            }
            Effect::Disconnect { peer } => {
                info!(room = %self.id, %peer, "peer disconnected by the session");
                self.close_link(peer, close_code::NORMAL, "removed from the session");
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
            Effect::Lifecycle(event) => {
                info!(room = %self.id, event = event.name(), details = ?event, "lifecycle");
                self.ctx
                    .webhooks
                    .emit(&self.id, &event, crate::control::unix_ms());
            }
            Effect::SessionEnded => {
                info!(room = %self.id, "session ended");
                self.ended = true;
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------

    fn push(&mut self, peer: PeerId, item: Outbound) {
        if let Some(link) = self.links.get(&peer)
            && link.outbound.push(item).is_err()
            && !self.slow.contains(&peer)
        {
            self.slow.push(peer);
        }
    }

    fn reply(&mut self, peer: PeerId, id: u64, result: Result<Option<ReplyData>, ErrorBody>) {
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
        self.push(peer, Outbound::Frame(frame(&message)));
    }

    fn reply_err(&mut self, peer: PeerId, id: u64, error: ErrorBody) {
        self.reply(peer, id, Err(error));
    }

    /// A receiver's picture size for a remote camera: kept per (subscriber, track) and
    /// applied with the role's cap at the next (and every later) subscription push.
    fn video_size(&mut self, peer: PeerId, id: u64, track: TrackId, width: u32, height: u32) {
        if !(16..=7680).contains(&width) || !(16..=4320).contains(&height) {
            return self.reply_err(
                peer,
                id,
                ErrorBody {
                    code: ErrorCode::InvalidValue,
                    message: "a picture size is 16 to 7680 × 16 to 4320 pixels".to_owned(),
                    field: Some("max_width".to_owned()),
                },
            );
        }
        let Some(publisher) = self
            .session
            .peers()
            .find(|p| p.tracks().any(|(t, _, _)| t == track))
            .map(|p| p.id())
        else {
            return self.reply_err(
                peer,
                id,
                ErrorBody {
                    code: ErrorCode::UnknownTrack,
                    message: format!("no track {track} in this session"),
                    field: Some("track_id".to_owned()),
                },
            );
        };
        self.view_sizes.entry(peer).or_default().insert(
            TrackKey {
                peer: publisher,
                track,
            },
            (width, height),
        );
        self.reply(peer, id, Ok(None));
        self.push_subscriptions(peer);
    }

    /// Hand the engine the peer's desired set — bound tracks, highest priority first — and
    /// the layer hint of each camera track: the smaller of the role's cap (`subscribe.video`)
    /// and the size the client asked for (`video_size`).
    fn push_subscriptions(&mut self, peer: PeerId) {
        let Some(key) = self.ids.ready_key_of(peer) else {
            return;
        };
        let template = Arc::clone(self.session.template());
        let mut set = self.ids.bound_set(peer);
        by_priority(&mut set, |publisher| {
            self.session
                .peer(publisher)
                .map_or(0, |p| template.role(p.acting_role()).priority())
        });
        self.ctx.media.send(MediaCommand::SetSubscriptions {
            key,
            tracks: set.iter().map(|t| t.engine).collect(),
        });
        let role_cap = self
            .session
            .peer(peer)
            .and_then(|p| template.role(p.acting_role()).view_caps())
            .map(|caps| (caps.max_width, caps.max_height));
        let sizes = self.view_sizes.get(&peer);
        let hints = self.layer_hints.entry(peer).or_default();
        hints.retain(|track, _| set.iter().any(|t| t.engine == *track));
        for track in set.iter().filter(|t| t.source == Source::Video) {
            let asked = sizes.and_then(|s| {
                s.get(&TrackKey {
                    peer: track.publisher,
                    track: track.track,
                })
            });
            let max = match (role_cap, asked) {
                (Some((w, h)), Some((aw, ah))) => Some(((*aw).min(w), (*ah).min(h))),
                (cap, asked) => cap.or(asked.copied()),
            }
            .map_or(MaxLayer::default(), |(max_width, max_height)| {
                MaxLayer::Resolution {
                    max_width,
                    max_height,
                }
            });
            if hints.get(&track.engine) != Some(&max) {
                hints.insert(track.engine, max);
                self.ctx.media.send(MediaCommand::SetMaxLayer {
                    key,
                    track: track.engine,
                    max,
                });
            }
        }
    }

    /// The socket is gone but the peer may come back: the core keeps its place.
    fn lose_connection(&mut self, peer: PeerId) {
        self.links.remove(&peer);
        self.detach_media(peer);
        let now = self.ctx.clock.now();
        if let Err(denial) =
            self.session
                .handle_command(now, Actor::Server, Command::Disconnect { peer })
        {
            debug!(room = %self.id, %peer, %denial, "disconnect refused");
        }
    }

    fn close_link(&mut self, peer: PeerId, code: u16, reason: &'static str) {
        if let Some(link) = self.links.remove(&peer) {
            let _ = link.outbound.push(Outbound::Close { code, reason });
        }
    }

    fn close_all(&mut self, code: u16, reason: &'static str) {
        for (_, link) in self.links.drain() {
            let _ = link.outbound.push(Outbound::Close { code, reason });
        }
    }

    fn detach_media(&mut self, peer: PeerId) {
        self.layer_hints.remove(&peer);
        if let Some(key) = self.ids.detach(peer) {
            self.adding.remove(&key);
            self.ctx.media.send(MediaCommand::RemovePeer { key });
        }
    }

    fn forget(&mut self, peer: PeerId) {
        self.password_checks.remove(&peer);
        self.layer_hints.remove(&peer);
        self.view_sizes.remove(&peer);
        if let Some(key) = self.ids.forget(peer) {
            self.adding.remove(&key);
            self.ctx.media.send(MediaCommand::RemovePeer { key });
        }
    }
}

fn reply_data(outcome: Outcome) -> Option<ReplyData> {
    match outcome {
        Outcome::Done => None,
        Outcome::Joined { peer, resumed } => Some(ReplyData::Joined {
            peer_id: peer,
            resumed,
        }),
        Outcome::Published { track } => Some(ReplyData::Published { track_id: track }),
        Outcome::RequestSent { request } => Some(ReplyData::RequestSent {
            request_id: request,
        }),
        Outcome::BreakoutsCreated { rooms } => Some(ReplyData::BreakoutsCreated { rooms }),
        Outcome::HelpRequested { help } => Some(ReplyData::HelpRequested { help_id: help }),
    }
}

fn no_media() -> ErrorBody {
    Denial::new(
        ErrorCode::NotConnected,
        "no media connection yet; send an offer first",
    )
    .into_body()
}

fn media_error(error: &MediaError) -> ErrorBody {
    let (code, message) = match error {
        MediaError::InvalidSdp(_) => (ErrorCode::MalformedRequest, error.to_string()),
        MediaError::Negotiation(_) | MediaError::PeerExists(_) => {
            (ErrorCode::InvalidValue, error.to_string())
        }
        MediaError::NoPendingOffer(_) => (
            ErrorCode::InvalidValue,
            "no server offer is waiting for an answer".to_owned(),
        ),
        MediaError::UnknownPeer(_) => return no_media(),
    };
    ErrorBody {
        code,
        message,
        field: Some("sdp".to_owned()),
    }
}

/// One receiver that resolves when both have (either may be absent).
fn both(
    a: Option<oneshot::Receiver<()>>,
    b: Option<oneshot::Receiver<()>>,
) -> Option<oneshot::Receiver<()>> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (tx, rx) = oneshot::channel();
            tokio::spawn(async move {
                let _ = a.await;
                let _ = b.await;
                let _ = tx.send(());
            });
            Some(rx)
        }
        (a, b) => a.or(b),
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
