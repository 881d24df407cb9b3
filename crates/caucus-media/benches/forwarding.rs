//! Engine CPU per forwarded packet: N publishers × M subscribers in memory, every
//! subscriber receiving every publisher's audio and video (SRTP included: str0m decrypts
//! what comes in and encrypts every copy that goes out).
//!
//! Only the engine is timed: `handle_receive` for the publishers' datagrams and draining
//! `poll_output`. The clients (encrypting, decrypting, answering STUN and RTCP) run
//! between the timed sections on the same simulated network as the tests
//! (`tests/common`). One iteration is 20 ms of media: per publisher one Opus packet
//! (50 pps) and `VIDEO_PER_ROUND` VP8 packets of 1,000 bytes (≈ 1.2 Mbit/s).
//!
//! `cargo bench -p caucus-media --bench forwarding`; criterion's throughput line is
//! forwarded packets per second of engine time.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock; the engine does not

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use caucus_media::{MediaKind, Transport};
use common::{Net, Spec, server_addr};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use str0m::Input;
use str0m::format::Codec;
use str0m::rtp::RtpWrite;

const VIDEO_PER_ROUND: usize = 3;

struct Setup {
    net: Net,
    publishers: Vec<String>,
    seq: u64,
}

fn setup(publishers: usize, subscribers: usize) -> Setup {
    let mut net = Net::new();
    let names: Vec<String> = (0..publishers).map(|i| format!("pub{i}")).collect();
    for name in &names {
        net.join(name, Spec::publisher());
    }
    let mut tracks = Vec::new();
    for name in &names {
        tracks.push(net.track(name, MediaKind::Audio));
        tracks.push(net.track(name, MediaKind::Video));
    }
    for i in 0..subscribers {
        let name = format!("sub{i}");
        net.join(
            &name,
            Spec {
                recv_audio: publishers,
                recv_video: publishers,
                ..Spec::default()
            },
        );
        net.subscribe(&name, &tracks);
    }
    assert_eq!(net.offers, 0);
    Setup {
        net,
        publishers: names,
        seq: 0,
    }
}

/// One round: the publishers' clients produce 20 ms of media (untimed), the engine
/// takes it in and fans it out (timed), the clients receive (untimed).
fn round(s: &mut Setup) -> (Duration, u64) {
    let now = s.net.now;
    s.seq += 1;
    for name in &s.publishers {
        let idx = s.net.index(name);
        let c = &mut s.net.clients[idx];
        for (kind, count, size) in [
            (MediaKind::Audio, 1, 100),
            (MediaKind::Video, VIDEO_PER_ROUND, 1_000),
        ] {
            let (mid, codec, clock) = match kind {
                MediaKind::Audio => (c.audio_mid, Codec::Opus, 48_000u64),
                MediaKind::Video => (c.video_mid, Codec::Vp8, 90_000u64),
            };
            let mid = mid.expect("publisher mid");
            let pt = c
                .rtc
                .codec_config()
                .find(|p| p.spec().codec == codec)
                .expect("codec")
                .pt();
            for k in 0..count {
                let n = s.seq * count as u64 + k as u64;
                let ts = (s.seq * clock / 50) as u32;
                let mut api = c.rtc.direct_api();
                let stream = api.stream_tx_by_mid(mid, None).expect("send stream");
                stream.write_rtp(
                    RtpWrite::new(pt, (1_000 + n).into(), ts, now, vec![0x55; size])
                        .marker(k + 1 == count)
                        .nackable(kind == MediaKind::Video),
                );
            }
        }
        c.rtc.handle_input(Input::Timeout(now)).expect("timeout");
        loop {
            match c.rtc.poll_output().expect("poll") {
                str0m::Output::Timeout(t) => {
                    c.timeout = t;
                    break;
                }
                str0m::Output::Transmit(t) => {
                    s.net
                        .in_flight
                        .push_back((t.source, t.destination, t.contents.into()))
                }
                str0m::Output::Event(_) => {}
            }
        }
    }
    let datagrams: Vec<_> = s.net.in_flight.drain(..).collect();
    let forwarded_before = s.net.engine.counters().rtp_forwarded;
    let mut out = Vec::new();

    let start = Instant::now();
    for (src, dst, bytes) in &datagrams {
        if *dst == server_addr() {
            s.net
                .engine
                .handle_receive(now, Transport::Udp, *src, *dst, bytes);
        }
        while let Some(o) = s.net.engine.poll_output() {
            out.push(o);
        }
    }
    let elapsed = start.elapsed();

    let forwarded = s.net.engine.counters().rtp_forwarded - forwarded_before;
    for o in out {
        if let caucus_media::EngineOutput::Transmit(t) = o {
            s.net
                .in_flight
                .push_back((server_addr(), t.destination, t.contents));
        }
    }
    for _ in 0..4 {
        s.net.tick();
    }
    for c in &mut s.net.clients {
        c.received.clear();
    }
    (elapsed, forwarded)
}

fn forwarding(c: &mut Criterion) {
    let mut group = c.benchmark_group("forwarding");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for (publishers, subscribers) in [(6, 16), (2, 4)] {
        let mut s = setup(publishers, subscribers);
        // Warm up: streams, PT maps and caches settle.
        let mut per_round = 0;
        for _ in 0..50 {
            per_round = round(&mut s).1;
        }
        assert_eq!(
            per_round,
            (publishers * (1 + VIDEO_PER_ROUND) * subscribers) as u64,
            "every packet reaches every subscriber"
        );
        group.throughput(Throughput::Elements(per_round));
        group.bench_function(format!("{publishers}x{subscribers}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += round(&mut s).0;
                }
                total
            })
        });
        let c = s.net.engine.counters();
        assert_eq!(c.peers_failed, 0);
        assert_eq!(c.forwarding_errors, 0);
    }
    group.finish();
}

criterion_group!(benches, forwarding);
criterion_main!(benches);
