//! The template document: named roles with a publish strategy, a subscribe strategy and
//! permissions. This is the shape of `POST /v1/templates`; `caucus-core` validates it and
//! compiles it into the form the policy engine uses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::RoleName;
use crate::model::Source;

/// A named set of roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    pub name: String,
    pub roles: BTreeMap<RoleName, RoleSpec>,
}

/// What a role may send, whom it receives and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    #[serde(default)]
    pub publish: PublishSpec,
    #[serde(default)]
    pub subscribe: SubscribeSpec,
    #[serde(default)]
    pub permissions: Permissions,
    /// Higher shows first in lists and wins ties in layouts.
    #[serde(default)]
    pub priority: i32,
    /// How many peers may hold this role at once in a session; 0 = unlimited.
    #[serde(default)]
    pub max_peers: u32,
    /// The role a peer of this role acts as while it stands in a breakout room (for example
    /// `guest` → `breakout`: guests who only watch the main stage may talk once split up).
    /// Back in the main room the peer acts as its own role again. `None` = unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakout_role: Option<RoleName>,
    /// A peer of this role joins with its microphone and camera off (it may turn them on
    /// itself): a class where students come in quiet. `false` = they start as the user chose.
    #[serde(default, skip_serializing_if = "is_false")]
    pub join_muted: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The publish strategy: allowed sources and their caps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSpec {
    /// Any of `audio`, `video`, `screen` (`screen` also covers the screen's audio).
    #[serde(default)]
    pub allowed: Vec<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<SourceCaps>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<SourceCaps>,
    #[serde(default)]
    pub simulcast: bool,
}

/// Upper bounds for one video-like source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceCaps {
    pub max_width: u32,
    pub max_height: u32,
    pub max_fps: u32,
    /// Bits per second.
    pub max_bitrate: u32,
}

/// The subscribe strategy: the roles whose tracks this role receives, and the largest camera
/// picture it is sent (the simulcast layer that fits; without simulcast, the one there is).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeSpec {
    #[serde(default)]
    pub roles: Vec<RoleName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<ViewCaps>,
}

/// The largest picture a subscriber should get of a camera track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewCaps {
    pub max_width: u32,
    pub max_height: u32,
}

/// One role of a session's template as a client shows it: the choices of role pickers and chat
/// to a role, which roles auto-assign leaves in main by default (those with
/// `manage_breakouts`), and who presents on the main stage (the roles that may share a screen).
/// A summary, not the document: no caps, no subscribe lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    pub name: RoleName,
    pub priority: i32,
    /// The sources the role may publish in main (`screen` also covers the screen's audio).
    pub publish: Vec<Source>,
    pub permissions: Permissions,
    /// The role it acts as inside a breakout room, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakout_role: Option<RoleName>,
    /// A peer of this role starts with its microphone and camera off.
    #[serde(default, skip_serializing_if = "is_false")]
    pub join_muted: bool,
}

impl RoleInfo {
    pub fn new(name: &RoleName, spec: &RoleSpec) -> Self {
        Self {
            name: name.clone(),
            priority: spec.priority,
            publish: spec.publish.allowed.clone(),
            permissions: spec.permissions,
            breakout_role: spec.breakout_role.clone(),
            join_muted: spec.join_muted,
        }
    }

    /// The summaries of `roles`, highest priority first, then by name: the order lists show.
    pub fn list<'a>(roles: impl IntoIterator<Item = (&'a RoleName, &'a RoleSpec)>) -> Vec<Self> {
        let mut out: Vec<Self> = roles
            .into_iter()
            .map(|(name, spec)| Self::new(name, spec))
            .collect();
        out.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        out
    }
}

macro_rules! permissions {
    ($($(#[$doc:meta])* $field:ident => $variant:ident,)*) => {
        /// One flag per permission; absent flags are `false`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Permissions {
            $($(#[$doc])* pub $field: bool,)*
        }

        /// The name of one permission flag.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Permission {
            $($variant,)*
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => stringify!($field),)*
                }
            }
        }

        impl Permissions {
            /// Every flag set.
            pub const fn all() -> Self {
                Self { $($field: true,)* }
            }

            pub const fn has(&self, permission: Permission) -> bool {
                match permission {
                    $(Permission::$variant => self.$field,)*
                }
            }

            pub fn set(&mut self, permission: Permission, value: bool) {
                match permission {
                    $(Permission::$variant => self.$field = value,)*
                }
            }
        }
    };
}

