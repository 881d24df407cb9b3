//! Templates: a validated, compiled set of roles.
//!
//! `Template::compile` turns the wire document (`TemplateSpec`) into the form the policy and the
//! routing rule use: roles by index, subscribe lists in both directions, publish sources as a
//! small set. Every mistake in the document is refused with a precise code and field path.

use std::collections::BTreeMap;

use caucus_proto::{
    ErrorCode, Permission, Permissions, RoleName, RoleSpec, Source, SourceCaps, TemplateSpec,
    ViewCaps,
};

use crate::denial::Denial;

/// A role's position in its template. Only meaningful with the template it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleIdx(u16);

impl RoleIdx {
    pub(crate) const MIN: RoleIdx = RoleIdx(0);
    pub(crate) const MAX: RoleIdx = RoleIdx(u16::MAX);

    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// One compiled role.
#[derive(Debug, Clone)]
pub struct Role {
    name: RoleName,
    spec: RoleSpec,
    /// Roles whose tracks this role receives.
    subscribes: Vec<RoleIdx>,
    /// Roles that receive this role's tracks.
    subscribed_by: Vec<RoleIdx>,
    /// The role this one acts as inside a breakout room (itself when the spec names none).
    in_breakout: RoleIdx,
}

impl Role {
    pub fn name(&self) -> &RoleName {
        &self.name
    }

    pub fn spec(&self) -> &RoleSpec {
        &self.spec
    }

    pub fn permissions(&self) -> &Permissions {
        &self.spec.permissions
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.spec.permissions.has(permission)
    }

    /// Whether a peer of this role starts with its microphone and camera off.
    pub fn join_muted(&self) -> bool {
        self.spec.join_muted
    }

    /// Whether this role may publish `source` (a screen's audio rides on `screen`).
    pub fn may_publish(&self, source: Source) -> bool {
        self.spec.publish.allowed.contains(&source.publish_class())
    }

    /// The sources this role may publish, `screen_audio` included when `screen` is.
    pub fn publishable(&self) -> Vec<Source> {
        Source::ALL
            .into_iter()
            .filter(|s| self.may_publish(*s))
            .collect()
    }

    pub fn subscribes(&self) -> &[RoleIdx] {
        &self.subscribes
    }

    pub fn subscribed_by(&self) -> &[RoleIdx] {
        &self.subscribed_by
    }

    pub fn subscribes_to(&self, publisher: RoleIdx) -> bool {
        self.subscribes.contains(&publisher)
    }

    /// The largest camera picture this role is sent, if capped.
    pub fn view_caps(&self) -> Option<ViewCaps> {
        self.spec.subscribe.video
    }

    /// Its `priority`: higher roles' tracks are placed and served first.
    pub fn priority(&self) -> i32 {
        self.spec.priority
    }

    pub fn max_peers(&self) -> u32 {
        self.spec.max_peers
    }
}

/// A validated template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    roles: Vec<Role>,
    by_name: BTreeMap<RoleName, RoleIdx>,
}

const MAX_NAME: usize = 64;
const MAX_ROLES: usize = 64;

