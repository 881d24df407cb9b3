//! The world: several rooms, one media engine, the clients and the network, driven by one
//! clock and one seed.
//!
//! The loop finds the earliest thing due — a datagram landing, a signaling frame arriving, an
//! engine, client or room deadline, the next media frame, the plan's next step — moves the
//! clock there and handles everything due, then carries out what that produced until nothing
//! is left (rooms' outputs, the engine's outputs, clients' messages and datagrams). As in the
//! server, one engine serves every room, room `r` owns engine keys `(r + 1) << 32 …`, and an
//! engine event goes to the room that owns its key.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use caucus_core::{JoinRequest, SessionConfig, Time, builtin};
use caucus_media::{Engine, EngineConfig, EngineEvent, EngineOutput, PeerKey, Transport};
use caucus_proto::signal::{
    BreakoutCommand, ClientBody, ClientMessage, PeerCommand, ServerMessage,
};
use caucus_proto::{BreakoutOptions, Location, PeerId, Source};
use caucus_room::{ConnId, EngineCommand, Output, Room, RoomSetup, Signal};

use crate::client::{Client, Kind, Sent};
use crate::net::Net;
use crate::oracle::{Findings, MAX_GAP, Oracle, WARMUP};
use crate::plan::{Action, Plan};
use crate::rng::{Digest, Rng, mix};

mod checks;
mod steps;

const MEDIA_TICK: Duration = Duration::from_millis(20);

fn server_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 7882))
}

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([198, 51, (i / 250) as u8, (i % 250 + 1) as u8], 5000))
}

/// A signaling frame on its way (short-lived, one per frame: boxing would only allocate).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Wire {
    Join {
        conn: ConnId,
        client: usize,
    },
    ToRoom {
        conn: ConnId,
        message: ClientMessage,
    },
    ToClient {
        conn: ConnId,
        message: ServerMessage,
    },
    Close {
        conn: ConnId,
    },
}

/// What the observable state of a session is, for the refusal check.
type Snapshot = (
    Vec<caucus_proto::event::PeerInfo>,
    caucus_proto::event::BreakoutsView,
    Vec<(PeerId, Vec<caucus_proto::TrackKey>)>,
    bool,
);

#[derive(Debug)]
pub struct World {
    pub plan: Plan,
    base: Instant,
    pub now: Duration,
    rooms: Vec<Room>,
    ended: Vec<bool>,
    engine: Engine,
    pub clients: Vec<Client>,
    net: Net,
    rng: Rng,
    wires: BinaryHeap<Reverse<(Duration, u64)>>,
    wire_items: BTreeMap<u64, Wire>,
    next_wire: u64,
    /// The last arrival per connection and direction: signaling is in order (TCP).
    wire_last: BTreeMap<(ConnId, bool), Duration>,
    next_conn: u64,
    conns: BTreeMap<ConnId, usize>,
    /// Which client each room's peers are.
    peer_clients: Vec<BTreeMap<PeerId, usize>>,
    /// Reconnects due: (time, client).
    reconnects: Vec<(Duration, usize)>,
    next_step: usize,
    next_media: Duration,
    media_round: u64,
    dirty: BTreeSet<usize>,
    pub digest: Digest,
    pub oracle: Oracle,
    /// Until when each client counts as disturbed (blackout or reconnect) for liveness.
    disturbed_until: Vec<Duration>,
    /// Refusals seen while a room's outputs were collected: (conn, message id).
    refused_now: Vec<(ConnId, u64)>,
    pub stats: Stats,
    /// A client whose every incoming frame is printed (`CAUCUS_SIM_TRACE=<name>`).
    trace: Option<String>,
}

/// Counts for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub packets_received: u64,
    pub commands_refused: u64,
    pub commands_accepted: u64,
    pub datagrams: u64,
    pub datagrams_lost: u64,
}

