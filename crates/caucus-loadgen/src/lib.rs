//! # caucus-loadgen — the load generator and whole-server benchmarks
//!
//! **What it is.** A driver that starts (or reaches) a Caucus server and runs many
//! [`caucus_client`] peers against it over real WebRTC on loopback, then measures what the
//! product's quality targets (`docs/product.md`) name: forwarding cost per second of server
//! CPU, loss and one-way latency at the receivers, join and move times, the mass split of 1,000
//! peers into 100 breakouts, and server memory per connected peer. Each scenario returns a report that prints
//! as a human summary and as one JSON line.
//!
//! **What it is not.** Not a test: nothing here asserts a timing (the numbers belong in
//! `docs/benchmarks.md`). Not a network emulator: everything is on `127.0.0.0/8`, and peer
//! counts and durations are bounded ([`limits`]).
//!
//! ## Driving it
//!
//! ```no_run
//! use caucus_loadgen::{scenario, ServerSpec, Target};
//! # async fn demo() -> caucus_loadgen::Result<()> {
//! let target = std::sync::Arc::new(Target::start(&ServerSpec::Spawn { bin: "target/release/caucus".into() }).await?);
//! let report = scenario::forward::run(&target, &scenario::forward::Params::default()).await?;
//! println!("{}", report.summary());
//! # let _ = target;
//! # Ok(()) }
//! ```
//!
//! ## How it measures
//!
//! - **Server CPU and memory** come from `/proc/<pid>/stat` (user + system time) and
//!   `/proc/<pid>/status` (`VmRSS`) of a *separate* `caucus` process ([`ServerSpec::Spawn`], or
//!   [`ServerSpec::External`] with its pid). An in-process server shares threads with the
//!   clients, so its CPU and memory are not reported.
//! - **Loss and latency** come from the synthetic payloads: each carries its sender's
//!   per-stream sequence number and send time ([`caucus_client::payload`]); every receiver
//!   counts holes and arrival − send time (one clock: same machine).
//! - **Join, move and split times** end at the arrival instant of the first packet of the
//!   awaited stream, as the receiving media task recorded it (`StreamStats::first_at`), so a
//!   busy load generator that wakes late does not lengthen them.
//! - Rooms use two templates created over REST ([`templates`]): `lg-talk`, where every member
//!   hears every member, and `lg-split`, where nobody hears anybody in main and everyone hears
//!   everyone inside a breakout room — so 1,000 peers can wait in main without 1,000² streams.

pub mod crowd;
pub mod error;
pub mod limits;
pub mod percentiles;
pub mod proc_stat;
pub mod scenario;
pub mod target;
pub mod templates;

pub use error::{Error, Result};
pub use target::{ServerSpec, Target};
