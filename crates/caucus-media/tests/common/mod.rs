//! Test harness: an [`Engine`] and plain str0m client `Rtc`s on a simulated, lossless,
//! zero-latency network, with simulated time.
//!
//! Clients live on `1.1.1.x:5000`, the engine on [`SERVER`]. Every datagram either side
//! emits goes into one in-flight queue; [`Net::tick`] advances time by [`TICK`], delivers
//! everything in flight (and what that produces) and fires due timers. Server offers
//! ([`EngineEvent::NeedsOffer`]) are answered by the client automatically unless
//! `auto_answer` is off.
//!
//! Synthetic payloads are `"<client name>/<audio|video>/<n>"`, so a receiver can tell
//! what it got from whom.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use caucus_media::{
    Engine, EngineConfig, EngineEvent, EngineOutput, MediaKind, PeerKey, RecordedPacket, TrackKey,
    Transport,
};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::{Codec, FormatParams};
use str0m::media::{
    Direction, Frequency, KeyframeRequestKind, Mid, Rid, Simulcast, SimulcastLayer,
};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc};

pub const TICK: Duration = Duration::from_millis(5);

pub fn server_addr() -> SocketAddr {
    "10.0.0.1:7882".parse().expect("valid address")
}

/// What a client offers when it joins.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spec {
    pub audio: bool,
    pub video: bool,
    /// `recvonly` m-lines offered up front: a receive-slot pool.
    pub recv_audio: usize,
    pub recv_video: usize,
    /// Video is sent as simulcast with these rids (lowest first).
    pub simulcast: Option<&'static [&'static str]>,
    /// Custom payload types (Opus, VP8, VP8's RTX) instead of str0m's defaults.
    pub pts: Option<(u8, u8, u8)>,
}

impl Spec {
    pub fn publisher() -> Spec {
        Spec {
            audio: true,
            video: true,
            ..Spec::default()
        }
    }

    /// Publishes audio only: subscribing to anything needs a server offer.
    pub fn audio_only() -> Spec {
        Spec {
            audio: true,
            ..Spec::default()
        }
    }
}

/// One RTP packet a client received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub pt: u8,
    pub raw: Vec<u8>,
    pub mid: Option<Mid>,
    pub ssrc: u32,
    pub seq: u64,
    pub ts: u32,
    pub payload: String,
    pub audio_level: Option<i8>,
}

impl Received {
    /// The text of the payload (after a codec-shaped prefix ending in `|`, if any).
    pub fn text(&self) -> &str {
        self.payload.rsplit('|').next().unwrap_or("")
    }
    /// The client name in the payload.
    pub fn from(&self) -> &str {
        self.text().split('/').next().unwrap_or("")
    }
    pub fn kind(&self) -> &str {
        self.text().split('/').nth(1).unwrap_or("")
    }
    /// The simulcast layer named in a layer payload (`"name/video/<rid>/n"`).
    pub fn layer(&self) -> &str {
        self.text().split('/').nth(2).unwrap_or("")
    }
    /// Whether the payload starts a VP8 keyframe.
    pub fn is_keyframe(&self) -> bool {
        self.raw.len() > 1 && self.raw[0] & 0x10 != 0 && self.raw[1] & 0x01 == 0
    }
}

#[derive(Debug)]
pub struct Client {
    pub name: String,
    pub key: PeerKey,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub timeout: Instant,
    pub audio_mid: Option<Mid>,
    pub video_mid: Option<Mid>,
    pub sent: HashMap<&'static str, u64>,
    pub received: Vec<Received>,
    pub keyframe_requests: Vec<(Instant, Mid, KeyframeRequestKind)>,
    /// Keyframe requests per simulcast rid (`None` without simulcast).
    pub keyframe_rids: Vec<(Instant, Option<Rid>)>,
    pub connected: bool,
}

