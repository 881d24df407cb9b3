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

macro_rules! chosen_id {
    ($(#[$doc:meta])* $name:ident) => {
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
    RoomId
);
chosen_id!(
    /// The application's id for a person, taken from the join token. Stable across reconnects
    /// and known before the person joins (pre-assignments use it).
    UserId
);
chosen_id!(
    /// The name of a role inside a template, e.g. `host`.
    RoleName
);
chosen_id!(
    /// A template, e.g. the built-in `breakout`.
    TemplateId
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
