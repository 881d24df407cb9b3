//! The built-in templates, each a `TemplateSpec` every server offers, read-only:
//!
//! - `breakout` — the seed example: a main stage run by `host` and `co-host`, a back stage of
//!   `moderator`s, `guest`s who watch, and a `breakout` role in which guests talk among
//!   themselves while they keep watching the main stage;
//! - `classroom` — a `teacher` who may do everything, `ta`s (teaching assistants) seen and heard
//!   by everyone who run breakouts and answer help, and `student`s who see and hear each other
//!   and the teachers, and join with microphone and camera off;
//! - `webinar` — a stage of `host` and `panelist`s seen by everyone, `attendee`s who watch and
//!   chat, and a `discussion` role in which attendees talk once split into breakout rooms;
//! - `meeting` — everyone equal: `member`s who all publish and see each other, and a `host`
//!   who may also manage the session.
//!
//! About `breakout`, two choices go beyond the seed, both so that the location model works out
//! of the box:
//! - `guest` names `breakout` as its `breakout_role`: a guest moved into a breakout room acts
//!   as `breakout` there (may talk, hears the room) and is a guest again back in main;
//! - host, co-host and moderator also subscribe to `breakout`, so a manager who visits or
//!   listens in to a room hears it. In main, no one acts as `breakout` unless given that role
//!   outright, in which case hosts hear them — as the role-only (100ms) model expects.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use caucus_proto::{
    Permissions, PublishSpec, RoleName, RoleSpec, Source, SourceCaps, SubscribeSpec, TemplateSpec,
};

use crate::template::Template;

/// The id and name of the seed's built-in template, the one rooms get when none is named.
pub const BREAKOUT_TEMPLATE: &str = "breakout";
/// The id and name of the classroom template.
pub const CLASSROOM_TEMPLATE: &str = "classroom";
/// The id and name of the webinar template.
pub const WEBINAR_TEMPLATE: &str = "webinar";
/// The id and name of the meeting template.
pub const MEETING_TEMPLATE: &str = "meeting";

/// The ids of the built-in templates, in the order lists show them.
pub const IDS: &[&str] = &[
    BREAKOUT_TEMPLATE,
    CLASSROOM_TEMPLATE,
    WEBINAR_TEMPLATE,
    MEETING_TEMPLATE,
];

/// Whether `id` names a built-in template.
pub fn is_builtin(id: &str) -> bool {
    IDS.contains(&id)
}

/// The document of the built-in template `id`, `None` for any other id.
pub fn spec(id: &str) -> Option<TemplateSpec> {
    match id {
        BREAKOUT_TEMPLATE => Some(breakout_template_spec()),
        CLASSROOM_TEMPLATE => Some(classroom_spec()),
        WEBINAR_TEMPLATE => Some(webinar_spec()),
        MEETING_TEMPLATE => Some(meeting_spec()),
        _ => None,
    }
}

/// The built-in template `id`, compiled once; `None` for any other id.
pub fn template(id: &str) -> Option<Arc<Template>> {
    static TEMPLATES: OnceLock<BTreeMap<&'static str, Arc<Template>>> = OnceLock::new();
    TEMPLATES
        .get_or_init(|| {
            IDS.iter()
                .map(|id| {
                    let spec = spec(id).expect("invariant: every id has a document");
                    let compiled =
                        Template::compile(spec).expect("invariant: built-in templates are valid");
                    (*id, Arc::new(compiled))
                })
                .collect()
        })
        .get(id)
        .cloned()
}

/// The seed's built-in template, compiled once.
pub fn breakout_template() -> Arc<Template> {
    template(BREAKOUT_TEMPLATE).expect("invariant: `breakout` is built in")
}

const HD: SourceCaps = SourceCaps {
    max_width: 1280,
    max_height: 720,
    max_fps: 30,
    max_bitrate: 1_500_000,
};
const FHD_SCREEN: SourceCaps = SourceCaps {
    max_width: 1920,
    max_height: 1080,
    max_fps: 15,
    max_bitrate: 2_500_000,
};
const SD: SourceCaps = SourceCaps {
    max_width: 640,
    max_height: 360,
    max_fps: 30,
    max_bitrate: 600_000,
};

fn roles(names: &[&str]) -> SubscribeSpec {
    SubscribeSpec {
        roles: names.iter().map(|n| RoleName::from(*n)).collect(),
        video: None,
    }
}

/// Camera, microphone and a screen, in simulcast: who presents.
fn stage() -> PublishSpec {
    PublishSpec {
        allowed: vec![Source::Audio, Source::Video, Source::Screen],
        video: Some(HD),
        screen: Some(FHD_SCREEN),
        simulcast: true,
    }
}

/// Camera and microphone only.
fn talk(caps: SourceCaps) -> PublishSpec {
    PublishSpec {
        allowed: vec![Source::Audio, Source::Video],
        video: Some(caps),
        screen: None,
        simulcast: false,
    }
}

