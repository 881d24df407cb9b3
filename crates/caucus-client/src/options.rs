//! How a client connects, what it offers, and how its synthetic media behaves.

use std::net::SocketAddr;
use std::time::Duration;

use caucus_proto::{IceServer, Source};

use crate::generator::{AudioProfile, VideoProfile};
use crate::turn::TurnTransport;

/// Options of [`Client::connect`](crate::Client::connect). `Default` suits end-to-end tests.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The room password, if the room has one.
    pub password: Option<String>,
    /// Open a media peer (`false`: signaling only, no SDP at all).
    pub media: bool,
    /// `sendonly` m-lines in the first offer. Publishing a source not listed renegotiates.
    pub send: Vec<Source>,
    /// `recvonly` audio m-lines offered up front: the receive-slot pool.
    pub recv_audio: usize,
    /// `recvonly` video m-lines offered up front.
    pub recv_video: usize,
    /// Where the media socket binds. Port 0 picks a free one.
    pub bind: SocketAddr,
    /// How media reaches the server: UDP, or ICE over TCP only (a client behind a firewall
    /// that drops UDP).
    pub transport: MediaTransport,
    /// Which local candidates the media peer offers, as the browser's `iceTransportPolicy`:
    /// its host candidate and a relayed one, or only the relayed one (`Relay`: every
    /// datagram goes through the TURN server; no relay is then an error of `connect`).
    pub ice_transport_policy: IceTransportPolicy,
    /// Allocate a relayed candidate on a TURN server of the `joined` event (or of
    /// `ice_servers`), with the credential minted for this join. Off: host candidate only.
    pub turn: bool,
    /// Which TURN URLs to use: `turn:` with `transport=udp` (or none), `turn:` with
    /// `transport=tcp` (TURN over TCP, for a client that cannot send UDP at all), or `turns:`
    /// (TURN over TLS, checked against Mozilla's roots and `tls_roots`).
    pub turn_transport: TurnTransport,
    /// STUN and TURN servers to use instead of the `joined` event's.
    pub ice_servers: Option<Vec<IceServer>>,
    /// Certificates (DER) trusted for `wss://` and `turns:` besides Mozilla's roots: a
    /// private CA, or a test's self-signed certificate.
    pub tls_roots: Vec<Vec<u8>>,
    /// Wait in `connect` (and `reconnect`) until ICE and DTLS are up.
    pub wait_media_connected: bool,
    /// Deadline for opening the WebSocket, joining and getting media connected.
    pub connect_timeout: Duration,
    /// Deadline for each request's reply.
    pub request_timeout: Duration,
    /// Events that may wait unread; further ones are dropped (and logged).
    pub event_capacity: usize,
    /// A stream silent this long starts a new loss segment (see [`crate::stats`]); also the
    /// quiet period of [`Client::wait_silent_from`](crate::Client::wait_silent_from).
    pub segment_gap: Duration,
    pub audio: AudioProfile,
    pub video: VideoProfile,
    pub screen: VideoProfile,
    /// Send the camera as simulcast with these layers (lowest first; each a `video` profile
    /// at its own size, keyframes carrying that size). Empty: one layer.
    pub simulcast: Vec<SimulcastLayer>,
}

/// The client's ICE candidate: a UDP host candidate, or only an active TCP one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaTransport {
    #[default]
    Udp,
    Tcp,
}

/// Which local candidates the media peer offers (the browser's `iceTransportPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IceTransportPolicy {
    /// The host candidate, and a relayed one when a TURN server grants it.
    #[default]
    All,
    /// Only a relayed candidate.
    Relay,
}

/// One simulcast layer of the camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulcastLayer {
    /// Its RTP stream id, e.g. `q`, `h`, `f` (at most 8 characters).
    pub rid: String,
    pub width: u16,
    pub height: u16,
    /// Packets per delta frame of this layer (its bitrate); `None`: the video profile's.
    pub packets_per_frame: Option<u32>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            password: None,
            media: true,
            send: vec![Source::Audio, Source::Video],
            recv_audio: 3,
            recv_video: 3,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            transport: MediaTransport::Udp,
            ice_transport_policy: IceTransportPolicy::All,
            turn: true,
            turn_transport: TurnTransport::Udp,
            ice_servers: None,
            tls_roots: Vec::new(),
            wait_media_connected: true,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            event_capacity: 4096,
            segment_gap: Duration::from_millis(300),
            audio: AudioProfile::default(),
            video: VideoProfile::default(),
            screen: VideoProfile {
                fps: 5,
                packets_per_frame: 4,
                width: 1920,
                height: 1080,
                keyframe_interval: 10,
                ..VideoProfile::default()
            },
            simulcast: Vec::new(),
        }
    }
}

impl ClientOptions {
    /// Signaling only: no media peer.
    pub fn signaling_only() -> Self {
        ClientOptions {
            media: false,
            ..ClientOptions::default()
        }
    }

    /// A receive-slot pool of `audio` + `video` m-lines.
    pub fn with_slots(mut self, audio: usize, video: usize) -> Self {
        self.recv_audio = audio;
        self.recv_video = video;
        self
    }

    /// The sending m-lines of the first offer.
    pub fn with_send(mut self, sources: &[Source]) -> Self {
        self.send = sources.to_vec();
        self
    }
}
