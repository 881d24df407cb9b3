//! The scenarios. Each takes a started [`Target`](crate::Target) and its parameters, and
//! returns a report that serialises to one JSON line and prints a human summary.

use std::time::Duration;

use caucus_client::ClientOptions;
use caucus_proto::Source;
use serde::Serialize;

pub mod forward;
pub mod join;
pub mod memory;
pub mod moves;
pub mod split;

/// How long any single awaited thing (a connect, a first packet) may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// The load on the machine when a scenario started and ended (`/proc/loadavg`), and its cores.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub loadavg_start: Option<[f64; 3]>,
    pub loadavg_end: Option<[f64; 3]>,
}

impl Machine {
    pub fn start() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            loadavg_start: crate::proc_stat::loadavg(),
            loadavg_end: None,
        }
    }

    pub fn end(mut self) -> Machine {
        self.loadavg_end = crate::proc_stat::loadavg();
        self
    }

    pub fn line(&self) -> String {
        let f =
            |l: Option<[f64; 3]>| l.map_or("?".into(), |l| format!("{} {} {}", l[0], l[1], l[2]));
        format!(
            "machine: {} cores, load average {} at the start, {} at the end",
            self.cores,
            f(self.loadavg_start),
            f(self.loadavg_end)
        )
    }
}

/// `value / target`, rounded to two decimals (`None` when either is unknown).
pub fn ratio(value: Option<f64>, target: f64) -> Option<f64> {
    value.map(|v| (v / target * 100.0).round() / 100.0)
}

/// Options of a peer that sends `send` and has `audio` + `video` receive slots. Loss segments
/// only end after 5 s of silence, so no stall of a busy machine can hide a hole.
pub fn peer_options(send: &[Source], audio: usize, video: usize) -> ClientOptions {
    ClientOptions {
        segment_gap: Duration::from_secs(5),
        connect_timeout: WAIT,
        request_timeout: WAIT,
        event_capacity: 256,
        ..ClientOptions::default()
    }
    .with_send(send)
    .with_slots(audio, video)
}

/// Milliseconds, for summaries.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A random pause of up to one audio packet interval (20 ms) before each timed join or move,
/// from a fixed seed. Without it each attempt starts right after the previous one ended —
/// at a fixed phase of the talkers' 20 ms packet clock — and the figures measure that phase
/// rather than the server.
#[derive(Debug)]
pub struct Phase(rand::rngs::StdRng);

impl Phase {
    pub fn new() -> Phase {
        use rand::SeedableRng;
        Phase(rand::rngs::StdRng::seed_from_u64(0x5eed))
    }

    pub async fn wait(&mut self) {
        use rand::Rng;
        let pause = Duration::from_micros(self.0.random_range(0..20_000));
        tokio::time::sleep(pause).await;
    }
}

impl Default for Phase {
    fn default() -> Self {
        Phase::new()
    }
}