/// A bottleneck on the way from the engine to one client: datagrams leave one after the
/// other at `rate_bps`, then take `delay`; a datagram that would wait longer than
/// `max_queue` for its turn is dropped (tail drop), as a router's buffer would.
#[derive(Debug, Clone)]
pub struct Link {
    pub rate_bps: u64,
    pub delay: Duration,
    pub max_queue: Duration,
    /// When the link has sent everything queued so far.
    pub busy_until: Option<Instant>,
    pub dropped: usize,
    pub delivered_bytes: u64,
}

impl Link {
    pub fn new(rate_bps: u64) -> Link {
        Link {
            rate_bps,
            delay: Duration::from_millis(20),
            max_queue: Duration::from_millis(250),
            busy_until: None,
            dropped: 0,
            delivered_bytes: 0,
        }
    }
}

/// A datagram on a link: (arrival, order sent, source, destination, bytes).
type Held = (Instant, u64, SocketAddr, SocketAddr, Vec<u8>);

/// Drops the datagram from the engine to `to` that carries RTP with `ssrc` and `seq`
/// (read from the plaintext RTP header of the SRTP packet), once.
#[derive(Debug, Clone)]
pub struct DropRule {
    pub to: SocketAddr,
    pub ssrc: u32,
    pub seq: u16,
    pub dropped: usize,
}

#[derive(Debug)]
pub struct Net {
    pub start: Instant,
    pub now: Instant,
    pub engine: Engine,
    pub clients: Vec<Client>,
    pub events: Vec<(Instant, EngineEvent)>,
    /// Packets the recording tap handed out.
    pub recorded: Vec<RecordedPacket>,
    pub in_flight: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    pub auto_answer: bool,
    pub offers: usize,
    pub drop_rule: Option<DropRule>,
    /// Addresses cut off the network (both directions).
    pub blackholed: Vec<SocketAddr>,
    /// Bottlenecks from the engine to these clients (see [`Link`]).
    pub links: HashMap<SocketAddr, Link>,
    /// Datagrams on a link, by arrival time (then order sent).
    held: BinaryHeap<Reverse<Held>>,
    held_seq: u64,
    /// What the clients speak to the engine: UDP, or ICE-TCP (each datagram standing for
    /// one RFC 4571 frame on the client's connection; the framing is the shell's).
    pub transport: Transport,
    /// The engine's candidate addresses; datagrams to any of them reach it.
    pub server_addrs: Vec<SocketAddr>,
    /// Transmits the engine made, by transport and source address.
    pub sent_from: HashMap<(Transport, SocketAddr), usize>,
    /// Every answer `add_peer` gave, by client name.
    pub answers: Vec<(String, String)>,
}

impl Net {
    pub fn new() -> Net {
        Net::with_config(|_| {})
    }

    pub fn with_config(tweak: impl FnOnce(&mut EngineConfig)) -> Net {
        // The only clock read: everything after is simulated time.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut config = EngineConfig::new(server_addr());
        tweak(&mut config);
        let transport = config.candidates[0].transport;
        let server_addrs = config.candidates.iter().map(|c| c.address).collect();
        Net {
            transport,
            server_addrs,
            sent_from: HashMap::new(),
            answers: Vec::new(),
            start: now,
            now,
            engine: Engine::new(config),
            clients: Vec::new(),
            events: Vec::new(),
            recorded: Vec::new(),
            in_flight: VecDeque::new(),
            auto_answer: true,
            offers: 0,
            drop_rule: None,
            blackholed: Vec::new(),
            links: HashMap::new(),
            held: BinaryHeap::new(),
            held_seq: 0,
        }
    }

    /// Adds a client, negotiates, and runs until both sides report connected.
    pub fn join(&mut self, name: &str, spec: Spec) -> usize {
        let idx = self.join_start(name, spec);
        self.wait_connected(name);
        idx
    }

