#![no_main]
//! `cargo fuzz run sdp`: the body is `bodies/sdp.rs`, which `cargo test` also runs.

#[path = "../bodies/sdp.rs"]
mod body;
#[path = "../bodies/leak.rs"]
#[allow(dead_code)]
mod leak;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
