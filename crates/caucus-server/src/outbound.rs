//! What a room (or the connection itself) hands a connection task to write to its socket.
//!
//! Frames are serialized once by the sender and shared ([`Utf8Bytes`] clones are reference
//! counted), so an event for a hundred peers is one `serde_json` call, not a hundred. The
//! queue towards each connection is bounded; a room never waits on it — a connection that
//! cannot keep up is dropped (see [`OutboundSender::push`]).

use axum::extract::ws::Utf8Bytes;
use caucus_proto::ServerEvent;
use caucus_proto::signal::ServerMessage;
use serde::Serialize;
use tokio::sync::mpsc;

/// One thing to do on a socket.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Write this text frame.
    Frame(Utf8Bytes),
    /// Send a close frame with this code and reason, then end the connection.
    Close { code: u16, reason: &'static str },
}

/// The sending side of a connection's queue.
#[derive(Debug, Clone)]
pub struct OutboundSender(mpsc::Sender<Outbound>);

/// The queue is full or the connection is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undeliverable;

impl OutboundSender {
    pub fn channel(capacity: usize) -> (OutboundSender, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (OutboundSender(tx), rx)
    }

    /// Queue without waiting. `Err` means the connection is too slow or gone; the caller
    /// drops it rather than letting one peer hold up a room.
    pub fn push(&self, item: Outbound) -> Result<(), Undeliverable> {
        self.0.try_send(item).map_err(|_| Undeliverable)
    }
}

/// Serialize a server message into a frame.
pub fn frame(message: &ServerMessage) -> Utf8Bytes {
    to_frame(message)
}

/// Serialize `{"type": "event", "event": …}` without cloning the shared event.
pub fn event_frame(event: &ServerEvent) -> Utf8Bytes {
    #[derive(Serialize)]
    #[serde(tag = "type", rename = "event")]
    struct EventFrame<'a> {
        event: &'a ServerEvent,
    }
    to_frame(&EventFrame { event })
}

fn to_frame<T: Serialize>(value: &T) -> Utf8Bytes {
    match serde_json::to_string(value) {
        Ok(text) => Utf8Bytes::from(text),
        // Our own types always serialize (no maps with non-string keys, no failing impls).
        Err(e) => {
            tracing::error!(error = %e, "a server message did not serialize");
            Utf8Bytes::from_static(
                r#"{"type":"error","error":{"code":"invalid_value","message":"internal serialization error"}}"#,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_frame_is_a_server_message() {
        let event = ServerEvent::RoomLocked { locked: true };
        let ours: serde_json::Value = serde_json::from_str(event_frame(&event).as_str()).unwrap();
        let theirs = serde_json::to_value(ServerMessage::Event { event }).unwrap();
        assert_eq!(ours, theirs);
    }
}
