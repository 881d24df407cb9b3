//! What the core tells the media plane beyond *which* tracks: the order they are served in when
//! not all fit (receive slots, bandwidth), and the largest camera picture each subscriber's
//! role may be sent. Both are decisions, so both come from the core with the desired set.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use caucus_core::sim::Sim;
use caucus_core::{Command, SessionConfig, Template, builtin};
use caucus_proto::template::ViewCaps;
use caucus_proto::{RoleName, Source};

#[test]
fn higher_roles_come_first_then_sound_screens_and_cameras() {
    let mut sim = Sim::new();
    // Published in the worst order: the co-host (priority 90) before the host (100), cameras
    // before sound.
    let co = sim.join("co", "co-host");
    let host = sim.join("host", "host");
    let guest = sim.join("guest", "guest");
    let co_video = sim.publish(co, Source::Video);
    let co_audio = sim.publish(co, Source::Audio);
    let host_video = sim.publish(host, Source::Video);
    let host_screen = sim.publish(host, Source::Screen);
    let host_audio = sim.publish(host, Source::Audio);
    assert_eq!(
        sim.subscriptions[&guest],
        vec![host_audio, host_screen, host_video, co_audio, co_video]
    );
}

#[test]
fn each_subscriber_is_told_its_roles_camera_cap_and_told_again_when_it_changes() {
    let small = ViewCaps {
        max_width: 640,
        max_height: 360,
    };
    let mut spec = builtin::breakout_template_spec();
    spec.roles
        .get_mut(&RoleName::from("guest"))
        .unwrap()
        .subscribe
        .video = Some(small);
    let template = Arc::new(Template::compile(spec).unwrap());
    let mut sim = Sim::with(template, SessionConfig::default());
    let host = sim.join("host", "host");
    let guest = sim.join("guest", "guest");
    assert_eq!(sim.view_caps[&guest], Some(small), "told on join");
    assert_eq!(sim.view_caps[&host], None, "hosts see cameras whole");

    sim.run(
        caucus_core::Actor::Server,
        Command::ChangeRole {
            peer: guest,
            role: "moderator".into(),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(sim.view_caps[&guest], None, "a moderator is not capped");
}
