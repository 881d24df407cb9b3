//! **memory per peer**: the server's resident memory idle (a room and its template made, nobody
//! in it) and with `peers` members connected in one `lg-split` session (media up: ICE, DTLS,
//! one sending audio m-line and one receive slot each; `publishing` of them sending audio, which
//! nobody in main receives), then after everyone left.

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
}

impl Default for Params {
    fn default() -> Self {
        Params {
            peers: 500,
            publishing: 50,
            concurrency: 8,
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
    let specs = (0..n)
        .map(|i| Spec {
            room: room.into(),
            user: format!("m{i}"),
            options: peer_options(&[Source::Audio], 1, 0),
        })
        .collect();
    let t = Instant::now();
    let peers = crowd::connect_all(target, specs, params.concurrency).await?;
    let connect_all_s = t.elapsed().as_secs_f64();
    for peer in peers.iter().take(params.publishing) {
        peer.client.publish_audio().await?;
    }
    let connected = target.rss_kib().ok_or_else(no_pid)?;
    crowd::leave_all(peers, 16).await;
    let after = target.rss_kib();
    let kib_per_peer = (connected as f64 - idle as f64) / n as f64;
    Ok(Report {
        scenario: "memory",
        peers: n,
        publishing: params.publishing.min(n),
        rss_idle_kib: idle,
        rss_connected_kib: connected,
        rss_after_leave_kib: after,
        kib_per_peer,
        ratio_to_target: ratio(Some(kib_per_peer), TARGET_KIB_PER_PEER),
        connect_all_s,
        machine: machine.end(),
    })
}
