//! Everything that can go wrong for a client, as one error type.

use std::time::Duration;

use caucus_proto::{ErrorBody, ErrorCode};

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error: its stable code, message and field.
    #[error("refused: {} ({})", .0.code, .0.message)]
    Refused(ErrorBody),
    /// Nothing came within the allowed time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: Duration },
    /// The WebSocket could not be opened, or failed.
    #[error("websocket: {0}")]
    WebSocket(String),
    /// The signaling connection is gone (closed by either side, or the client was closed).
    #[error("disconnected: {0}")]
    Disconnected(String),
    /// The server said something the protocol does not allow here.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The media peer failed (SDP, str0m, socket).
    #[error("media: {0}")]
    Media(String),
    /// The client was built without media, or the media peer has stopped.
    #[error("no media peer")]
    NoMedia,
    /// No TURN relay could be allocated (relay-only), or it was lost.
    #[error("turn: {0}")]
    Turn(#[from] crate::turn::TurnError),
    /// The source is not being published by this client.
    #[error("not publishing {0}")]
    NotPublishing(caucus_proto::Source),
}

impl ClientError {
    /// The server's error code, for `Refused`.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused(body) => Some(body.code),
            _ => None,
        }
    }

    pub(crate) fn timeout(what: impl Into<String>, after: Duration) -> ClientError {
        ClientError::Timeout {
            what: what.into(),
            after,
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Media(format!("socket: {e}"))
    }
}

/// Result of every client call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
