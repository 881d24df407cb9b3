//! # caucus-sim — the whole server, simulated
//!
//! Several [`caucus_room::Room`] machines, one [`caucus_media::Engine`] and many in-memory
//! clients (signaling as `caucus_proto::signal` values, media as plain str0m `Rtc`s) on a
//! simulated network with loss, duplication, delay and reordering — all driven by one seed
//! and one simulated clock. No threads, no sockets, no wall clock: a seed replays exactly.
//!
//! A [`Plan`] is generated from the seed (rooms, people and roles, breakouts created,
//! opened, assigned, moved and closed, listen-in, disconnects, network faults); a [`World`]
//! runs it while the [`oracle`] checks isolation, liveness and that refused commands change
//! nothing; [`Plan::twin`] builds the differential plan (moves against fresh joins). `docs/testing.md` (section *Simulation*) tells how to run, sweep and replay.

pub mod client;
pub mod dtls;
pub mod net;
pub mod oracle;
pub mod plan;
pub mod rng;
pub mod world;

use std::time::Duration;

pub use oracle::Findings;
pub use plan::Plan;
pub use world::{Stats, World};

/// What one seed's run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seed: u64,
    pub findings: Findings,
    pub stats: Stats,
    /// A hash of everything observed: the same seed gives the same value.
    pub digest: u64,
}

impl Outcome {
    /// The failures, in words (empty: the run passed).
    pub fn failures(&self) -> Vec<String> {
        self.findings.failures()
    }
}

/// Generate the plan of `seed` and run it for `duration` of simulated time.
pub fn run_seed(seed: u64, duration: Duration) -> Outcome {
    let plan = Plan::generate(seed, duration);
    let (findings, stats, digest) = World::new(plan).run();
    Outcome {
        seed,
        findings,
        stats,
        digest,
    }
}
