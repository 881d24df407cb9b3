//! Stable error codes and the error envelope of the REST API and the signaling channel.
//!
//! A code is part of the contract: clients branch on it, so a code is never renamed and its
//! HTTP status never changes. The human sentence beside it may be improved freely.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($variant:ident => $code:literal, $status:literal;)*) => {
        /// Every reason Caucus refuses something. Serialized as its `snake_case` code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, for documentation and exhaustive tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable `snake_case` code.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status a REST response with this code carries.
            pub const fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }
        }
    };
}

error_codes! {
    // 400: the request could not be read.
    MalformedRequest => "malformed_request", 400;
    UnknownCommand => "unknown_command", 400;
    // 401: who are you?
    Unauthorized => "unauthorized", 401;
    TokenExpired => "token_expired", 401;
    TokenInvalid => "token_invalid", 401;
    // 403: you may not.
    NotPermitted => "not_permitted", 403;
    PublishNotAllowed => "publish_not_allowed", 403;
    RoomLocked => "room_locked", 403;
    WrongPassword => "wrong_password", 403;
    SelfSelectDisabled => "self_select_disabled", 403;
    ReturnToMainDisabled => "return_to_main_disabled", 403;
    NotRequestTarget => "not_request_target", 403;
    // 404: no such thing.
    UnknownRoom => "unknown_room", 404;
    UnknownTemplate => "unknown_template", 404;
    UnknownRole => "unknown_role", 404;
    UnknownPeer => "unknown_peer", 404;
    UnknownTrack => "unknown_track", 404;
    UnknownBreakout => "unknown_breakout", 404;
    UnknownRequest => "unknown_request", 404;
    UnknownHelp => "unknown_help", 404;
    UnknownRecording => "unknown_recording", 404;
    UnknownFile => "unknown_file", 404;
    UnknownInvite => "unknown_invite", 404;
    NotFound => "not_found", 404;
    // 405: the path exists, the method does not.
    MethodNotAllowed => "method_not_allowed", 405;
    // 409: the state does not allow it now.
    StaleVersion => "stale_version", 409;
    SessionEnded => "session_ended", 409;
    RoleFull => "role_full", 409;
    BreakoutFull => "breakout_full", 409;
    BreakoutsNotOpen => "breakouts_not_open", 409;
    BreakoutsClosing => "breakouts_closing", 409;
    BreakoutClosed => "breakout_closed", 409;
    NoTimer => "no_timer", 409;
    AlreadyThere => "already_there", 409;
    AlreadyExists => "already_exists", 409;
    NotConnected => "not_connected", 409;
    CapacityExceeded => "capacity_exceeded", 409;
    TemplateInUse => "template_in_use", 409;
    // 410: it existed, and is no longer usable.
    InviteExpired => "invite_expired", 410;
    InviteRevoked => "invite_revoked", 410;
    InviteUsedUp => "invite_used_up", 410;
    // 413: too big.
    PayloadTooLarge => "payload_too_large", 413;
    // 422: well-formed, but the values make no sense.
    InvalidValue => "invalid_value", 422;
    InvalidName => "invalid_name", 422;
    InvalidId => "invalid_id", 422;
    DuplicateName => "duplicate_name", 422;
    InvalidCaps => "invalid_caps", 422;
    UnknownRoleReference => "unknown_role_reference", 422;
    // 429: slow down.
    RateLimited => "rate_limited", 429;
    // 5xx: the server's fault, never the request's.
    StorageFailed => "storage_failed", 500;
    ShuttingDown => "shutting_down", 503;
    TooManyConnections => "too_many_connections", 503;
}

impl ErrorCode {
    /// The server failed, whatever the request was; every other code is the client's mistake.
    pub const fn is_server_fault(self) -> bool {
        matches!(
            self,
            ErrorCode::StorageFailed | ErrorCode::ShuttingDown | ErrorCode::TooManyConnections
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// A refusal: a stable code, a human sentence and, where one input was at fault, its path.
///
/// The one refusal type from the core (where it is called `Denial`) to the REST API and the
/// signaling replies: nothing on the way turns it into text and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The input at fault, as a dotted path (`roles.host.priority`).
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_stable_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *code);
        }
    }

    #[test]
    fn no_client_mistake_is_a_server_error() {
        for code in ErrorCode::ALL {
            let client = (400..500).contains(&code.http_status());
            assert_eq!(
                client,
                !code.is_server_fault(),
                "{code} has the wrong class of status"
            );
        }
    }

    #[test]
    fn envelope_has_the_documented_shape() {
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: ErrorCode::StaleVersion,
                message: "the breakout set changed".into(),
                field: Some("version".into()),
            },
        };
        let value = serde_json::to_value(&envelope).unwrap();
        assert_eq!(value["error"]["code"], "stale_version");
        assert_eq!(value["error"]["field"], "version");
    }
}
