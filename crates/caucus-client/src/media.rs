//! The media peer: one str0m `Rtc` (RTP mode) on a real UDP socket (or ICE-TCP connections,
//! [`crate::tcp`]), driven by its own task.
//!
//! The task is str0m's sans-IO loop made real: after every mutation of the `Rtc` (a datagram,
//! a timeout, an RTP write, an SDP change) it drains `poll_output` — transmits go to the
//! socket, events are acted on — and then sleeps until the next str0m timeout, the next
//! synthetic packet, a datagram, a command or a message from signaling.
//!
//! It owns everything about media: the SDP state (offers to the server, answers to the
//! server's offers, glare), which mid sends which source, the generators, the slot mapping of
//! receive mids, and the counters, which it publishes through a `watch` channel so the client
//! can read and await them without asking.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caucus_proto::signal::{ClientBody, RemoteTrack, ReplyData};
use caucus_proto::{PeerId, Source, TrackId};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, trace, warn};

use crate::error::{ClientError, Result};
use crate::event::ClientEvent;
use crate::generator::{Generator, Packet, Seeds, VideoProfile};
use crate::options::{ClientOptions, IceTransportPolicy, MediaTransport};
use crate::payload;
use crate::signaling::{Signal, ToMedia};
use crate::stats::{ReceiveReport, SentStats};
use crate::tcp::TcpLinks;
use crate::turn::link::Relay;
use crate::turn::{self, RelayStats, TurnError, TurnTransport};

mod negotiation;
mod publishing;

/// Everything the media peer counts, as [`Client::media_report`](crate::Client::media_report)
/// returns it. Survives reconnects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaReport {
    pub received: ReceiveReport,
    pub sent: BTreeMap<Source, SentStats>,
    /// What this client publishes now.
    pub published: BTreeMap<Source, PublishedTrack>,
    /// The TURN relay of the current media peer, if it has one.
    pub relay: Option<RelayReport>,
}

/// The media peer's TURN allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayReport {
    /// The TURN server, and how the client reaches it.
    pub server: SocketAddr,
    pub transport: TurnTransport,
    /// The relayed address: the candidate the media peer offers, and the address the Caucus
    /// server sees its media come from.
    pub relayed: SocketAddr,
    pub stats: RelayStats,
    /// Why the allocation was lost, if it was.
    pub failure: Option<TurnError>,
}

/// One source this client publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTrack {
    pub track_id: TrackId,
    /// The sending m-line.
    pub mid: String,
    pub muted: bool,
}

/// A handle on the media task.
#[derive(Debug)]
pub(crate) struct Media {
    tx: mpsc::UnboundedSender<Command>,
    connected: watch::Receiver<bool>,
    local_addr: SocketAddr,
    relayed: Option<SocketAddr>,
}

