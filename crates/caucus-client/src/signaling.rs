//! The signaling connection: one task owns the WebSocket, numbers requests, matches replies
//! by `id`, and routes what the server pushes.
//!
//! Routing: session events, slots and errors go to the [`EventStream`](crate::EventStream);
//! what the media peer must act on — server offers, slot assignments, the replies to its own
//! offers, mute and revoke events about this peer's tracks — goes to the media peer through
//! **one ordered channel**. Order matters: the server may send the answer to a client offer
//! and then a new offer of its own; if the answer took another path, the media peer could see
//! the new offer while it still thinks its own is pending, and drop it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use caucus_proto::signal::{ClientBody, ClientMessage, RemoteTrack, ReplyData, ServerMessage};
use caucus_proto::{IceServer, PeerId, ServerEvent, TrackId};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, trace, warn};

use crate::error::{ClientError, Result};
use crate::event::ClientEvent;

/// What a reply hands back: its data (if any) or the server's refusal.
pub(crate) type Reply = Result<Option<ReplyData>>;

/// What the signaling task passes to the media peer, in arrival order.
#[derive(Debug)]
pub(crate) enum ToMedia {
    /// The server renegotiates.
    Offer { sdp: String },
    /// The reply to the media peer's own offer.
    OfferReply(Reply),
    /// Receive slot `mid` now carries `track`.
    Slot {
        mid: String,
        track: Option<RemoteTrack>,
    },
    /// One of this peer's tracks was muted or unmuted (by anyone).
    OwnTrackMuted { track: TrackId, muted: bool },
    /// One of this peer's tracks ended on the server's side.
    OwnTrackEnded { track: TrackId },
}

/// A handle on the signaling task. Cheap to clone; the task ends when every handle is gone or
/// [`Signal::close`] is called.
#[derive(Debug, Clone)]
pub(crate) struct Signal {
    tx: mpsc::UnboundedSender<Outgoing>,
    request_timeout: Duration,
    /// The `ice_servers` of this connection's `joined` event, once it came.
    ice_servers: watch::Receiver<Option<Vec<IceServer>>>,
}

#[derive(Debug)]
enum Outgoing {
    Request { body: ClientBody, waiter: Waiter },
    Close,
}

/// Who gets a reply.
#[derive(Debug)]
enum Waiter {
    Caller(oneshot::Sender<Reply>),
    /// Through the ordered media channel, as [`ToMedia::OfferReply`].
    Media,
    /// Nobody; a refusal is logged.
    Detached(&'static str),
}

/// `http(s)://` taken as `ws(s)://`.
fn websocket_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_owned()
    }
}