impl Template {
    /// Validate and compile a template document.
    pub fn compile(spec: TemplateSpec) -> Result<Template, Denial> {
        validate_name(&spec.name, "name")?;
        if spec.roles.is_empty() {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                "a template needs at least one role",
            )
            .with_field("roles"));
        }
        if spec.roles.len() > MAX_ROLES {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                format!("a template holds at most {MAX_ROLES} roles"),
            )
            .with_field("roles"));
        }
        let mut by_name = BTreeMap::new();
        let mut folded: BTreeMap<String, &RoleName> = BTreeMap::new();
        for (i, name) in spec.roles.keys().enumerate() {
            validate_role_name(name)?;
            if let Some(other) = folded.insert(name.as_str().to_lowercase(), name) {
                return Err(Denial::new(
                    ErrorCode::DuplicateName,
                    format!("roles {other} and {name} differ only in case"),
                )
                .with_field(format!("roles.{name}")));
            }
            let idx = RoleIdx(u16::try_from(i).expect("invariant: at most MAX_ROLES roles"));
            by_name.insert(name.clone(), idx);
        }
        let lookup = |name: &RoleName, field: String| {
            by_name.get(name).copied().ok_or_else(|| {
                Denial::new(
                    ErrorCode::UnknownRoleReference,
                    format!("role {name} is referenced but not defined in this template"),
                )
                .with_field(field)
            })
        };
        let mut roles = Vec::with_capacity(spec.roles.len());
        for (name, role) in &spec.roles {
            validate_publish(name, role)?;
            validate_subscribe(name, role)?;
            let mut subscribes = Vec::new();
            for (i, target) in role.subscribe.roles.iter().enumerate() {
                let idx = lookup(target, format!("roles.{name}.subscribe.roles[{i}]"))?;
                if subscribes.contains(&idx) {
                    return Err(Denial::new(
                        ErrorCode::DuplicateName,
                        format!("role {name} subscribes to {target} twice"),
                    )
                    .with_field(format!("roles.{name}.subscribe.roles[{i}]")));
                }
                subscribes.push(idx);
            }
            let own = by_name[name];
            let in_breakout = match &role.breakout_role {
                Some(target) => lookup(target, format!("roles.{name}.breakout_role"))?,
                None => own,
            };
            roles.push(Role {
                name: name.clone(),
                spec: role.clone(),
                subscribes,
                subscribed_by: Vec::new(),
                in_breakout,
            });
        }
        for publisher in 0..roles.len() {
            let idx =
                RoleIdx(u16::try_from(publisher).expect("invariant: at most MAX_ROLES roles"));
            let by: Vec<RoleIdx> = (0..roles.len())
                .filter(|s| roles[*s].subscribes.contains(&idx))
                .map(|s| RoleIdx(u16::try_from(s).expect("invariant: at most MAX_ROLES roles")))
                .collect();
            roles[publisher].subscribed_by = by;
        }
        Ok(Template {
            name: spec.name,
            roles,
            by_name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self, idx: RoleIdx) -> &Role {
        &self.roles[idx.index()]
    }

    pub fn role_idx(&self, name: &RoleName) -> Option<RoleIdx> {
        self.by_name.get(name).copied()
    }

    /// Look a role up by name, refusing unknown names with `unknown_role`.
    pub fn require_role(&self, name: &RoleName) -> Result<RoleIdx, Denial> {
        self.role_idx(name).ok_or_else(|| {
            Denial::new(
                ErrorCode::UnknownRole,
                format!("template {} has no role {name}", self.name),
            )
        })
    }

    pub fn roles(&self) -> impl Iterator<Item = (RoleIdx, &Role)> {
        self.roles.iter().enumerate().map(|(i, r)| {
            (
                RoleIdx(u16::try_from(i).expect("invariant: at most MAX_ROLES roles")),
                r,
            )
        })
    }

    /// The role a peer holding `role` acts as when it stands in `location`.
    pub fn acting_role(&self, role: RoleIdx, in_breakout: bool) -> RoleIdx {
        if in_breakout {
            self.role(role).in_breakout
        } else {
            role
        }
    }

    /// The document this template was compiled from.
    pub fn to_spec(&self) -> TemplateSpec {
        TemplateSpec {
            name: self.name.clone(),
            roles: self
                .roles
                .iter()
                .map(|r| (r.name.clone(), r.spec.clone()))
                .collect(),
        }
    }
}

fn validate_name(name: &str, field: &str) -> Result<(), Denial> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(
            Denial::new(ErrorCode::InvalidName, "a name may not be empty").with_field(field),
        );
    }
    if trimmed != name {
        return Err(Denial::new(
            ErrorCode::InvalidName,
            "a name may not start or end with white space",
        )
        .with_field(field));
    }
    if name.chars().count() > MAX_NAME || !crate::text::is_printable_name(name) {
        return Err(Denial::new(
            ErrorCode::InvalidName,
            format!(
                "a name is at most {MAX_NAME} printable characters, without control or direction-changing characters"
            ),
        )
        .with_field(field));
    }
    Ok(())
}

