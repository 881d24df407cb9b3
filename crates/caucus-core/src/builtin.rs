//! The built-in template `breakout`, reproducing the seed example: a main stage run by `host`
//! and `co-host`, a back stage of `moderator`s, `guest`s who watch, and a `breakout` role in
//! which guests talk among themselves while they keep watching the main stage.
//!
//! Two choices go beyond the seed, both so that the location model works out of the box:
//! - `guest` names `breakout` as its `breakout_role`: a guest moved into a breakout room acts
//!   as `breakout` there (may talk, hears the room) and is a guest again back in main;
//! - host, co-host and moderator also subscribe to `breakout`, so a manager who visits or
//!   listens in to a room hears it. In main, no one acts as `breakout` unless given that role
//!   outright, in which case hosts hear them — as the role-only (100ms) model expects.

use std::sync::{Arc, OnceLock};

use caucus_proto::{
    Permissions, PublishSpec, RoleName, RoleSpec, Source, SourceCaps, SubscribeSpec, TemplateSpec,
};

use crate::template::Template;

/// The id and name of the built-in template.
pub const BREAKOUT_TEMPLATE: &str = "breakout";

/// The built-in template, compiled once.
pub fn breakout_template() -> Arc<Template> {
    static TEMPLATE: OnceLock<Arc<Template>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            Arc::new(
                Template::compile(breakout_template_spec())
                    .expect("invariant: the built-in template is valid"),
            )
        })
        .clone()
}

/// The document of the built-in template.
pub fn breakout_template_spec() -> TemplateSpec {
    let hd = SourceCaps {
        max_width: 1280,
        max_height: 720,
        max_fps: 30,
        max_bitrate: 1_500_000,
    };
    let fhd_screen = SourceCaps {
        max_width: 1920,
        max_height: 1080,
        max_fps: 15,
        max_bitrate: 2_500_000,
    };
    let sd = SourceCaps {
        max_width: 640,
        max_height: 360,
        max_fps: 30,
        max_bitrate: 600_000,
    };
    let roles = |names: &[&str]| SubscribeSpec {
        roles: names.iter().map(|n| RoleName::from(*n)).collect(),
        video: None,
    };
    let stage = PublishSpec {
        allowed: vec![Source::Audio, Source::Video, Source::Screen],
        video: Some(hd),
        screen: Some(fhd_screen),
        simulcast: true,
    };
    let talk = |caps| PublishSpec {
        allowed: vec![Source::Audio, Source::Video],
        video: Some(caps),
        screen: None,
        simulcast: false,
    };
    let managers = roles(&["host", "co-host", "moderator", "breakout"]);
    let moderator_permissions = Permissions {
        end_room: false,
        ..Permissions::all()
    };
    let guest_permissions = Permissions {
        see_peer_list: true,
        send_chat: true,
        self_select_breakout: true,
        ..Permissions::default()
    };
    let breakout_permissions = Permissions {
        send_chat: true,
        self_select_breakout: true,
        ..Permissions::default()
    };

    TemplateSpec {
        name: BREAKOUT_TEMPLATE.into(),
        roles: [
            (
                "host".into(),
                RoleSpec {
                    publish: stage.clone(),
                    subscribe: managers.clone(),
                    permissions: Permissions::all(),
                    priority: 100,
                    max_peers: 0,
                    breakout_role: None,
                },
            ),
            (
                "co-host".into(),
                RoleSpec {
                    publish: stage,
                    subscribe: managers.clone(),
                    permissions: Permissions::all(),
                    priority: 90,
                    max_peers: 0,
                    breakout_role: None,
                },
            ),
            (
                "moderator".into(),
                RoleSpec {
                    publish: talk(hd),
                    subscribe: managers,
                    permissions: moderator_permissions,
                    priority: 80,
                    max_peers: 0,
                    breakout_role: None,
                },
            ),
            (
                "guest".into(),
                RoleSpec {
                    publish: PublishSpec::default(),
                    subscribe: roles(&["host", "co-host"]),
                    permissions: guest_permissions,
                    priority: 10,
                    max_peers: 0,
                    breakout_role: Some("breakout".into()),
                },
            ),
            (
                "breakout".into(),
                RoleSpec {
                    publish: talk(sd),
                    subscribe: roles(&["host", "co-host", "moderator", "breakout"]),
                    permissions: breakout_permissions,
                    priority: 20,
                    max_peers: 0,
                    breakout_role: None,
                },
            ),
        ]
        .into(),
    }
}
