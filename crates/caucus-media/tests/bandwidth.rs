//! Simulcast layer choice from the bandwidth estimate: the engine estimates each
//! subscriber's downlink (str0m's send-side estimator on transport-wide feedback) and
//! gives it the layers that fit, in priority order; it keeps looking for room, so a
//! subscriber held down moves back up when the link allows. The network here has real
//! bottlenecks ([`Link`]): a queue drained at a fixed rate, with tail drop.

mod common;

use std::time::Duration;

use caucus_media::{MediaKind, PeerKey, TrackKey};
use common::{LayerShape, Link, Net, SimulcastPublisher as Publisher, Spec};

/// (rid, picture size, packets per frame, bytes per packet): about 150 kbit/s,
/// 500 kbit/s and 1.5 Mbit/s at 33 frames a second.
const LAYERS: [LayerShape; 3] = [
    ("l", (320, 180), 1, 570),
    ("m", (640, 360), 2, 950),
    ("h", (1280, 720), 6, 950),
];

fn simulcast_publisher() -> Spec {
    Spec {
        simulcast: Some(&["l", "m", "h"]),
        ..Spec::publisher()
    }
}

fn viewer(videos: usize) -> Spec {
    Spec {
        recv_video: videos,
        ..Spec::default()
    }
}

/// Runs `seconds` of 30 ms frames from every publisher.
fn run(net: &mut Net, publishers: &mut [Publisher], seconds: u64) {
    for _ in 0..seconds * 1_000 / 30 {
        for p in publishers.iter_mut() {
            p.frame(net, &LAYERS);
        }
        net.run_for(Duration::from_millis(30));
    }
}

/// The layers of `from`'s video that `name` received since packet index `since`.
fn layers_received(net: &Net, name: &str, from: &str, since: usize) -> Vec<String> {
    let mut layers: Vec<String> = net.client(name).received[since..]
        .iter()
        .filter(|r| r.from() == from && r.kind() == "video")
        .map(|r| r.layer().to_string())
        .collect();
    layers.dedup();
    layers
}

fn layer(net: &Net, sub: PeerKey, track: TrackKey) -> Option<String> {
    net.engine.forwarded_layer(sub, track).flatten()
}

#[test]
fn each_subscriber_gets_the_best_layer_its_link_carries() {
    let mut net = Net::with_config(|c| c.bandwidth_estimation = Some(300_000));
    net.join("alice", simulcast_publisher());
    net.join("bob", viewer(1));
    net.join("carol", viewer(1));
    let bob_addr = net.client("bob").addr;
    // Bob's downlink carries 800 kbit/s: the middle layer, not the top one.
    net.links.insert(bob_addr, Link::new(800_000));
    net.links
        .insert(net.client("carol").addr, Link::new(10_000_000));
    let video = net.track("alice", MediaKind::Video);
    net.subscribe("bob", &[video]);
    net.subscribe("carol", &[video]);
    let mut publishers = [Publisher::new("alice")];

    run(&mut net, &mut publishers, 10);
    let (bob, carol) = (net.key("bob"), net.key("carol"));
    assert_eq!(layer(&net, bob, video).as_deref(), Some("m"));
    assert_eq!(layer(&net, carol, video).as_deref(), Some("h"));
    let estimate = net.engine.bandwidth(bob).expect("an estimate for bob");
    assert!(
        (500_000..=1_000_000).contains(&estimate),
        "bob's estimate {estimate} is near his 800 kbit/s link"
    );

    // Steady state: ten more seconds on the same layers, and bob's link keeps up.
    let (bob_seen, carol_seen) = (
        net.client("bob").received.len(),
        net.client("carol").received.len(),
    );
    let dropped = net.links[&bob_addr].dropped;
    run(&mut net, &mut publishers, 10);
    assert_eq!(layers_received(&net, "bob", "alice", bob_seen), ["m"]);
    assert_eq!(layers_received(&net, "carol", "alice", carol_seen), ["h"]);
    assert_eq!(
        net.links[&bob_addr].dropped, dropped,
        "nothing is lost on bob's link once the layer fits"
    );
    assert_eq!(
        net.engine.counters().subscribers_bandwidth_limited,
        1,
        "bob is held below the top layer, carol is not"
    );
}