#[derive(Debug)]
enum Command {
    /// Make sure each source has a sending m-line (renegotiating if needed; the first call also
    /// offers the receive-slot pool). Replies with every sending mid.
    Negotiate {
        sources: Vec<Source>,
        reply: oneshot::Sender<Result<BTreeMap<Source, Mid>>>,
    },
    /// Start generating `source` as `track`.
    Start {
        source: Source,
        track: TrackId,
        muted: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    SetPaused {
        source: Source,
        paused: bool,
        reply: oneshot::Sender<()>,
    },
    /// Stop generating `source`; replies with the track it was.
    Stop {
        source: Source,
        reply: oneshot::Sender<Option<TrackId>>,
    },
    Close,
}

impl Media {
    /// Binds the socket, builds the `Rtc` and starts the task. Nothing is negotiated yet.
    pub(crate) async fn spawn(
        options: &ClientOptions,
        me: PeerId,
        signal: Signal,
        from_signal: mpsc::UnboundedReceiver<ToMedia>,
        events: mpsc::Sender<ClientEvent>,
        report: watch::Sender<MediaReport>,
    ) -> Result<Media> {
        let socket = UdpSocket::bind(options.bind).await?;
        let local_addr = socket.local_addr()?;
        let relay = open_relay(options, &signal, &socket).await?;
        let relayed = relay.as_ref().and_then(|r| r.allocation.relayed());
        let mut rtc = RtcConfig::new().set_rtp_mode(true).build(Instant::now());
        if let Some(relayed) = relayed {
            let candidate = Candidate::relayed(relayed, local_addr, "udp")
                .map_err(|e| ClientError::Media(format!("relayed candidate {relayed}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        let candidate = match options.transport {
            MediaTransport::Udp => Candidate::host(local_addr, "udp"),
            // Active: this side dials (the port is not listened on, RFC 6544 uses 9).
            MediaTransport::Tcp => Candidate::builder()
                .tcp()
                .host(SocketAddr::new(local_addr.ip(), 9))
                .tcptype(TcpType::Active)
                .build(),
        }
        .map_err(|e| ClientError::Media(format!("local candidate {local_addr}: {e}")))?;
        let local_addr = candidate.addr();
        if options.ice_transport_policy == IceTransportPolicy::All {
            rtc.add_local_candidate(candidate);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (connected_tx, connected) = watch::channel(false);
        report.send_modify(|r| {
            r.published.clear();
            r.relay = relay.as_ref().map(relay_report);
        });
        let task = Task {
            me,
            rtc,
            socket,
            tcp: TcpLinks::new(),
            local_addr,
            relay,
            commands: rx,
            from_signal,
            signal_open: true,
            signal,
            events,
            report,
            report_dirty: false,
            connected: connected_tx,
            options: options.clone(),
            rtc_timeout: Instant::now(),
            sends: BTreeMap::new(),
            slots: HashMap::new(),
            generators: BTreeMap::new(),
            negotiated: false,
            negotiation: None,
            waiting: VecDeque::new(),
        };
        info!(peer = %me, %local_addr, ?relayed, "media peer started");
        tokio::spawn(task.run());
        Ok(Media {
            tx,
            connected,
            local_addr,
            relayed,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub(crate) fn relayed_addr(&self) -> Option<SocketAddr> {
        self.relayed
    }

    /// Ensures a sending m-line for each of `sources`; returns every sending mid.
    pub(crate) async fn negotiate(&self, sources: Vec<Source>) -> Result<BTreeMap<Source, Mid>> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Negotiate { sources, reply })?;
        rx.await.map_err(|_| ClientError::NoMedia)?
    }

    pub(crate) async fn start(&self, source: Source, track: TrackId, muted: bool) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Start {
            source,
            track,
            muted,
            reply,
        })?;
        rx.await.map_err(|_| ClientError::NoMedia)?
    }

    /// Pauses or resumes `source`; returns once the report says so.
    pub(crate) async fn set_paused(&self, source: Source, paused: bool) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::SetPaused {
            source,
            paused,
            reply,
        })?;
        rx.await.map_err(|_| ClientError::NoMedia)
    }

    pub(crate) async fn stop(&self, source: Source) -> Result<Option<TrackId>> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Stop { source, reply })?;
        rx.await.map_err(|_| ClientError::NoMedia)
    }

    /// Waits until ICE and DTLS are up.
    pub(crate) async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.connected.clone();
        match tokio::time::timeout(timeout, rx.wait_for(|up| *up)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ClientError::NoMedia),
            Err(_) => Err(ClientError::timeout("media to connect", timeout)),
        }
    }

    pub(crate) fn close(&self) {
        let _ = self.tx.send(Command::Close);
    }

    fn send(&self, command: Command) -> Result<()> {
        self.tx.send(command).map_err(|_| ClientError::NoMedia)
    }
}

/// A client offer waiting for the server's answer.
struct Negotiation {
    /// After this the offer is given up (the server never answered).
    deadline: Instant,
    pending: SdpPendingOffer,
    added: Vec<(Source, Mid)>,
    reply: oneshot::Sender<Result<BTreeMap<Source, Mid>>>,
}

struct Task {
    me: PeerId,
    rtc: Rtc,
    socket: UdpSocket,
    tcp: TcpLinks,
    /// The local candidate's address (what str0m expects as the destination of what comes in).
    local_addr: SocketAddr,
    /// The TURN allocation of the relayed candidate.
    relay: Option<Relay>,
    commands: mpsc::UnboundedReceiver<Command>,
    from_signal: mpsc::UnboundedReceiver<ToMedia>,
    signal_open: bool,
    signal: Signal,
    events: mpsc::Sender<ClientEvent>,
    report: watch::Sender<MediaReport>,
    report_dirty: bool,
    connected: watch::Sender<bool>,
    options: ClientOptions,
    rtc_timeout: Instant,
    /// Sending m-lines, negotiated.
    sends: BTreeMap<Source, Mid>,
    /// What each receive mid carries, as the last `slot` message said.
    slots: HashMap<Mid, RemoteTrack>,
    /// One per published source; a simulcast camera has one per layer (the index into
    /// `options.simulcast`).
    generators: BTreeMap<GenKey, Generator>,
    /// The first offer (with the receive-slot pool) has been answered.
    negotiated: bool,
    negotiation: Option<Negotiation>,
    /// `Negotiate` commands that came while one was under way.
    waiting: VecDeque<Command>,
}