    /// Runs until `name` and the engine both report the connection up.
    pub fn wait_connected(&mut self, name: &str) {
        let idx = self.index(name);
        let key = self.clients[idx].key;
        let deadline = self.now + Duration::from_secs(5);
        while !(self.clients[idx].connected && self.engine_says_connected(key)) {
            assert!(self.now < deadline, "{name} did not connect within 5 s");
            self.tick();
        }
    }

    /// Offer/answer with the engine (`add_peer`), without running the network.
    pub fn join_start(&mut self, name: &str, spec: Spec) -> usize {
        let idx = self.clients.len();
        let addr: SocketAddr = format!("1.1.{}.{}:5000", idx / 200, idx % 200 + 1)
            .parse()
            .expect("valid address");
        let mut builder = Rtc::builder().set_rtp_mode(true);
        if let Some((opus, vp8, rtx)) = spec.pts {
            builder = builder.clear_codecs();
            let codecs = builder.codec_config();
            codecs.add_config(
                opus.into(),
                None,
                Codec::Opus,
                Frequency::FORTY_EIGHT_KHZ,
                Some(2),
                FormatParams {
                    min_p_time: Some(10),
                    use_inband_fec: Some(true),
                    ..Default::default()
                },
            );
            codecs.add_config(
                vp8.into(),
                Some(rtx.into()),
                Codec::Vp8,
                Frequency::NINETY_KHZ,
                None,
                FormatParams::default(),
            );
        }
        let mut rtc = builder.build(self.now);
        rtc.add_local_candidate(self.client_candidate(addr));
        let mut api = rtc.sdp_api();
        let audio_mid = spec.audio.then(|| {
            api.add_media(
                str0m::media::MediaKind::Audio,
                Direction::SendOnly,
                None,
                None,
                None,
            )
        });
        let simulcast = spec.simulcast.map(|rids| {
            let mut sim = Simulcast::new();
            for rid in rids {
                sim.add_send_layer(SimulcastLayer::new(rid));
            }
            sim
        });
        let video_mid = spec.video.then(|| {
            api.add_media(
                str0m::media::MediaKind::Video,
                Direction::SendOnly,
                None,
                None,
                simulcast,
            )
        });
        for _ in 0..spec.recv_audio {
            api.add_media(
                str0m::media::MediaKind::Audio,
                Direction::RecvOnly,
                None,
                None,
                None,
            );
        }
        for _ in 0..spec.recv_video {
            api.add_media(
                str0m::media::MediaKind::Video,
                Direction::RecvOnly,
                None,
                None,
                None,
            );
        }
        let (offer, pending) = api.apply().expect("an offer");
        let key = PeerKey(1000 + idx as u64);
        let answer = self
            .engine
            .add_peer(self.now, key, &offer.to_sdp_string())
            .expect("engine accepts the offer");
        self.answers.push((name.to_string(), answer.clone()));
        rtc.sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&answer).expect("engine answer parses"),
            )
            .expect("client accepts the answer");
        self.clients.push(Client {
            name: name.to_string(),
            key,
            addr,
            rtc,
            timeout: self.now,
            audio_mid,
            video_mid,
            sent: HashMap::new(),
            received: Vec::new(),
            keyframe_requests: Vec::new(),
            keyframe_rids: Vec::new(),
            connected: false,
        });
        self.drain_client(idx);
        self.pump();
        idx
    }

    /// The client's host candidate: UDP, or an *active* TCP one (it dials the engine's
    /// passive candidate).
    fn client_candidate(&self, addr: SocketAddr) -> Candidate {
        match self.transport {
            Transport::Udp => Candidate::host(addr, "udp").expect("host candidate"),
            Transport::Tcp => Candidate::builder()
                .tcp()
                .host(addr)
                .tcptype(TcpType::Active)
                .build()
                .expect("tcp candidate"),
        }
    }

    /// A receive-only client whose offer has no media section at all: it gets what it
    /// receives through the engine's offers (answered automatically).
    pub fn join_without_media_lines(&mut self, name: &str) -> (usize, String) {
        let idx = self.clients.len();
        let addr: SocketAddr = format!("1.1.{}.{}:5000", idx / 200, idx % 200 + 1)
            .parse()
            .expect("valid address");
        let mut rtc = Rtc::builder().set_rtp_mode(true).build(self.now);
        rtc.add_local_candidate(self.client_candidate(addr));
        let key = PeerKey(1000 + idx as u64);
        let offer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            a=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n";
        let answer = self
            .engine
            .add_peer(self.now, key, offer)
            .expect("engine accepts an offer without media lines");
        self.clients.push(Client {
            name: name.to_string(),
            key,
            addr,
            rtc,
            timeout: self.now,
            audio_mid: None,
            video_mid: None,
            sent: HashMap::new(),
            received: Vec::new(),
            keyframe_requests: Vec::new(),
            keyframe_rids: Vec::new(),
            connected: false,
        });
        self.drain_client(idx);
        self.pump();
        (idx, answer)
    }

    fn engine_says_connected(&self, key: PeerKey) -> bool {
        self.events
            .iter()
            .any(|(_, e)| *e == EngineEvent::PeerConnected { peer: key })
    }

    pub fn client(&self, name: &str) -> &Client {
        self.clients
            .iter()
            .find(|c| c.name == name)
            .expect("client")
    }

    pub fn client_mut(&mut self, name: &str) -> &mut Client {
        self.clients
            .iter_mut()
            .find(|c| c.name == name)
            .expect("client")
    }

    pub fn key(&self, name: &str) -> PeerKey {
        self.client(name).key
    }

    pub fn index(&self, name: &str) -> usize {
        self.clients
            .iter()
            .position(|c| c.name == name)
            .expect("client")
    }

    /// The engine's track key for `name`'s audio or video.
    pub fn track(&self, name: &str, kind: MediaKind) -> TrackKey {
        let key = self.key(name);
        self.events
            .iter()
            .find_map(|(_, e)| match e {
                EngineEvent::TrackPublished {
                    peer,
                    track,
                    kind: k,
                    ..
                } if *peer == key && *k == kind => Some(*track),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} published no {kind:?}"))
    }

    pub fn tracks_of(&self, name: &str) -> Vec<TrackKey> {
        vec![
            self.track(name, MediaKind::Audio),
            self.track(name, MediaKind::Video),
        ]
    }

    pub fn subscribe(&mut self, name: &str, tracks: &[TrackKey]) {
        let key = self.key(name);
        self.engine
            .set_subscriptions(self.now, key, tracks)
            .expect("set_subscriptions");
        self.pump();
    }

    /// `name` sends one RTP packet of `kind` (payload `"name/kind/n"`).
    pub fn send(&mut self, name: &str, kind: MediaKind) {
        let idx = self.index(name);
        let now = self.now;
        let c = &mut self.clients[idx];
        let (mid, codec, label, clock) = match kind {
            MediaKind::Audio => (c.audio_mid, Codec::Opus, "audio", 48_000u64),
            MediaKind::Video => (c.video_mid, Codec::Vp8, "video", 90_000u64),
        };
        let mid = mid.unwrap_or_else(|| panic!("{name} does not publish {label}"));
        let pt = c
            .rtc
            .codec_config()
            .find(|p| p.spec().codec == codec)
            .expect("codec")
            .pt();
        let n = c.sent.entry(label).or_insert(0);
        let seq = 20_000 + *n;
        let ts = (*n * clock / 50) as u32;
        let payload = format!("{}/{label}/{n}", c.name).into_bytes();
        *n += 1;
        let ext = ExtensionValues {
            audio_level: (kind == MediaKind::Audio).then_some(-30),
            voice_activity: (kind == MediaKind::Audio).then_some(true),
            ..Default::default()
        };
        let mut api = c.rtc.direct_api();
        let stream = api.stream_tx_by_mid(mid, None).expect("send stream");
        stream.write_rtp(
            RtpWrite::new(pt, seq.into(), ts, now, payload)
                .marker(true)
                .ext_vals(ext)
                .nackable(true),
        );
        self.drain_client(idx);
        self.clients[idx]
            .rtc
            .handle_input(Input::Timeout(now))
            .expect("client timeout");
        self.drain_client(idx);
    }

    /// `name` sends one VP8 packet (one frame) on simulcast layer `rid`: a realistic VP8
    /// payload descriptor and frame header (keyframe start code and size when
    /// `keyframe`), then `|name/video/<rid>/<n>`. `n` counts per layer.
    pub fn send_layer(&mut self, name: &str, rid: &str, keyframe: bool, size: (u16, u16)) {
        self.send_layer_frame(name, rid, keyframe, size, 1, 0);
    }

    /// [`Net::send_layer_frame`] for video without simulcast (the label's layer is `-`).
    pub fn send_video_frame(&mut self, name: &str, keyframe: bool, packets: usize, bytes: usize) {
        self.send_frame(name, None, keyframe, (640, 360), packets, bytes);
    }

    /// `name` sends one frame of `packets` VP8 packets on layer `rid`, each about
    /// `packet_bytes` long (filler before the `|name/video/<rid>/<n>` label): the first
    /// starts the frame (a keyframe if `keyframe`), the last has the marker bit.
    pub fn send_layer_frame(
        &mut self,
        name: &str,
        rid: &str,
        keyframe: bool,
        size: (u16, u16),
        packets: usize,
        packet_bytes: usize,
    ) {
        self.send_frame(name, Some(rid), keyframe, size, packets, packet_bytes);
    }

    fn send_frame(
        &mut self,
        name: &str,
        layer: Option<&str>,
        keyframe: bool,
        size: (u16, u16),
        packets: usize,
        packet_bytes: usize,
    ) {
        let rid = layer.unwrap_or("-");
        let idx = self.index(name);
        let now = self.now;
        let c = &mut self.clients[idx];
        let mid = c.video_mid.expect("video");
        let pt = c
            .rtc
            .codec_config()
            .find(|p| p.spec().codec == Codec::Vp8)
            .expect("codec")
            .pt();
        let label: &'static str = Box::leak(format!("layer-{rid}").into_boxed_str());
        let frame_label: &'static str = Box::leak(format!("frame-{rid}").into_boxed_str());
        let frame = *c.sent.get(frame_label).unwrap_or(&0);
        c.sent.insert(frame_label, frame + 1);
        let ts = (frame * 3_000) as u32;
        for i in 0..packets {
            let n = c.sent.entry(label).or_insert(0);
            let seq = 30_000 + *n;
            let mut payload = if i == 0 {
                vp8_prefix(keyframe, size)
            } else {
                vec![0x00]
            };
            let text = format!("|{}/video/{rid}/{n}", c.name);
            *n += 1;
            let filler = packet_bytes.saturating_sub(payload.len() + text.len());
            payload.resize(payload.len() + filler, b'.');
            payload.extend_from_slice(text.as_bytes());
            let mut api = c.rtc.direct_api();
            let stream = api
                .stream_tx_by_mid(mid, layer.map(Rid::from))
                .expect("video send stream");
            stream.write_rtp(
                RtpWrite::new(pt, seq.into(), ts, now, payload)
                    .marker(i + 1 == packets)
                    .nackable(true),
            );
        }
        self.drain_client(idx);
        self.clients[idx]
            .rtc
            .handle_input(Input::Timeout(now))
            .expect("client timeout");
        self.drain_client(idx);
    }

    /// `name` asks the engine for a keyframe on its receive m-line `mid` (what a browser
    /// does on packet loss or a new decoder).
    pub fn request_keyframe(&mut self, name: &str, mid: Mid, kind: KeyframeRequestKind) {
        let idx = self.index(name);
        let now = self.now;
        let c = &mut self.clients[idx];
        c.rtc
            .direct_api()
            .stream_rx_by_mid(mid, None)
            .expect("receive stream")
            .request_keyframe(kind);
        self.drain_client(idx);
        self.clients[idx]
            .rtc
            .handle_input(Input::Timeout(now))
            .expect("client timeout");
        self.drain_client(idx);
        self.settle();
    }

    /// Every publisher in `names` sends one audio and one video packet, then a tick passes.
    pub fn send_round(&mut self, names: &[&str]) {
        for name in names {
            self.send(name, MediaKind::Audio);
            self.send(name, MediaKind::Video);
        }
        self.tick();
    }

    /// Advances simulated time by one tick and settles the network. Inside the tick,
    /// datagrams leaving a [`Link`] and every deadline (engine and clients) are handled
    /// at their own instant, in time order.
    pub fn tick(&mut self) {
        let target = self.now + TICK;
        let mut steps = 0;
        loop {
            let mut next = target;
            if let Some(Reverse((at, ..))) = self.held.peek() {
                next = next.min(*at);
            }
            if let Some(at) = self.engine.poll_timeout() {
                next = next.min(at);
            }
            for c in &self.clients {
                next = next.min(c.timeout);
            }
            if next >= target {
                break;
            }
            steps += 1;
            assert!(
                steps < 200_000,
                "deadlines do not advance: stuck at {:?} (engine {:?}, clients {:?})",
                self.now - self.start,
                self.engine
                    .poll_timeout()
                    .map(|t| t.saturating_duration_since(self.now)),
                self.clients
                    .iter()
                    .map(|c| (
                        c.name.clone(),
                        c.timeout.saturating_duration_since(self.now)
                    ))
                    .collect::<Vec<_>>()
            );
            self.now = self.now.max(next);
            self.fire_due(true);
        }
        self.now = target;
        self.settle();
        // At the tick's end the engine fires once; clients until nothing is due.
        let mut engine_once = true;
        loop {
            let fired = self.fire_due(engine_once);
            engine_once = false;
            if !fired {
                break;
            }
        }
    }

    /// Delivers what leaves the links by `now` and fires due timers (the engine's only if
    /// `engine`); then settles. Whether anything fired.
    fn fire_due(&mut self, engine: bool) -> bool {
        while let Some(Reverse((at, ..))) = self.held.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, src, dst, bytes))) = self.held.pop() else {
                break;
            };
            self.deliver(src, dst, bytes);
        }
        let mut fired = false;
        if engine && self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
            self.engine.handle_timeout(self.now);
            fired = true;
        }
        for idx in 0..self.clients.len() {
            if self.clients[idx].timeout <= self.now {
                let now = self.now;
                self.clients[idx]
                    .rtc
                    .handle_input(Input::Timeout(now))
                    .expect("client timeout");
                self.drain_client(idx);
                fired = true;
            }
        }
        self.settle();
        fired
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.now < until {
            self.tick();
        }
    }

    /// Delivers everything in flight until nothing is.
    pub fn settle(&mut self) {
        self.pump();
        let mut guard = 0;
        while let Some((src, dst, bytes)) = self.in_flight.pop_front() {
            guard += 1;
            assert!(guard < 1_000_000, "network does not settle");
            if self.blackholed.contains(&src) || self.blackholed.contains(&dst) {
                continue;
            }
            if let Some(rule) = &mut self.drop_rule
                && rule.dropped == 0
                && dst == rule.to
                && bytes.len() >= 12
                && bytes[0] >> 6 == 2
                && !(64..96).contains(&(bytes[1] & 0x7f))
                && u16::from_be_bytes([bytes[2], bytes[3]]) == rule.seq
                && u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) == rule.ssrc
            {
                rule.dropped += 1;
                continue;
            }
            if self.server_addrs.contains(&src)
                && let Some(link) = self.links.get_mut(&dst)
            {
                let start = link.busy_until.map_or(self.now, |b| b.max(self.now));
                if start - self.now > link.max_queue {
                    link.dropped += 1;
                    continue;
                }
                let bits = bytes.len() as u64 * 8;
                let done = start + Duration::from_nanos(bits * 1_000_000_000 / link.rate_bps);
                link.busy_until = Some(done);
                link.delivered_bytes += bytes.len() as u64;
                self.held_seq += 1;
                self.held
                    .push(Reverse((done + link.delay, self.held_seq, src, dst, bytes)));
                continue;
            }
            self.deliver(src, dst, bytes);
        }
    }

    /// Hands one datagram to its receiver.
    fn deliver(&mut self, src: SocketAddr, dst: SocketAddr, bytes: Vec<u8>) {
        if self.server_addrs.contains(&dst) {
            self.engine
                .handle_receive(self.now, self.transport, src, dst, &bytes);
            self.pump();
        } else if let Some(idx) = self.clients.iter().position(|c| c.addr == dst) {
            let now = self.now;
            let input = Input::Receive(
                now,
                Receive {
                    proto: match self.transport {
                        Transport::Udp => Protocol::Udp,
                        Transport::Tcp => Protocol::Tcp,
                    },
                    source: src,
                    destination: dst,
                    contents: bytes
                        .as_slice()
                        .try_into()
                        .expect("engine sends parseable datagrams"),
                },
            );
            if self.clients[idx].rtc.accepts(&input) {
                self.clients[idx]
                    .rtc
                    .handle_input(input)
                    .expect("client handles engine datagram");
                self.drain_client(idx);
            }
        }
    }

    /// Moves engine output onto the network and into `events`; answers server offers.
    pub fn pump(&mut self) {
        while let Some(out) = self.engine.poll_output() {
            match out {
                EngineOutput::Transmit(t) => {
                    *self.sent_from.entry((t.transport, t.source)).or_default() += 1;
                    self.in_flight
                        .push_back((t.source, t.destination, t.contents))
                }
                EngineOutput::Event(e) => {
                    if let EngineEvent::NeedsOffer { peer, sdp } = &e {
                        self.offers += 1;
                        if self.auto_answer {
                            self.answer_offer(*peer, sdp);
                        }
                    }
                    self.events.push((self.now, e));
                }
                EngineOutput::Recorded(packet) => self.recorded.push(packet),
            }
        }
    }

    /// `name` starts publishing video later: a client-initiated offer via
    /// `Engine::handle_offer`.
    pub fn client_adds_video(&mut self, name: &str) {
        let idx = self.index(name);
        let mut api = self.clients[idx].rtc.sdp_api();
        let mid = api.add_media(
            str0m::media::MediaKind::Video,
            Direction::SendOnly,
            None,
            None,
            None,
        );
        let (offer, pending) = api.apply().expect("an offer");
        self.drain_client(idx);
        let key = self.clients[idx].key;
        let answer = self
            .engine
            .handle_offer(self.now, key, &offer.to_sdp_string())
            .expect("engine accepts the re-offer");
        self.clients[idx]
            .rtc
            .sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&answer).expect("answer parses"),
            )
            .expect("client accepts the answer");
        self.clients[idx].video_mid = Some(mid);
        self.drain_client(idx);
        self.pump();
    }

    pub fn answer_offer(&mut self, peer: PeerKey, sdp: &str) {
        let idx = self
            .clients
            .iter()
            .position(|c| c.key == peer)
            .expect("offer for a known client");
        let answer = self.clients[idx]
            .rtc
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(sdp).expect("engine offer parses"))
            .expect("client accepts the server offer");
        self.drain_client(idx);
        self.engine
            .handle_answer(self.now, peer, &answer.to_sdp_string())
            .expect("engine accepts the answer");
    }

    fn drain_client(&mut self, idx: usize) {
        let now = self.now;
        let c = &mut self.clients[idx];
        loop {
            match c.rtc.poll_output().expect("client poll_output") {
                Output::Timeout(t) => {
                    c.timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    self.in_flight
                        .push_back((t.source, t.destination, t.contents.into()))
                }
                Output::Event(Event::Connected) => c.connected = true,
                Output::Event(Event::RtpPacket(p)) => {
                    let mid = c
                        .rtc
                        .direct_api()
                        .stream_rx(&p.header.ssrc)
                        .map(|s| s.mid());
                    c.received.push(Received {
                        at: now,
                        pt: *p.header.payload_type,
                        raw: p.payload.to_vec(),
                        mid,
                        ssrc: *p.header.ssrc,
                        seq: *p.seq_no,
                        ts: p.header.timestamp,
                        payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        audio_level: p.header.ext_vals.audio_level,
                    });
                }
                Output::Event(Event::KeyframeRequest(r)) => {
                    c.keyframe_requests.push((now, r.mid, r.kind));
                    c.keyframe_rids.push((now, r.rid));
                }
                Output::Event(_) => {}
            }
        }
    }

    /// Events of one kind since `since`.
    pub fn events_since(&self, since: Instant) -> impl Iterator<Item = &EngineEvent> {
        self.events
            .iter()
            .filter(move |(at, _)| *at >= since)
            .map(|(_, e)| e)
    }
}

