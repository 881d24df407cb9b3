//! What a client is told, and the stream a test awaits it on.

use std::collections::VecDeque;
use std::time::Duration;

use caucus_proto::signal::RemoteTrack;
use caucus_proto::{ErrorBody, ServerEvent};
use tokio::sync::mpsc;
use tracing::warn;

use crate::error::{ClientError, Result};

/// Unconsumed events a [`EventStream::wait_for`] may skip over and keep for later; beyond
/// this the oldest are dropped.
const KEEP: usize = 4096;

/// Something pushed by the server, or a change of the client's own connections.
// Not boxed: events are few (not per packet), and tests match on them by shape.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A session event (`event` message).
    Server(ServerEvent),
    /// Receive slot `mid` now carries `track` (or nothing).
    Slot {
        mid: String,
        track: Option<RemoteTrack>,
    },
    /// The server renegotiated and the client answered.
    Renegotiated,
    /// An `error` message not tied to a request.
    Error(ErrorBody),
    /// ICE and DTLS are up.
    MediaConnected,
    /// ICE lost the server (or the media peer stopped).
    MediaDisconnected,
    /// The signaling connection closed; a `reconnect` may follow.
    Disconnected { reason: String },
}

impl ClientEvent {
    /// The session event inside, if this is one.
    pub fn server(&self) -> Option<&ServerEvent> {
        match self {
            ClientEvent::Server(e) => Some(e),
            _ => None,
        }
    }
}

/// The events of one client, in arrival order, across reconnects.
///
/// `wait_for` takes the *first* matching event and leaves the others for later waits, so a
/// test can wait for A then B even if B arrived first. An event matched once is gone; call
/// [`EventStream::clear`] before an action to ignore what came earlier.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<ClientEvent>,
    kept: VecDeque<ClientEvent>,
}

impl EventStream {
    pub(crate) fn new(rx: mpsc::Receiver<ClientEvent>) -> EventStream {
        EventStream {
            rx,
            kept: VecDeque::new(),
        }
    }

    /// The next event, waiting at most `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Result<ClientEvent> {
        if let Some(e) = self.kept.pop_front() {
            return Ok(e);
        }
        self.recv_within(timeout, "the next event").await
    }

    /// The next event, or `None` once the client is gone. For consumers that read everything
    /// (the load generator).
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        match self.kept.pop_front() {
            Some(e) => Some(e),
            None => self.rx.recv().await,
        }
    }

    /// The first event (kept or new) for which `matches` holds, waiting at most `timeout`.
    pub async fn wait_for(
        &mut self,
        mut matches: impl FnMut(&ClientEvent) -> bool,
        timeout: Duration,
    ) -> Result<ClientEvent> {
        self.wait_map(|e| matches(e).then(|| e.clone()), timeout)
            .await
    }

    /// Like [`wait_for`](Self::wait_for) for session events, handing back what `pick` takes
    /// out of the first one it accepts:
    ///
    /// ```ignore
    /// let id = events.wait_server(|e| match e {
    ///     ServerEvent::PeerJoined { peer } => Some(peer.id),
    ///     _ => None,
    /// }, T).await?;
    /// ```
    pub async fn wait_server<T>(
        &mut self,
        mut pick: impl FnMut(&ServerEvent) -> Option<T>,
        timeout: Duration,
    ) -> Result<T> {
        self.wait_map(|e| e.server().and_then(&mut pick), timeout)
            .await
    }

    /// The general form: the first event `pick` accepts, mapped.
    pub async fn wait_map<T>(
        &mut self,
        mut pick: impl FnMut(&ClientEvent) -> Option<T>,
        timeout: Duration,
    ) -> Result<T> {
        if let Some(i) = self.kept.iter().position(|e| pick(e).is_some())
            && let Some(e) = self.kept.remove(i)
            && let Some(t) = pick(&e)
        {
            return Ok(t);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = self
                .recv_within(left, "a matching event")
                .await
                .map_err(|e| match e {
                    ClientError::Timeout { what, .. } => ClientError::Timeout {
                        what: format!("{what}; unmatched: {:?}", self.kept),
                        after: timeout,
                    },
                    other => other,
                })?;
            if let Some(t) = pick(&e) {
                return Ok(t);
            }
            self.keep(e);
        }
    }

    /// Everything that has arrived and not been taken, oldest first, without waiting.
    pub fn drain(&mut self) -> Vec<ClientEvent> {
        while let Ok(e) = self.rx.try_recv() {
            self.keep(e);
        }
        self.kept.drain(..).collect()
    }

    /// Forgets everything that has arrived so far.
    pub fn clear(&mut self) {
        self.drain();
    }

    fn keep(&mut self, e: ClientEvent) {
        if self.kept.len() == KEEP
            && let Some(old) = self.kept.pop_front()
        {
            warn!(event = ?old, "event stream full: dropping the oldest unmatched event");
        }
        self.kept.push_back(e);
    }

    async fn recv_within(&mut self, timeout: Duration, what: &str) -> Result<ClientEvent> {
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Err(ClientError::Disconnected("the client is gone".into())),
            Err(_) => Err(ClientError::timeout(what, timeout)),
        }
    }
}