/// A generator: the source, and the simulcast layer (index into `options.simulcast`).
type GenKey = (Source, Option<usize>);

impl Task {
    async fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        loop {
            let now = Instant::now();
            self.expire_negotiation(now);
            self.run_generators(now);
            self.drain(now);
            self.publish_report();
            if !self.rtc.is_alive() {
                info!(peer = %self.me, "media peer closed");
                break;
            }
            let wake = self
                .generators
                .values()
                .filter_map(Generator::due)
                .chain(self.negotiation.as_ref().map(|n| n.deadline))
                .chain(
                    self.relay
                        .as_ref()
                        .and_then(|r| r.allocation.poll_timeout()),
                )
                .fold(self.rtc_timeout, Instant::min);
            let relay = &mut self.relay;
            let relay_tcp = async move {
                match relay {
                    Some(relay) => relay.recv_tcp().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Close) | None => {
                        if let Some(relay) = &mut self.relay {
                            relay.allocation.close(Instant::now());
                            relay.flush(&self.socket);
                        }
                        break;
                    }
                    Some(command) => self.on_command(command),
                },
                message = self.from_signal.recv(), if self.signal_open => match message {
                    Some(message) => self.on_signal(message),
                    None => self.signal_open = false,
                },
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) if self.relay.as_ref().is_some_and(|r| r.over_udp() && r.server() == source) => {
                        self.on_relay_input(&buf[..n]);
                    }
                    Ok((n, source)) => self.on_datagram(&buf[..n], source, Protocol::Udp),
                    Err(e) => debug!(error = %e, "socket receive error"),
                },
                frame = relay_tcp => match frame {
                    Some(frame) => self.on_relay_input(&frame),
                    None => {
                        warn!(peer = %self.me, "the TCP connection to the TURN server closed");
                        self.relay = None;
                        self.report.send_modify(|r| if let Some(relay) = &mut r.relay {
                            relay.failure = Some(TurnError::Io {
                                server: relay.server,
                                message: "the TCP connection closed".into(),
                            });
                        });
                    }
                },
                Some((source, frame)) = self.tcp.recv() => {
                    self.on_datagram(&frame, source, Protocol::Tcp);
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if let Some(relay) = &mut self.relay {
                        relay.allocation.handle_timeout(now);
                        relay.flush(&self.socket);
                    }
                    if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                        warn!(peer = %self.me, error = %e, "str0m timeout failed");
                    }
                }
            }
        }
        let _ = self.connected.send(false);
        if let Some(n) = self.negotiation.take() {
            let _ = n.reply.send(Err(ClientError::NoMedia));
        }
        self.emit(ClientEvent::MediaDisconnected);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Negotiate { sources, reply } => {
                if self.negotiation.is_some() {
                    self.waiting
                        .push_back(Command::Negotiate { sources, reply });
                } else {
                    self.negotiate(sources, reply);
                }
            }
            Command::Start {
                source,
                track,
                muted,
                reply,
            } => {
                let _ = reply.send(self.start(source, track, muted));
            }
            Command::SetPaused {
                source,
                paused,
                reply,
            } => {
                let now = Instant::now();
                for (_, g) in self.generators_of(source) {
                    g.set_paused(paused, now);
                }
                self.report.send_modify(|r| {
                    if let Some(p) = r.published.get_mut(&source) {
                        p.muted = paused;
                    }
                });
                let _ = reply.send(());
            }
            Command::Stop { source, reply } => {
                self.generators.retain(|(s, _), _| *s != source);
                let mut track = None;
                self.report.send_modify(|r| {
                    track = r.published.remove(&source).map(|p| p.track_id);
                });
                let _ = reply.send(track);
            }
            Command::Close => {}
        }
    }

    fn on_signal(&mut self, message: ToMedia) {
        match message {
            ToMedia::Offer { sdp } => self.on_server_offer(sdp),
            ToMedia::OfferReply(reply) => self.on_offer_reply(reply),
            ToMedia::Slot { mid, track } => {
                let mid = Mid::from(mid.as_str());
                match track {
                    Some(track) => self.slots.insert(mid, track),
                    None => self.slots.remove(&mid),
                };
            }
            ToMedia::OwnTrackMuted { track, muted } => {
                if let Some(source) = self.source_of(track) {
                    debug!(peer = %self.me, %source, muted, "own track muted by the server");
                    // Nobody waits for this one.
                    let (reply, _) = oneshot::channel();
                    self.on_command(Command::SetPaused {
                        source,
                        paused: muted,
                        reply,
                    });
                }
            }
            ToMedia::OwnTrackEnded { track } => {
                if let Some(source) = self.source_of(track) {
                    debug!(peer = %self.me, %source, "own track ended by the server");
                    self.generators.retain(|(s, _), _| *s != source);
                    self.report.send_modify(|r| {
                        r.published.remove(&source);
                    });
                }
            }
        }
    }

    fn source_of(&self, track: TrackId) -> Option<Source> {
        self.report
            .borrow()
            .published
            .iter()
            .find(|(_, p)| p.track_id == track)
            .map(|(s, _)| *s)
    }

    /// A datagram (or TCP frame) from the TURN server: peer data goes to str0m as received
    /// on the relayed address.
    fn on_relay_input(&mut self, bytes: &[u8]) {
        let Some(relay) = &mut self.relay else {
            return;
        };
        let now = Instant::now();
        let data = relay.allocation.handle_input(bytes, now);
        relay.flush(&self.socket);
        let relayed = relay.allocation.relayed();
        if let (Some((peer, data)), Some(relayed)) = (data, relayed) {
            self.on_datagram_to(&data, peer, relayed, Protocol::Udp);
        }
        self.report_dirty = true;
    }

    fn on_datagram(&mut self, bytes: &[u8], source: SocketAddr, proto: Protocol) {
        self.on_datagram_to(bytes, source, self.local_addr, proto);
    }

    fn on_datagram_to(
        &mut self,
        bytes: &[u8],
        source: SocketAddr,
        destination: SocketAddr,
        proto: Protocol,
    ) {
        let now = Instant::now();
        let Ok(contents) = bytes.try_into() else {
            trace!(%source, "unparseable datagram");
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        if !self.rtc.accepts(&input) {
            trace!(%source, "datagram not for this peer");
            return;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            warn!(peer = %self.me, error = %e, "str0m refused a datagram");
        }
        self.drain(now);
    }

    /// Drains `poll_output` until str0m asks for a timeout (str0m's single-mutation rule).
    fn drain(&mut self, now: Instant) {
        loop {
            let output = match self.rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    // Also how a DTLS close from the server surfaces: the end of this peer.
                    info!(peer = %self.me, error = %e, "media peer ended");
                    self.rtc.disconnect();
                    return;
                }
            };
            match output {
                Output::Timeout(t) => {
                    self.rtc_timeout = t;
                    if let Some(relay) = &mut self.relay {
                        relay.flush(&self.socket);
                    }
                    return;
                }
                Output::Transmit(t)
                    if self
                        .relay
                        .as_ref()
                        .is_some_and(|r| r.allocation.relayed() == Some(t.source)) =>
                {
                    if let Some(relay) = &mut self.relay {
                        relay.allocation.send_to(t.destination, &t.contents, now);
                    }
                }
                Output::Transmit(t) if t.proto != Protocol::Udp => {
                    self.tcp.send(t.destination, t.contents.into());
                }
                Output::Transmit(t) => {
                    if let Err(e) = self.socket.try_send_to(&t.contents, t.destination) {
                        trace!(error = %e, "datagram not sent");
                        self.report.send_if_modified(|r| {
                            for s in r.sent.values_mut() {
                                s.send_errors += 1;
                            }
                            false
                        });
                    }
                }
                Output::Event(event) => self.on_event(now, event),
            }
        }
    }

    fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected => {
                info!(peer = %self.me, "media connected");
                let _ = self.connected.send(true);
                self.emit(ClientEvent::MediaConnected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                info!(peer = %self.me, "media disconnected");
                let _ = self.connected.send(false);
                self.emit(ClientEvent::MediaDisconnected);
            }
            Event::RtpPacket(packet) => self.on_rtp(now, packet),
            Event::KeyframeRequest(request) => {
                let source = self
                    .sends
                    .iter()
                    .find(|(_, mid)| **mid == request.mid)
                    .map(|(s, _)| *s);
                if let Some(source) = source {
                    trace!(peer = %self.me, %source, kind = ?request.kind, rid = ?request.rid,
                        "keyframe requested");
                    let layer = request.rid.and_then(|rid| {
                        self.options
                            .simulcast
                            .iter()
                            .position(|l| Rid::from(l.rid.as_str()) == rid)
                    });
                    for ((_, l), g) in self.generators_of(source) {
                        if layer.is_none() || *l == layer {
                            g.request_keyframe();
                        }
                    }
                    self.report.send_if_modified(|r| {
                        r.sent.entry(source).or_default().keyframe_requests += 1;
                        false
                    });
                    self.report_dirty = true;
                }
            }
            Event::Closed => {
                info!(peer = %self.me, "the server closed the media connection");
            }
            other => trace!(peer = %self.me, event = ?other, "str0m event"),
        }
    }

    fn on_rtp(&mut self, now: Instant, packet: RtpPacket) {
        let mid = self
            .rtc
            .direct_api()
            .stream_rx(&packet.header.ssrc)
            .map(|s| s.mid());
        let Ok(stamp) = payload::decode(&packet.payload) else {
            self.report.send_if_modified(|r| {
                r.received.undecodable += 1;
                false
            });
            return;
        };
        let slot = mid
            .and_then(|m| self.slots.get(&m))
            .map(|t| (t.peer_id, t.source, t.track_id));
        let mid = mid.map(|m| m.to_string()).unwrap_or_default();
        let gap = self.options.segment_gap;
        let unix_us = unix_micros();
        let bytes = packet.payload.len();
        let frame_size = payload::vp8_keyframe_size(&packet.payload);
        self.report.send_if_modified(|r| {
            r.received
                .record(&stamp, now, unix_us, bytes, &mid, slot, gap);
            if let Some(size) = frame_size
                && let Some(stream) = r.received.streams.get_mut(&(stamp.peer, stamp.source))
            {
                stream.frame_size = Some(size);
            }
            false
        });
        self.report_dirty = true;
    }

    /// Wakes whoever awaits the counters, once per loop turn rather than once per packet.
    fn publish_report(&mut self) {
        if std::mem::take(&mut self.report_dirty) {
            let relay = self.relay.as_ref().map(relay_report);
            self.report.send_modify(|r| {
                if relay.is_some() {
                    r.relay = relay;
                }
            });
        }
    }

    fn emit(&self, event: ClientEvent) {
        if let Err(mpsc::error::TrySendError::Full(e)) = self.events.try_send(event) {
            warn!(event = ?e, "event stream full: event dropped");
        }
    }
}

