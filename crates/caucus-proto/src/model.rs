//! Values of the session model shared by the core, the server and the clients.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{BreakoutId, PeerId, RoleName, TrackId};

/// A kind of published media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Audio,
    Video,
    Screen,
    ScreenAudio,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Audio,
        Source::Video,
        Source::Screen,
        Source::ScreenAudio,
    ];

    /// The publish permission that governs this source: a screen's audio rides on `screen`.
    pub const fn publish_class(self) -> Source {
        match self {
            Source::ScreenAudio => Source::Screen,
            other => other,
        }
    }

    /// Whether the source carries sound (what a broadcast lets cross into every location).
    pub const fn is_audio(self) -> bool {
        matches!(self, Source::Audio | Source::ScreenAudio)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Audio => "audio",
            Source::Video => "video",
            Source::Screen => "screen",
            Source::ScreenAudio => "screen_audio",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a peer stands: the main room or one breakout room. On the wire: `"main"` or `"b3"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Location {
    #[default]
    Main,
    Breakout(BreakoutId),
}

impl Location {
    pub const fn is_breakout(self) -> bool {
        matches!(self, Location::Breakout(_))
    }

    pub const fn breakout(self) -> Option<BreakoutId> {
        match self {
            Location::Main => None,
            Location::Breakout(id) => Some(id),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Main => f.write_str("main"),
            Location::Breakout(id) => id.fmt(f),
        }
    }
}

impl std::str::FromStr for Location {
    type Err = crate::ids::ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "main" {
            Ok(Location::Main)
        } else {
            s.parse()
                .map(Location::Breakout)
                .map_err(|_| crate::ids::ParseIdError {
                    kind: "location",
                    input: s.to_owned(),
                })
        }
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One published track of one peer: the unit of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrackKey {
    pub peer: PeerId,
    pub track: TrackId,
}

/// The lifecycle of a session's breakout set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Rooms and assignments are being prepared; everyone stands in main.
    #[default]
    Draft,
    /// Rooms are open: peers are in them or invited to them.
    Open,
    /// Every room counts down to closing.
    Closing,
    /// Rooms are closed and everyone is back in main; the plan is kept for next time.
    Closed,
}

/// What a breakout room sees of the main room.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Nothing crosses the room's boundary.
    #[default]
    Isolated,
    /// The room keeps receiving the main room's tracks of these roles ("watch the main stage").
    MainStage { roles: Vec<RoleName> },
}

/// Session-wide breakout options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakoutOptions {
    /// Peers with `self_select_breakout` may pick a room themselves.
    pub allow_self_select: bool,
    /// Peers in a breakout may go back to main by themselves.
    pub allow_return_to_main: bool,
    /// Opening moves assigned peers at once; otherwise they are invited and choose when to go.
    pub auto_move_on_open: bool,
    /// Seconds of countdown when rooms close.
    pub countdown_s: u32,
    /// When set, opening starts a timer of this many seconds after which rooms close.
    pub duration_s: Option<u32>,
    /// Seconds before the timer ends at which everyone is warned.
    pub warning_s: u32,
}

impl Default for BreakoutOptions {
    fn default() -> Self {
        Self {
            allow_self_select: false,
            allow_return_to_main: true,
            auto_move_on_open: true,
            countdown_s: 30,
            duration_s: None,
            warning_s: 60,
        }
    }
}

/// Whom a chat message is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatTarget {
    /// Everyone standing in this location.
    Location(Location),
    /// Every peer holding this role, wherever it stands.
    Role(RoleName),
    /// One peer, wherever it stands.
    PeerId(PeerId),
    /// Every location (needs `broadcast`).
    Everyone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_a_plain_string_on_the_wire() {
        assert_eq!(serde_json::to_string(&Location::Main).unwrap(), "\"main\"");
        let b = Location::Breakout(BreakoutId::new(3));
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"b3\"");
        assert_eq!(serde_json::from_str::<Location>("\"b3\"").unwrap(), b);
        assert!(serde_json::from_str::<Location>("\"lobby\"").is_err());
    }

    #[test]
    fn chat_targets_have_the_documented_shapes() {
        let t: ChatTarget = serde_json::from_str(r#"{"peer_id": "p4"}"#).unwrap();
        assert_eq!(t, ChatTarget::PeerId(PeerId::new(4)));
        let t: ChatTarget = serde_json::from_str(r#"{"location": "main"}"#).unwrap();
        assert_eq!(t, ChatTarget::Location(Location::Main));
        let t: ChatTarget = serde_json::from_str(r#""everyone""#).unwrap();
        assert_eq!(t, ChatTarget::Everyone);
    }

    #[test]
    fn visibility_shapes() {
        let v: Visibility = serde_json::from_str(r#"{"main_stage": {"roles": ["host"]}}"#).unwrap();
        assert_eq!(
            v,
            Visibility::MainStage {
                roles: vec![RoleName::from("host")]
            }
        );
        let v: Visibility = serde_json::from_str(r#""isolated""#).unwrap();
        assert_eq!(v, Visibility::Isolated);
    }
}
