//! Identifier newtypes. Ids never cross a module boundary as bare strings or integers.
//!
//! Two families:
//! - *chosen* ids (rooms, users, roles, templates) are names picked by people or applications and
//!   are strings;
//! - *issued* ids (peers, tracks, breakouts, requests, help tickets) are handed out by a session
//!   from a counter. They are integers inside and prefixed strings on the wire (`p7`, `t3`, `b2`),
//!   so that a peer id can never be mistaken for a breakout id in a URL or a log line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ErrorBody, ErrorCode};

/// A chosen id that does not follow [`check_chosen`]'s rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    /// What kind of id it was meant to be (`room`, `user`, …; empty when it could be several).
    pub kind: &'static str,
    /// The longest id of that kind, in bytes.
    pub max_len: usize,
}

impl InvalidId {
    /// The refusal a client is sent: always `invalid_id`, with the input at fault. The id
    /// itself is not repeated: it may hold anything, control characters included.
    pub fn into_body(self, field: impl Into<String>) -> ErrorBody {
        ErrorBody::new(ErrorCode::InvalidId, self.to_string()).with_field(field)
    }
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.kind.is_empty() {
            write!(f, "{} ", self.kind)?;
        }
        write!(
            f,
            "ids are 1 to {} ASCII letters, digits, `-`, `_` or `.`, with `.` never first or last",
            self.max_len
        )
    }
}

impl std::error::Error for InvalidId {}

/// The rule of every chosen id that can reach a file path, a URL or a token: ASCII letters,
/// digits, `-` and `_`, and `.` only between two other characters (so never `.`, `..` or a
/// hidden file name), 1 to `max_len` bytes.
pub fn check_chosen(kind: &'static str, max_len: usize, id: &str) -> Result<(), InvalidId> {
    let bytes = id.as_bytes();
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
    let ok = !bytes.is_empty()
        && bytes.len() <= max_len
        && bytes.iter().all(|b| plain(b) || *b == b'.')
        && bytes.first().is_some_and(plain)
        && bytes.last().is_some_and(plain);
    if ok {
        Ok(())
    } else {
        Err(InvalidId { kind, max_len })
    }
}

macro_rules! chosen_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The longest id of this kind, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Whether `id` follows the rule ([`check_chosen`]).
            pub fn check(id: &str) -> Result<(), InvalidId> {
                check_chosen($kind, $max, id)
            }

            /// An id from outside (a request, a token, a flag), checked against the rule.
            pub fn parse(id: &str) -> Result<Self, InvalidId> {
                Self::check(id).map(|()| Self(id.to_owned()))
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

chosen_id!(
    /// A durable room, e.g. `demo`.
    RoomId, "room", 64
);
chosen_id!(
    /// The application's id for a person, taken from the join token. Stable across reconnects
    /// and known before the person joins (pre-assignments use it).
    UserId, "user", 128
);
chosen_id!(
    /// The name of a role inside a template, e.g. `host`.
    RoleName, "role", 64
);
chosen_id!(
    /// A template, e.g. the built-in `breakout`.
    TemplateId, "template", 64
);

/// The id string did not have the expected prefix and number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    pub kind: &'static str,
    pub input: String,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a {} id", self.input, self.kind)
    }
}

impl std::error::Error for ParseIdError {}

macro_rules! issued_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u64);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub const fn new(value: u64) -> Self {
                Self(value)
            }

            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.strip_prefix($prefix)
                    .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|digits| digits.parse().ok())
                    .map(Self)
                    .ok_or_else(|| ParseIdError { kind: $kind, input: s.to_owned() })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

issued_id!(
    /// One connected participant of a session. Survives a reconnect within the grace period.
    PeerId, "p", "peer"
);
issued_id!(
    /// One published source of a peer.
    TrackId, "t", "track"
);
issued_id!(
    /// One breakout room of a session's breakout set.
    BreakoutId, "b", "breakout"
);
issued_id!(
    /// A pending request to a peer (role change, move, unmute) that the peer accepts or rejects.
    RequestId, "r", "request"
);
issued_id!(
    /// An entry of the breakout help queue.
    HelpId, "h", "help"
);
issued_id!(
    /// A recording of one location. Unlike the other issued ids it is unique across sessions
    /// and restarts (the shell issues it; `GET /v1/recordings/{id}` finds it later).
    RecordingId, "rec", "recording"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_ids_are_a_safe_alphabet_with_inner_dots() {
        for good in ["demo", "team-sync_2", "a.b", "v1.2.3", "A", &"x".repeat(64)] {
            assert_eq!(
                RoomId::parse(good).map(|r| r.to_string()),
                Ok(good.to_owned())
            );
        }
        let refused = [
            "",
            ".",
            "..",
            ".hidden",
            "trailing.",
            "../secret",
            "a/b",
            "a\\b",
            "no spaces",
            "a\0b",
            "\u{1b}[31m",
            "caf\u{e9}",
            "a\u{202e}b",
            &"x".repeat(65),
        ];
        for bad in refused {
            let err = bad.parse::<RoomId>().unwrap_err();
            assert_eq!(err.kind, "room", "{bad:?}");
            let body = err.into_body("room");
            assert_eq!(body.code, ErrorCode::InvalidId, "{bad:?}");
            assert_eq!(body.field.as_deref(), Some("room"));
        }
        // User ids may be longer: applications often use long opaque ids.
        assert!(UserId::parse(&"u".repeat(128)).is_ok());
        assert!(UserId::parse(&"u".repeat(129)).is_err());
        assert!(UserId::parse("ana@example.com").is_err());
    }

    #[test]
    fn issued_ids_round_trip_with_their_prefix() {
        let id = PeerId::new(42);
        assert_eq!(id.to_string(), "p42");
        assert_eq!("p42".parse::<PeerId>(), Ok(id));
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"p42\"");
        assert_eq!(serde_json::from_str::<PeerId>("\"p42\"").unwrap(), id);
    }

    #[test]
    fn issued_ids_refuse_the_wrong_kind_and_junk() {
        assert!("b42".parse::<PeerId>().is_err());
        assert!("p".parse::<PeerId>().is_err());
        assert!("p-1".parse::<PeerId>().is_err());
        assert!("p+1".parse::<PeerId>().is_err());
        assert!("p99999999999999999999999".parse::<PeerId>().is_err());
        assert!(serde_json::from_str::<BreakoutId>("\"p1\"").is_err());
        assert!(serde_json::from_str::<BreakoutId>("7").is_err());
        assert_eq!("rec12".parse::<RecordingId>(), Ok(RecordingId::new(12)));
        assert!("rec12".parse::<RequestId>().is_err());
        assert!("r12".parse::<RecordingId>().is_err());
    }
}
