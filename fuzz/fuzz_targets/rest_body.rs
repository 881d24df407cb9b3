#![no_main]
//! `cargo fuzz run rest_body`: the body is `bodies/rest_body.rs`, which `cargo test` also runs.

#[path = "../bodies/rest_body.rs"]
mod body;
#[path = "../bodies/leak.rs"]
#[allow(dead_code)]
mod leak;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
