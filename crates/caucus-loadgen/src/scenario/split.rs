//! **mass split**: `peers` members connected in one session of the `lg-split` template, `rooms`
//! breakout rooms created and opened, then one REST call —
//! `POST /v1/rooms/{room}/breakouts/assign` with `{"auto": {"seed": S}}` — spreads every peer
//! evenly over the rooms. Timed from sending the call until every listener has received the
//! first packet of its new room's talker.
//!
//! One talker per room: the assignment is seeded, so the scenario predicts it with the core's
//! own `assign::spread` (peers in id order, rooms in id order, none excluded) and lets the
//! first peer of each predicted room publish audio before the call (in main nobody hears it).
//! The call's answer — the breakout view with each room's peers — is then compared with the
//! prediction, and every listener waits for the talkers actually in its room, so a changed
//! algorithm shows up as `mispredicted` peers, not as wrong numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caucus_core::assign::{Slot, spread};
use caucus_proto::{BreakoutId, PeerId, Source};
use reqwest::Method;
use serde::Serialize;
use serde_json::json;
use tokio::task::JoinSet;

use super::moves::open_breakouts;
use super::{Machine, WAIT, peer_options, ratio};
use crate::crowd::{self, Spec};
use crate::error::{Error, Result};
use crate::percentiles::Percentiles;
use crate::target::Target;
use crate::{limits, templates};

/// The product target: mass split p99, milliseconds.
pub const TARGET_P99_MS: f64 = 1000.0;

#[derive(Debug, Clone)]
pub struct Params {
    pub peers: usize,
    pub rooms: usize,
    pub seed: u64,
    pub concurrency: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            peers: 1000,
            rooms: 100,
            seed: 7,
            concurrency: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub peers: usize,
    pub rooms: usize,
    pub talkers: usize,
    /// Peers the answer placed elsewhere than predicted.
    pub mispredicted: usize,
    /// Rooms with exactly one talker after the split.
    pub rooms_with_one_talker: usize,
    /// Listeners that never received their room's talker within the wait.
    pub listeners_missing: usize,
    /// Listeners that received a talker of another room after the split (must be 0).
    pub cross_room_listeners: usize,
    /// REST call sent → every listener has its room's talker: one sample per listener.
    pub call_to_talker: Percentiles,
    /// REST call sent → its answer.
    pub rest_call_ms: f64,
    pub ratio_to_target_p99: Option<f64>,
    /// Time to connect every peer (media up), seconds.
    pub connect_all_s: f64,
    pub server_rss_kib_before_joins: Option<u64>,
    pub server_rss_kib_connected: Option<u64>,
    pub server_kib_per_peer: Option<f64>,
    pub machine: Machine,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "split: {} peers auto-assigned into {} breakouts by one call ({} talkers; {} rooms with exactly one; {} mispredicted)\n  \
             call -> every listener hears its room's talker: {}\n  \
             the call's own answer: {:.1} ms; listeners missing: {}, hearing another room: {}\n  \
             target p99 < 1 s; ratio {:.2}\n  \
             connecting all peers took {:.1} s; server RSS {} KiB before, {} KiB connected ({} KiB per peer)\n  {}",
            self.peers,
            self.rooms,
            self.talkers,
            self.rooms_with_one_talker,
            self.mispredicted,
            self.call_to_talker.line(),
            self.rest_call_ms,
            self.listeners_missing,
            self.cross_room_listeners,
            self.ratio_to_target_p99.unwrap_or(f64::NAN),
            self.connect_all_s,
            self.server_rss_kib_before_joins
                .map_or("n/a".into(), |v| v.to_string()),
            self.server_rss_kib_connected
                .map_or("n/a".into(), |v| v.to_string()),
            self.server_kib_per_peer
                .map_or("n/a".into(), |v| format!("{v:.0}")),
            self.machine.line()
        )
    }
}

