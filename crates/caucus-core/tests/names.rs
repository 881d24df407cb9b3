//! Names people read — display names, breakout room names, template names — refuse control
//! characters and the bidirectional formatting characters that make a name display as
//! something else, on every path into the session, and the refusal changes nothing.
#![allow(clippy::unwrap_used)]

use caucus_core::sim::Sim;
use caucus_core::{
    Actor, BreakoutOp, Command, JoinRequest, Outcome, RoomUpdate, Template, builtin,
};
use caucus_proto::ErrorCode;

const SERVER: Actor = Actor::Server;

/// NUL, a terminal escape, a right-to-left override, an isolate, a mark.
const HOSTILE: [&str; 6] = [
    "Ana\u{0}",
    "\u{1b}[2J\u{1b}[31mAna",
    "Ana\u{202e}nimda",
    "\u{2067}Ana",
    "Ana\u{200f}",
    "Ana\u{061c}",
];

fn join_request(user: &str, name: &str) -> JoinRequest {
    JoinRequest {
        user_id: user.into(),
        name: name.to_owned(),
        role: "guest".into(),
        password: None,
        metadata: None,
    }
}

#[test]
fn a_join_with_a_hostile_display_name_is_refused() {
    let mut sim = Sim::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        let refused = sim
            .join_with(join_request(&format!("u{i}"), name))
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidName, "{name:?}");
        assert_eq!(refused.field.as_deref(), Some("name"), "{name:?}");
    }
    assert_eq!(sim.session.peers().count(), 0);
    // Right-to-left letters are a name like any other.
    sim.join_with(join_request("sara", "שרה")).unwrap();
}

#[test]
fn a_rename_to_a_hostile_display_name_is_refused_and_keeps_the_name() {
    let mut sim = Sim::new();
    let ana = sim.join("ana", "guest");
    for name in HOSTILE {
        let rename = Command::UpdatePeer {
            peer: ana,
            name: Some(name.to_owned()),
            metadata: None,
        };
        let refused = sim.by(ana, rename).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidName, "{name:?}");
    }
    assert_eq!(sim.peer(ana).unwrap().name(), "ana");
}

#[test]
fn breakout_rooms_refuse_hostile_names_on_create_and_rename() {
    let mut sim = Sim::new();
    for name in HOSTILE {
        let create = BreakoutOp::Create {
            count: 0,
            names: vec![name.to_owned()],
            capacity: None,
        };
        let refused = sim.breakouts(SERVER, create).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidName, "{name:?}");
        assert_eq!(refused.field.as_deref(), Some("names[0]"));
    }
    assert_eq!(sim.session.breakouts().rooms().count(), 0);
    let created = sim
        .breakouts(
            SERVER,
            BreakoutOp::Create {
                count: 1,
                names: Vec::new(),
                capacity: None,
            },
        )
        .unwrap();
    let Outcome::BreakoutsCreated { rooms } = created else {
        panic!("{created:?}")
    };
    for name in HOSTILE {
        let rename = BreakoutOp::Update {
            breakout: rooms[0],
            update: RoomUpdate {
                name: Some(name.to_owned()),
                ..RoomUpdate::default()
            },
        };
        let refused = sim.breakouts(SERVER, rename).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidName, "{name:?}");
    }
    assert_eq!(
        sim.session.breakouts().room(rooms[0]).unwrap().name(),
        "Room 1"
    );
}

#[test]
fn a_template_refuses_a_hostile_name() {
    for name in HOSTILE {
        let mut spec = builtin::breakout_template_spec();
        spec.name = name.to_owned();
        let refused = Template::compile(spec).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidName, "{name:?}");
        assert_eq!(refused.field.as_deref(), Some("name"));
    }
}
