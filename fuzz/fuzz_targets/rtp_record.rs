#![no_main]
//! `cargo fuzz run rtp_record`: the body is `bodies/rtp_record.rs`, which `cargo test` also runs.

#[path = "../bodies/rtp_record.rs"]
mod body;
#[path = "../bodies/leak.rs"]
#[allow(dead_code)]
mod leak;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