#[test]
fn a_narrowing_link_moves_the_subscriber_down_and_a_wider_one_back_up() {
    let mut net = Net::with_config(|c| c.bandwidth_estimation = Some(300_000));
    net.join("alice", simulcast_publisher());
    net.join("bob", viewer(1));
    let bob_addr = net.client("bob").addr;
    net.links.insert(bob_addr, Link::new(10_000_000));
    let video = net.track("alice", MediaKind::Video);
    net.subscribe("bob", &[video]);
    let bob = net.key("bob");
    let mut publishers = [Publisher::new("alice")];

    run(&mut net, &mut publishers, 8);
    assert_eq!(layer(&net, bob, video).as_deref(), Some("h"));

    // The link drops to 400 kbit/s: only the lowest layer fits.
    net.links.get_mut(&bob_addr).expect("link").rate_bps = 400_000;
    run(&mut net, &mut publishers, 8);
    assert_eq!(layer(&net, bob, video).as_deref(), Some("l"));
    let seen = net.client("bob").received.len();
    let dropped = net.links[&bob_addr].dropped;
    run(&mut net, &mut publishers, 5);
    assert_eq!(layers_received(&net, "bob", "alice", seen), ["l"]);
    assert_eq!(net.links[&bob_addr].dropped, dropped, "the low layer fits");

    assert_eq!(net.engine.counters().subscribers_bandwidth_limited, 1);

    // The link widens again: the estimator finds the room and bob moves back up.
    net.links.get_mut(&bob_addr).expect("link").rate_bps = 10_000_000;
    run(&mut net, &mut publishers, 20);
    assert_eq!(layer(&net, bob, video).as_deref(), Some("h"));
    assert_eq!(net.engine.counters().subscribers_bandwidth_limited, 0);
}

#[test]
fn a_short_budget_goes_to_the_first_track_of_the_desired_set() {
    let mut net = Net::with_config(|c| c.bandwidth_estimation = Some(300_000));
    net.join("alice", simulcast_publisher());
    net.join("dave", simulcast_publisher());
    net.join("bob", viewer(2));
    // Room for one top layer and one bottom one, not two top layers.
    net.links
        .insert(net.client("bob").addr, Link::new(2_200_000));
    let (alice, dave) = (
        net.track("alice", MediaKind::Video),
        net.track("dave", MediaKind::Video),
    );
    let bob = net.key("bob");
    let mut publishers = [Publisher::new("alice"), Publisher::new("dave")];

    // Dave first (say, the host), then Alice.
    net.subscribe("bob", &[dave, alice]);
    run(&mut net, &mut publishers, 12);
    assert_eq!(layer(&net, bob, dave).as_deref(), Some("h"));
    assert_ne!(layer(&net, bob, alice).as_deref(), Some("h"));

    // The order turns around: so does the budget.
    net.subscribe("bob", &[alice, dave]);
    run(&mut net, &mut publishers, 12);
    assert_eq!(layer(&net, bob, alice).as_deref(), Some("h"));
    assert_ne!(layer(&net, bob, dave).as_deref(), Some("h"));
}

#[test]
fn video_without_layers_is_forwarded_as_it_arrives() {
    // The estimate starts at 300 kbit/s; the camera sends 1.6 Mbit/s and has no lower
    // layer. Nothing is held back to the estimate: each frame reaches the subscriber at
    // the instant it reaches the server (the network here has no delay).
    let mut net = Net::with_config(|c| c.bandwidth_estimation = Some(300_000));
    net.join("alice", Spec::publisher());
    net.join("bob", viewer(1));
    let video = net.track("alice", MediaKind::Video);
    net.subscribe("bob", &[video]);
    for frame in 0..100 {
        let before = net.client("bob").got("alice", "video").len();
        net.send_video_frame("alice", frame == 0, 6, 1_000);
        net.settle();
        let after = net.client("bob").got("alice", "video").len();
        assert_eq!(after - before, 6, "frame {frame} arrived whole at once");
        net.run_for(Duration::from_millis(30));
    }
}