impl World {
    pub fn new(plan: Plan) -> Self {
        // The only clock read, once per process: str0m wants `Instant`s, and every one used
        // is this plus simulated time. One base for every world in the process, because str0m
        // measures some times from a process-wide epoch of its own: two runs of a seed then
        // hand it the very same instants.
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        let base = *BASE.get_or_init(Instant::now);
        // str0m's ids (SSRCs, mids, ICE credentials) come from this thread's fastrand.
        fastrand::seed(mix(plan.seed ^ 0x57_72_30_6d));
        // …and the DTLS library's timers from a seeded sequence per run.
        crate::dtls::install();
        crate::dtls::seed(mix(plan.seed ^ 0x64_74_6c_73));
        let mut config = EngineConfig::new(server_addr());
        config.keyframe_request_interval = Duration::from_millis(500);
        let engine = Engine::new(config);
        let rooms = (0..plan.rooms)
            .map(|r| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&mix(plan.seed ^ r as u64).to_le_bytes());
                let setup = RoomSetup {
                    key_base: (r as u64 + 1) << 32,
                    seed,
                    ..RoomSetup::new(
                        format!("room{r}").as_str().into(),
                        builtin::breakout_template(),
                    )
                };
                Room::new(Time::ZERO, setup, SessionConfig::default())
            })
            .collect();
        let clients: Vec<Client> = plan
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Client::new(
                    p.name.clone(),
                    p.role.to_owned(),
                    p.room,
                    client_addr(i),
                    base,
                )
            })
            .collect();
        let n = clients.len();
        let mut reconnects: Vec<(Duration, usize)> = plan
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.join_at, i))
            .collect();
        reconnects.sort();
        World {
            base,
            now: Duration::ZERO,
            ended: vec![false; plan.rooms],
            peer_clients: vec![BTreeMap::new(); plan.rooms],
            rooms,
            engine,
            clients,
            net: Net::new(plan.seed, plan.faults),
            rng: Rng::new(mix(plan.seed ^ 0x5157)),
            wires: BinaryHeap::new(),
            wire_items: BTreeMap::new(),
            next_wire: 0,
            wire_last: BTreeMap::new(),
            next_conn: 0,
            conns: BTreeMap::new(),
            reconnects,
            next_step: 0,
            next_media: Duration::ZERO,
            media_round: 0,
            dirty: BTreeSet::new(),
            digest: if std::env::var("CAUCUS_SIM_LINES").is_ok() {
                Digest::keeping_lines()
            } else {
                Digest::default()
            },
            oracle: Oracle {
                checked: vec![0; n],
                ..Oracle::default()
            },
            disturbed_until: vec![Duration::ZERO; n],
            refused_now: Vec::new(),
            stats: Stats::default(),
            trace: std::env::var("CAUCUS_SIM_TRACE").ok(),
            plan,
        }
    }

    fn at(&self) -> Instant {
        self.base + self.now
    }

    fn time(&self) -> Time {
        Time::from_millis(self.now.as_millis() as u64)
    }

    /// Run the plan to its end and hand back each client's received packets too.
    pub fn run_received(mut self) -> (Findings, Vec<(String, Vec<crate::client::Packet>)>) {
        let end = self.plan.duration;
        while self.now < end {
            let next = self.next_due().min(end);
            self.now = next.max(self.now + Duration::from_micros(100));
            self.step();
        }
        let received = self
            .clients
            .iter_mut()
            .map(|c| (c.name.clone(), std::mem::take(&mut c.received)))
            .collect();
        (self.oracle.findings, received)
    }

    /// Run the plan to its end; what the checks found.
    pub fn run(self) -> (Findings, Stats, u64) {
        let (findings, stats, digest) = self.run_keeping();
        (findings, stats, digest.value())
    }

    /// [`World::run`], handing back the whole digest (with its lines, if kept).
    pub fn run_keeping(mut self) -> (Findings, Stats, Digest) {
        let end = self.plan.duration;
        while self.now < end {
            let next = self.next_due().min(end);
            self.now = next.max(self.now + Duration::from_micros(100));
            self.step();
        }
        self.finish();
        self.stats.datagrams = self.net.sent;
        self.stats.datagrams_lost = self.net.lost;
        (self.oracle.findings, self.stats, self.digest)
    }

    fn next_due(&self) -> Duration {
        let mut next = self.next_media;
        let mut consider = |t: Option<Duration>| {
            if let Some(t) = t {
                next = next.min(t);
            }
        };
        consider(self.net.next_arrival());
        consider(self.wires.peek().map(|Reverse((at, _))| *at));
        consider(
            self.engine
                .poll_timeout()
                .map(|t| t.saturating_duration_since(self.base)),
        );
        for c in &self.clients {
            consider(c.rtc_timeout);
        }
        for (r, room) in self.rooms.iter().enumerate() {
            if !self.ended[r] {
                consider(
                    room.poll_timeout()
                        .map(|t| Duration::from_millis(t.as_millis())),
                );
            }
        }
        consider(self.plan.steps.get(self.next_step).map(|s| s.at));
        consider(self.reconnects.first().map(|(at, _)| *at));
        next
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some((src, dst, bytes)) = self.net.pop_due(now) {
            if dst == server_addr() {
                let at = self.at();
                self.engine
                    .handle_receive(at, Transport::Udp, src, dst, &bytes);
            } else if let Some(c) = self.clients.iter_mut().find(|c| c.addr == dst) {
                c.receive(now, src, &bytes);
            }
        }
        self.pump();
        while let Some(Reverse((at, id))) = self.wires.peek().copied() {
            if at > now {
                break;
            }
            self.wires.pop();
            if let Some(wire) = self.wire_items.remove(&id) {
                self.deliver(wire);
                self.pump();
            }
        }
        // Deadlines already due fire again at this instant (a few times at most: str0m may
        // ask for a time it has just passed), so nothing waits for the clock's next step.
        for _ in 0..4 {
            let mut fired = false;
            if self
                .engine
                .poll_timeout()
                .is_some_and(|t| t <= self.base + now)
            {
                let at = self.at();
                self.engine.handle_timeout(at);
                fired = true;
            }
            for c in &mut self.clients {
                if c.rtc_timeout.is_some_and(|t| t <= now) {
                    c.fire(now);
                    fired = true;
                }
            }
            if !fired {
                break;
            }
            self.pump();
        }
        let time = self.time();
        for r in 0..self.rooms.len() {
            if !self.ended[r] && self.rooms[r].poll_timeout().is_some_and(|t| t <= time) {
                self.rooms[r].handle_timeout(time);
                self.dirty.insert(r);
            }
        }
        self.pump();
        while self.reconnects.first().is_some_and(|(at, _)| *at <= now) {
            let (_, client) = self.reconnects.remove(0);
            self.connect(client);
        }
        while let Some(step) = self.plan.steps.get(self.next_step).cloned() {
            if step.at > now {
                break;
            }
            self.next_step += 1;
            self.act(&step.action);
            self.pump();
        }
        if now >= self.next_media {
            self.media_round += 1;
            for c in &mut self.clients {
                if !self.net.is_blacked_out(c.addr, now) {
                    c.send_media(now, Kind::Audio);
                    if self.media_round.is_multiple_of(2) {
                        c.send_media(now, Kind::Video);
                    }
                }
            }
            self.next_media += MEDIA_TICK;
            self.pump();
            self.check_liveness();
        }
        self.update_allowed();
        self.check_packets();
    }

    // ---- carrying out ---------------------------------------------------------------------

    /// Carry out everything produced until the world is quiet.
    fn pump(&mut self) {
        loop {
            let mut busy = false;
            for r in 0..self.rooms.len() {
                while let Some(output) = self.rooms[r].poll_output() {
                    busy = true;
                    self.carry_out(r, output);
                }
            }
            while let Some(output) = self.engine.poll_output() {
                busy = true;
                match output {
                    EngineOutput::Transmit(t) => {
                        self.net
                            .send(self.now, server_addr(), t.destination, t.contents)
                    }
                    EngineOutput::Event(event) => self.route(event),
                    EngineOutput::Recorded(_) => {}
                }
            }
            for i in 0..self.clients.len() {
                for (src, dst, bytes) in std::mem::take(&mut self.clients[i].transmits) {
                    busy = true;
                    self.net.send(self.now, src, dst, bytes);
                }
                let outbox = std::mem::take(&mut self.clients[i].outbox);
                if let Some(conn) = self.clients[i].conn {
                    for message in outbox {
                        busy = true;
                        self.wire(conn, true, Wire::ToRoom { conn, message });
                    }
                }
            }
            if !busy {
                break;
            }
        }
    }

    fn route(&mut self, event: EngineEvent) {
        let key = match &event {
            EngineEvent::PeerConnected { peer }
            | EngineEvent::PeerDisconnected { peer, .. }
            | EngineEvent::TrackPublished { peer, .. }
            | EngineEvent::TrackEnded { peer, .. }
            | EngineEvent::NeedsOffer { peer, .. } => *peer,
            EngineEvent::SlotAssigned { subscriber, .. } => *subscriber,
            EngineEvent::Stats(_) => return,
        };
        let r = (key.0 >> 32) as usize;
        if r == 0 || r > self.rooms.len() || self.ended[r - 1] {
            return;
        }
        let time = self.time();
        self.rooms[r - 1].handle_engine_event(time, event);
        self.dirty.insert(r - 1);
    }

    fn engine_command(&mut self, r: usize, command: EngineCommand) {
        let at = self.at();
        let time = self.time();
        let negotiated = |key: PeerKey, request: u64, result| (key, request, result);
        let result = match command {
            EngineCommand::AddPeer {
                key,
                offer,
                request,
            } => Some(negotiated(
                key,
                request,
                self.engine.add_peer(at, key, &offer).map(Some),
            )),
            EngineCommand::Offer { key, sdp, request } => Some(negotiated(
                key,
                request,
                self.engine.handle_offer(at, key, &sdp).map(Some),
            )),
            EngineCommand::Answer { key, sdp, request } => Some(negotiated(
                key,
                request,
                self.engine.handle_answer(at, key, &sdp).map(|()| None),
            )),
            EngineCommand::SetSubscriptions { key, tracks } => {
                let _ = self.engine.set_subscriptions(at, key, &tracks);
                None
            }
            EngineCommand::SetPaused { track, paused } => {
                self.engine.set_track_paused(track, paused);
                None
            }
            EngineCommand::RemovePeer { key } => {
                self.engine.remove_peer(at, key);
                None
            }
            EngineCommand::SetMaxLayer { key, track, max } => {
                let _ = self.engine.set_max_layer(at, key, track, max);
                None
            }
        };
        if let Some((key, request, result)) = result {
            self.rooms[r].handle_negotiated(time, key, request, result);
            self.dirty.insert(r);
        }
    }

    fn carry_out(&mut self, r: usize, output: Output) {
        match output {
            Output::Send { to, message } => {
                let message = match message {
                    Signal::Event(event) => ServerMessage::Event {
                        event: (*event).clone(),
                    },
                    Signal::Message(m) => *m,
                };
                self.observe_signal(r, &message);
                if let ServerMessage::Reply { id, ok: false, .. } = &message {
                    for conn in &to {
                        self.refused_now.push((*conn, *id));
                    }
                }
                for conn in to {
                    match self.conns.get(&conn) {
                        Some(&c) if self.clients[c].room == r => {
                            self.wire(
                                conn,
                                false,
                                Wire::ToClient {
                                    conn,
                                    message: message.clone(),
                                },
                            );
                        }
                        Some(&c) => self.oracle.findings.signaling.push(format!(
                            "{:?}: room {r} sent to {} of room {}",
                            self.now, self.clients[c].name, self.clients[c].room
                        )),
                        None => {}
                    }
                }
            }
            Output::Close { conn, .. } => self.wire(conn, false, Wire::Close { conn }),
            Output::Joined { conn, result } => {
                self.digest
                    .write(format!("joined {conn:?} {:?}", result.is_ok()).as_bytes());
                if let Some(&c) = self.conns.get(&conn) {
                    match result {
                        Ok(peer) => {
                            self.clients[c].peer = Some(peer);
                            self.peer_clients[r].insert(peer, c);
                        }
                        Err(_) => {
                            self.conns.remove(&conn);
                            self.clients[c].drop_connection();
                        }
                    }
                }
            }
            Output::Engine(command) => self.engine_command(r, command),
            Output::Lifecycle(event) => self.digest.write(event.name().as_bytes()),
            Output::Record(_) | Output::PersistPlan { .. } | Output::PersistLocked { .. } => {}
            Output::VerifyPassword { check, .. } => {
                let time = self.time();
                self.rooms[r].handle_password_verdict(time, check, false);
            }
            Output::Ended => self.ended[r] = true,
        }
    }

    /// Everything a room says goes into the digest (SDP aside: str0m draws its ICE
    /// credentials and fingerprints from the OS).
    fn observe_signal(&mut self, r: usize, message: &ServerMessage) {
        let text = match message {
            ServerMessage::Offer { .. } => "offer".to_owned(),
            ServerMessage::Reply {
                id,
                data: Some(caucus_proto::signal::ReplyData::Answer { .. }),
                ..
            } => format!("answer {id}"),
            // str0m draws mids at random too.
            ServerMessage::Slot { track, .. } => format!("slot {track:?}"),
            other => serde_json::to_string(other).unwrap_or_default(),
        };
        self.digest
            .write(format!("{:?} room{r} {text}", self.now).as_bytes());
    }

    fn wire(&mut self, conn: ConnId, to_room: bool, wire: Wire) {
        let delay = Duration::from_micros(self.rng.range(1_000, 20_000));
        let last = self
            .wire_last
            .get(&(conn, to_room))
            .copied()
            .unwrap_or_default();
        let at = (self.now + delay).max(last);
        self.wire_last.insert((conn, to_room), at);
        self.next_wire += 1;
        self.wire_items.insert(self.next_wire, wire);
        self.wires.push(Reverse((at, self.next_wire)));
    }

    fn deliver(&mut self, wire: Wire) {
        let now = self.now;
        match wire {
            Wire::Join { conn, client } => {
                if self.clients[client].conn != Some(conn) {
                    return;
                }
                let c = &self.clients[client];
                let (r, request) = (
                    c.room,
                    JoinRequest {
                        user_id: c.user.as_str().into(),
                        name: c.name.clone(),
                        role: c.role.as_str().into(),
                        password: None,
                        metadata: None,
                    },
                );
                if self.ended[r] {
                    self.clients[client].drop_connection();
                    return;
                }
                let time = self.time();
                self.rooms[r].handle_join(time, conn, 1, request);
                self.dirty.insert(r);
            }
            Wire::ToRoom { conn, message } => {
                let Some(&c) = self.conns.get(&conn) else {
                    return;
                };
                let (r, Some(peer)) = (self.clients[c].room, self.clients[c].peer) else {
                    return;
                };
                if self.ended[r] {
                    return;
                }
                // The wire format, both ways, on every message.
                let message: ClientMessage = match serde_json::to_string(&message)
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                {
                    Some(m) => m,
                    None => {
                        self.oracle
                            .findings
                            .signaling
                            .push(format!("client message does not round-trip: {message:?}"));
                        return;
                    }
                };
                let id = message.id;
                let is_command = matches!(message.body, ClientBody::Command { .. });
                let before = is_command.then(|| self.snapshot(r));
                let time = self.time();
                self.rooms[r].handle_message(time, conn, peer, message);
                self.dirty.insert(r);
                if let Some(before) = before {
                    // Carry out this room's outputs now, so its reply is seen, and compare
                    // the session after the command alone.
                    let mut outputs = Vec::new();
                    while let Some(o) = self.rooms[r].poll_output() {
                        outputs.push(o);
                    }
                    let after = self.snapshot(r);
                    self.refused_now.clear();
                    for o in outputs {
                        self.carry_out(r, o);
                    }
                    if self.refused_now.contains(&(conn, id)) {
                        self.stats.commands_refused += 1;
                        if before != after {
                            self.oracle.findings.refusals.push(format!(
                                "{now:?}: a refused command of {} changed the session of room {r}",
                                self.clients[c].name
                            ));
                        }
                    } else {
                        self.stats.commands_accepted += 1;
                    }
                }
            }
            Wire::ToClient { conn, message } => {
                let Some(&c) = self.conns.get(&conn) else {
                    return;
                };
                let message: ServerMessage = match serde_json::to_string(&message)
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                {
                    Some(m) => m,
                    None => {
                        self.oracle
                            .findings
                            .signaling
                            .push("server message does not round-trip".to_owned());
                        return;
                    }
                };
                let client = &mut self.clients[c];
                if self.trace.as_deref() == Some(client.name.as_str()) {
                    eprintln!(
                        "{now:?} {} <- {}",
                        client.name,
                        serde_json::to_string(&message).unwrap_or_default()
                    );
                }
                client.on_message(now, message);
                for u in client.unknown.drain(..) {
                    let line = format!("{:?} {}: {}", u.at, client.name, u.what);
                    if u.track_unpublished {
                        self.oracle.findings.unknown_track_unpublished.push(line);
                    } else if u.slot {
                        self.oracle.findings.unknown_slot.push(line);
                    } else {
                        self.oracle.findings.unknown_names.push(line);
                    }
                }
            }
            Wire::Close { conn } => {
                if let Some(c) = self.conns.remove(&conn)
                    && self.clients[c].conn == Some(conn)
                {
                    self.clients[c].drop_connection();
                    self.disturbed_until[c] = self.now + WARMUP;
                }
            }
        }
    }

    fn snapshot(&self, r: usize) -> Snapshot {
        let session = self.rooms[r].session();
        let mut peers: Vec<_> = session
            .peers()
            .filter_map(|p| session.peer_info(p.id()))
            .collect();
        peers.sort_by_key(|p| p.id);
        let desired = session
            .peers()
            .map(|p| (p.id(), session.desired(p.id())))
            .collect();
        (
            peers,
            session.breakouts_view(self.time()),
            desired,
            session.is_locked(),
        )
    }
}
