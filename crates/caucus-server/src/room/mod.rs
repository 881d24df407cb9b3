//! The room task: a thin tokio loop around one [`caucus_room::Room`].
//!
//! The room machine decides nothing about IO and does none; this task feeds it — joins and
//! client messages from connection tasks ([`RoomInput`]), engine reports from the media
//! thread ([`MediaReport`]), password verdicts from blocking threads, and its timer at the
//! machine's `poll_timeout()` — and carries out every [`Output`]: frames to connection
//! queues (each serialized once, then shared), commands to the media thread and recorder,
//! webhooks, writes to the store, password checks off the event loop.
//!
//! Nothing here waits on a peer: sends to a connection never block (a connection whose queue
//! is full is reported back to the machine as too slow and dropped), and media commands are
//! fire-and-forget with answers coming back as reports.

pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use caucus_core::{JoinRequest, SessionConfig, Template};
use caucus_proto::signal::{ClientBody, ClientMessage, PeerCommand};
use caucus_proto::{ErrorBody, IceServer, LifecycleEvent, PeerId, RoomId, ServerEvent};
use caucus_room::{AckId, CheckId, EngineCommand, Output, RecordCommand, Room, Signal};
use caucus_store::{BreakoutPlan, LiveChange};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::info;

use crate::clock::Clock;
use crate::media_thread::{MediaCommand, MediaHandle, MediaReport, MediaReports};
use crate::outbound::{Outbound, OutboundSender, event_frame, frame};
use crate::persist::PersistHandle;
use crate::recorder::RecorderInput;
use crate::telemetry::Telemetry;
use crate::webhooks::WebhookSink;
pub use caucus_room::{
    ApiAnswer, ApiRequest, ConnId, OptionsPatch, PeerPatch, RoomCounts, close_code,
};

/// What the server shares with every room it creates.
#[derive(Debug, Clone)]
pub struct RoomContext {
    pub clock: Clock,
    pub session: SessionConfig,
    pub media: MediaHandle,
    /// Where a room says it has ended: `(room, generation)`.
    pub ended: mpsc::UnboundedSender<(RoomId, u64)>,
    /// Where breakout plans and the locked flag are written.
    pub persist: PersistHandle,
    /// Where lifecycle events go (webhooks).
    pub webhooks: WebhookSink,
    /// Where move latencies are observed.
    pub telemetry: Arc<Telemetry>,
}

