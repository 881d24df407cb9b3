//! The recording fuzz target (`fuzz/fuzz_targets/rtp_record.rs`) as a bounded property test:
//! reorder buffer, VP8 and Opus depacketizing, the assembler's timeline and the muxer.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "../../../fuzz/bodies/driver.rs"]
mod driver;
#[path = "../../../fuzz/bodies/rtp_record.rs"]
mod rtp_record;

#[test]
fn packet_streams_depacketize_in_order_and_mux() {
    driver::check("rtp_record", 400, rtp_record::run);
}