fn validate_role_name(name: &RoleName) -> Result<(), Denial> {
    let s = name.as_str();
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Denial::new(
            ErrorCode::InvalidName,
            format!("role name {s:?} must be 1 to {MAX_NAME} letters, digits, '-' or '_'"),
        )
        .with_field(format!("roles.{s}")))
    }
}

fn validate_publish(name: &RoleName, role: &RoleSpec) -> Result<(), Denial> {
    let field = |rest: &str| format!("roles.{name}.publish.{rest}");
    let mut seen = Vec::new();
    for (i, source) in role.publish.allowed.iter().enumerate() {
        if *source == Source::ScreenAudio {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                "publish.allowed takes audio, video and screen; a screen's audio rides on screen",
            )
            .with_field(field(&format!("allowed[{i}]"))));
        }
        if seen.contains(source) {
            return Err(Denial::new(
                ErrorCode::DuplicateName,
                format!("{source} is listed twice"),
            )
            .with_field(field(&format!("allowed[{i}]"))));
        }
        seen.push(*source);
    }
    for (source, caps) in [
        (Source::Video, &role.publish.video),
        (Source::Screen, &role.publish.screen),
    ] {
        let Some(caps) = caps else { continue };
        if !seen.contains(&source) {
            return Err(Denial::new(
                ErrorCode::InvalidCaps,
                format!("caps are set for {source}, which role {name} may not publish"),
            )
            .with_field(field(source.as_str())));
        }
        validate_caps(caps).map_err(|d| d.with_field(field(source.as_str())))?;
    }
    Ok(())
}

fn validate_subscribe(name: &RoleName, role: &RoleSpec) -> Result<(), Denial> {
    let Some(view) = role.subscribe.video else {
        return Ok(());
    };
    let field = format!("roles.{name}.subscribe.video");
    if !(16..=7680).contains(&view.max_width) {
        return Err(Denial::new(
            ErrorCode::InvalidCaps,
            "max_width must be between 16 and 7680",
        )
        .with_field(field));
    }
    if !(16..=4320).contains(&view.max_height) {
        return Err(Denial::new(
            ErrorCode::InvalidCaps,
            "max_height must be between 16 and 4320",
        )
        .with_field(field));
    }
    Ok(())
}