/// TLS for `wss://` and `turns:`: rustls on aws-lc-rs, trusting Mozilla's roots and `extra`
/// (DER).
pub(crate) fn tls_config(extra: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| ClientError::WebSocket(format!("a TLS root certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::WebSocket(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Signal {
    /// Opens the WebSocket and starts the task. Nothing is sent yet; the first request gets
    /// id 1.
    pub(crate) async fn open(
        url: &str,
        tls_roots: &[Vec<u8>],
        connect_timeout: Duration,
        request_timeout: Duration,
        events: mpsc::Sender<ClientEvent>,
        media: mpsc::UnboundedSender<ToMedia>,
    ) -> Result<Signal> {
        let url = websocket_url(url);
        let url = url.as_str();
        let connector = tokio_tungstenite::Connector::Rustls(tls_config(tls_roots)?);
        let connect =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector));
        let (ws, _response) = tokio::time::timeout(connect_timeout, connect)
            .await
            .map_err(|_| ClientError::timeout(format!("WebSocket to {url}"), connect_timeout))?
            .map_err(|e| ClientError::WebSocket(e.to_string()))?;
        debug!(url, "signaling connected");
        let (tx, rx) = mpsc::unbounded_channel();
        let (ice_tx, ice_servers) = watch::channel(None);
        let task = Task {
            rx,
            events,
            media,
            next_id: 1,
            pending: HashMap::new(),
            me: None,
            ice_servers: ice_tx,
        };
        tokio::spawn(task.run(ws));
        Ok(Signal {
            tx,
            request_timeout,
            ice_servers,
        })
    }

    /// The `ice_servers` of this connection's `joined` event (none before it came).
    pub(crate) fn ice_servers(&self) -> Vec<IceServer> {
        self.ice_servers.borrow().clone().unwrap_or_default()
    }

    /// The `ice_servers` of the `joined` event, waiting for it at most `timeout` (none if it
    /// did not come).
    pub(crate) async fn wait_ice_servers(&self, timeout: Duration) -> Vec<IceServer> {
        let mut rx = self.ice_servers.clone();
        match tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await {
            Ok(Ok(servers)) => servers.clone().unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Sends `body` and waits for its reply, at most the request timeout.
    pub(crate) async fn request(&self, body: ClientBody) -> Reply {
        let what = body.name();
        let (reply_tx, reply_rx) = oneshot::channel();
        self.send(body, Waiter::Caller(reply_tx))?;
        match tokio::time::timeout(self.request_timeout, reply_rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(ClientError::Disconnected(format!(
                "no reply to {what}: connection closed"
            ))),
            Err(_) => Err(ClientError::timeout(
                format!("the reply to {what}"),
                self.request_timeout,
            )),
        }
    }

    /// Sends `body`; its reply goes to the media peer.
    pub(crate) fn request_for_media(&self, body: ClientBody) -> Result<()> {
        self.send(body, Waiter::Media)
    }

    /// Sends `body` and forgets about the reply (a refusal is logged).
    pub(crate) fn request_detached(&self, body: ClientBody) -> Result<()> {
        let what = body.name();
        self.send(body, Waiter::Detached(what))
    }

    /// Closes the WebSocket (no `leave`): the server sees the connection drop.
    pub(crate) fn close(&self) {
        let _ = self.tx.send(Outgoing::Close);
    }

    fn send(&self, body: ClientBody, waiter: Waiter) -> Result<()> {
        self.tx
            .send(Outgoing::Request { body, waiter })
            .map_err(|_| ClientError::Disconnected("signaling connection closed".into()))
    }
}

struct Task {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    events: mpsc::Sender<ClientEvent>,
    media: mpsc::UnboundedSender<ToMedia>,
    next_id: u64,
    pending: HashMap<u64, Waiter>,
    /// This peer, once a `joined` reply said so: events about its own tracks go to media.
    me: Option<PeerId>,
    ice_servers: watch::Sender<Option<Vec<IceServer>>>,
}

impl Task {
    async fn run<S>(mut self, mut ws: tokio_tungstenite::WebSocketStream<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let reason = loop {
            tokio::select! {
                out = self.rx.recv() => match out {
                    Some(Outgoing::Request { body, waiter }) => {
                        let id = self.next_id;
                        self.next_id += 1;
                        let text = match serde_json::to_string(&ClientMessage { id, body }) {
                            Ok(text) => text,
                            Err(e) => {
                                self.fail(waiter, ClientError::Protocol(format!("encode: {e}")));
                                continue;
                            }
                        };
                        trace!(id, %text, "send");
                        self.pending.retain(|_, w| !matches!(w, Waiter::Caller(tx) if tx.is_closed()));
                        self.pending.insert(id, waiter);
                        if let Err(e) = ws.send(Message::text(text)).await {
                            break format!("send failed: {e}");
                        }
                    }
                    Some(Outgoing::Close) | None => {
                        let _ = ws.close(None).await;
                        break "closed by the client".to_owned();
                    }
                },
                incoming = ws.next() => match incoming {
                    Some(Ok(Message::Text(text))) => self.on_text(text.as_str()),
                    Some(Ok(Message::Close(frame))) => {
                        break format!("closed by the server: {frame:?}");
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("receive failed: {e}"),
                    None => break "connection ended".to_owned(),
                },
            }
        };
        info!(peer = ?self.me, %reason, "signaling closed");
        for (_, waiter) in self.pending.drain() {
            let e = ClientError::Disconnected(reason.clone());
            match waiter {
                Waiter::Caller(tx) => {
                    let _ = tx.send(Err(e));
                }
                Waiter::Media => {
                    let _ = self.media.send(ToMedia::OfferReply(Err(e)));
                }
                Waiter::Detached(_) => {}
            }
        }
        self.emit(ClientEvent::Disconnected { reason });
    }

    fn on_text(&mut self, text: &str) {
        trace!(%text, "receive");
        let msg: ServerMessage = match serde_json::from_str(text) {
            Ok(msg) => msg,
            Err(e) => {
                warn!(error = %e, %text, "unreadable server message");
                return;
            }
        };
        match msg {
            ServerMessage::Reply {
                id,
                ok,
                data,
                error,
            } => {
                let reply = match (ok, error) {
                    (true, _) => Ok(data),
                    (false, Some(body)) => Err(ClientError::Refused(body)),
                    (false, None) => Err(ClientError::Protocol(format!(
                        "reply {id} is not ok but carries no error"
                    ))),
                };
                if let Ok(Some(ReplyData::Joined { peer_id, .. })) = &reply {
                    self.me = Some(*peer_id);
                }
                match self.pending.remove(&id) {
                    Some(waiter) => self.deliver(id, waiter, reply),
                    None => debug!(id, "reply nobody waits for"),
                }
            }
            ServerMessage::Event { event } => {
                // Before the event is emitted: whoever sees it may read the servers.
                if let ServerEvent::Joined { ice_servers, .. } = &event {
                    self.ice_servers.send_replace(Some(ice_servers.clone()));
                }
                self.route_own_track_event(&event);
                self.emit(ClientEvent::Server(event));
            }
            ServerMessage::Offer { sdp } => {
                let _ = self.media.send(ToMedia::Offer { sdp });
            }
            ServerMessage::Slot { mid, track } => {
                let _ = self.media.send(ToMedia::Slot {
                    mid: mid.clone(),
                    track: track.clone(),
                });
                self.emit(ClientEvent::Slot { mid, track });
            }
            ServerMessage::Error { error } => {
                warn!(code = %error.code, message = %error.message, "server error");
                self.emit(ClientEvent::Error(error));
            }
        }
    }

    fn route_own_track_event(&self, event: &ServerEvent) {
        let Some(me) = self.me else { return };
        let to_media = match event {
            ServerEvent::TrackMuted {
                peer_id,
                track_id,
                muted,
                ..
            } if *peer_id == me => ToMedia::OwnTrackMuted {
                track: *track_id,
                muted: *muted,
            },
            ServerEvent::TrackUnpublished {
                peer_id, track_id, ..
            } if *peer_id == me => ToMedia::OwnTrackEnded { track: *track_id },
            _ => return,
        };
        let _ = self.media.send(to_media);
    }

    fn deliver(&self, id: u64, waiter: Waiter, reply: Reply) {
        match waiter {
            Waiter::Caller(tx) => {
                if tx.send(reply).is_err() {
                    debug!(id, "reply after the caller gave up");
                }
            }
            Waiter::Media => {
                let _ = self.media.send(ToMedia::OfferReply(reply));
            }
            Waiter::Detached(what) => {
                if let Err(e) = reply {
                    warn!(id, what, error = %e, "request refused");
                }
            }
        }
    }

    fn fail(&self, waiter: Waiter, e: ClientError) {
        self.deliver(0, waiter, Err(e));
    }

    fn emit(&self, event: ClientEvent) {
        if let Err(mpsc::error::TrySendError::Full(e)) = self.events.try_send(event) {
            warn!(event = ?e, "event stream full: event dropped");
        }
    }
}
