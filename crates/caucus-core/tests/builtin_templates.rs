//! The built-in templates in use: who receives whom in main and in a breakout room, who may
//! publish what, and which roles join muted.
#![allow(clippy::unwrap_used)]

use caucus_core::sim::Sim;
use caucus_core::{Command, SessionConfig, builtin};
use caucus_proto::{ErrorCode, PeerId, ServerEvent, Source};

fn sim(id: &str) -> Sim {
    Sim::with(builtin::template(id).unwrap(), SessionConfig::default())
}

fn publish_av(sim: &mut Sim, peer: PeerId) {
    sim.publish(peer, Source::Audio);
    sim.publish(peer, Source::Video);
}

fn hears(sim: &Sim, peer: PeerId) -> Vec<PeerId> {
    let mut out = sim.hears(peer);
    out.sort();
    out.dedup();
    out
}

fn sorted(mut peers: Vec<PeerId>) -> Vec<PeerId> {
    peers.sort();
    peers
}

/// The `(role, join_muted)` pairs of the `joined` event `peer` was sent.
fn joined_roles(sim: &mut Sim, peer: PeerId) -> Vec<(String, bool)> {
    sim.take_inbox(peer)
        .iter()
        .find_map(|e| match &**e {
            ServerEvent::Joined { roles, .. } => Some(
                roles
                    .iter()
                    .map(|r| (r.name.to_string(), r.join_muted))
                    .collect(),
            ),
            _ => None,
        })
        .expect("a joined event")
}

#[test]
fn the_registry_offers_four_templates_that_compile() {
    assert_eq!(
        builtin::IDS,
        ["breakout", "classroom", "webinar", "meeting"]
    );
    for id in builtin::IDS {
        let spec = builtin::spec(id).unwrap();
        assert_eq!(spec.name, *id);
        let template = builtin::template(id).unwrap();
        assert_eq!(template.roles().count(), spec.roles.len(), "{id}");
        assert!(builtin::is_builtin(id));
    }
    assert!(builtin::spec("lecture").is_none());
    assert!(builtin::template("lecture").is_none());
    assert!(!builtin::is_builtin("lecture"));
}

