//! **join**: a room where `talkers` members publish audio; `joins` new members join one after
//! the other, each timed from opening the signaling connection to the first packet of a
//! talker arriving at its media peer, then leave.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caucus_client::{ClientOptions, MediaTransport};
use caucus_proto::Source;
use serde::Serialize;

use super::{Machine, WAIT, peer_options, ratio};
use crate::crowd::{self, Spec};
use crate::error::Result;
use crate::percentiles::Percentiles;
use crate::target::Target;
use crate::{limits, templates};

/// The product target: join p95, milliseconds.
pub const TARGET_P95_MS: f64 = 300.0;

#[derive(Debug, Clone)]
pub struct Params {
    pub joins: usize,
    pub talkers: usize,
    /// Joiners over ICE-TCP only.
    pub tcp: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            joins: 100,
            talkers: 2,
            tcp: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub talkers: usize,
    /// How the joiners' media travelled: `udp` or `tcp`.
    pub transport: &'static str,
    /// Signaling connect → first media packet.
    pub join_to_first_packet: Percentiles,
    /// Signaling connect → `Client::connect` returned (joined, negotiated, ICE + DTLS up).
    pub join_to_media_connected: Percentiles,
    pub ratio_to_target_p95: Option<f64>,
    pub machine: Machine,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "join: {} joins over {} into a room with {} talkers\n  \
             connect -> first media packet: {}\n  \
             connect -> media connected:    {}\n  \
             target p95 < 300 ms; ratio {:.2}\n  {}",
            self.join_to_first_packet.n,
            self.transport,
            self.talkers,
            self.join_to_first_packet.line(),
            self.join_to_media_connected.line(),
            self.ratio_to_target_p95.unwrap_or(f64::NAN),
            self.machine.line()
        )
    }
}

pub async fn run(target: &Arc<Target>, params: &Params) -> Result<Report> {
    let machine = Machine::start();
    let joins = limits::repeats(params.joins)?;
    limits::peers(params.talkers.max(1) + 1)?;
    let room = "join";
    templates::room(target, room, templates::TALK).await?;
    let specs = (1..=params.talkers.max(1))
        .map(|i| Spec {
            room: room.into(),
            user: format!("talker-{i}"),
            options: peer_options(&[Source::Audio], 0, 0),
        })
        .collect();
    let talkers = crowd::connect_all(target, specs, 4).await?;
    for t in &talkers {
        t.client.publish_audio().await?;
    }
    let first_talker = talkers
        .first()
        .map(|t| t.id())
        .ok_or_else(|| crate::Error::setup("no talker"))?;
    let mut phase = super::Phase::new();
    let mut to_packet: Vec<Duration> = Vec::with_capacity(joins);
    let mut to_connected: Vec<Duration> = Vec::with_capacity(joins);
    for i in 0..joins {
        phase.wait().await;
        let spec = Spec {
            room: room.into(),
            user: format!("joiner-{i}"),
            options: ClientOptions {
                transport: if params.tcp {
                    MediaTransport::Tcp
                } else {
                    MediaTransport::Udp
                },
                ..peer_options(&[], params.talkers.max(1), 0)
            },
        };
        let t0 = Instant::now();
        let peer = crowd::connect(target, spec).await?;
        to_connected.push(t0.elapsed());
        let stream = peer
            .client
            .wait_received(first_talker, Source::Audio, 1, WAIT)
            .await?;
        to_packet.push(stream.first_at.saturating_duration_since(t0));
        peer.leave().await;
    }
    let join_to_first_packet = Percentiles::of(&to_packet);
    let report = Report {
        scenario: "join",
        talkers: talkers.len(),
        transport: if params.tcp { "tcp" } else { "udp" },
        ratio_to_target_p95: ratio(Some(join_to_first_packet.p95_ms), TARGET_P95_MS),
        join_to_first_packet,
        join_to_media_connected: Percentiles::of(&to_connected),
        machine: machine.end(),
    };
    crowd::leave_all(talkers, 4).await;
    Ok(report)
}
