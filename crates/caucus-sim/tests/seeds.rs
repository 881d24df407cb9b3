//! The committed seeds, the replay check, and the sweep for new seeds.
//!
//! `cargo test -p caucus-sim` runs [`SEEDS`] plans of [`SECONDS`] simulated seconds each;
//! `CAUCUS_SIM_SEEDS=1000..2000 CAUCUS_SIM_BUDGET_S=600 cargo test --release -p caucus-sim
//! --test seeds sweep -- --ignored --nocapture` tries new ones and prints each that fails.

use std::time::Duration;

use caucus_sim::{Outcome, Plan, run_seed};

/// Every seed in `0..SEEDS` runs on every `cargo test`.
const SEEDS: u64 = 100;

/// Simulated time per plan: long enough for joins, breakouts opening, a round of moves and
/// faults and the closing countdown; short enough for a hundred plans in debug builds.
const SECONDS: u64 = 5;

fn check(outcome: &Outcome) -> Vec<String> {
    outcome
        .failures()
        .into_iter()
        .map(|f| format!("seed {}: {f}", outcome.seed))
        .collect()
}

/// The committed seeds, split in a few tests so the test runner spreads them over cores.
fn run_range(from: u64, to: u64) {
    let mut failures = Vec::new();
    for seed in from..to {
        let outcome = run_seed(seed, Duration::from_secs(SECONDS));
        assert!(
            outcome.stats.packets_received > 0,
            "seed {seed}: no media flowed at all"
        );
        failures.extend(check(&outcome));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn seeds_00_to_24() {
    run_range(0, SEEDS / 4);
}

#[test]
fn seeds_25_to_49() {
    run_range(SEEDS / 4, SEEDS / 2);
}

#[test]
fn seeds_50_to_74() {
    run_range(SEEDS / 2, 3 * SEEDS / 4);
}

#[test]
fn seeds_75_to_99() {
    run_range(3 * SEEDS / 4, SEEDS);
}

#[test]
fn a_plan_and_its_network_replay_bit_for_bit() {
    use caucus_sim::net::Net;
    for seed in [3, 42] {
        let plan = Plan::generate(seed, Duration::from_secs(SECONDS));
        assert_eq!(plan, Plan::generate(seed, Duration::from_secs(SECONDS)));
        let fates = || {
            let mut net = Net::new(seed, plan.faults);
            let (a, b) = (
                "198.51.0.1:5000".parse().expect("addr"),
                "192.0.2.1:7882".parse().expect("addr"),
            );
            let mut arrived = Vec::new();
            for i in 0..2_000u64 {
                let now = Duration::from_micros(i * 3_333);
                net.send(now, a, b, vec![0x80, (i % 256) as u8]);
                while let Some((_, _, bytes)) = net.pop_due(now) {
                    arrived.push((now, bytes));
                }
            }
            arrived
        };
        assert_eq!(fates(), fates(), "seed {seed}: the network's fates differ");
    }
    assert_ne!(
        Plan::generate(3, Duration::from_secs(SECONDS)),
        Plan::generate(4, Duration::from_secs(SECONDS))
    );
}

/// Datagrams a pair sends at one instant reach the receiver in one order, whatever order
/// they were sent in: RTP by SSRC and sequence number, the rest after them as sent. (str0m
/// may emit packets of different streams at one instant in either order from run to run.)
#[test]
fn datagrams_sent_together_arrive_in_one_order() {
    use caucus_sim::net::{Faults, Net};
    let (a, b) = (
        "192.0.2.1:7882".parse().expect("addr"),
        "198.51.0.1:5000".parse().expect("addr"),
    );
    let rtp = |ssrc: u32, seq: u16| {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(b"payload");
        p
    };
    let rtcp = vec![0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    let batch = [rtp(7, 10), rtp(3, 11), rtcp, rtp(7, 9), rtp(3, 10)];
    let delivered = |order: &[usize]| {
        let mut net = Net::new(5, Faults::NONE);
        let now = Duration::from_millis(40);
        for &i in order {
            net.send(now, a, b, batch[i].clone());
        }
        let mut out = Vec::new();
        while let Some((_, _, bytes)) = net.pop_due(Duration::from_secs(1)) {
            out.push(bytes);
        }
        out
    };
    let first = delivered(&[0, 1, 2, 3, 4]);
    assert_eq!(first.len(), 5);
    assert_eq!(first, delivered(&[4, 3, 2, 1, 0]));
    assert_eq!(first, delivered(&[2, 3, 0, 4, 1]));
    assert_eq!(
        first,
        [4, 1, 3, 0, 2].map(|i| batch[i].clone()),
        "RTP by SSRC, then sequence number; RTCP last"
    );
}

/// The whole run's digest, twice. Not yet true for every seed: str0m walks randomly seeded
/// `HashMap`s of its streams where the walk decides an output (which send stream carries
/// probe padding, and with it the transport-wide sequence numbers; what goes into an RTCP
/// packet), so a client can answer at another microsecond and, through the per-instant
/// fates, observe something else (docs/testing.md, Simulation). Run it on purpose to see.
#[test]
#[ignore = "known: str0m walks randomly seeded hash maps of its streams (docs/testing.md, Simulation)"]
fn a_run_replays_bit_for_bit() {
    for seed in [3, 42] {
        let first = run_seed(seed, Duration::from_secs(SECONDS));
        let second = run_seed(seed, Duration::from_secs(SECONDS));
        assert_eq!(first.digest, second.digest, "seed {seed} did not replay");
    }
}

/// Seed 27 moves a guest between breakout rooms and closes them; seed 48 has a late joiner
/// a guest does not see in the peer list, publishing to it. Both once named tracks and peers
/// their receivers were never told of: an arrival now meets the peers and tracks it is sent.
#[test]
fn arrivals_are_introduced_before_they_are_named() {
    for seed in [27, 48] {
        let outcome = run_seed(seed, Duration::from_secs(SECONDS));
        let findings = &outcome.findings;
        assert!(
            findings.unknown_slot.is_empty()
                && findings.unknown_track_unpublished.is_empty()
                && findings.unknown_names.is_empty(),
            "seed {seed}: {:?} {:?} {:?}",
            findings.unknown_slot,
            findings.unknown_track_unpublished,
            findings.unknown_names
        );
    }
}

/// Sweep new seeds: `CAUCUS_SIM_SEEDS=a..b` (default 100..200), `CAUCUS_SIM_BUDGET_S`
/// (wall-clock seconds, default 300), `CAUCUS_SIM_SECONDS` (simulated, default 5). Prints
/// every failing seed; add it to the committed range once the bug is fixed.
#[test]
#[ignore = "a sweep: run on purpose, for a bounded time"]
fn sweep() {
    let env = |name: &str| std::env::var(name).ok();
    let (from, to) = env("CAUCUS_SIM_SEEDS")
        .and_then(|r| {
            let (a, b) = r.split_once("..")?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((100u64, 200u64));
    let budget = Duration::from_secs(
        env("CAUCUS_SIM_BUDGET_S")
            .and_then(|s| s.parse().ok())
            .unwrap_or(300),
    );
    let seconds = env("CAUCUS_SIM_SECONDS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(SECONDS);
    // The budget is wall-clock by design: it bounds how long a person waits, not a result.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let mut failing = Vec::new();
    let mut ran = 0;
    for seed in from..to {
        if started.elapsed() > budget {
            break;
        }
        let outcome = run_seed(seed, Duration::from_secs(seconds));
        ran += 1;
        let failures = check(&outcome);
        if !failures.is_empty() {
            println!("FAILING SEED {seed}:\n  {}", failures.join("\n  "));
            failing.push(seed);
        }
    }
    println!("swept {ran} seeds from {from}; failing: {failing:?}");
    assert!(failing.is_empty(), "failing seeds: {failing:?}");
}