/// What a new session of a durable room starts from (the store's form).
#[derive(Debug, Clone)]
pub struct RoomSetup {
    pub template: Arc<Template>,
    pub locked: bool,
    /// The stored hash of the room password, if it has one.
    pub password_hash: Option<String>,
    /// The saved breakout plan, restored into the fresh session.
    pub plan: Option<BreakoutPlan>,
    /// The room's recording policy: record main from the session's first join.
    pub auto_record: bool,
    /// The breakout versions this session may show (reserved in the store above every
    /// earlier session's).
    pub versions: std::ops::Range<u64>,
    /// The breakout plan outlives the session (false for the demo room: every meeting there
    /// starts fresh).
    pub keep_plan: bool,
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
    /// A REST call, acting as the server.
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

/// A verified join: the room answers on `reply`, and on success also writes the `joined`
/// reply (and everything after it) to `outbound`.
#[derive(Debug)]
pub struct JoinAttempt {
    pub conn: ConnId,
    pub message_id: u64,
    pub request: JoinRequest,
    /// What the `joined` event tells this connection of STUN and TURN.
    pub ice_servers: Vec<IceServer>,
    pub outbound: OutboundSender,
    pub reply: oneshot::Sender<Result<PeerId, ErrorBody>>,
}

/// A REST answer and, when the call changed what is written, the moment it is.
#[derive(Debug)]
pub struct ApiReply {
    pub result: Result<ApiAnswer, ErrorBody>,
    pub persisted: Option<oneshot::Receiver<()>>,
}

/// Start a room task for a fresh session. Engine keys of generation `g` start at `g << 32`,
/// so no two rooms of one server share one.
pub fn spawn(
    id: RoomId,
    generation: u64,
    ctx: RoomContext,
    setup: RoomSetup,
) -> (RoomHandle, JoinHandle<()>) {
    let (tx, inbox) = mpsc::unbounded_channel();
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let (checks_tx, checks) = mpsc::unbounded_channel();
    let machine_setup = caucus_room::RoomSetup {
        id: id.clone(),
        template: setup.template,
        locked: setup.locked,
        password_hash: setup.password_hash,
        plan: setup.plan.as_ref().map(plan::from_store),
        auto_record: setup.auto_record,
        key_base: generation << 32,
        seed: rand::random(),
    };
    let config = SessionConfig {
        version_floor: setup.versions.start,
        version_ceiling: setup.versions.end,
        keep_plan: setup.keep_plan,
        ..ctx.session.clone()
    };
    let room = Room::new(ctx.clock.now(), machine_setup, config);
    let task = RoomTask {
        id,
        generation,
        ctx,
        room,
        conns: HashMap::new(),
        joining: HashMap::new(),
        ice: HashMap::new(),
        waiting: HashMap::new(),
        slow: Vec::new(),
        ended: false,
        reports_tx,
        checks_tx,
    };
    let join = tokio::spawn(task.run(inbox, reports, checks));
    (RoomHandle { generation, tx }, join)
}

/// A join the machine has not answered yet.
#[derive(Debug)]
struct Joining {
    queue: OutboundSender,
    reply: oneshot::Sender<Result<PeerId, ErrorBody>>,
    ice_servers: Vec<IceServer>,
}

struct RoomTask {
    id: RoomId,
    generation: u64,
    ctx: RoomContext,
    room: Room,
    /// The queue of every connection that carries a peer.
    conns: HashMap<ConnId, OutboundSender>,
    /// Connections whose join the machine has not answered yet.
    joining: HashMap<ConnId, Joining>,
    /// The ICE servers of joined connections whose `joined` event has not gone out yet.
    ice: HashMap<ConnId, Vec<IceServer>>,
    /// Acks of the current input (plan writes, recorder starts and stops).
    waiting: HashMap<AckId, oneshot::Receiver<()>>,
    /// Connections whose queue overflowed; reported after the current outputs.
    slow: Vec<ConnId>,
    ended: bool,
    reports_tx: MediaReports,
    checks_tx: mpsc::UnboundedSender<(CheckId, bool)>,
}

impl RoomTask {
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<RoomInput>,
        mut reports: mpsc::UnboundedReceiver<MediaReport>,
        mut checks: mpsc::UnboundedReceiver<(CheckId, bool)>,
    ) {
        info!(room = %self.id, generation = self.generation, "room started");
        while !self.ended {
            let deadline = self
                .room
                .poll_timeout()
                .map(|at| self.ctx.clock.instant(at));
            let mut moving = None;
            tokio::select! {
                input = inbox.recv() => {
                    if input.as_ref().is_some_and(is_move) {
                        moving = Some(std::time::Instant::now());
                    }
                    self.input(input);
                }
                Some(report) = reports.recv() => {
                    let now = self.ctx.clock.now();
                    match report {
                        MediaReport::Negotiated { key, request, result } => {
                            self.room.handle_negotiated(now, key, request, result);
                        }
                        MediaReport::Event(event) => self.room.handle_engine_event(now, event),
                    }
                }
                Some((check, ok)) = checks.recv() => {
                    self.room.handle_password_verdict(self.ctx.clock.now(), check, ok);
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.room.handle_timeout(self.ctx.clock.now());
                }
            }
            self.carry_out();
            if let Some(started) = moving {
                self.ctx.telemetry.moved(started.elapsed());
            }
            self.waiting.clear();
        }
        let _ = self.ctx.ended.send((self.id.clone(), self.generation));
        info!(room = %self.id, generation = self.generation, "room stopped");
    }

