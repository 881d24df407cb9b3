//! Model-based property tests of the core.
//!
//! Random command sequences (joins, leaves, reconnects, tracks, roles, moves, the whole breakout
//! set, simulated time) run against a `Session`, issued by the server and by peers alike so that
//! refusals are frequent. After every command and after every timer that fires, the session is
//! compared with a naive reference model written from the rules of `docs/product.md` — never from the
//! core's private logic:
//!
//! 1. the routing rule, brute-forced over every (subscriber, publisher, track), equals
//!    `Session::desired`, and the last `Effect::Subscriptions` of every connected peer equals it
//!    too; disconnected and departed peers receive nothing;
//! 2. locations partition the peers (main or an existing breakout; the view's `peers` lists are
//!    exactly who stands there; nobody stands in a closed room);
//! 3. no breakout holds more than its capacity (managers take no place); no role more than its `max_peers`;
//! 4. in phases `draft` and `closed` everyone is in main;
//! 5. `version` never decreases and increases whenever the breakouts view changed;
//! 6. a refused command changes nothing observable and emits no effect;
//! 7. every track is publishable by its peer's acting role;
//! 8. nobody listens in to the room it stands in; listeners listen to live rooms and may manage
//!    breakouts; broadcasters are connected and may broadcast;
//! 9. no event names a track its receiver may not know of (`caucus_core::knowledge`,
//!    fed every effect in order; checked in `running.rs`);
//! 10. every edit of the breakout plan (rooms, options, pre-assignments) is handed over to be
//!     written (`Effect::PersistPlan`), with the plan as it then stands;
//!
//! plus an independent state machine of the breakout set (phase, rooms, options, timers,
//! countdowns) compared with the view, the timers of reconnect grace, request expiry and the empty
//! session, per-command expectations (what must be refused, what must succeed and what a success
//! leaves behind), and that every connected peer was told the current breakouts view.
//!
//! ## Layout
//!
//! One concept per module; the harness is one type, `Harness`, whose methods are spread over
//! the modules by what they do:
//! - `ops` — the universe and the steps a story is made of; `generator` — the proptest
//!   strategies that draw them; `templates` — templates besides the built-in one;
//! - `reference` — the reference model (routing by brute force, the breakout set as a plain
//!   state machine); `expect` — `Expect` and `Snapshot`; `compare` — view comparison helpers;
//! - `harness` — the `Harness` (session beside model) and its coverage `Stats`;
//!   `selectors` — a step into a command; `running` — running a step, its effects and timers;
//!   `predict` — what a command must do; `success` — what a success leaves behind;
//! - `invariants` — `Harness::check` and `Harness::check_model`: a new invariant goes into
//!   `check` (and into the numbered list above);
//! - this file — the properties and the generator coverage test.

#![allow(clippy::unwrap_used)]

mod compare;
mod expect;
mod generator;
mod harness;
mod invariants;
mod ops;
mod predict;
mod reference;
mod running;
mod selectors;
mod success;
mod templates;

use std::sync::Arc;

use caucus_core::{Template, builtin};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::generator::{crowd_ops, ops};
use crate::harness::{Harness, Stats};
use crate::ops::Op;
use crate::templates::limited_template;

// ---- the properties -------------------------------------------------------------------------

fn run(template: Arc<Template>, ops: &[Op]) -> Result<Stats, TestCaseError> {
    let mut harness = Harness::new(template);
    for (i, op) in ops.iter().enumerate() {
        if let Err(message) = harness.step(op) {
            return Err(TestCaseError::fail(format!(
                "step {i} ({op:?}): {message}\n--- trace (time in ms) ---\n{}\n--- ops ---\n{ops:?}",
                harness.trace.join("\n")
            )));
        }
    }
    Ok(harness.stats)
}

