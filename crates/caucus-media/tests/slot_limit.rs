//! The slot bound: a desired set larger than `max_audio_slots`/`max_video_slots` is
//! forwarded only up to the bound, first tracks first (the shell orders by priority).

mod common;

use caucus_media::MediaKind;
use common::{Net, Spec};

#[test]
fn desired_set_beyond_the_bound_keeps_the_first_tracks_and_counts_the_rest() {
    let mut net = Net::with_config(|c| {
        c.max_audio_slots = 2;
        c.max_video_slots = 1;
    });
    for name in ["p0", "p1", "p2"] {
        net.join(name, Spec::publisher());
    }
    net.join(
        "bob",
        Spec {
            recv_audio: 3,
            recv_video: 3,
            ..Spec::default()
        },
    );
    // Priority order: p2 first, then p0, then p1.
    let order = ["p2", "p0", "p1"];
    let mut tracks = Vec::new();
    for name in order {
        tracks.push(net.track(name, MediaKind::Audio));
        tracks.push(net.track(name, MediaKind::Video));
    }
    net.subscribe("bob", &tracks);
    assert_eq!(net.engine.subscriptions_over_limit(net.key("bob")), 3);
    assert_eq!(net.engine.counters().subscriptions_over_limit, 3);
    for _ in 0..5 {
        net.send_round(&order);
    }
    let sources = net.client("bob").sources();
    assert_eq!(sources, ["p0/audio", "p2/audio", "p2/video"]);

    // Within the bound again: nothing left out.
    let within = [tracks[0], tracks[3]];
    net.subscribe("bob", &within);
    assert_eq!(net.engine.subscriptions_over_limit(net.key("bob")), 0);
    assert_eq!(net.offers, 0);
}