fn validate_caps(caps: &SourceCaps) -> Result<(), Denial> {
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(Denial::new(ErrorCode::InvalidCaps, what.to_owned()))
        }
    };
    check(
        (16..=7680).contains(&caps.max_width),
        "max_width must be between 16 and 7680",
    )?;
    check(
        (16..=4320).contains(&caps.max_height),
        "max_height must be between 16 and 4320",
    )?;
    check(
        (1..=120).contains(&caps.max_fps),
        "max_fps must be between 1 and 120",
    )?;
    check(
        (16_000..=50_000_000).contains(&caps.max_bitrate),
        "max_bitrate must be between 16000 and 50000000 bits per second",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use caucus_proto::{PublishSpec, SubscribeSpec};

    fn one_role(role: RoleSpec) -> TemplateSpec {
        TemplateSpec {
            name: "t".into(),
            roles: [(RoleName::from("r"), role)].into(),
        }
    }

    fn refused(spec: TemplateSpec) -> Denial {
        Template::compile(spec).expect_err("the template should be refused")
    }

    #[test]
    fn unknown_subscribe_reference_names_the_field() {
        let d = refused(one_role(RoleSpec {
            subscribe: SubscribeSpec {
                roles: vec!["ghost".into()],
                video: None,
            },
            ..RoleSpec::default()
        }));
        assert_eq!(d.code, ErrorCode::UnknownRoleReference);
        assert_eq!(d.field.as_deref(), Some("roles.r.subscribe.roles[0]"));
    }

    #[test]
    fn empty_and_duplicate_names_are_refused() {
        let mut spec = one_role(RoleSpec::default());
        spec.name = " ".into();
        assert_eq!(refused(spec).code, ErrorCode::InvalidName);

        let spec = TemplateSpec {
            name: "t".into(),
            roles: [
                ("Host".into(), RoleSpec::default()),
                ("host".into(), RoleSpec::default()),
            ]
            .into(),
        };
        assert_eq!(refused(spec).code, ErrorCode::DuplicateName);

        let spec = TemplateSpec {
            name: "t".into(),
            roles: [("".into(), RoleSpec::default())].into(),
        };
        assert_eq!(refused(spec).code, ErrorCode::InvalidName);

        let spec = TemplateSpec {
            name: "t".into(),
            roles: BTreeMap::new(),
        };
        assert_eq!(refused(spec).code, ErrorCode::InvalidValue);
    }

    #[test]
    fn impossible_view_caps_are_refused_and_good_ones_are_kept() {
        let with_view = |max_width, max_height| {
            one_role(RoleSpec {
                subscribe: SubscribeSpec {
                    roles: vec![],
                    video: Some(ViewCaps {
                        max_width,
                        max_height,
                    }),
                },
                ..RoleSpec::default()
            })
        };
        for (w, h) in [(0, 240), (320, 5000)] {
            let d = refused(with_view(w, h));
            assert_eq!(d.code, ErrorCode::InvalidCaps);
            assert_eq!(d.field.as_deref(), Some("roles.r.subscribe.video"));
        }
        let template = Template::compile(with_view(320, 240)).unwrap();
        let (_, role) = template.roles().next().unwrap();
        assert_eq!(
            role.view_caps(),
            Some(ViewCaps {
                max_width: 320,
                max_height: 240
            })
        );
    }

    #[test]
    fn impossible_caps_are_refused() {
        let caps = SourceCaps {
            max_width: 0,
            max_height: 720,
            max_fps: 30,
            max_bitrate: 1_000_000,
        };
        let d = refused(one_role(RoleSpec {
            publish: PublishSpec {
                allowed: vec![Source::Video],
                video: Some(caps),
                ..PublishSpec::default()
            },
            ..RoleSpec::default()
        }));
        assert_eq!(d.code, ErrorCode::InvalidCaps);
        assert_eq!(d.field.as_deref(), Some("roles.r.publish.video"));

        let ok = SourceCaps {
            max_width: 1280,
            ..caps
        };
        let d = refused(one_role(RoleSpec {
            publish: PublishSpec {
                allowed: vec![],
                video: Some(ok),
                ..PublishSpec::default()
            },
            ..RoleSpec::default()
        }));
        assert_eq!(
            d.code,
            ErrorCode::InvalidCaps,
            "caps for a source the role may not publish"
        );
    }

    #[test]
    fn duplicate_sources_and_screen_audio_are_refused() {
        let d = refused(one_role(RoleSpec {
            publish: PublishSpec {
                allowed: vec![Source::Audio, Source::Audio],
                ..Default::default()
            },
            ..RoleSpec::default()
        }));
        assert_eq!(d.code, ErrorCode::DuplicateName);
        let d = refused(one_role(RoleSpec {
            publish: PublishSpec {
                allowed: vec![Source::ScreenAudio],
                ..Default::default()
            },
            ..RoleSpec::default()
        }));
        assert_eq!(d.code, ErrorCode::InvalidValue);
    }

    #[test]
    fn unknown_breakout_role_is_refused() {
        let d = refused(one_role(RoleSpec {
            breakout_role: Some("nowhere".into()),
            ..RoleSpec::default()
        }));
        assert_eq!(d.code, ErrorCode::UnknownRoleReference);
        assert_eq!(d.field.as_deref(), Some("roles.r.breakout_role"));
    }

    #[test]
    fn compiled_template_round_trips_to_its_document() {
        let spec = crate::builtin::breakout_template_spec();
        let template = Template::compile(spec.clone()).unwrap();
        assert_eq!(template.to_spec(), spec);
    }
}
