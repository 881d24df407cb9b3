//! **forwarding**: `rooms` rooms of `peers` members, each publishing audio (and optionally
//! video) and hearing every other member of its room, for `seconds`. Reports the server's
//! egress RTP packets per second of its CPU time (the `/metrics` counter of packets written
//! to subscribers over the `/proc` CPU time of the window), loss at the receivers (payload
//! sequence numbers) and one-way latency percentiles (payload send stamps), and checks that
//! nothing crossed from one room to another.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caucus_client::latency::Latency;
use caucus_proto::{PeerId, Source};
use serde::Serialize;

use super::{Machine, WAIT, ms, peer_options, ratio};
use crate::crowd::{self, Peer, Spec};
use crate::error::{Error, Result};
use crate::target::Target;
use crate::{limits, templates};

/// The product target: egress packets per second of server CPU.
pub const TARGET_PPS_PER_CPU_S: f64 = 150_000.0;
/// The product target: loss on loopback at the target load, percent.
pub const TARGET_LOSS_PCT: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct Params {
    pub rooms: usize,
    pub peers: usize,
    pub seconds: u64,
    pub video: bool,
    /// Peers connecting at once.
    pub concurrency: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            rooms: 10,
            peers: 5,
            seconds: 20,
            video: false,
            concurrency: 8,
        }
    }
}

/// What one room's receivers got.
#[derive(Debug, Clone, Serialize)]
pub struct RoomCount {
    pub room: String,
    /// Distinct (publisher, source) streams received, summed over receivers.
    pub streams: usize,
    /// Packets from publishers of the same room.
    pub in_room_packets: u64,
    /// Packets from publishers of other rooms (must be 0).
    pub cross_room_packets: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub samples: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub rooms: usize,
    pub peers_per_room: usize,
    pub video: bool,
    /// The measured window.
    pub seconds: f64,
    /// Streams the routing rule calls for: rooms × peers × (peers − 1) × sources.
    pub streams_expected: usize,
    pub streams_received: usize,
    /// Packets the receivers counted in the window.
    pub packets_received: u64,
    /// `caucus_rtp_forwarded_total` over the window (when `/metrics` has it).
    pub server_egress_packets: Option<f64>,
    pub egress_pps: Option<f64>,
    pub server_cpu_s: Option<f64>,
    /// Server CPU used / wall time of the window (1.0 = one core busy).
    pub server_cores_busy: Option<f64>,
    pub egress_pps_per_server_cpu_s: Option<f64>,
    pub ratio_to_target_pps_per_cpu_s: Option<f64>,
    /// The load generator's own CPU in the window (its clients decrypt what the server sends).
    pub loadgen_cpu_s: Option<f64>,
    pub server_rss_kib: Option<u64>,
    pub lost: u64,
    pub expected: u64,
    pub loss_pct: f64,
    /// Measured / target: below 1 meets it.
    pub loss_ratio_to_target: Option<f64>,
    pub duplicates: u64,
    pub reordered: u64,
    pub latency: Latencies,
    pub per_room: Vec<RoomCount>,
    pub machine: Machine,
}

impl Report {
    pub fn summary(&self) -> String {
        let opt = |v: Option<f64>, unit: &str| v.map_or("n/a".into(), |v| format!("{v:.0}{unit}"));
        let cross: u64 = self.per_room.iter().map(|r| r.cross_room_packets).sum();
        format!(
            "forward: {} rooms x {} peers, {} for {:.1} s\n  \
             streams {}/{}, packets received {}, server egress {} ({} pps)\n  \
             server CPU {} s ({:.2} cores busy) -> {} egress packets per CPU-second (target 150,000; ratio {})\n  \
             loss {:.3} % ({} of {}), duplicates {}, reordered {}, cross-room packets {}\n  \
             latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)\n  \
             server RSS {} KiB, load generator CPU {} s\n  {}",
            self.rooms,
            self.peers_per_room,
            if self.video { "audio + video" } else { "audio" },
            self.seconds,
            self.streams_received,
            self.streams_expected,
            self.packets_received,
            opt(self.server_egress_packets, ""),
            opt(self.egress_pps, ""),
            self.server_cpu_s
                .map_or("n/a".into(), |v| format!("{v:.2}")),
            self.server_cores_busy.unwrap_or(f64::NAN),
            opt(self.egress_pps_per_server_cpu_s, ""),
            self.ratio_to_target_pps_per_cpu_s
                .map_or("n/a".into(), |r| format!("{r:.2}")),
            self.loss_pct,
            self.lost,
            self.expected,
            self.duplicates,
            self.reordered,
            cross,
            self.latency.p50_ms,
            self.latency.p95_ms,
            self.latency.p99_ms,
            self.latency.max_ms,
            self.latency.samples,
            self.server_rss_kib.map_or("n/a".into(), |v| v.to_string()),
            self.loadgen_cpu_s
                .map_or("n/a".into(), |v| format!("{v:.2}")),
            self.machine.line(),
        )
    }
}