    fn input(&mut self, input: Option<RoomInput>) {
        let now = self.ctx.clock.now();
        match input {
            Some(RoomInput::Join(attempt)) => {
                let joining = Joining {
                    queue: attempt.outbound,
                    reply: attempt.reply,
                    ice_servers: attempt.ice_servers,
                };
                self.joining.insert(attempt.conn, joining);
                self.room
                    .handle_join(now, attempt.conn, attempt.message_id, attempt.request);
            }
            Some(RoomInput::Message {
                conn,
                peer,
                message,
            }) => self.room.handle_message(now, conn, peer, message),
            Some(RoomInput::ConnectionLost { conn, peer }) => {
                self.conns.remove(&conn);
                self.ice.remove(&conn);
                self.room.handle_connection_lost(now, conn, peer);
            }
            Some(RoomInput::Api { request, reply }) => {
                let answer = self.room.handle_api(now, request);
                self.carry_out();
                let acks: Vec<_> = answer
                    .acks
                    .iter()
                    .filter_map(|ack| self.waiting.remove(ack))
                    .collect();
                let _ = reply.send(ApiReply {
                    result: answer.result,
                    persisted: all(acks),
                });
            }
            Some(RoomInput::Counts { reply }) => {
                let _ = reply.send(self.room.counts(now));
            }
            Some(RoomInput::Shutdown) | None => self.room.handle_shutdown(now),
        }
    }

    /// Carry out everything the machine asks, then report connections that could not keep up
    /// (which asks for more), until nothing is left.
    fn carry_out(&mut self) {
        loop {
            while let Some(output) = self.room.poll_output() {
                self.output(output);
            }
            if self.slow.is_empty() {
                break;
            }
            let now = self.ctx.clock.now();
            for conn in std::mem::take(&mut self.slow) {
                self.room.handle_slow(now, conn);
            }
        }
    }

    fn output(&mut self, output: Output) {
        match output {
            Output::Send { to, message } => {
                let text = match &message {
                    Signal::Event(event) => event_frame(event),
                    Signal::Message(message) => frame(message),
                };
                for conn in to {
                    let text = match &message {
                        Signal::Event(event) => self.joined_frame(conn, event),
                        Signal::Message(_) => None,
                    }
                    .unwrap_or_else(|| text.clone());
                    let queued = self
                        .conns
                        .get(&conn)
                        .is_some_and(|q| q.push(Outbound::Frame(text)).is_ok());
                    if !queued && self.conns.contains_key(&conn) && !self.slow.contains(&conn) {
                        self.slow.push(conn);
                    }
                }
            }
            Output::Close { conn, code, reason } => {
                self.ice.remove(&conn);
                if let Some(queue) = self.conns.remove(&conn) {
                    let _ = queue.push(Outbound::Close { code, reason });
                }
            }
            Output::Joined { conn, result } => {
                if let Some(joining) = self.joining.remove(&conn) {
                    if result.is_ok() {
                        self.conns.insert(conn, joining.queue);
                        self.ice.insert(conn, joining.ice_servers);
                    }
                    let _ = joining.reply.send(result);
                }
            }
            Output::Engine(command) => self.ctx.media.send(self.media_command(command)),
            Output::Record(command) => {
                let input = self.recorder_input(command);
                self.ctx.media.send(MediaCommand::Record(input));
            }
            Output::Lifecycle(event) => {
                let now_ms = crate::clock::unix_ms();
                self.ctx.webhooks.emit(&self.id, &event, now_ms);
                if let Some(change) = live_change(&self.id, &event, now_ms) {
                    self.ctx.persist.live(change);
                }
            }
            Output::PersistPlan { plan, ack } => {
                let (plan, plain) = plan::to_store(&plan);
                let written = self.ctx.persist.plan(self.id.clone(), plan, plain);
                self.waiting.insert(ack, written);
            }
            Output::PersistLocked { locked } => self.ctx.persist.locked(self.id.clone(), locked),
            Output::VerifyPassword { check, hash, plain } => {
                let back = self.checks_tx.clone();
                // PBKDF2 costs tens of milliseconds: not on the async threads.
                tokio::task::spawn_blocking(move || {
                    let ok = caucus_store::password::verify(&plain, &hash);
                    let _ = back.send((check, ok));
                });
            }
            Output::Ended => self.ended = true,
        }
    }

