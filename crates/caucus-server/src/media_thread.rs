//! The media plane: the [`Engine`] and its sockets, on their own OS thread.
//!
//! What it is: a loop that owns the engine, its UDP sockets (one per bound address: IPv4
//! and IPv6, say) and its ICE-TCP listeners ([`crate::media_tcp`]), and does nothing else —
//! datagrams and frames in, transmits out, timers, and control messages from room tasks. It runs a tokio
//! *current-thread* runtime of its own. Why not a blocking std socket with
//! `set_read_timeout`: a blocked `recv_from` cannot also wake for a control message, so
//! subscription changes (a move into a breakout) would wait for the next datagram or a
//! polling tick; with `select!` over the socket, the command channel and the engine's timer,
//! each wakes the loop at once, and no other task's work ever delays a packet (the shell's
//! multi-threaded runtime stays free for signaling).
//!
//! What it is not: a decision maker. Rooms tell it which tracks each peer receives; it only
//! reports what the engine says, routed to the room that owns the engine peer
//! ([`MediaReport`] on the channel given with [`MediaCommand::AddPeer`]).
//!
//! How to drive it: [`MediaThread::spawn`], then send [`MediaCommand`]s through the cloned
//! [`MediaHandle`]; [`MediaThread::stop`] ends the loop and joins the thread.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::{Duration, Instant};

use caucus_media::{
    Counters, Engine, EngineConfig, EngineEvent, EngineOutput, MaxLayer, MediaError, PeerKey,
    RecordingKey, TrackKey, Transmit, Transport,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, trace, warn};

use crate::media_tcp::{IceTcp, TcpCounters, TcpLimits};
use crate::recorder::{RecorderHandle, RecorderInput};

/// Datagrams read per wakeup before the loop looks at commands and timers again.
const RECEIVE_BATCH: usize = 64;
/// Larger than any datagram str0m sends or a sane client sends (MTU-sized).
const DATAGRAM_BYTES: usize = 2048;

/// A room's inbox for what the engine says about its peers.
pub type MediaReports = mpsc::UnboundedSender<MediaReport>;

/// What a room asks of the media plane.
#[derive(Debug)]
pub enum MediaCommand {
    /// A new engine peer from the client's first offer; the answer comes back as
    /// [`MediaReport::Negotiated`] and later events for `key` go to `reports`.
    AddPeer {
        key: PeerKey,
        offer: String,
        request: u64,
        reports: MediaReports,
    },
    /// A client re-offer; the answer comes back as [`MediaReport::Negotiated`].
    Offer {
        key: PeerKey,
        sdp: String,
        request: u64,
        reports: MediaReports,
    },
    /// The client's answer to an engine offer; [`MediaReport::Negotiated`] with no SDP.
    Answer {
        key: PeerKey,
        sdp: String,
        request: u64,
        reports: MediaReports,
    },
    SetSubscriptions {
        key: PeerKey,
        tracks: Vec<TrackKey>,
    },
    SetPaused {
        track: TrackKey,
        paused: bool,
    },
    RemovePeer {
        key: PeerKey,
    },
    /// The most `key` should receive of simulcast `track`.
    SetMaxLayer {
        key: PeerKey,
        track: TrackKey,
        max: MaxLayer,
    },
    /// The engine's and the ICE-TCP side's totals (for `/metrics`).
    Counters {
        reply: oneshot::Sender<(Counters, TcpCounters)>,
    },
    /// For the recorder: a recording's start, track set or stop. A track set (or a stop) is
    /// applied to the engine's recording tap first, then forwarded, so the recorder sees it
    /// before the packets it lets through.
    Record(RecorderInput),
}

/// What the media plane tells a room.
#[derive(Debug)]
pub enum MediaReport {
    /// The outcome of an offer or answer: the answer SDP for an offer, `None` for an answer.
    Negotiated {
        key: PeerKey,
        request: u64,
        result: Result<Option<String>, MediaError>,
    },
    Event(EngineEvent),
}

/// The way to reach the media thread. Cheap to clone; sending never blocks.
#[derive(Debug, Clone)]
pub struct MediaHandle(mpsc::UnboundedSender<MediaCommand>);

impl MediaHandle {
    /// The engine's and the ICE-TCP side's totals; `None` when the media thread is gone.
    pub async fn counters(&self) -> Option<(Counters, TcpCounters)> {
        let (reply, counters) = oneshot::channel();
        self.send(MediaCommand::Counters { reply });
        counters.await.ok()
    }

