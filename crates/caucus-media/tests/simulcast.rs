//! Simulcast: one layer per subscriber, chosen by its hint; switches happen at a keyframe
//! of the new layer with continuous sequence numbers; a stopped layer falls back.

mod common;

use std::time::Duration;

use caucus_media::{MaxLayer, MediaKind, Quality};
use common::{LayerShape, Net, SimulcastPublisher, Spec};

const LAYERS: [(&str, (u16, u16)); 3] = [("l", (320, 180)), ("m", (640, 360)), ("h", (1280, 720))];

/// Alice sends one single-packet frame on each layer named in `layers` (a keyframe where
/// one is due), then 30 ms pass.
fn frame(alice: &mut SimulcastPublisher, net: &mut Net, layers: &[&str]) {
    let shapes: Vec<LayerShape> = LAYERS
        .iter()
        .filter(|(rid, _)| layers.contains(rid))
        .map(|&(rid, size)| (rid, size, 1, 0))
        .collect();
    alice.frame(net, &shapes);
    net.run_for(Duration::from_millis(30));
}

fn viewer() -> Spec {
    Spec {
        recv_video: 1,
        ..Spec::default()
    }
}

#[test]
fn each_subscriber_gets_its_layer_and_switches_at_a_keyframe() {
    let mut net = Net::new();
    net.join(
        "alice",
        Spec {
            simulcast: Some(&["l", "m", "h"]),
            ..Spec::publisher()
        },
    );
    net.join("bob", viewer());
    net.join("carol", viewer());
    net.join("dave", viewer());
    let video = net.track("alice", MediaKind::Video);
    let (bob, carol, dave) = (net.key("bob"), net.key("carol"), net.key("dave"));
    net.engine
        .set_max_layer(net.now, bob, video, MaxLayer::Quality(Quality::High))
        .unwrap();
    net.engine
        .set_max_layer(net.now, carol, video, MaxLayer::Quality(Quality::Low))
        .unwrap();
    // Dave's tile is 700x400: the 640x360 layer is the best that fits.
    net.engine
        .set_max_layer(
            net.now,
            dave,
            video,
            MaxLayer::Resolution {
                max_width: 700,
                max_height: 400,
            },
        )
        .unwrap();
    for name in ["bob", "carol", "dave"] {
        net.subscribe(name, &[video]);
    }
    assert_eq!(net.offers, 0);

    let mut alice = SimulcastPublisher::new("alice");
    for _ in 0..20 {
        frame(&mut alice, &mut net, &["l", "m", "h"]);
    }
    let layers_of = |net: &Net, name: &str| -> Vec<String> {
        net.client(name)
            .got("alice", "video")
            .iter()
            .map(|r| r.layer().to_string())
            .collect()
    };
    let b = layers_of(&net, "bob");
    let c = layers_of(&net, "carol");
    let d = layers_of(&net, "dave");
    assert!(b.len() >= 15 && b.iter().all(|l| l == "h"), "bob: {b:?}");
    assert!(c.len() >= 15 && c.iter().all(|l| l == "l"), "carol: {c:?}");
    assert!(d.len() >= 15 && d.iter().all(|l| l == "m"), "dave: {d:?}");
    for name in ["bob", "carol", "dave"] {
        assert!(
            net.client(name).got("alice", "video")[0].is_keyframe(),
            "{name} starts at a keyframe"
        );
    }
    assert_eq!(
        net.engine.forwarded_layer(carol, video),
        Some(Some("l".into()))
    );

    // Carol goes up to High. The old layer flows until h's next keyframe (requested by
    // the engine; alice answers it in her next frame), then only h.
    let before = net.client("carol").received.len();
    let switches = net.engine.counters().layer_switches;
    net.engine
        .set_max_layer(net.now, carol, video, MaxLayer::Quality(Quality::High))
        .unwrap();
    net.pump();
    for _ in 0..10 {
        frame(&mut alice, &mut net, &["l", "m", "h"]);
    }
    let after: Vec<_> = net.client("carol").received[before..].to_vec();
    let first_h = after
        .iter()
        .position(|r| r.layer() == "h")
        .expect("carol switched to h");
    assert!(
        after[first_h].is_keyframe(),
        "the switch happens at a keyframe"
    );
    assert!(after[..first_h].iter().all(|r| r.layer() == "l"));
    assert!(
        after[first_h..].iter().all(|r| r.layer() == "h"),
        "no mixing"
    );
    assert!(first_h <= 2, "the switch is quick: {first_h}");
    let all = &net.client("carol").received;
    assert!(
        all.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "continuous sequence numbers across the switch"
    );
    assert!(all.iter().all(|r| r.ssrc == all[0].ssrc));
    assert!(
        all.windows(2)
            .all(|w| w[1].ts.wrapping_sub(w[0].ts) < 90_000),
        "timestamps move on a little, no jump"
    );
    assert_eq!(net.engine.counters().layer_switches, switches + 1);

    // Alice's top layer stops (say her uplink got worse). Bob and carol fall back to m,
    // the best layer still arriving, at m's next keyframe.
    let bob_before = net.client("bob").received.len();
    for _ in 0..80 {
        frame(&mut alice, &mut net, &["l", "m"]);
    }
    for name in ["bob", "carol"] {
        let got: Vec<String> = net.client(name).received
            [if name == "bob" { bob_before } else { before }..]
            .iter()
            .map(|r| r.layer().to_string())
            .collect();
        assert_eq!(got.last().map(String::as_str), Some("m"), "{name}: {got:?}");
        let first_m = got.iter().position(|l| l == "m").unwrap();
        assert!(got[first_m..].iter().all(|l| l == "m"), "{name}: {got:?}");
    }
    let fallback = net
        .client("bob")
        .received
        .iter()
        .find(|r| r.layer() == "m")
        .unwrap();
    assert!(fallback.is_keyframe());
    let bob_all = &net.client("bob").received;
    assert!(bob_all.windows(2).all(|w| w[1].seq == w[0].seq + 1));

    // h comes back: bob and carol return to it.
    let bob_before = net.client("bob").received.len();
    for _ in 0..20 {
        frame(&mut alice, &mut net, &["l", "m", "h"]);
    }
    let last = net
        .client("bob")
        .received
        .last()
        .unwrap()
        .layer()
        .to_string();
    assert_eq!(last, "h");
    assert!(
        net.client("bob").received[bob_before..]
            .iter()
            .any(|r| r.layer() == "h" && r.is_keyframe())
    );
    assert_eq!(net.engine.counters().forwarding_errors, 0);
}
