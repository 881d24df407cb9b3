//! Run one seed and print what it found: `cargo run -p caucus-sim --example one -- SEED [SECONDS]`.

use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let outcome = caucus_sim::run_seed(seed, Duration::from_secs(secs));
    if let Ok(path) = std::env::var("CAUCUS_SIM_LINES") {
        let plan = caucus_sim::Plan::generate(seed, Duration::from_secs(secs));
        let (_, _, digest) = caucus_sim::World::new(plan.clone()).run_keeping();
        let _ = std::fs::write(&path, digest.lines().join("\n"));
        let (_, _, digest) = caucus_sim::World::new(plan).run_keeping();
        let _ = std::fs::write(format!("{path}.again"), digest.lines().join("\n"));
    }
    if std::env::var("CAUCUS_SIM_TWICE").is_ok() {
        let again = caucus_sim::run_seed(seed, Duration::from_secs(secs));
        println!("replay digest {:016x}", again.digest);
    }
    println!("seed {seed}: digest {:016x}", outcome.digest);
    println!("{:?}", outcome.stats);
    println!("longest gap {:?}", outcome.findings.longest_gap);
    println!(
        "known track_unpublished leaks: {}",
        outcome.findings.unknown_track_unpublished.len()
    );
    for line in outcome.findings.unknown_track_unpublished.iter().take(3) {
        println!("  {line}");
    }
    println!("late resends: {}", outcome.findings.late_resends.len());
    for failure in outcome.failures() {
        println!("FAIL {failure}");
    }
}
