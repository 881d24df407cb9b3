//! Templates the stories run against besides the built-in one.

use std::sync::Arc;

use caucus_core::Template;
use caucus_proto::{
    Permissions, PublishSpec, RoleName, RoleSpec, Source, SubscribeSpec, TemplateSpec,
};

/// A template with small `max_peers`, a `breakout_role` mapping into a limited role, and a
/// broadcaster that does not manage breakouts.
pub(crate) fn limited_template() -> Arc<Template> {
    let role = |publish: &[Source],
                subscribe: &[&str],
                permissions: Permissions,
                max_peers: u32,
                breakout_role: Option<&str>| RoleSpec {
        publish: PublishSpec {
            allowed: publish.to_vec(),
            video: None,
            screen: None,
            simulcast: false,
        },
        subscribe: SubscribeSpec {
            roles: subscribe.iter().map(|n| RoleName::from(*n)).collect(),
            video: None,
        },
        permissions,
        priority: 0,
        max_peers,
        breakout_role: breakout_role.map(RoleName::from),
        join_muted: false,
    };
    let everyone = ["host", "moderator", "speaker", "guest", "talker"];
    let spec = TemplateSpec {
        name: "limited".into(),
        roles: [
            (
                "host".into(),
                role(
                    &[Source::Audio, Source::Video, Source::Screen],
                    &everyone,
                    Permissions::all(),
                    1,
                    None,
                ),
            ),
            (
                "moderator".into(),
                role(
                    &[Source::Audio],
                    &["host", "moderator", "talker", "speaker"],
                    Permissions {
                        end_room: false,
                        broadcast: false,
                        ..Permissions::all()
                    },
                    2,
                    None,
                ),
            ),
            (
                "speaker".into(),
                role(
                    &[Source::Audio, Source::Video],
                    &["host", "speaker"],
                    Permissions {
                        send_chat: true,
                        self_select_breakout: true,
                        broadcast: true,
                        ..Permissions::default()
                    },
                    2,
                    None,
                ),
            ),
            (
                "guest".into(),
                role(
                    &[],
                    &["host", "speaker"],
                    Permissions {
                        self_select_breakout: true,
                        see_peer_list: true,
                        ..Permissions::default()
                    },
                    3,
                    Some("talker"),
                ),
            ),
            (
                "talker".into(),
                role(
                    &[Source::Audio],
                    &["host", "moderator", "talker", "speaker"],
                    Permissions {
                        self_select_breakout: true,
                        ..Permissions::default()
                    },
                    2,
                    None,
                ),
            ),
        ]
        .into(),
    };
    Arc::new(Template::compile(spec).unwrap())
}