#[test]
fn classroom_everyone_sees_everyone_in_main_and_students_share_no_screen() {
    let mut sim = sim("classroom");
    let teacher = sim.join("tess", "teacher");
    let ta = sim.join("tom", "ta");
    let ana = sim.join("ana", "student");
    let ben = sim.join("ben", "student");
    for p in [teacher, ta, ana, ben] {
        publish_av(&mut sim, p);
    }
    assert_eq!(hears(&sim, teacher), sorted(vec![ta, ana, ben]));
    assert_eq!(hears(&sim, ta), sorted(vec![teacher, ana, ben]));
    assert_eq!(hears(&sim, ana), sorted(vec![teacher, ta, ben]));
    assert_eq!(hears(&sim, ben), sorted(vec![teacher, ta, ana]));

    let refused = sim
        .by(
            ana,
            Command::Publish {
                source: Source::Screen,
                muted: false,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PublishNotAllowed);
    sim.publish(teacher, Source::Screen);
}

#[test]
fn classroom_ta_runs_breakouts_and_lowers_hands_but_does_not_end_the_class() {
    let mut sim = sim("classroom");
    let teacher = sim.join("tess", "teacher");
    let ta = sim.join("tom", "ta");
    let ana = sim.join("ana", "student");
    let ben = sim.join("ben", "student");
    let cy = sim.join("cy", "student");
    for p in [teacher, ta, ana, ben, cy] {
        publish_av(&mut sim, p);
    }

    // The TA lowers a raised hand; a student may not lower another's.
    sim.by(
        ana,
        Command::SetHand {
            peer: ana,
            raised: true,
        },
    )
    .unwrap();
    let refused = sim
        .by(
            ben,
            Command::SetHand {
                peer: ana,
                raised: false,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    sim.by(
        ta,
        Command::SetHand {
            peer: ana,
            raised: false,
        },
    )
    .unwrap();
    assert!(!sim.peer(ana).unwrap().hand_raised());
    let end = Command::EndSession {
        reason: None,
        lock: false,
    };
    let refused = sim.by(ta, end).unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);

    // In breakout rooms students talk with their room only; main keeps teacher and TA.
    let rooms = sim.create_rooms(2);
    let op = caucus_core::BreakoutOp::Assign {
        assignments: vec![
            (
                caucus_core::Assignee::Peer(ana),
                caucus_proto::Location::Breakout(rooms[0]),
            ),
            (
                caucus_core::Assignee::Peer(ben),
                caucus_proto::Location::Breakout(rooms[0]),
            ),
            (
                caucus_core::Assignee::Peer(cy),
                caucus_proto::Location::Breakout(rooms[1]),
            ),
        ],
    };
    sim.breakouts(caucus_core::Actor::Peer(ta), op).unwrap();
    sim.breakouts(
        caucus_core::Actor::Peer(ta),
        caucus_core::BreakoutOp::Open { duration_s: None },
    )
    .unwrap();
    // Their tracks go with them.
    assert_eq!(hears(&sim, ana), vec![ben]);
    assert_eq!(hears(&sim, ben), vec![ana]);
    assert_eq!(hears(&sim, cy), Vec::<PeerId>::new());
    assert_eq!(hears(&sim, teacher), vec![ta]);
}

#[test]
fn classroom_students_learn_at_join_that_they_start_muted() {
    let mut sim = sim("classroom");
    let teacher = sim.join("tess", "teacher");
    let ana = sim.join("ana", "student");
    let expected = vec![
        ("teacher".to_owned(), false),
        ("ta".to_owned(), false),
        ("student".to_owned(), true),
    ];
    assert_eq!(joined_roles(&mut sim, ana), expected);
    assert_eq!(joined_roles(&mut sim, teacher), expected);
    let template = builtin::template("classroom").unwrap();
    let student = template.role_idx(&"student".into()).unwrap();
    assert!(template.role(student).join_muted());

    // No role of the other built-in templates joins muted.
    for id in ["breakout", "webinar", "meeting"] {
        let template = builtin::template(id).unwrap();
        assert!(template.roles().all(|(_, r)| !r.join_muted()), "{id}");
    }
}

#[test]
fn webinar_stage_is_seen_by_everyone_and_attendees_talk_only_in_breakouts() {
    let mut sim = sim("webinar");
    let host = sim.join("hana", "host");
    let pat = sim.join("pat", "panelist");
    let ana = sim.join("ana", "attendee");
    let ben = sim.join("ben", "attendee");
    let cy = sim.join("cy", "attendee");
    publish_av(&mut sim, host);
    publish_av(&mut sim, pat);
    sim.publish(pat, Source::Screen);
    assert_eq!(hears(&sim, host), vec![pat]);
    assert_eq!(hears(&sim, pat), vec![host]);
    assert_eq!(hears(&sim, ana), sorted(vec![host, pat]));
    assert_eq!(hears(&sim, ben), sorted(vec![host, pat]));
    let refused = sim
        .by(
            ana,
            Command::Publish {
                source: Source::Audio,
                muted: false,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PublishNotAllowed);

    // Split up, attendees act as `discussion` and talk with their room.
    let rooms = sim.open_rooms(2, &[(ana, 0), (ben, 0), (cy, 1)]);
    let template = builtin::template("webinar").unwrap();
    let discussion = template.role_idx(&"discussion".into()).unwrap();
    assert_eq!(sim.peer(ana).unwrap().acting_role(), discussion);
    publish_av(&mut sim, ana);
    publish_av(&mut sim, ben);
    publish_av(&mut sim, cy);
    assert_eq!(hears(&sim, ana), vec![ben]);
    assert_eq!(hears(&sim, ben), vec![ana]);
    assert_eq!(hears(&sim, cy), Vec::<PeerId>::new());
    assert_eq!(
        hears(&sim, host),
        vec![pat],
        "the stage does not hear rooms"
    );

    // Room 1 shows the stage: its attendees watch the host and the panelist again.
    sim.show_main_stage(rooms[0], &["host", "panelist"]);
    assert_eq!(hears(&sim, ana), sorted(vec![host, pat, ben]));
}

#[test]
fn meeting_everyone_is_equal_and_the_host_also_manages() {
    let mut sim = sim("meeting");
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "member");
    let ben = sim.join("ben", "member");
    for p in [host, ana, ben] {
        publish_av(&mut sim, p);
    }
    sim.publish(ben, Source::Screen);
    assert_eq!(hears(&sim, host), sorted(vec![ana, ben]));
    assert_eq!(hears(&sim, ana), sorted(vec![host, ben]));
    assert_eq!(hears(&sim, ben), sorted(vec![host, ana]));
    let refused = sim
        .by(
            ana,
            Command::MutePeer {
                peer: ben,
                source: None,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    sim.by(
        host,
        Command::MutePeer {
            peer: ben,
            source: None,
        },
    )
    .unwrap();

    // In a breakout room members hear their room only.
    sim.open_rooms(2, &[(ana, 0), (ben, 0)]);
    assert_eq!(hears(&sim, ana), vec![ben]);
    assert_eq!(hears(&sim, host), Vec::<PeerId>::new());
}
