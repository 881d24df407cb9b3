//! One signaling text frame: `client_frame::parse` and `ClientMessage`'s serde.
//!
//! Properties: the frame parser agrees with plain serde on what is a message; an accepted
//! message serializes and parses back to itself; a refusal is `malformed_request` or
//! `unknown_command`, is a `reply` exactly when the frame has a numeric top-level `id` (and to
//! that id), and its text is clean.

use caucus_proto::ErrorCode;
use caucus_proto::signal::ClientMessage;
use caucus_server::client_frame::{self, FrameError};
use serde_json::Value;

use crate::leak::assert_clean;

pub fn run(data: &[u8]) {
    let direct = serde_json::from_slice::<ClientMessage>(data);
    if let Ok(message) = &direct {
        round_trip(message);
    }
    // A WebSocket text frame is UTF-8 by the time it reaches the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match client_frame::parse(text) {
        Ok(message) => {
            assert_eq!(
                direct.as_ref().ok(),
                Some(&message),
                "parse and serde disagree"
            );
            round_trip(&message);
        }
        Err(refusal) => {
            assert!(
                direct.is_err(),
                "serde accepts what parse refuses: {text:?}"
            );
            let id = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_u64));
            let error = match refusal {
                FrameError::Unreadable(error) => {
                    assert_eq!(id, None, "a frame with id {id:?} answered without a reply");
                    error
                }
                FrameError::Refused { id: replied, error } => {
                    assert_eq!(Some(replied), id, "the reply goes to another id");
                    error
                }
            };
            assert!(
                matches!(
                    error.code,
                    ErrorCode::MalformedRequest | ErrorCode::UnknownCommand
                ),
                "unexpected code {:?}",
                error.code
            );
            assert_clean(&error.message, data);
            // The refusal itself goes out as JSON.
            let wire = serde_json::to_string(&error).expect("an error body serializes");
            assert!(wire.contains(error.code.as_str()));
        }
    }
}

fn round_trip(message: &ClientMessage) {
    let text = serde_json::to_string(message).expect("a message serializes");
    match client_frame::parse(&text) {
        Ok(again) => assert_eq!(&again, message, "round trip changed the message: {text}"),
        Err(e) => panic!("a serialized message does not parse back: {text}: {e:?}"),
    }
}
