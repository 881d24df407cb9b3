//! Identifiers the engine speaks in.

use std::fmt;

/// A peer (one WebRTC connection), named by the caller.
///
/// The engine never invents peer keys: the shell picks them (for example from the core's
/// peer id) and uses the same key in every call about that connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerKey(pub u64);

impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer-{}", self.0)
    }
}

/// A published track (one incoming m-line of one publisher), named by the engine.
///
/// Announced in [`EngineEvent::TrackPublished`](crate::EngineEvent::TrackPublished) together
/// with the publisher's `mid`; the shell maps it to the core's track id and passes it back in
/// [`Engine::set_subscriptions`](crate::Engine::set_subscriptions). Keys are never reused
/// within one engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackKey(pub u64);

impl fmt::Display for TrackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "track-{}", self.0)
    }
}

/// A recording, named by the caller: the set of tracks whose incoming packets the engine
/// hands out as [`EngineOutput::Recorded`](crate::EngineOutput::Recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingKey(pub u64);

impl fmt::Display for RecordingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recording-{}", self.0)
    }
}

/// The codec of a recorded packet, from its payload type as the publisher negotiated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Opus,
    Vp8,
    Vp9,
    H264,
    /// Anything else (comfort noise, DTMF, a codec the engine does not name).
    Other,
}

impl Codec {
    pub(crate) fn from_str0m(codec: str0m::format::Codec) -> Self {
        match codec {
            str0m::format::Codec::Opus => Codec::Opus,
            str0m::format::Codec::Vp8 => Codec::Vp8,
            str0m::format::Codec::Vp9 => Codec::Vp9,
            str0m::format::Codec::H264 => Codec::H264,
            _ => Codec::Other,
        }
    }
}

/// Audio or video. Screen share is video; the engine does not care about the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// An audio m-line.
    Audio,
    /// A video m-line.
    Video,
}

impl MediaKind {
    /// RTP clock rate used for timestamp rebasing (48 kHz audio, 90 kHz video).
    pub(crate) fn clock_rate(self) -> u64 {
        match self {
            MediaKind::Audio => 48_000,
            MediaKind::Video => 90_000,
        }
    }

    pub(crate) fn from_str0m(kind: str0m::media::MediaKind) -> Self {
        if kind.is_audio() {
            MediaKind::Audio
        } else {
            MediaKind::Video
        }
    }

    pub(crate) fn to_str0m(self) -> str0m::media::MediaKind {
        match self {
            MediaKind::Audio => str0m::media::MediaKind::Audio,
            MediaKind::Video => str0m::media::MediaKind::Video,
        }
    }
}