permissions! {
    /// End the session for everyone.
    end_room => EndRoom,
    /// Remove a peer from the session.
    remove_peers => RemovePeers,
    /// Mute another peer's track.
    mute_others => MuteOthers,
    /// Ask another peer to unmute (the peer decides).
    ask_unmute => AskUnmute,
    /// Change another peer's role, forced or as a request.
    change_role => ChangeRole,
    /// Create, edit, open and close breakout rooms; listen in; claim help.
    manage_breakouts => ManageBreakouts,
    /// Move any peer between the main room and breakout rooms.
    move_peers => MovePeers,
    /// Pick a breakout room oneself when the breakout options allow it.
    self_select_breakout => SelfSelectBreakout,
    /// Be heard in every location; chat to every location.
    broadcast => Broadcast,
    /// Start and stop recordings.
    record => Record,
    /// See every peer of the session, wherever it stands.
    see_peer_list => SeePeerList,
    /// Lock and unlock the room.
    lock_room => LockRoom,
    /// Send chat messages.
    send_chat => SendChat,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_document_parses_with_defaults() {
        let role: RoleSpec = serde_json::from_str(
            r#"{"publish": {"allowed": ["audio", "video"], "video": {"max_width": 1280,
                "max_height": 720, "max_fps": 30, "max_bitrate": 1500000}},
                "subscribe": {"roles": ["host"]}, "permissions": {"send_chat": true}}"#,
        )
        .unwrap();
        assert_eq!(role.publish.allowed, vec![Source::Audio, Source::Video]);
        assert!(role.permissions.send_chat);
        assert!(!role.permissions.end_room);
        assert_eq!(role.max_peers, 0);
    }

    #[test]
    fn role_summaries_list_by_priority_then_name_with_what_a_client_needs() {
        let spec: TemplateSpec = serde_json::from_str(
            r#"{"name": "class", "roles": {
                "pupil": {"priority": 1, "breakout_role": "speaker"},
                "speaker": {"priority": 1, "publish": {"allowed": ["audio"]}},
                "teacher": {"priority": 9, "publish": {"allowed": ["audio", "screen"]},
                            "permissions": {"manage_breakouts": true}}}}"#,
        )
        .unwrap();
        let roles = RoleInfo::list(&spec.roles);
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["teacher", "pupil", "speaker"]);
        assert_eq!(roles[0].publish, [Source::Audio, Source::Screen]);
        assert!(roles[0].permissions.manage_breakouts);
        assert_eq!(roles[1].breakout_role, Some(RoleName::from("speaker")));
        let json = serde_json::to_value(&roles[1]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "pupil", "priority": 1, "publish": [],
                               "permissions": serde_json::to_value(Permissions::default()).unwrap(),
                               "breakout_role": "speaker"})
        );
        assert!(
            serde_json::to_value(&roles[2])
                .unwrap()
                .get("breakout_role")
                .is_none()
        );
    }

    #[test]
    fn join_muted_defaults_to_false_and_reaches_the_summary() {
        let spec: TemplateSpec = serde_json::from_str(
            r#"{"name": "class", "roles": {"pupil": {"join_muted": true}, "teacher": {}}}"#,
        )
        .unwrap();
        assert!(spec.roles[&RoleName::from("pupil")].join_muted);
        assert!(!spec.roles[&RoleName::from("teacher")].join_muted);
        let roles = RoleInfo::list(&spec.roles);
        let json = serde_json::to_value(&roles).unwrap();
        assert_eq!(json[0]["name"], "pupil");
        assert_eq!(json[0]["join_muted"], true);
        assert!(json[1].get("join_muted").is_none(), "false is left out");
        let back: Vec<RoleInfo> = serde_json::from_value(json).unwrap();
        assert_eq!(back, roles);
    }

    #[test]
    fn unknown_permission_is_refused() {
        let err = serde_json::from_str::<Permissions>(r#"{"fly": true}"#).unwrap_err();
        assert!(err.to_string().contains("fly"), "{err}");
    }

    #[test]
    fn permission_names_match_the_fields() {
        let mut perms = Permissions::default();
        for p in Permission::ALL {
            perms.set(*p, true);
            let json = serde_json::to_value(perms).unwrap();
            assert_eq!(json[p.as_str()], true, "{}", p.as_str());
        }
        assert_eq!(perms, Permissions::all());
    }
}
