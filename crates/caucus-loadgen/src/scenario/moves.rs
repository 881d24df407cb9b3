//! **move**: a session of the `lg-split` template with `rooms` open breakout rooms, one talker
//! in each, and one mover. The mover is moved by REST (`PATCH /v1/rooms/{room}/peers/{peer}`
//! with `location`) from main into room 1, then room 2, … round the rooms, `moves` times; each
//! move is timed from sending the request to the first packet of the new room's talker at the
//! mover. (The talker sends every 20 ms, so up to 20 ms of each figure is waiting for its next
//! packet; the mean share is 10 ms.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use caucus_proto::{BreakoutId, Source};
use reqwest::Method;
use serde::Serialize;
use serde_json::json;

use super::{Machine, WAIT, peer_options, ratio};
use crate::crowd::{self, Spec};
use crate::error::{Error, Result};
use crate::percentiles::Percentiles;
use crate::target::Target;
use crate::{limits, templates};

/// The product target: move p95, milliseconds.
pub const TARGET_P95_MS: f64 = 150.0;

#[derive(Debug, Clone)]
pub struct Params {
    pub rooms: usize,
    pub moves: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            rooms: 10,
            moves: 200,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub rooms: usize,
    /// REST call sent → first packet of the new room's talker at the mover.
    pub move_to_first_packet: Percentiles,
    /// REST call sent → its answer.
    pub rest_call: Percentiles,
    pub ratio_to_target_p95: Option<f64>,
    pub machine: Machine,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "move: {} moves round {} breakout rooms (one talker each)\n  \
             REST call -> first packet of the new room: {}\n  \
             REST call -> its answer:                   {}\n  \
             target p95 < 150 ms; ratio {:.2}\n  {}",
            self.move_to_first_packet.n,
            self.rooms,
            self.move_to_first_packet.line(),
            self.rest_call.line(),
            self.ratio_to_target_p95.unwrap_or(f64::NAN),
            self.machine.line()
        )
    }
}

/// Creates `count` breakout rooms in `room` and opens them; returns their ids in order.
pub async fn open_breakouts(target: &Target, room: &str, count: usize) -> Result<Vec<BreakoutId>> {
    let created = target
        .rest(
            Method::POST,
            &format!("/v1/rooms/{room}/breakouts"),
            Some(json!({"count": count})),
        )
        .await?;
    let ids: Vec<BreakoutId> = created["rooms"]
        .as_array()
        .map(|rooms| {
            rooms
                .iter()
                .filter_map(|r| r["id"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if ids.len() != count {
        return Err(Error::setup(format!(
            "asked for {count} breakout rooms, got {created}"
        )));
    }
    target
        .rest(
            Method::POST,
            &format!("/v1/rooms/{room}/breakouts/open"),
            Some(json!({})),
        )
        .await?;
    Ok(ids)
}

/// Moves a peer by REST.
pub async fn move_peer(target: &Target, room: &str, peer: &str, to: &str) -> Result<()> {
    target
        .rest(
            Method::PATCH,
            &format!("/v1/rooms/{room}/peers/{peer}"),
            Some(json!({"location": to})),
        )
        .await?;
    Ok(())
}

pub async fn run(target: &Arc<Target>, params: &Params) -> Result<Report> {
    let machine = Machine::start();
    let moves = limits::repeats(params.moves)?;
    limits::peers(params.rooms.max(2) + 1)?;
    let room = "move";
    templates::room(target, room, templates::SPLIT).await?;
    // Two rooms at least: a move into the room one already stands in changes nothing.
    let rooms = open_breakouts(target, room, params.rooms.max(2)).await?;
    let specs = (0..rooms.len())
        .map(|i| Spec {
            room: room.into(),
            user: format!("talker-{i}"),
            options: peer_options(&[Source::Audio], 1, 0),
        })
        .collect();
    let talkers = crowd::connect_all(target, specs, 4).await?;
    for (talker, b) in talkers.iter().zip(&rooms) {
        talker.client.publish_audio().await?;
        move_peer(target, room, &talker.id().to_string(), &b.to_string()).await?;
    }
    let mover = crowd::connect(
        target,
        Spec {
            room: room.into(),
            user: "mover".into(),
            options: peer_options(&[], 2, 0),
        },
    )
    .await?;
    let mover_id = mover.id().to_string();
    let mut phase = super::Phase::new();
    let mut to_packet: Vec<Duration> = Vec::with_capacity(moves);
    let mut rest: Vec<Duration> = Vec::with_capacity(moves);
    for i in 0..moves {
        phase.wait().await;
        let k = i % rooms.len();
        let talker = talkers[k].id();
        mover.client.reset_received();
        let t0 = Instant::now();
        move_peer(target, room, &mover_id, &rooms[k].to_string()).await?;
        rest.push(t0.elapsed());
        let stream = mover
            .client
            .wait_received(talker, Source::Audio, 1, WAIT)
            .await?;
        to_packet.push(stream.first_at.saturating_duration_since(t0));
    }
    let move_to_first_packet = Percentiles::of(&to_packet);
    let report = Report {
        scenario: "move",
        rooms: rooms.len(),
        ratio_to_target_p95: ratio(Some(move_to_first_packet.p95_ms), TARGET_P95_MS),
        move_to_first_packet,
        rest_call: Percentiles::of(&rest),
        machine: machine.end(),
    };
    mover.leave().await;
    crowd::leave_all(talkers, 4).await;
    Ok(report)
}