    /// The `joined` event for `conn` with the connection's own ICE servers (its TURN
    /// credentials are its user's), serialized for it alone; `None` for any other event.
    fn joined_frame(&mut self, conn: ConnId, event: &ServerEvent) -> Option<Utf8Bytes> {
        if !matches!(event, ServerEvent::Joined { .. }) {
            return None;
        }
        let servers = self.ice.remove(&conn)?;
        let mut event = event.clone();
        if let ServerEvent::Joined { ice_servers, .. } = &mut event {
            *ice_servers = servers;
        }
        Some(event_frame(&event))
    }

    fn media_command(&self, command: EngineCommand) -> MediaCommand {
        let reports = self.reports_tx.clone();
        match command {
            EngineCommand::AddPeer {
                key,
                offer,
                request,
            } => MediaCommand::AddPeer {
                key,
                offer,
                request,
                reports,
            },
            EngineCommand::Offer { key, sdp, request } => MediaCommand::Offer {
                key,
                sdp,
                request,
                reports,
            },
            EngineCommand::Answer { key, sdp, request } => MediaCommand::Answer {
                key,
                sdp,
                request,
                reports,
            },
            EngineCommand::SetSubscriptions { key, tracks } => {
                MediaCommand::SetSubscriptions { key, tracks }
            }
            EngineCommand::SetPaused { track, paused } => MediaCommand::SetPaused { track, paused },
            EngineCommand::RemovePeer { key } => MediaCommand::RemovePeer { key },
            EngineCommand::SetMaxLayer { key, track, max } => {
                MediaCommand::SetMaxLayer { key, track, max }
            }
        }
    }

    fn recorder_input(&mut self, command: RecordCommand) -> RecorderInput {
        match command {
            RecordCommand::Start {
                recording,
                location,
                ack,
            } => RecorderInput::Start {
                recording,
                room: self.id.clone(),
                location,
                ack: ack.map(|ack| self.ack(ack)),
            },
            RecordCommand::Tracks { recording, tracks } => {
                RecorderInput::Tracks { recording, tracks }
            }
            RecordCommand::Stop {
                recording,
                reason,
                ack,
            } => RecorderInput::Stop {
                recording,
                reason,
                ack: ack.map(|ack| self.ack(ack)),
            },
        }
    }

    /// The sending side of `ack`, whose receiving side the current input's answer may await.
    fn ack(&mut self, ack: AckId) -> oneshot::Sender<()> {
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(ack, rx);
        tx
    }
}

/// What `event` changes in the store's record of live sessions (see [`crate::recovery`]).
fn live_change(room: &RoomId, event: &LifecycleEvent, now_ms: u64) -> Option<LiveChange> {
    let room = room.clone();
    Some(match event {
        LifecycleEvent::SessionStarted {} => LiveChange::SessionStarted {
            room,
            at_ms: now_ms,
        },
        LifecycleEvent::PeerJoined {
            peer_id, user_id, ..
        } => LiveChange::PeerJoined {
            room,
            peer: *peer_id,
            user: user_id.clone(),
        },
        LifecycleEvent::PeerLeft { peer_id, .. } => LiveChange::PeerLeft {
            room,
            peer: *peer_id,
        },
        LifecycleEvent::SessionEnded { .. } => LiveChange::SessionEnded { room },
        _ => return None,
    })
}

/// One receiver that resolves when every one of `acks` has (none: no receiver).
fn all(mut acks: Vec<oneshot::Receiver<()>>) -> Option<oneshot::Receiver<()>> {
    match acks.len() {
        0 => None,
        1 => acks.pop(),
        _ => {
            let (tx, rx) = oneshot::channel();
            tokio::spawn(async move {
                for ack in acks {
                    let _ = ack.await;
                }
                let _ = tx.send(());
            });
            Some(rx)
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A peer's message that moves someone between locations: its latency is a move's.
fn is_move(input: &RoomInput) -> bool {
    matches!(
        input,
        RoomInput::Message {
            message: ClientMessage {
                body: ClientBody::Command {
                    command: PeerCommand::MovePeer { .. }
                        | PeerCommand::JoinBreakout { .. }
                        | PeerCommand::ReturnToMain,
                },
                ..
            },
            ..
        }
    )
}
