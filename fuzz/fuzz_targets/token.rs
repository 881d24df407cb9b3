#![no_main]
//! `cargo fuzz run token`: the body is `bodies/token.rs`, which `cargo test` also runs.

#[path = "../bodies/token.rs"]
mod body;
#[path = "../bodies/leak.rs"]
#[allow(dead_code)]
mod leak;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
