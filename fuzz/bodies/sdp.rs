//! The SDP and datagrams the media engine is handed, through `Engine`'s public API.
//!
//! The first byte picks the entry point; the rest is its input:
//! - 0: `add_peer` with the rest as the client's offer;
//! - 1: `handle_offer` (a renegotiation) on a peer added with a real offer; `@@offer@@` in
//!   it is replaced by that offer, so a re-offer can keep the session and add to it;
//! - 2: `handle_answer` on such a peer;
//! - 3: `handle_receive` with the rest as a UDP datagram to such a peer; `@@@@` in it is
//!   replaced by the server's ICE ufrag of the peer, so STUN `USERNAME`s reach its `Rtc`.
//!
//! Properties: no panic; a refusal's text — sent to the client as it is — is clean; an
//! accepted offer is answered with SDP that parses; a datagram is counted and never fails.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use caucus_media::{Engine, EngineConfig, PeerKey, Transport};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind};
use str0m::net::Protocol;
use str0m::{Candidate, Rtc};

use crate::leak::assert_clean;

const PEER: PeerKey = PeerKey(1);

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (start, offer) = fixture();
    let now = *start;
    let server: SocketAddr = ([127, 0, 0, 1], 7882).into();
    let mut engine = Engine::new(EngineConfig::new(server));
    let text = String::from_utf8_lossy(rest);
    if mode % 4 == 0 {
        check(engine.add_peer(now, PEER, &text), rest, true);
        drain(&mut engine);
        return;
    }
    let answer = match engine.add_peer(now, PEER, offer) {
        Ok(answer) => answer,
        Err(e) => panic!("the engine refuses a real offer: {e}"),
    };
    drain(&mut engine);
    match mode % 4 {
        1 => {
            let reoffer = text.replace("@@offer@@", offer);
            let answer = engine.handle_offer(now, PEER, &reoffer);
            check(answer, reoffer.as_bytes(), true);
        }
        2 => check(
            engine
                .handle_answer(now, PEER, &text)
                .map(|()| String::new()),
            rest,
            false,
        ),
        _ => {
            let ufrag = answer
                .lines()
                .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
                .expect("the answer has an ICE ufrag")
                .trim();
            let datagram = replace(rest, b"@@@@", ufrag.as_bytes());
            let client: SocketAddr = ([127, 0, 0, 1], 5000).into();
            let before = engine.counters().datagrams_in;
            engine.handle_receive(now, Transport::Udp, client, server, &datagram);
            assert_eq!(engine.counters().datagrams_in, before + 1);
            drain(&mut engine);
            engine.handle_timeout(now + Duration::from_millis(50));
        }
    }
    drain(&mut engine);
    engine.remove_peer(now, PEER);
    drain(&mut engine);
    assert!(!engine.has_peer(PEER));
}

fn check(result: Result<String, caucus_media::MediaError>, input: &[u8], answers: bool) {
    match result {
        Ok(answer) if answers => {
            if let Err(e) = SdpAnswer::from_sdp_string(&answer) {
                panic!("the engine's own answer does not parse: {e}\n{answer}");
            }
        }
        Ok(_) => {}
        Err(e) => assert_clean(&e.to_string(), input),
    }
}

fn drain(engine: &mut Engine) {
    while engine.poll_output().is_some() {}
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// One instant and one real client offer (audio and video to send, one of each to receive),
/// made once: a browser-like str0m peer, as the media tests use.
pub fn fixture() -> &'static (Instant, String) {
    static FIXTURE: OnceLock<(Instant, String)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // The only clock read: the engine is handed this instant from then on.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut rtc = Rtc::builder().build(now);
        let addr: SocketAddr = ([127, 0, 0, 1], 5000).into();
        if let Ok(candidate) = Candidate::host(addr, Protocol::Udp) {
            rtc.add_local_candidate(candidate);
        }
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let (offer, _pending) = api.apply().expect("a client offer");
        let text = offer.to_sdp_string();
        assert!(SdpOffer::from_sdp_string(&text).is_ok());
        (now, text)
    })
}
