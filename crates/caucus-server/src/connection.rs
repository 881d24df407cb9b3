//! The connection task: one per WebSocket at `GET /v1/rtc`.
//!
//! What it is: the signaling endpoint of one client. It reads text frames, enforces the frame
//! size limit and the per-connection rate limit, parses [`ClientMessage`]s, verifies the join
//! token, and hands everything else to its room task. It writes what the room queues for it
//! ([`Outbound`]) to the socket.
//!
//! The protocol rules it owns: the first message must be `join`; every message gets exactly
//! one `reply` with its `id` (from here for refusals that never reach the room — unreadable
//! frames, rate limit, `ping` — and from the room for the rest); frames it cannot attribute to
//! an `id` get a bare `error`. A misbehaving client only ever hurts its own connection.
//!
//! When the socket drops without `leave`, the room is told ([`RoomInput::ConnectionLost`]) and
//! the core keeps the peer for its reconnect grace; a new connection of the same user resumes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use caucus_core::JoinRequest;
use caucus_proto::signal::{ClientBody, ClientMessage, MAX_MESSAGE_BYTES, ServerMessage};
use caucus_proto::{ErrorBody, ErrorCode, PeerId, RoomId};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::client_frame::{self, FrameError};
use crate::control::ControlPlane;
use crate::ice::IceServers;
use crate::outbound::{Outbound, OutboundSender, frame};
use crate::rate_limit::RateLimit;
use crate::refusal::{ApiError, codes};
use crate::room::{ConnId, JoinAttempt, RoomHandle, RoomInput, close_code};
use crate::telemetry::{JoinOutcome, Telemetry};
use crate::token::TokenIssuer;

/// How often a join is retried when its room ended at that very moment.
const JOIN_ATTEMPTS: usize = 3;

/// What every connection task needs.
#[derive(Debug)]
pub struct ConnectionContext {
    pub control: Arc<ControlPlane>,
    pub tokens: TokenIssuer,
    pub rate_per_s: u32,
    pub rate_burst: u32,
    pub outbound_queue: usize,
    /// A write the client does not take within this time ends the connection: a client that
    /// never reads must not pin its socket buffers (and the task) forever.
    pub write_timeout: Duration,
    /// No join within this time closes the connection.
    pub join_timeout: Duration,
    /// Where join latencies are observed.
    pub telemetry: Arc<Telemetry>,
    /// The STUN and TURN servers each join is told (TURN credentials minted per join).
    pub ice: IceServers,
    pub next_conn: AtomicU64,
    pub shutdown: watch::Receiver<bool>,
}

/// Serve one upgraded socket until it closes. `room_hint` is the optional `?room=` of the
/// URL: when given, a token for another room is refused.
pub async fn serve(socket: WebSocket, ctx: Arc<ConnectionContext>, room_hint: Option<RoomId>) {
    let conn = ConnId(ctx.next_conn.fetch_add(1, Ordering::Relaxed));
    let (outbound, queue) = OutboundSender::channel(ctx.outbound_queue);
    let mut connection = Connection {
        conn,
        limit: RateLimit::new(ctx.rate_per_s, ctx.rate_burst, Instant::now()),
        ctx,
        socket,
        outbound,
        room_hint,
        joined: None,
    };
    debug!(?conn, "connection opened");
    connection.run(queue).await;
}

struct Connection {
    conn: ConnId,
    ctx: Arc<ConnectionContext>,
    socket: WebSocket,
    outbound: OutboundSender,
    limit: RateLimit,
    room_hint: Option<RoomId>,
    joined: Option<(RoomHandle, PeerId)>,
}