fn cases() -> u32 {
    std::env::var_os("MODEL_CASES")
        .and_then(|v| v.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        // ChaCha is slow unoptimized; the generator needs no cryptographic quality.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The built-in `breakout` template: host, co-host, moderator, guest, breakout.
    #[test]
    fn builtin_template_keeps_every_invariant(ops in ops()) {
        run(builtin::breakout_template(), &ops)?;
    }

    /// A template whose roles hold at most 1–3 peers, with a breakout role that is limited too.
    #[test]
    fn small_role_limits_keep_every_invariant(ops in ops()) {
        run(limited_template(), &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 4, ..config() })]

    /// The built-in template with a crowd: bulk moves, bulk closes, bulk role changes.
    #[test]
    fn crowds_keep_every_invariant(ops in crowd_ops()) {
        run(builtin::breakout_template(), &ops)?;
    }
}

/// The generator must reach every operation's success and every interesting state, or the
/// properties above would pass by never getting there. A fixed seed keeps this check stable;
/// `cargo test --test model -- --nocapture generator_reaches` prints the report.
#[test]
fn generator_reaches_every_operation_and_state() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::new_with_rng(
        config(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::XorShift,
        ),
    );
    let mut total = Stats::default();
    let mut failures = 0;
    for i in 0..256 {
        let (template, ops) = match i % 3 {
            0 => (
                builtin::breakout_template(),
                ops().new_tree(&mut runner).unwrap().current(),
            ),
            1 => (
                limited_template(),
                ops().new_tree(&mut runner).unwrap().current(),
            ),
            _ => (
                builtin::breakout_template(),
                crowd_ops().new_tree(&mut runner).unwrap().current(),
            ),
        };
        let mut harness = Harness::new(template);
        for op in &ops {
            if harness.step(op).is_err() {
                failures += 1;
                break;
            }
        }
        let s = harness.stats;
        for (k, v) in s.ok {
            *total.ok.entry(k).or_default() += v;
        }
        for (k, v) in s.refused {
            *total.refused.entry(k).or_default() += v;
        }
        total.steps += s.steps;
        total.timer_steps += s.timer_steps;
        total.steps_open_with_peers_inside += s.steps_open_with_peers_inside;
        total.steps_listening += s.steps_listening;
        total.steps_broadcasting += s.steps_broadcasting;
        total.steps_main_stage_route += s.steps_main_stage_route;
        total.steps_closing += s.steps_closing;
    }
    for (name, n) in &total.ok {
        println!("{name:24} ok {n:6}");
    }
    for (name, n) in &total.refused {
        println!("{name:48} refused {n:6}");
    }
    println!("{total:#?}\nruns that broke an invariant: {failures}");
    assert_eq!(failures, 0, "a fixed-seed run broke an invariant");
    let never: Vec<&str> = [
        "join",
        "rejoin",
        "leave",
        "disconnect",
        "publish",
        "unpublish",
        "set_muted",
        "mute_peer",
        "ask_unmute",
        "change_role(force)",
        "change_role(request)",
        "change_roles",
        "move(force)",
        "move(request)",
        "respond",
        "b.create",
        "b.update",
        "b.remove",
        "b.options",
        "b.assign",
        "b.auto_assign",
        "b.preassign",
        "b.open",
        "b.close(all)",
        "b.close(one)",
        "b.extend",
        "b.text",
        "b.help",
        "join_breakout",
        "return_to_main",
        "listen_in",
        "broadcasting",
        "request_help",
        "set_locked",
        "end",
    ]
    .into_iter()
    .filter(|name| total.ok.get(name).copied().unwrap_or(0) == 0)
    .collect();
    assert!(
        never.is_empty(),
        "operations that never succeeded: {never:?}"
    );
    for (state, steps) in [
        ("open with peers inside", total.steps_open_with_peers_inside),
        ("listening in", total.steps_listening),
        ("broadcasting", total.steps_broadcasting),
        ("a main-stage route", total.steps_main_stage_route),
        ("closing", total.steps_closing),
        ("timers firing", total.timer_steps),
    ] {
        assert!(steps > 0, "the generator never reached {state}");
    }
}
