//! The media engine's fuzz target (`fuzz/fuzz_targets/sdp.rs`) as a bounded property test:
//! offers, re-offers, answers and datagrams from arbitrary bytes and mutated corpus entries.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "../../../fuzz/bodies/driver.rs"]
mod driver;
#[path = "../../../fuzz/bodies/leak.rs"]
mod leak;
#[path = "../../../fuzz/bodies/sdp.rs"]
mod sdp;

#[test]
fn sdp_and_datagrams_never_panic_and_refusals_are_clean() {
    driver::check("sdp", 150, sdp::run);
}

/// str0m's SDP parser reports where it stopped as `PointerOffset(0x…)`, an address; the
/// engine's error (which the server shows the client) names the byte offset instead.
#[test]
fn an_sdp_parse_error_names_a_byte_offset_not_an_address() {
    use caucus_media::{Engine, EngineConfig, PeerKey};
    let (now, offer) = sdp::fixture();
    let mut engine = Engine::new(EngineConfig::new(([127, 0, 0, 1], 7882).into()));
    let bad = "v=0\r\nfoo";
    let refused = engine
        .add_peer(*now, PeerKey(1), bad)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("at byte 5"), "{refused}");
    leak::assert_clean(&refused, bad.as_bytes());
    engine.add_peer(*now, PeerKey(1), offer).unwrap();
    let refused = engine
        .handle_answer(*now, PeerKey(1), bad)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("at byte 5"), "{refused}");
    let refused = engine
        .handle_offer(*now, PeerKey(1), "")
        .unwrap_err()
        .to_string();
    leak::assert_clean(&refused, b"");
}
