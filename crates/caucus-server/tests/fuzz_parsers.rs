//! The server's fuzz targets (`fuzz/`) as bounded property tests: signaling frames, REST
//! bodies and tokens. `docs/testing.md` says how the same bodies run under libFuzzer.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "../../../fuzz/bodies/driver.rs"]
mod driver;
#[path = "../../../fuzz/bodies/leak.rs"]
mod leak;
#[path = "../../../fuzz/bodies/rest_body.rs"]
mod rest_body;
#[path = "../../../fuzz/bodies/signal_frame.rs"]
mod signal_frame;
#[path = "../../../fuzz/bodies/token.rs"]
mod token;

#[test]
fn signaling_frames_parse_round_trip_or_are_refused_cleanly() {
    driver::check("signal_frame", 400, signal_frame::run);
}

#[test]
fn rest_bodies_are_read_or_refused_with_a_stable_code() {
    driver::check("rest_body", 400, rest_body::run);
}

#[test]
fn tokens_verify_or_are_refused_with_a_stable_code() {
    driver::check("token", 300, token::run);
}