impl Client {
    /// Received packets whose payload came from `from` with `kind` ("audio"/"video").
    pub fn got(&self, from: &str, kind: &str) -> Vec<&Received> {
        self.received
            .iter()
            .filter(|r| r.from() == from && r.kind() == kind)
            .collect()
    }

    /// Names of everyone this client received anything from, sorted, with kind.
    pub fn sources(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .received
            .iter()
            .map(|r| format!("{}/{}", r.from(), r.kind()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// One simulcast layer a test publisher sends: rid, picture size, packets per frame and
/// bytes per packet (0: just the VP8 header and label).
pub type LayerShape = (&'static str, (u16, u16), usize, usize);

/// A simulcast publisher that starts each layer with a keyframe and answers the engine's
/// keyframe requests per layer, as a browser does.
#[derive(Debug)]
pub struct SimulcastPublisher {
    pub name: &'static str,
    requests_seen: usize,
    started: Vec<&'static str>,
}

impl SimulcastPublisher {
    pub fn new(name: &'static str) -> SimulcastPublisher {
        SimulcastPublisher {
            name,
            requests_seen: 0,
            started: Vec::new(),
        }
    }

    /// Sends one frame on each of `layers` (a keyframe where one is due); time stands still.
    pub fn frame(&mut self, net: &mut Net, layers: &[LayerShape]) {
        let requests = &net.client(self.name).keyframe_rids;
        let asked: Vec<String> = requests[self.requests_seen..]
            .iter()
            .map(|(_, rid)| rid.map(|r| r.to_string()).unwrap_or_default())
            .collect();
        self.requests_seen = requests.len();
        for &(rid, size, packets, bytes) in layers {
            let keyframe = !self.started.contains(&rid) || asked.iter().any(|r| r == rid);
            if !self.started.contains(&rid) {
                self.started.push(rid);
            }
            net.send_layer_frame(self.name, rid, keyframe, size, packets, bytes);
        }
    }
}

/// The front of a VP8 RTP payload, as the client SDK's `payload::vp8_prefix` builds it for
/// a one-packet frame: descriptor S=1 PID=0, frame tag (P=0 on a keyframe), and on a
/// keyframe the start code and picture size.
pub fn vp8_prefix(keyframe: bool, (width, height): (u16, u16)) -> Vec<u8> {
    let mut out = vec![0x10];
    let first_partition: u32 = 64;
    let tag = (first_partition << 5) | (1 << 4) | u32::from(!keyframe);
    out.extend_from_slice(&tag.to_le_bytes()[..3]);
    if keyframe {
        out.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        out.extend_from_slice(&(width & 0x3fff).to_le_bytes());
        out.extend_from_slice(&(height & 0x3fff).to_le_bytes());
    }
    out
}
