//! What the engine asks its shell to do: send datagrams and learn about events.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::counters::Counters;
use crate::ids::{Codec, MediaKind, PeerKey, RecordingKey, TrackKey};
use crate::transport::Transport;

/// One item from [`Engine::poll_output`](crate::Engine::poll_output).
#[derive(Debug)]
pub enum EngineOutput {
    /// Send `contents` from the media socket to `destination`.
    Transmit(Transmit),
    /// Something the signaling layer or the core should know.
    Event(EngineEvent),
    /// An incoming packet of a recorded track (see
    /// [`Engine::set_recording`](crate::Engine::set_recording)).
    Recorded(RecordedPacket),
}

/// One decrypted incoming RTP packet of a track that a recording receives, as the publisher
/// sent it (no rewriting). One per recording that receives the track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPacket {
    pub recording: RecordingKey,
    pub track: TrackKey,
    pub kind: MediaKind,
    pub codec: Codec,
    pub payload_type: u8,
    /// Extended sequence number (no wrap), of the recorded layer's stream.
    pub seq: u64,
    /// RTP timestamp.
    pub timestamp: u32,
    pub marker: bool,
    /// Shared with the engine's own copy: handing it to another thread copies nothing.
    pub payload: Arc<[u8]>,
}

/// A datagram to send: over UDP, or framed (RFC 4571) on the client's ICE-TCP connection
/// from `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub transport: Transport,
    /// The local candidate address it leaves from (one of
    /// [`EngineConfig::candidates`](crate::EngineConfig::candidates)).
    pub source: SocketAddr,
    /// Remote address.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Vec<u8>,
}

/// Events, past tense. Instructions to the signaling layer are the `NeedsOffer` kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// ICE and DTLS are up: media can flow.
    PeerConnected {
        /// The peer.
        peer: PeerKey,
    },
    /// The peer is gone (ICE timed out, DTLS closed, or its `Rtc` failed). The engine has
    /// already forgotten it, ended its tracks and freed its slots; `add_peer` may reuse the key.
    PeerDisconnected {
        /// The peer.
        peer: PeerKey,
        /// Why.
        reason: DisconnectReason,
    },
    /// A publisher's m-line started receiving.
    TrackPublished {
        /// The publisher.
        peer: PeerKey,
        /// Engine key for the track; use it in `set_subscriptions`.
        track: TrackKey,
        /// The publisher's mid for this m-line (what its client calls the transceiver).
        mid: String,
        /// Audio or video.
        kind: MediaKind,
    },
    /// A published track stopped (publisher renegotiated it away, or left). Every
    /// subscriber's slot showing it is already free.
    TrackEnded {
        /// The publisher.
        peer: PeerKey,
        /// The track.
        track: TrackKey,
    },
    /// The engine needs to renegotiate with `peer`: send this offer to the client and pass
    /// its answer to [`Engine::handle_answer`](crate::Engine::handle_answer).
    NeedsOffer {
        /// The peer.
        peer: PeerKey,
        /// SDP offer text.
        sdp: String,
    },
    /// A subscriber's send slot (`mid` on the subscriber's connection) now shows `track`
    /// (`None`: nothing, the slot is free). The client needs this mapping to label what it
    /// sees, because slots are reused without renegotiation.
    SlotAssigned {
        /// The subscriber.
        subscriber: PeerKey,
        /// The subscriber-side mid of the slot.
        mid: String,
        /// What the slot shows now.
        track: Option<TrackKey>,
    },
    /// Periodic counters, if `EngineConfig::stats_interval` is set.
    Stats(Counters),
}

/// Why a peer went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// ICE consent expired (no STUN from the client for too long).
    IceDisconnected,
    /// The remote closed DTLS, or the `Rtc` finished closing.
    Closed,
    /// The peer's `Rtc` returned an error; the message says which.
    Failed(String),
}
