//! A sustained exchange against the real server: a host and a co-host talk both ways with audio
//! (50 packets/s) and video (15 fps) for about ten seconds, and a guest watches both. On loopback
//! nothing may be lost, duplicated or reordered. One-way latency (p50/p95/max) is printed for
//! each stream — reported, not asserted: timing bounds belong to the benchmarks.
//!
//! `cargo test -p caucus-client --test e2e_sustained -- --nocapture` shows the report.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use caucus_client::{Client, ClientOptions};
use caucus_proto::{PeerId, Source};
use common::{AUDIO_SECOND, World};

/// How long the run lasts, in seconds of audio.
const SECONDS: u64 = 10;
/// Video packets in `SECONDS` at 15 fps, 3 packets a frame (keyframes have 6): at least this.
const VIDEO_PACKETS: u64 = 15 * 3 * SECONDS;
/// The run itself takes `SECONDS`; this is only a deadline.
const RUN_TIMEOUT: Duration = Duration::from_secs(SECONDS * 3);

/// A loss segment only ends after this much silence (see `caucus_client::stats`): no stall of a
/// busy debug build can split the run and hide a hole.
fn receiver() -> ClientOptions {
    ClientOptions {
        segment_gap: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_seconds_of_audio_and_video_both_ways_arrive_complete_and_in_order() {
    let world = World::start("sustained").await;
    let (host, _he) = world.join_with("hana", "host", receiver()).await;
    let (co_host, _ce) = world.join_with("cole", "co-host", receiver()).await;
    let (guest, _ge) = world.join_with("gus", "guest", receiver()).await;
    let (hana, cole) = (host.peer_id(), co_host.peer_id());
    for publisher in [&host, &co_host] {
        publisher.publish_audio().await.expect("audio");
        publisher.publish_video().await.expect("video");
    }

    let flows: [(&str, &Client, PeerId); 4] = [
        ("cole <- hana", &co_host, hana),
        ("hana <- cole", &host, cole),
        ("gus  <- hana", &guest, hana),
        ("gus  <- cole", &guest, cole),
    ];
    // Receivers count concurrently; waiting on each in turn ends once the slowest is done.
    for (name, receiver, from) in flows {
        for (source, packets) in [
            (Source::Audio, SECONDS * AUDIO_SECOND),
            (Source::Video, VIDEO_PACKETS),
        ] {
            receiver
                .wait_received(from, source, packets, RUN_TIMEOUT)
                .await
                .unwrap_or_else(|e| panic!("{name} {source}: {e}"));
        }
    }

    for (name, receiver, from) in flows {
        for source in [Source::Audio, Source::Video] {
            let s = receiver.received_from(from, source).unwrap();
            let latency = &s.latency;
            let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
            println!(
                "{name} {source:<5}: {:>4} packets, {:>3} frames, lost {}, latency p50 {:.2} ms, \
                 p95 {:.2} ms, max {:.2} ms",
                s.packets,
                s.frames,
                s.lost,
                ms(latency.quantile(0.5)),
                ms(latency.p95()),
                ms(latency.max()),
            );
            assert_eq!(
                (s.lost, s.gaps, s.duplicates, s.reordered, s.resumptions),
                (0, 0, 0, 0, 0),
                "{name} {source}: loopback loses, repeats or reorders nothing: {s:?}"
            );
            assert_eq!(latency.count(), s.packets);
            if source == Source::Video {
                assert!(
                    s.frames >= 15 * SECONDS - 5,
                    "{name}: whole frames arrived: {s:?}"
                );
                assert!(s.keyframe_packets > 0, "{name}: a keyframe arrived");
            }
        }
        let report = receiver.receive_report();
        assert_eq!(report.undecodable + report.mislabeled, 0, "{report:?}");
    }
    // Each received exactly the streams meant for it.
    assert_eq!(host.received().len(), 2);
    assert_eq!(co_host.received().len(), 2);
    assert_eq!(guest.received().len(), 4);
    world.stop().await;
}