    /// Send a command; if the media thread is gone (shutting down) it is dropped.
    pub fn send(&self, command: MediaCommand) {
        if self.0.send(command).is_err() {
            debug!("media thread gone; command dropped");
        }
    }
}

/// What the media thread listens on: bound sockets, each with the candidate addresses
/// clients are told for it (see [`crate::media_addrs`]).
#[derive(Debug)]
pub struct MediaSockets {
    pub udp: Vec<(std::net::UdpSocket, Vec<SocketAddr>)>,
    pub tcp: Vec<(std::net::TcpListener, Vec<SocketAddr>)>,
    pub tcp_limits: TcpLimits,
}

/// The running media thread.
#[derive(Debug)]
pub struct MediaThread {
    handle: MediaHandle,
    stop: oneshot::Sender<()>,
    join: std::thread::JoinHandle<()>,
}

impl MediaThread {
    /// Start the engine on `sockets` with `config` (whose candidates are the sockets'
    /// candidates); recorded packets go to `recorder`.
    pub fn spawn(
        sockets: MediaSockets,
        config: EngineConfig,
        recorder: RecorderHandle,
    ) -> io::Result<MediaThread> {
        let MediaSockets {
            udp,
            tcp,
            tcp_limits,
        } = sockets;
        for (socket, _) in &udp {
            socket.set_nonblocking(true)?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, commands) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let join = std::thread::Builder::new()
            .name("caucus-media".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let sockets = match UdpSockets::new(udp) {
                        Ok(sockets) => sockets,
                        Err(e) => return error!(error = %e, "media socket unusable"),
                    };
                    let tcp = match IceTcp::start(tcp, tcp_limits) {
                        Ok(tcp) => tcp,
                        Err(e) => return error!(error = %e, "ICE-TCP listener unusable"),
                    };
                    let engine = Engine::new(config);
                    MediaLoop::new(engine, sockets, tcp, recorder)
                        .run(commands, stopped)
                        .await;
                });
            })?;
        info!("media plane started");
        Ok(MediaThread {
            handle: MediaHandle(tx),
            stop,
            join,
        })
    }

    pub fn handle(&self) -> MediaHandle {
        self.handle.clone()
    }

    /// End the loop (every engine peer is closed) and wait for the thread.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let join = self.join;
        match tokio::task::spawn_blocking(move || join.join()).await {
            Ok(Ok(())) => info!("media plane stopped"),
            Ok(Err(_)) => error!("media thread panicked"),
            Err(e) => error!(error = %e, "could not join the media thread"),
        }
    }
}

/// The UDP sockets and which candidate addresses each one carries.
struct UdpSockets {
    sockets: Vec<UdpSocket>,
    /// Per socket, its candidate of each family: the `destination` of what it receives.
    local: Vec<(Option<SocketAddr>, Option<SocketAddr>)>,
    /// Candidate address → socket (only consulted when there are several sockets).
    of_candidate: HashMap<SocketAddr, usize>,
}

impl UdpSockets {
    fn new(bound: Vec<(std::net::UdpSocket, Vec<SocketAddr>)>) -> io::Result<UdpSockets> {
        let mut sockets = Vec::new();
        let mut local = Vec::new();
        let mut of_candidate = HashMap::new();
        for (index, (socket, candidates)) in bound.into_iter().enumerate() {
            info!(local = %socket.local_addr()?, ?candidates, "media UDP socket");
            sockets.push(UdpSocket::from_std(socket)?);
            let v4 = candidates.iter().find(|a| a.is_ipv4()).copied();
            let v6 = candidates.iter().find(|a| a.is_ipv6()).copied();
            local.push((v4, v6));
            for c in candidates {
                of_candidate.insert(c, index);
            }
        }
        Ok(UdpSockets {
            sockets,
            local,
            of_candidate,
        })
    }

    /// The socket a transmit from candidate `source` leaves on.
    fn for_source(&self, source: SocketAddr) -> Option<&UdpSocket> {
        match self.sockets.as_slice() {
            [one] => Some(one),
            _ => self
                .of_candidate
                .get(&source)
                .and_then(|i| self.sockets.get(*i)),
        }
    }