/// Whether the connection goes on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl Connection {
    async fn run(&mut self, mut queue: mpsc::Receiver<Outbound>) {
        let mut shutdown = self.ctx.shutdown.clone();
        let join_deadline = Instant::now() + self.ctx.join_timeout;
        loop {
            let flow = tokio::select! {
                () = stopping(&mut shutdown) => {
                    self.last_frames(&mut queue).await;
                    Flow::Stop
                }
                () = tokio::time::sleep_until(join_deadline), if self.joined.is_none() => {
                    let message = format!("no join within {} s", self.ctx.join_timeout.as_secs());
                    self.error(ErrorCode::Unauthorized, &message).await;
                    self.close(close_code::NORMAL, "no join").await;
                    Flow::Stop
                }
                item = queue.recv(), if self.joined.is_some() => match item {
                    Some(Outbound::Frame(text)) => self.write(text).await,
                    Some(Outbound::Close { code, reason }) => {
                        self.close(code, reason).await;
                        // The room already let go of this peer.
                        self.joined = None;
                        Flow::Stop
                    }
                    None => {
                        self.close(close_code::TOO_SLOW, "dropped by the room").await;
                        Flow::Stop
                    }
                },
                message = self.socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => self.text(text).await,
                    Some(Ok(Message::Binary(_))) => {
                        self.error(ErrorCode::MalformedRequest, "binary frames are not accepted; send JSON text").await
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Flow::Continue,
                    Some(Ok(Message::Close(_))) | None => Flow::Stop,
                    Some(Err(e)) => {
                        debug!(conn = ?self.conn, error = %e, "socket error");
                        Flow::Stop
                    }
                },
            };
            if flow == Flow::Stop {
                break;
            }
        }
        if let Some((room, peer)) = self.joined.take() {
            let _ = room.send(RoomInput::ConnectionLost {
                conn: self.conn,
                peer,
            });
        }
        debug!(conn = ?self.conn, "connection closed");
    }

    async fn text(&mut self, text: Utf8Bytes) -> Flow {
        if text.len() > MAX_MESSAGE_BYTES {
            warn!(conn = ?self.conn, len = text.len(), "frame too large");
            let message = format!("frames are limited to {MAX_MESSAGE_BYTES} bytes");
            self.error(ErrorCode::PayloadTooLarge, &message).await;
            self.close(close_code::TOO_BIG, "frame too large").await;
            return Flow::Stop;
        }
        if !self.limit.allow(Instant::now()) {
            let message = format!(
                "too many messages; retry in {} ms",
                self.limit.retry_after().as_millis().max(1)
            );
            return match probe_id(text.as_str()) {
                Some(id) => self.refuse(id, ErrorCode::RateLimited, &message).await,
                None => self.error(ErrorCode::RateLimited, &message).await,
            };
        }
        let message = match client_frame::parse(text.as_str()) {
            Ok(message) => message,
            Err(FrameError::Unreadable(error)) => {
                return self.send(&ServerMessage::Error { error }).await;
            }
            Err(FrameError::Refused { id, error }) => {
                return self.send(&reply_error(id, error)).await;
            }
        };
        match (&self.joined, message.body) {
            (None, ClientBody::Join { token, password }) => {
                let started = Instant::now();
                let flow = self.join(message.id, &token, password).await;
                let outcome = if self.joined.is_some() {
                    JoinOutcome::Joined
                } else {
                    JoinOutcome::Refused
                };
                self.ctx.telemetry.join(outcome, started.elapsed());
                flow
            }
            (None, _) => {
                self.refuse(
                    message.id,
                    ErrorCode::Unauthorized,
                    "the first message must be `join`",
                )
                .await
            }
            (Some(_), ClientBody::Join { .. }) => {
                self.refuse(message.id, ErrorCode::InvalidValue, "already joined")
                    .await
            }
            (Some(_), ClientBody::Ping) => {
                self.send(&ServerMessage::Reply {
                    id: message.id,
                    ok: true,
                    data: None,
                    error: None,
                })
                .await
            }
            (Some((room, peer)), body) => {
                let input = RoomInput::Message {
                    conn: self.conn,
                    peer: *peer,
                    message: ClientMessage {
                        id: message.id,
                        body,
                    },
                };
                if room.send(input).is_err() {
                    self.joined = None;
                    self.close(close_code::NORMAL, "the session ended").await;
                    return Flow::Stop;
                }
                Flow::Continue
            }
        }
    }

    async fn join(&mut self, id: u64, token: &str, password: Option<String>) -> Flow {
        let claims = match self.ctx.tokens.verify_join(token) {
            Ok(claims) => claims,
            Err(e) => {
                info!(conn = ?self.conn, code = %e.code, "join token refused");
                return self.send(&reply_error(id, e.into_body())).await;
            }
        };
        if let Some(hint) = &self.room_hint
            && *hint != claims.room
        {
            return self
                .refuse(id, ErrorCode::Unauthorized, "the token is for another room")
                .await;
        }
        let name = if claims.name.is_empty() {
            claims.user_id.to_string()
        } else {
            claims.name.clone()
        };
        let record = match self.ctx.control.room_for_join(&claims.room).await {
            Ok(record) => record,
            Err(e) => return self.refuse_api(id, e).await,
        };
        let request = JoinRequest {
            user_id: claims.user_id.clone(),
            name,
            role: claims.role.clone(),
            // The session decides whether it needs one (and asks for it to be checked).
            password,
            metadata: None,
        };
        // Minted now, from the wall clock: the TURN server checks the expiry against its own.
        let ice_servers = self
            .ctx
            .ice
            .for_user(&claims.user_id, crate::clock::unix_ms() / 1_000);
        for _ in 0..JOIN_ATTEMPTS {
            let room = match self.ctx.control.session(&record).await {
                Ok(room) => room,
                Err(e) => return self.refuse_api(id, e).await,
            };
            let (reply, answer) = oneshot::channel();
            let attempt = JoinAttempt {
                conn: self.conn,
                message_id: id,
                request: request.clone(),
                ice_servers: ice_servers.clone(),
                outbound: self.outbound.clone(),
                reply,
            };
            if room.send(RoomInput::Join(attempt)).is_err() {
                continue;
            }
            match answer.await {
                Ok(Ok(peer)) => {
                    self.joined = Some((room, peer));
                    return Flow::Continue;
                }
                Ok(Err(error)) => return self.send(&reply_error(id, error)).await,
                // The room ended while the join was queued: ask the registry again.
                Err(_) => continue,
            }
        }
        self.refuse(
            id,
            ErrorCode::SessionEnded,
            "the room is restarting; join again",
        )
        .await
    }

    /// Refuse a join with a control-plane error; the server stopping closes the socket.
    async fn refuse_api(&mut self, id: u64, error: ApiError) -> Flow {
        if error.code == codes::SHUTTING_DOWN {
            self.close(close_code::GOING_AWAY, "the server is shutting down")
                .await;
            return Flow::Stop;
        }
        let body = error.into_body();
        self.send(&reply_error(id, body)).await
    }

    async fn refuse(&mut self, id: u64, code: ErrorCode, message: &str) -> Flow {
        let error = ErrorBody {
            code,
            message: message.to_owned(),
            field: None,
        };
        self.send(&reply_error(id, error)).await
    }

    async fn error(&mut self, code: ErrorCode, message: &str) -> Flow {
        let error = ErrorBody {
            code,
            message: message.to_owned(),
            field: None,
        };
        self.send(&ServerMessage::Error { error }).await
    }

    async fn send(&mut self, message: &ServerMessage) -> Flow {
        self.write(frame(message)).await
    }

    /// The server is stopping: what the room queued before it stopped (`session_ended`, its
    /// close) goes out first, then the socket closes with 1001.
    async fn last_frames(&mut self, queue: &mut mpsc::Receiver<Outbound>) {
        while let Ok(item) = queue.try_recv() {
            match item {
                Outbound::Frame(text) => {
                    if self.write(text).await == Flow::Stop {
                        return;
                    }
                }
                Outbound::Close { code, reason } => {
                    self.close(code, reason).await;
                    self.joined = None;
                    return;
                }
            }
        }
        self.close(close_code::GOING_AWAY, "the server is shutting down")
            .await;
    }

    async fn write(&mut self, text: Utf8Bytes) -> Flow {
        let write = self.socket.send(Message::Text(text));
        match tokio::time::timeout(self.ctx.write_timeout, write).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(e)) => {
                debug!(conn = ?self.conn, error = %e, "write failed");
                Flow::Stop
            }
            Err(_) => {
                info!(conn = ?self.conn, "client does not read; closing");
                Flow::Stop
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        // A client that does not read does not get its close frame either.
        let write = self.socket.send(Message::Close(Some(frame)));
        let _ = tokio::time::timeout(self.ctx.write_timeout, write).await;
    }
}

fn reply_error(id: u64, error: ErrorBody) -> ServerMessage {
    ServerMessage::Reply {
        id,
        ok: false,
        data: None,
        error: Some(error),
    }
}

/// Resolves once the server starts shutting down (the guard `wait_for` returns is not `Send`).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The `id` of a frame, read without parsing the rest into types.
fn probe_id(text: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Probe {
        id: Option<u64>,
    }
    serde_json::from_str::<Probe>(text).ok()?.id
}
