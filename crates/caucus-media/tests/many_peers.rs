//! Scenario 6: ten publishers subscribing to each other in a pattern; every subscriber
//! receives exactly its desired set, before and after everyone's subscriptions change.

mod common;

use std::collections::BTreeSet;

use caucus_media::MediaKind;
use common::{Net, Spec};

const N: usize = 10;

fn name(i: usize) -> String {
    format!("p{}", i % N)
}

/// Desired set, as "publisher/kind" strings (the payload prefix).
fn desired(round: usize, i: usize) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    if round == 0 {
        for d in [1, 2] {
            set.insert(format!("{}/audio", name(i + d)));
            set.insert(format!("{}/video", name(i + d)));
        }
        if i % 2 == 1 {
            set.insert(format!("{}/audio", name(i + 3)));
        }
    } else {
        // Everyone switches to someone else; even peers also drop video entirely.
        set.insert(format!("{}/audio", name(i + 5)));
        if i % 2 == 1 {
            set.insert(format!("{}/video", name(i + 5)));
            set.insert(format!("{}/video", name(i + 7)));
        }
    }
    set
}

fn apply(net: &mut Net, round: usize) {
    for i in 0..N {
        let tracks: Vec<_> = desired(round, i)
            .iter()
            .map(|s| {
                let (publisher, kind) = s.split_once('/').expect("publisher/kind");
                let kind = if kind == "audio" {
                    MediaKind::Audio
                } else {
                    MediaKind::Video
                };
                net.track(publisher, kind)
            })
            .collect();
        net.subscribe(&name(i), &tracks);
    }
    net.run_for(common::TICK * 10);
}

fn check(net: &mut Net, round: usize) {
    let names: Vec<String> = (0..N).map(name).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    for c in &mut net.clients {
        c.received.clear();
    }
    for _ in 0..5 {
        net.send_round(&refs);
    }
    net.run_for(common::TICK * 4);
    for i in 0..N {
        let c = net.client(&name(i));
        let got: BTreeSet<String> = c.sources().into_iter().collect();
        assert_eq!(
            got,
            desired(round, i),
            "round {round}: {} got the wrong set",
            name(i)
        );
        for source in &got {
            let (from, kind) = source.split_once('/').expect("publisher/kind");
            assert_eq!(
                c.got(from, kind).len(),
                5,
                "round {round}: {} <- {source}",
                name(i)
            );
        }
    }
}

#[test]
fn every_subscriber_gets_exactly_its_desired_set() {
    let mut net = Net::new();
    for i in 0..N {
        // Half the peers offer a receive-slot pool, half rely on server offers.
        let spec = if i % 2 == 0 {
            Spec {
                recv_audio: 3,
                recv_video: 2,
                ..Spec::publisher()
            }
        } else {
            Spec::publisher()
        };
        net.join(&name(i), spec);
    }

    apply(&mut net, 0);
    check(&mut net, 0);
    let offers_after_first = net.offers;
    assert!(offers_after_first >= N / 2, "odd peers needed offers");

    apply(&mut net, 1);
    check(&mut net, 1);
    assert_eq!(
        net.offers, offers_after_first,
        "the second round fits in existing slots: no renegotiation"
    );
    assert_eq!(net.engine.counters().forwarding_errors, 0);
}