    /// Ready to read: the index of a readable socket (the others are drained too).
    async fn readable(&self) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            for (i, socket) in self.sockets.iter().enumerate() {
                if let Poll::Ready(ready) = socket.poll_recv_ready(cx) {
                    return Poll::Ready(ready.map(|()| i));
                }
            }
            Poll::Pending
        })
        .await
    }
}

struct MediaLoop {
    engine: Engine,
    udp: UdpSockets,
    tcp: IceTcp,
    routes: HashMap<PeerKey, MediaReports>,
    recorder: RecorderHandle,
}

impl MediaLoop {
    fn new(engine: Engine, udp: UdpSockets, tcp: IceTcp, recorder: RecorderHandle) -> Self {
        Self {
            engine,
            udp,
            tcp,
            routes: HashMap::new(),
            recorder,
        }
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<MediaCommand>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let mut buf = vec![0u8; DATAGRAM_BYTES];
        // ICE-TCP deadlines are checked once a second (only when there is a listener).
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let tcp_on = !self.tcp.is_empty();
        loop {
            let deadline = self
                .engine
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                _ = &mut stopped => break,
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                ready = self.udp.readable() => match ready {
                    Ok(_) => self.receive(&mut buf),
                    Err(e) => warn!(error = %e, "media socket not readable"),
                },
                event = self.tcp.next(), if tcp_on => {
                    if let Some(event) = event
                        && let Some(frame) = self.tcp.on_event(Instant::now(), event)
                    {
                        self.engine.handle_receive(
                            Instant::now(),
                            Transport::Tcp,
                            frame.source,
                            frame.destination,
                            &frame.contents,
                        );
                    }
                },
                _ = sweep.tick(), if tcp_on => self.tcp.sweep(Instant::now()),
                () = sleep_until(deadline), if deadline.is_some() => {}
            }
            if self
                .engine
                .poll_timeout()
                .is_some_and(|at| at <= Instant::now())
            {
                self.engine.handle_timeout(Instant::now());
            }
            self.flush().await;
        }
        let now = Instant::now();
        for key in self.routes.keys().copied().collect::<Vec<_>>() {
            self.engine.remove_peer(now, key);
        }
        self.flush().await;
    }

    fn command(&mut self, command: MediaCommand) {
        let now = Instant::now();
        match command {
            MediaCommand::AddPeer {
                key,
                offer,
                request,
                reports,
            } => {
                let result = self.engine.add_peer(now, key, &offer).map(Some);
                if result.is_ok() {
                    self.routes.insert(key, reports.clone());
                }
                let _ = reports.send(MediaReport::Negotiated {
                    key,
                    request,
                    result,
                });
            }
            MediaCommand::Offer {
                key,
                sdp,
                request,
                reports,
            } => {
                let result = self.engine.handle_offer(now, key, &sdp).map(Some);
                let _ = reports.send(MediaReport::Negotiated {
                    key,
                    request,
                    result,
                });
            }
            MediaCommand::Answer {
                key,
                sdp,
                request,
                reports,
            } => {
                let result = self.engine.handle_answer(now, key, &sdp).map(|()| None);
                let _ = reports.send(MediaReport::Negotiated {
                    key,
                    request,
                    result,
                });
            }
            MediaCommand::SetSubscriptions { key, tracks } => {
                if let Err(e) = self.engine.set_subscriptions(now, key, &tracks) {
                    debug!(peer = %key, error = %e, "subscriptions not set");
                }
            }
            MediaCommand::SetPaused { track, paused } => {
                self.engine.set_track_paused(track, paused);
            }
            MediaCommand::Record(input) => {
                match &input {
                    RecorderInput::Tracks { recording, tracks } => {
                        let keys: Vec<TrackKey> = tracks.iter().map(|t| t.engine).collect();
                        self.engine
                            .set_recording(now, RecordingKey(recording.get()), &keys);
                    }
                    RecorderInput::Stop { recording, .. } => {
                        self.engine
                            .set_recording(now, RecordingKey(recording.get()), &[]);
                    }
                    RecorderInput::Start { .. } | RecorderInput::Packet(_) => {}
                }
                self.recorder.send(input);
            }
            MediaCommand::RemovePeer { key } => {
                self.engine.remove_peer(now, key);
                // Events the removal produced (its tracks ended) still reach the room: the
                // route goes after the flush.
                self.flush_events();
                self.routes.remove(&key);
            }
            MediaCommand::SetMaxLayer { key, track, max } => {
                if let Err(e) = self.engine.set_max_layer(now, key, track, max) {
                    debug!(peer = %key, error = %e, "layer hint for a gone peer");
                }
            }
            MediaCommand::Counters { reply } => {
                let _ = reply.send((self.engine.counters(), self.tcp.counters()));
            }
        }
    }

    /// Drains every UDP socket (a batch each, so none starves the others).
    fn receive(&mut self, buf: &mut [u8]) {
        for (index, socket) in self.udp.sockets.iter().enumerate() {
            let (v4, v6) = self.udp.local[index];
            for _ in 0..RECEIVE_BATCH {
                match socket.try_recv_from(buf) {
                    Ok((n, source)) => {
                        // The candidate of the client's family is the pair's local side.
                        let Some(destination) = (if source.is_ipv4() { v4 } else { v6 }) else {
                            continue;
                        };
                        let datagram = buf.get(..n).unwrap_or_default();
                        self.engine.handle_receive(
                            Instant::now(),
                            Transport::Udp,
                            source,
                            destination,
                            datagram,
                        );
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        debug!(error = %e, "media receive failed");
                        break;
                    }
                }
            }
        }
    }

    /// Send every transmit and route every event.
    async fn flush(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                EngineOutput::Transmit(t) => self.send(t).await,
                EngineOutput::Event(event) => self.route(event),
                EngineOutput::Recorded(packet) => self.recorder.send(RecorderInput::Packet(packet)),
            }
        }
    }

    /// Route events only; transmits are sent without waiting for socket space.
    fn flush_events(&mut self) {
        let mut transmits = Vec::new();
        while let Some(output) = self.engine.poll_output() {
            match output {
                EngineOutput::Transmit(t) => transmits.push(t),
                EngineOutput::Event(event) => self.route(event),
                EngineOutput::Recorded(packet) => self.recorder.send(RecorderInput::Packet(packet)),
            }
        }
        for t in transmits {
            self.send_now(t);
        }
    }

    /// One transmit without waiting: a frame queued to its ICE-TCP connection, or a UDP
    /// datagram from the socket of its source candidate if the kernel has room for it.
    fn send_now(&mut self, t: Transmit) {
        match t.transport {
            Transport::Tcp => self.tcp.send(t.source, t.destination, t.contents),
            Transport::Udp => match self.udp.for_source(t.source) {
                Some(socket) => {
                    if let Err(e) = socket.try_send_to(&t.contents, t.destination) {
                        trace!(destination = %t.destination, error = %e, "media send failed");
                    }
                }
                None => trace!(source = %t.source, "transmit from an unknown candidate"),
            },
        }
    }

    /// One transmit, waiting for UDP buffer space (the normal path: a full buffer delays
    /// the loop instead of dropping what the engine paced).
    async fn send(&mut self, t: Transmit) {
        if t.transport == Transport::Udp
            && let Some(socket) = self.udp.for_source(t.source)
        {
            if let Err(e) = socket.send_to(&t.contents, t.destination).await {
                debug!(destination = %t.destination, error = %e, "media send failed");
            }
            return;
        }
        self.send_now(t);
    }

    fn route(&mut self, event: EngineEvent) {
        let key = match &event {
            EngineEvent::PeerConnected { peer }
            | EngineEvent::PeerDisconnected { peer, .. }
            | EngineEvent::TrackPublished { peer, .. }
            | EngineEvent::TrackEnded { peer, .. }
            | EngineEvent::NeedsOffer { peer, .. } => *peer,
            EngineEvent::SlotAssigned { subscriber, .. } => *subscriber,
            EngineEvent::Stats(counters) => {
                debug!(?counters, "media counters");
                return;
            }
        };
        let gone = matches!(event, EngineEvent::PeerDisconnected { .. });
        match self.routes.get(&key) {
            Some(reports) => {
                if reports.send(MediaReport::Event(event)).is_err() {
                    // The room is gone; nobody will ever remove this peer but us.
                    self.routes.remove(&key);
                    self.engine.remove_peer(Instant::now(), key);
                }
            }
            None => trace!(peer = %key, "event for an unrouted peer"),
        }
        if gone {
            self.routes.remove(&key);
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => tokio::time::sleep(Duration::from_secs(3600)).await,
    }
}
