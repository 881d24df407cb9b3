//! Reading one client text frame: a [`ClientMessage`], or a refusal that says why.
//!
//! A frame that does not parse is still answered as precisely as possible: when its `id` is
//! readable the refusal is a `reply` to that id, otherwise a bare `error`; an unknown `type`
//! (of the message, of a command, or of a breakout `op`) is `unknown_command`, anything else
//! `malformed_request` with serde's explanation.

use caucus_proto::signal::{BreakoutCommand, ClientBody, ClientMessage, PeerCommand};
use caucus_proto::{ErrorBody, ErrorCode};
use serde_json::Value;

/// Every client message `type`.
pub const CLIENT_TYPES: &[&str] = ClientBody::NAMES;

/// Every `command.type`.
pub const PEER_COMMANDS: &[&str] = PeerCommand::NAMES;

/// Every `command.op` of a `breakouts` command.
pub const BREAKOUT_OPS: &[&str] = BreakoutCommand::NAMES;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// No readable `id`: answered with a bare `error` message.
    Unreadable(ErrorBody),
    /// Answered with a `reply` to `id`.
    Refused { id: u64, error: ErrorBody },
}

/// Parse one text frame.
pub fn parse(text: &str) -> Result<ClientMessage, FrameError> {
    let serde_error = match serde_json::from_str::<ClientMessage>(text) {
        Ok(message) => return Ok(message),
        Err(e) => e,
    };
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Err(FrameError::Unreadable(body(
            ErrorCode::MalformedRequest,
            format!("not a JSON object: {serde_error}"),
            None,
        )));
    };
    let error = classify(&object)
        .unwrap_or_else(|| body(ErrorCode::MalformedRequest, serde_error.to_string(), None));
    match object.get("id").and_then(Value::as_u64) {
        Some(id) => Err(FrameError::Refused { id, error }),
        None => Err(FrameError::Unreadable(error)),
    }
}

/// An unknown or missing tag, if that is what is wrong.
fn classify(object: &serde_json::Map<String, Value>) -> Option<ErrorBody> {
    if object.get("id").and_then(Value::as_u64).is_none() {
        return Some(body(
            ErrorCode::MalformedRequest,
            "every message needs a numeric `id`".to_owned(),
            Some("id"),
        ));
    }
    let Some(kind) = object.get("type").and_then(Value::as_str) else {
        return Some(body(
            ErrorCode::MalformedRequest,
            "every message needs a `type`".to_owned(),
            Some("type"),
        ));
    };
    if !CLIENT_TYPES.contains(&kind) {
        return Some(unknown("type", kind));
    }
    if kind != "command" {
        return None;
    }
    let command = object.get("command")?;
    let command_type = command.get("type").and_then(Value::as_str)?;
    if !PEER_COMMANDS.contains(&command_type) {
        return Some(unknown("command.type", command_type));
    }
    if command_type != "breakouts" {
        return None;
    }
    let op = command.get("op").and_then(Value::as_str)?;
    (!BREAKOUT_OPS.contains(&op)).then(|| unknown("command.op", op))
}

fn unknown(field: &str, name: &str) -> ErrorBody {
    body(
        ErrorCode::UnknownCommand,
        format!("unknown {field} `{name}`"),
        Some(field),
    )
}

fn body(code: ErrorCode, message: String, field: Option<&str>) -> ErrorBody {
    ErrorBody {
        code,
        message,
        field: field.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> (Option<u64>, ErrorCode) {
        match parse(text) {
            Ok(m) => panic!("parsed: {m:?}"),
            Err(FrameError::Unreadable(e)) => (None, e.code),
            Err(FrameError::Refused { id, error }) => (Some(id), error.code),
        }
    }

    #[test]
    fn refusals_are_as_precise_as_the_frame_allows() {
        assert_eq!(code("not json"), (None, ErrorCode::MalformedRequest));
        assert_eq!(code("[1, 2]"), (None, ErrorCode::MalformedRequest));
        assert_eq!(
            code(r#"{"type": "ping"}"#),
            (None, ErrorCode::MalformedRequest)
        );
        assert_eq!(
            code(r#"{"id": 3, "type": "dance"}"#),
            (Some(3), ErrorCode::UnknownCommand)
        );
        assert_eq!(
            code(r#"{"id": 4, "type": "command", "command": {"type": "fly"}}"#),
            (Some(4), ErrorCode::UnknownCommand)
        );
        assert_eq!(
            code(r#"{"id": 5, "type": "command", "command": {"type": "breakouts", "op": "melt"}}"#),
            (Some(5), ErrorCode::UnknownCommand)
        );
        assert_eq!(
            code(r#"{"id": 6, "type": "publish", "source": "hologram", "mid": "0"}"#),
            (Some(6), ErrorCode::MalformedRequest)
        );
        assert_eq!(
            code(r#"{"id": 7, "type": "offer"}"#),
            (Some(7), ErrorCode::MalformedRequest)
        );
    }

    #[test]
    fn every_listed_name_is_a_real_tag() {
        let probes = CLIENT_TYPES
            .iter()
            .map(|t| format!(r#"{{"id": 1, "type": "{t}"}}"#))
            .chain(
                PEER_COMMANDS
                    .iter()
                    .map(|t| format!(r#"{{"id": 1, "type": "command", "command": {{"type": "{t}"}}}}"#)),
            )
            .chain(BREAKOUT_OPS.iter().map(|op| {
                format!(r#"{{"id": 1, "type": "command", "command": {{"type": "breakouts", "op": "{op}"}}}}"#)
            }));
        for probe in probes {
            if let Err(e) = serde_json::from_str::<ClientMessage>(&probe) {
                assert!(!e.to_string().contains("unknown variant"), "{probe}: {e}");
            }
        }
    }
}