fn role(publish: PublishSpec, subscribe: SubscribeSpec, permissions: Permissions) -> RoleSpec {
    RoleSpec {
        publish,
        subscribe,
        permissions,
        ..RoleSpec::default()
    }
}

/// A participant: sees the people list, chats, may pick a breakout room when allowed.
const PARTICIPANT: Permissions = Permissions {
    see_peer_list: true,
    send_chat: true,
    self_select_breakout: true,
    end_room: false,
    remove_peers: false,
    mute_others: false,
    ask_unmute: false,
    change_role: false,
    manage_breakouts: false,
    move_peers: false,
    broadcast: false,
    record: false,
    lock_room: false,
};

/// `classroom`: everyone in class sees and hears everyone; students come in muted.
///
/// - `teacher` (100): presents (camera, microphone, screen) and may do everything;
/// - `ta` (80): presents too, runs breakouts (create, open, move peers, claim help, listen in),
///   mutes students and lowers their hands, asks them to unmute; may not end the class, remove
///   people, change roles, record, lock or broadcast;
/// - `student` (10): camera and microphone, no screen; sees the people list, chats, may pick a
///   breakout room when allowed; joins with microphone and camera off.
pub fn classroom_spec() -> TemplateSpec {
    let class = || roles(&["teacher", "ta", "student"]);
    let ta_permissions = Permissions {
        manage_breakouts: true,
        move_peers: true,
        mute_others: true,
        ask_unmute: true,
        ..PARTICIPANT
    };
    TemplateSpec {
        name: CLASSROOM_TEMPLATE.into(),
        roles: [
            (
                "teacher".into(),
                RoleSpec {
                    priority: 100,
                    ..role(stage(), class(), Permissions::all())
                },
            ),
            (
                "ta".into(),
                RoleSpec {
                    priority: 80,
                    ..role(stage(), class(), ta_permissions)
                },
            ),
            (
                "student".into(),
                RoleSpec {
                    priority: 10,
                    join_muted: true,
                    ..role(talk(SD), class(), PARTICIPANT)
                },
            ),
        ]
        .into(),
    }
}

/// `webinar`: a stage seen by everyone and an audience that watches.
///
/// - `host` (100): presents and may do everything;
/// - `panelist` (50): presents (camera, microphone, screen) on stage beside the host, sees the
///   people list and chats;
/// - `attendee` (10): publishes nothing in main, sees the stage (host and panelists), chats and
///   may pick a breakout room when allowed; does not see the people list. In a breakout room
///   an attendee acts as `discussion`;
/// - `discussion` (20): camera and microphone in a breakout room, hears the room and the
///   stage's people who visit it.
pub fn webinar_spec() -> TemplateSpec {
    let on_stage = || roles(&["host", "panelist", "discussion"]);
    let attendee = Permissions {
        see_peer_list: false,
        ..PARTICIPANT
    };
    TemplateSpec {
        name: WEBINAR_TEMPLATE.into(),
        roles: [
            (
                "host".into(),
                RoleSpec {
                    priority: 100,
                    ..role(stage(), on_stage(), Permissions::all())
                },
            ),
            (
                "panelist".into(),
                RoleSpec {
                    priority: 50,
                    ..role(stage(), on_stage(), PARTICIPANT)
                },
            ),
            (
                "attendee".into(),
                RoleSpec {
                    priority: 10,
                    breakout_role: Some("discussion".into()),
                    ..role(
                        PublishSpec::default(),
                        roles(&["host", "panelist"]),
                        attendee,
                    )
                },
            ),
            (
                "discussion".into(),
                RoleSpec {
                    priority: 20,
                    ..role(talk(SD), on_stage(), attendee)
                },
            ),
        ]
        .into(),
    }
}

/// `meeting`: everyone equal.
///
/// - `host` (100): publishes camera, microphone and screen, sees everyone, may do everything;
/// - `member` (50): publishes camera, microphone and screen, sees everyone, sees the people
///   list, chats and may pick a breakout room when allowed.
pub fn meeting_spec() -> TemplateSpec {
    let everyone = || roles(&["host", "member"]);
    TemplateSpec {
        name: MEETING_TEMPLATE.into(),
        roles: [
            (
                "host".into(),
                RoleSpec {
                    priority: 100,
                    ..role(stage(), everyone(), Permissions::all())
                },
            ),
            (
                "member".into(),
                RoleSpec {
                    priority: 50,
                    ..role(stage(), everyone(), PARTICIPANT)
                },
            ),
        ]
        .into(),
    }
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
                    join_muted: false,
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
                    join_muted: false,
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
                    join_muted: false,
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
                    join_muted: false,
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
                    join_muted: false,
                },
            ),
        ]
        .into(),
    }
}