fn relay_report(relay: &Relay) -> RelayReport {
    let server = relay.allocation.server();
    RelayReport {
        server: server.addr,
        transport: server.transport,
        relayed: relay.allocation.relayed().unwrap_or(server.addr),
        stats: relay.allocation.stats(),
        failure: relay.allocation.failure().cloned(),
    }
}

/// The TURN relay the options ask for, allocated on the first TURN server that grants one.
/// Relay-only without one is an error; otherwise the peer goes on with its host candidate.
async fn open_relay(
    options: &ClientOptions,
    signal: &Signal,
    socket: &UdpSocket,
) -> Result<Option<Relay>> {
    let relay_only = options.ice_transport_policy == IceTransportPolicy::Relay;
    if !options.turn {
        return if relay_only {
            Err(ClientError::Turn(TurnError::NoServer(
                "relay-only, and TURN is off".into(),
            )))
        } else {
            Ok(None)
        };
    }
    let ice_servers = match &options.ice_servers {
        Some(servers) => servers.clone(),
        None => signal.wait_ice_servers(options.connect_timeout).await,
    };
    let tls = crate::signaling::tls_config(&options.tls_roots)?;
    let mut error = match turn::servers(&ice_servers, options.turn_transport).await {
        Ok(servers) => {
            let mut error = None;
            for server in servers {
                let addr = server.addr;
                match Relay::allocate(server, socket, tls.clone(), options.connect_timeout).await {
                    Ok(relay) => return Ok(Some(relay)),
                    Err(e) => {
                        warn!(server = %addr, error = %e, "no TURN relay");
                        error = Some(e);
                    }
                }
            }
            error
        }
        Err(e) => Some(e),
    };
    match error.take() {
        Some(e) if relay_only => Err(ClientError::Turn(e)),
        Some(e) => {
            debug!(error = %e, "no TURN relay: host candidate only");
            Ok(None)
        }
        None => Ok(None),
    }
}

fn kind_of(source: Source) -> MediaKind {
    match source {
        Source::Audio | Source::ScreenAudio => MediaKind::Audio,
        Source::Video | Source::Screen => MediaKind::Video,
    }
}

/// Microseconds since the UNIX epoch: the clock send stamps and arrival times share.
pub(crate) fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