pub async fn run(target: &Arc<Target>, params: &Params) -> Result<Report> {
    let machine = Machine::start();
    let n = limits::peers(params.peers)?;
    if params.rooms == 0 || params.rooms > n {
        return Err(Error::setup("between 1 room and one room per peer"));
    }
    let room = "split";
    templates::room(target, room, templates::SPLIT).await?;
    let rooms = open_breakouts(target, room, params.rooms).await?;
    let rss_before = target.rss_kib();
    let specs = (0..n)
        .map(|i| Spec {
            room: room.into(),
            user: format!("u{i}"),
            options: peer_options(&[Source::Audio], 1, 0),
        })
        .collect();
    let t_connect = Instant::now();
    let peers = crowd::connect_all(target, specs, params.concurrency).await?;
    let connect_all_s = t_connect.elapsed().as_secs_f64();
    let rss_connected = target.rss_kib();

    // Predict the seeded assignment and pick the first peer of each room as its talker.
    let mut ids: Vec<PeerId> = peers.iter().map(|p| p.id()).collect();
    ids.sort();
    let slots = rooms
        .iter()
        .map(|b| Slot {
            room: *b,
            taken: 0,
            capacity: None,
        })
        .collect();
    let predicted = spread(ids, slots, params.seed)
        .ok_or_else(|| Error::setup("the rooms cannot hold every peer"))?;
    let mut talker_of: BTreeMap<BreakoutId, PeerId> = BTreeMap::new();
    for (peer, b) in &predicted {
        talker_of.entry(*b).or_insert(*peer);
    }
    let talkers: BTreeSet<PeerId> = talker_of.values().copied().collect();
    for peer in peers.iter().filter(|p| talkers.contains(&p.id())) {
        peer.client.publish_audio().await?;
    }

    tracing::info!(
        peers = peers.len(),
        "split: every peer connected; calling assign now"
    );
    let t0 = Instant::now();
    let view = target
        .rest(
            Method::POST,
            &format!("/v1/rooms/{room}/breakouts/assign"),
            Some(json!({"auto": {"seed": params.seed}})),
        )
        .await?;
    let rest_call = t0.elapsed();

    // Where the answer says everyone is now.
    let mut actual: BTreeMap<PeerId, BreakoutId> = BTreeMap::new();
    for r in view["rooms"].as_array().into_iter().flatten() {
        let Some(b) = r["id"].as_str().and_then(|s| s.parse::<BreakoutId>().ok()) else {
            continue;
        };
        for p in r["peers"].as_array().into_iter().flatten() {
            if let Some(p) = p.as_str().and_then(|s| s.parse::<PeerId>().ok()) {
                actual.insert(p, b);
            }
        }
    }
    let mispredicted = predicted
        .iter()
        .filter(|(p, b)| actual.get(p) != Some(b))
        .count();
    let mut talkers_in: BTreeMap<BreakoutId, Vec<PeerId>> = BTreeMap::new();
    for t in &talkers {
        if let Some(b) = actual.get(t) {
            talkers_in.entry(*b).or_default().push(*t);
        }
    }
    let rooms_with_one_talker = talkers_in.values().filter(|t| t.len() == 1).count();

    // Every listener awaits the first talker of its room; the time is that packet's arrival.
    let peers: Vec<Arc<crowd::Peer>> = peers.into_iter().map(Arc::new).collect();
    let mut waits = JoinSet::new();
    let mut listeners = 0;
    for peer in peers.iter().filter(|p| !talkers.contains(&p.id())) {
        listeners += 1;
        let Some(&talker) = actual
            .get(&peer.id())
            .and_then(|b| talkers_in.get(b))
            .and_then(|t| t.first())
        else {
            continue;
        };
        let peer = Arc::clone(peer);
        waits.spawn(async move {
            peer.client
                .wait_received(talker, Source::Audio, 1, WAIT)
                .await
                .ok()
                .map(|s| s.first_at.saturating_duration_since(t0))
        });
    }
    let mut times: Vec<Duration> = Vec::with_capacity(listeners);
    while let Some(done) = waits.join_next().await {
        if let Ok(Some(t)) = done {
            times.push(t);
        }
    }
    let listeners_missing = listeners - times.len();
    // Nothing from another room's talker may have arrived since the split.
    let cross_room_listeners = peers
        .iter()
        .filter(|p| !talkers.contains(&p.id()))
        .filter(|p| {
            let mine = actual.get(&p.id());
            p.client
                .received()
                .iter()
                .any(|((from, _), s)| actual.get(from) != mine && s.last_at > t0 + rest_call)
        })
        .count();
    let call_to_talker = Percentiles::of(&times);
    let report = Report {
        scenario: "split",
        peers: n,
        rooms: rooms.len(),
        talkers: talkers.len(),
        mispredicted,
        rooms_with_one_talker,
        listeners_missing,
        cross_room_listeners,
        ratio_to_target_p99: ratio(Some(call_to_talker.p99_ms), TARGET_P99_MS),
        call_to_talker,
        rest_call_ms: rest_call.as_secs_f64() * 1e3,
        connect_all_s,
        server_rss_kib_before_joins: rss_before,
        server_rss_kib_connected: rss_connected,
        server_kib_per_peer: rss_before
            .zip(rss_connected)
            .map(|(a, b)| (b as f64 - a as f64) / n as f64),
        machine: machine.end(),
    };
    let peers: Vec<crowd::Peer> = peers.into_iter().filter_map(Arc::into_inner).collect();
    crowd::leave_all(peers, 16).await;
    Ok(report)
}
