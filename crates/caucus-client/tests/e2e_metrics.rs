//! `/metrics` tells the truth about a running server: sessions, peers, tracks and breakout
//! rooms as they change; media packets and bytes as they flow; garbage on the media port counted
//! as dropped; and it is valid Prometheus text.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use caucus_proto::Source;
use common::{AUDIO_SECOND, T, World, talk, wait_more};

/// Every sample of the exposition, `name{labels}` → value; panics on a malformed line.
async fn scrape(world: &World) -> BTreeMap<String, f64> {
    let response = reqwest::get(format!("http://{}/metrics", world.server.http_addr()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "Prometheus text format"
    );
    let text = response.text().await.unwrap();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line:?}"));
        samples.insert(series.to_owned(), value);
    }
    samples
}

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_sessions_peers_tracks_and_packets() {
    let world = World::start("metrics").await;
    let idle = scrape(&world).await;
    assert_eq!(get(&idle, "caucus_sessions"), 0.0);
    assert_eq!(get(&idle, "caucus_peers"), 0.0);
    assert_eq!(get(&idle, "caucus_webhook_backlog"), 0.0);

    let (host, _host_events) = world.join("hana", "host").await;
    let (guest, _guest_events) = world.join("gus", "guest").await;
    talk(&host).await;
    guest
        .wait_receiving_from(host.peer_id(), Source::Video, T)
        .await
        .unwrap();
    host.create_breakouts(3, None).await.unwrap();
    // Each answer above came from the room task after it applied the change, and a scrape
    // asks the same task: what it reads now includes all of them.
    let live = scrape(&world).await;
    assert_eq!(get(&live, "caucus_peers"), 2.0);
    assert_eq!(get(&live, "caucus_tracks"), 2.0);
    assert_eq!(get(&live, "caucus_breakout_rooms"), 3.0);
    assert_eq!(get(&live, "caucus_sessions"), 1.0);
    assert_eq!(get(&live, "caucus_peers_connected"), 2.0);
    assert!(get(&live, "caucus_rtp_in_total") > 0.0);
    assert!(get(&live, "caucus_rtp_forwarded_total") > 0.0);
    assert!(get(&live, "caucus_packets_in_total") >= get(&live, "caucus_rtp_in_total"));
    assert!(get(&live, "caucus_bytes_out_total") > get(&live, "caucus_packets_out_total"));
    assert_eq!(get(&live, "caucus_forwarding_errors_total"), 0.0);

    // Garbage on the media port is counted, not forwarded.
    let before = get(&live, "caucus_dropped_packets_total{reason=\"garbage\"}");
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for _ in 0..5 {
        socket
            .send_to(&[0xff; 40], world.server.media_addr())
            .await
            .unwrap();
    }
    // The media socket is read in order: once the guest has received audio the host sent
    // after the garbage, the garbage has been read (and counted) before it.
    wait_more(&guest, host.peer_id(), Source::Audio, AUDIO_SECOND / 5).await;
    let after = scrape(&world).await;
    assert!(
        get(&after, "caucus_dropped_packets_total{reason=\"garbage\"}") >= before + 5.0,
        "five garbage datagrams dropped: {after:#?}"
    );

    // Counters only grow.
    let later = scrape(&world).await;
    for series in ["caucus_rtp_in_total", "caucus_bytes_in_total"] {
        assert!(
            get(&later, series) >= get(&live, series),
            "{series} went down"
        );
    }

    guest.leave().await.unwrap();
    assert_eq!(
        get(&scrape(&world).await, "caucus_peers"),
        1.0,
        "one peer left"
    );
    host.leave().await.unwrap();
    assert_eq!(
        get(&scrape(&world).await, "caucus_peers"),
        0.0,
        "the empty session is still counted until it ends, without peers"
    );
    world.stop().await;
}
