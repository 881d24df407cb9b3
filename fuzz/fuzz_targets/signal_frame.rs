#![no_main]
//! `cargo fuzz run signal_frame`: the body is `bodies/signal_frame.rs`, which `cargo test` also runs.

#[path = "../bodies/signal_frame.rs"]
mod body;
#[path = "../bodies/leak.rs"]
#[allow(dead_code)]
mod leak;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