pub async fn run(target: &Arc<Target>, params: &Params) -> Result<Report> {
    let machine = Machine::start();
    limits::peers(params.rooms * params.peers)?;
    let seconds = limits::seconds(params.seconds)?;
    if params.peers < 2 {
        return Err(Error::setup(
            "a room needs at least 2 peers to forward anything",
        ));
    }
    let sources: Vec<Source> = if params.video {
        vec![Source::Audio, Source::Video]
    } else {
        vec![Source::Audio]
    };
    let others = params.peers - 1;
    let video_slots = if params.video { others } else { 0 };
    let mut specs = Vec::new();
    let rooms: Vec<String> = (1..=params.rooms).map(|r| format!("fwd-{r}")).collect();
    for room in &rooms {
        templates::room(target, room, templates::TALK).await?;
        for p in 1..=params.peers {
            specs.push(Spec {
                room: room.clone(),
                user: format!("{room}-u{p}"),
                options: peer_options(&sources, others, video_slots),
            });
        }
    }
    let peers = crowd::connect_all(target, specs, params.concurrency).await?;
    for peer in &peers {
        for source in &sources {
            peer.client.publish(*source).await?;
        }
    }
    let members = members_by_room(&peers);
    // Every stream flows before the window opens.
    for peer in &peers {
        for &from in members[&peer.room].iter().filter(|p| **p != peer.id()) {
            for source in &sources {
                peer.client.wait_received(from, *source, 1, WAIT).await?;
            }
        }
    }
    for peer in &peers {
        peer.client.reset_received();
    }
    let me = std::process::id();
    let cpu0 = target.cpu_seconds();
    let own0 = crate::proc_stat::cpu_seconds(me);
    let egress0 = target.metric("caucus_rtp_forwarded_total").await?;
    let t0 = Instant::now();
    // The measured window: the load runs by itself for this long.
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let cpu1 = target.cpu_seconds();
    let own1 = crate::proc_stat::cpu_seconds(me);
    let egress1 = target.metric("caucus_rtp_forwarded_total").await?;
    let window = t0.elapsed();
    let reports: Vec<_> = peers.iter().map(|p| p.client.receive_report()).collect();
    let server_rss_kib = target.rss_kib();

    let mut per_room: BTreeMap<String, RoomCount> = BTreeMap::new();
    let mut latency = Latency::default();
    let (mut lost, mut expected, mut duplicates, mut reordered, mut packets) = (0, 0, 0, 0, 0);
    let mut streams_received = 0;
    for (peer, report) in peers.iter().zip(&reports) {
        let count = per_room.entry(peer.room.clone()).or_insert(RoomCount {
            room: peer.room.clone(),
            streams: 0,
            in_room_packets: 0,
            cross_room_packets: 0,
        });
        for ((from, _), s) in &report.streams {
            if members[&peer.room].contains(from) {
                count.in_room_packets += s.packets;
                count.streams += 1;
                streams_received += 1;
            } else {
                count.cross_room_packets += s.packets;
            }
            lost += s.lost;
            expected += s.expected();
            duplicates += s.duplicates;
            reordered += s.reordered;
            packets += s.packets;
            latency.merge(&s.latency);
        }
    }
    let cpu = cpu0.zip(cpu1).map(|(a, b)| b - a);
    let egress = egress0.zip(egress1).map(|(a, b)| b - a);
    let secs = window.as_secs_f64();
    let per_cpu = egress
        .zip(cpu)
        .and_then(|(e, c)| (c > 0.0).then(|| (e / c).round()));
    let loss_pct = if expected == 0 {
        0.0
    } else {
        lost as f64 / expected as f64 * 100.0
    };
    let q = |q: f64| latency.quantile(q).map_or(0.0, ms);
    let report = Report {
        scenario: "forward",
        rooms: params.rooms,
        peers_per_room: params.peers,
        video: params.video,
        seconds: secs,
        streams_expected: params.rooms * params.peers * others * sources.len(),
        streams_received,
        packets_received: packets,
        server_egress_packets: egress,
        egress_pps: egress.map(|e| (e / secs).round()),
        server_cpu_s: cpu,
        server_cores_busy: cpu.map(|c| (c / secs * 100.0).round() / 100.0),
        egress_pps_per_server_cpu_s: per_cpu,
        ratio_to_target_pps_per_cpu_s: ratio(per_cpu, TARGET_PPS_PER_CPU_S),
        loadgen_cpu_s: own0.zip(own1).map(|(a, b)| b - a),
        server_rss_kib,
        lost,
        expected,
        loss_pct,
        loss_ratio_to_target: ratio(Some(loss_pct), TARGET_LOSS_PCT),
        duplicates,
        reordered,
        latency: Latencies {
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: latency.max().map_or(0.0, ms),
            samples: latency.count(),
        },
        per_room: per_room.into_values().collect(),
        machine: machine.end(),
    };
    crowd::leave_all(peers, 16).await;
    Ok(report)
}

fn members_by_room(peers: &[Peer]) -> BTreeMap<String, BTreeSet<PeerId>> {
    let mut out: BTreeMap<String, BTreeSet<PeerId>> = BTreeMap::new();
    for peer in peers {
        out.entry(peer.room.clone()).or_default().insert(peer.id());
    }
    out
}
