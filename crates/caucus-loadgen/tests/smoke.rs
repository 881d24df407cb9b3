//! The load generator against the in-process server, small and short: 2 rooms × 3 peers with
//! audio for 2 seconds. Every receiver must have got packets from each other member of its room
//! and nothing from the other room. No timing is asserted (numbers belong in
//! `docs/benchmarks.md`).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use caucus_loadgen::scenario::forward;
use caucus_loadgen::{ServerSpec, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_of_three_forward_within_their_room_only() {
    let target = Arc::new(Target::start(&ServerSpec::InProcess).await.unwrap());
    let params = forward::Params {
        rooms: 2,
        peers: 3,
        seconds: 2,
        video: false,
        concurrency: 3,
    };
    let report = forward::run(&target, &params).await.unwrap();
    println!("{}", report.summary());

    assert_eq!(report.per_room.len(), 2, "{report:?}");
    for room in &report.per_room {
        // 3 receivers, each hearing the 2 others.
        assert_eq!(room.streams, 6, "{room:?}");
        assert!(room.in_room_packets > 0, "{room:?}");
        assert_eq!(room.cross_room_packets, 0, "{room:?}");
    }
    assert_eq!(report.streams_received, report.streams_expected);
    assert!(report.server_egress_packets.is_some_and(|p| p > 0.0));
    // In-process: the server shares the process, so no CPU figure is claimed for it.
    assert_eq!(report.server_cpu_s, None);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["scenario"], "forward");

    Arc::into_inner(target).unwrap().shutdown().await;
}
