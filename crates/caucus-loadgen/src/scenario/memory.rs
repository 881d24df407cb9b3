//! **memory per peer**: the server's resident memory idle (a room and its template made, nobody
//! in it) and with `peers` members connected in one `lg-split` session (media up: ICE, DTLS,
//! one sending audio m-line and one receive slot each; `publishing` of them sending audio, which
//! nobody in main receives), then after everyone left. With `rounds` above one the whole
//! crowd joins and leaves again that many times, and the resident memory after each round
//! shows whether anything stays behind (the allocator keeps freed pages, so memory that a
//! later round reuses is not a leak; memory that grows round after round is).

use std::sync::Arc;
use std::time::Instant;

use caucus_proto::Source;
use serde::Serialize;

use super::{Machine, peer_options, ratio};
use crate::crowd::{self, Spec};
use crate::error::{Error, Result};
use crate::target::Target;
use crate::{limits, templates};

/// The product target: KiB of server memory per connected peer.
pub const TARGET_KIB_PER_PEER: f64 = 256.0;

#[derive(Debug, Clone)]
pub struct Params {
    pub peers: usize,
    /// How many of them publish audio.
    pub publishing: usize,
    pub concurrency: usize,
    /// How many times the crowd joins and leaves.
    pub rounds: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            peers: 500,
            publishing: 50,
            concurrency: 8,
            rounds: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub peers: usize,
    pub publishing: usize,
    pub rss_idle_kib: u64,
    pub rss_connected_kib: u64,
    pub rss_after_leave_kib: Option<u64>,
    /// Per round: resident memory with everyone connected, and after everyone left.
    pub rounds: Vec<(u64, Option<u64>)>,
    /// Resident memory added from the end of the first round to the end of the last, per
    /// round after the first (KiB; `None` with one round).
    pub growth_kib_per_round: Option<f64>,
    pub kib_per_peer: f64,
    pub ratio_to_target: Option<f64>,
    pub connect_all_s: f64,
    pub machine: Machine,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "memory: {} connected peers ({} publishing audio)\n  \
             server RSS idle {} KiB, connected {} KiB, after all left {} KiB\n  \
             {:.0} KiB per connected peer (target < 256; ratio {:.2}); connecting took {:.1} s\n  {}",
            self.peers,
            self.publishing,
            self.rss_idle_kib,
            self.rss_connected_kib,
            self.rss_after_leave_kib
                .map_or("n/a".into(), |v| v.to_string()),
            self.kib_per_peer,
            self.ratio_to_target.unwrap_or(f64::NAN),
            self.connect_all_s,
            self.machine.line()
        ) + &self.rounds_line()
    }

    fn rounds_line(&self) -> String {
        let Some(growth) = self.growth_kib_per_round else {
            return String::new();
        };
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .map(|(c, a)| format!("{c}/{}", a.map_or("?".into(), |a| a.to_string())))
            .collect();
        format!(
            "\n  {} rounds of join + leave, RSS connected/after (KiB): {}; growth {growth:.0} KiB per round",
            self.rounds.len(),
            rounds.join(", ")
        )
    }
}

pub async fn run(target: &Arc<Target>, params: &Params) -> Result<Report> {
    let machine = Machine::start();
    let n = limits::peers(params.peers)?;
    let no_pid =
        || Error::setup("memory needs the server's pid (spawned, or external with --server-pid)");
    let room = "memory";
    templates::room(target, room, templates::SPLIT).await?;
    let idle = target.rss_kib().ok_or_else(no_pid)?;
    let specs: Vec<Spec> = (0..n)
        .map(|i| Spec {
            room: room.into(),
            user: format!("m{i}"),
            options: peer_options(&[Source::Audio], 1, 0),
        })
        .collect();
    let mut rounds = Vec::new();
    let mut connect_all_s = 0.0;
    for round in 0..params.rounds.max(1) {
        let t = Instant::now();
        let peers = crowd::connect_all(target, specs.clone(), params.concurrency).await?;
        if round == 0 {
            connect_all_s = t.elapsed().as_secs_f64();
        }
        for peer in peers.iter().take(params.publishing) {
            peer.client.publish_audio().await?;
        }
        let connected = target.rss_kib().ok_or_else(no_pid)?;
        crowd::leave_all(peers, 16).await;
        rounds.push((connected, target.rss_kib()));
    }
    let (connected, after) = rounds[0];
    let growth_kib_per_round = match (rounds.first(), rounds.last()) {
        (Some((_, Some(first))), Some((_, Some(last)))) if rounds.len() > 1 => {
            Some((*last as f64 - *first as f64) / (rounds.len() - 1) as f64)
        }
        _ => None,
    };
    let kib_per_peer = (connected as f64 - idle as f64) / n as f64;
    Ok(Report {
        scenario: "memory",
        peers: n,
        publishing: params.publishing.min(n),
        rss_idle_kib: idle,
        rss_connected_kib: connected,
        rss_after_leave_kib: after,
        rounds,
        growth_kib_per_round,
        kib_per_peer,
        ratio_to_target: ratio(Some(kib_per_peer), TARGET_KIB_PER_PEER),
        connect_all_s,
        machine: machine.end(),
    })
}
