//! Stories of roles: a single role change, forced or as a request the peer accepts, rejects or
//! lets expire; a bulk change of everyone holding some roles; and the `breakout_role` a guest
//! acts as while it stands in a breakout room. Time is simulated.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{Command, Outcome};
use caucus_proto::event::{RequestKind, RequestOutcome, TrackEndReason};
use caucus_proto::{
    ErrorCode, LifecycleEvent, Location, PeerId, RequestId, RoleName, ServerEvent, Source, TrackId,
};

fn publish(sim: &mut Sim, peer: PeerId, source: Source) -> TrackId {
    match sim
        .by(
            peer,
            Command::Publish {
                source,
                muted: false,
            },
        )
        .unwrap()
    {
        Outcome::Published { track } => track,
        other => panic!("{other:?}"),
    }
}

fn role_of(sim: &Sim, peer: PeerId) -> RoleName {
    let p = sim.peer(peer).unwrap();
    sim.session.template().role(p.role()).name().clone()
}

fn acting_of(sim: &Sim, peer: PeerId) -> RoleName {
    let p = sim.peer(peer).unwrap();
    sim.session.template().role(p.acting_role()).name().clone()
}

fn sources(sim: &Sim, peer: PeerId) -> Vec<Source> {
    sim.peer(peer)
        .unwrap()
        .tracks()
        .map(|(_, s, _)| s)
        .collect()
}

fn change(peer: PeerId, role: &str, force: bool) -> Command {
    Command::ChangeRole {
        peer,
        role: role.into(),
        force,
    }
}

fn role_changes(sim: &Sim) -> Vec<(PeerId, RoleName, RoleName)> {
    sim.lifecycle
        .iter()
        .filter_map(|e| match e {
            LifecycleEvent::RoleChanged {
                peer_id, from, to, ..
            } => Some((*peer_id, from.clone(), to.clone())),
            _ => None,
        })
        .collect()
}

/// The `RoleChanged` events `peer` was sent: (role, acting role, may publish).
fn told_role(sim: &Sim, peer: PeerId) -> Vec<(RoleName, RoleName, Vec<Source>)> {
    sim.inbox
        .get(&peer)
        .into_iter()
        .flatten()
        .filter_map(|e| match &**e {
            ServerEvent::RoleChanged {
                peer_id,
                role,
                acting_role,
                may_publish,
                ..
            } if *peer_id == peer => Some((role.clone(), acting_role.clone(), may_publish.clone())),
            _ => None,
        })
        .collect()
}

fn resolved(sim: &Sim, to: PeerId, request: RequestId) -> Vec<RequestOutcome> {
    sim.inbox
        .get(&to)
        .into_iter()
        .flatten()
        .filter_map(|e| match **e {
            ServerEvent::RequestResolved {
                request_id,
                outcome,
            } if request_id == request => Some(outcome),
            _ => None,
        })
        .collect()
}

fn request_id(outcome: Outcome) -> RequestId {
    match outcome {
        Outcome::RequestSent { request } => request,
        other => panic!("{other:?}"),
    }
}

// ---- one peer, forced -------------------------------------------------------------------------

#[test]
fn a_forced_promotion_changes_what_the_peer_receives_at_once() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    publish(&mut sim, host, Source::Audio);
    publish(&mut sim, mo, Source::Audio);
    assert_eq!(
        sim.hears(ana),
        vec![host],
        "guests do not hear the back stage"
    );
    assert!(!sim.hears(mo).contains(&ana));

    sim.by(host, change(ana, "moderator", true)).unwrap();
    assert_eq!(role_of(&sim, ana), RoleName::from("moderator"));
    assert_eq!(
        sim.hears(ana),
        vec![host, mo],
        "a moderator hears the back stage"
    );
    assert_eq!(
        told_role(&sim, ana),
        vec![(
            "moderator".into(),
            "moderator".into(),
            vec![Source::Audio, Source::Video]
        )]
    );
    let Some(ServerEvent::RoleChanged { permissions, .. }) = sim.inbox[&ana]
        .iter()
        .map(|e| &**e)
        .find(|e| matches!(e, ServerEvent::RoleChanged { .. }))
    else {
        unreachable!()
    };
    assert!(permissions.mute_others && !permissions.end_room);
    assert_eq!(
        role_changes(&sim),
        vec![(ana, "guest".into(), "moderator".into())]
    );
    assert!(
        sim.was_told(host, |e| matches!(
            e,
            ServerEvent::PeerUpdated { peer } if peer.id == ana && peer.role == RoleName::from("moderator")
        )),
        "others see her new role"
    );

    // Now she may talk, and the stage hears her.
    publish(&mut sim, ana, Source::Audio);
    assert!(sim.hears(host).contains(&ana));
}

#[test]
fn a_demotion_stops_exactly_the_tracks_the_new_role_may_not_publish() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let cole = sim.join("cole", "co-host");
    let ana = sim.join("ana", "guest");
    let audio = publish(&mut sim, cole, Source::Audio);
    let screen = publish(&mut sim, cole, Source::Screen);
    let screen_audio = publish(&mut sim, cole, Source::ScreenAudio);
    assert_eq!(sim.subscriptions[&ana].len(), 3);

    // A moderator talks but does not share a screen.
    sim.by(host, change(cole, "moderator", true)).unwrap();
    assert_eq!(sources(&sim, cole), vec![Source::Audio]);
    for track in [screen, screen_audio] {
        assert!(sim.was_told(host, |e| matches!(
            e,
            ServerEvent::TrackUnpublished { peer_id, track_id, reason: TrackEndReason::RoleRevoked }
                if *peer_id == cole && *track_id == track
        )));
        assert!(sim.was_told(cole, |e| matches!(
            e,
            ServerEvent::TrackUnpublished { track_id, reason: TrackEndReason::RoleRevoked, .. }
                if *track_id == track
        )));
        assert!(
            sim.log
                .contains(&caucus_core::Effect::TrackStopped { peer: cole, track })
        );
    }
    assert!(
        !sim.hears(ana).contains(&cole),
        "guests do not subscribe to moderators"
    );
    assert_eq!(
        sim.subscriptions[&host]
            .iter()
            .map(|k| k.track)
            .collect::<Vec<_>>(),
        vec![audio],
        "the host keeps hearing cole's audio"
    );

    // A guest publishes nothing.
    sim.by(host, change(cole, "guest", true)).unwrap();
    assert!(sources(&sim, cole).is_empty());
    assert!(sim.hears(host).is_empty());
    assert_eq!(
        role_changes(&sim),
        vec![
            (cole, "co-host".into(), "moderator".into()),
            (cole, "moderator".into(), "guest".into())
        ]
    );
}

#[test]
fn a_role_change_is_refused_without_change_role_or_to_an_unknown_or_same_role() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");

    let refused = sim.by(ana, change(ben, "host", true)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    let refused = sim.by(ana, change(ana, "host", true)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted, "not even oneself");
    let refused = sim.by(host, change(ben, "emperor", true)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownRole);
    let refused = sim.by(host, change(ben, "guest", true)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::AlreadyThere);
    assert_eq!(role_of(&sim, ana), RoleName::from("guest"));
    assert_eq!(role_of(&sim, ben), RoleName::from("guest"));
    assert!(role_changes(&sim).is_empty());
}

// ---- one peer, as a request --------------------------------------------------------------------

fn invited_to_talk() -> (Sim, PeerId, PeerId, RequestId) {
    let mut sim = Sim::new();
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let request = request_id(sim.by(mo, change(ana, "breakout", false)).unwrap());
    (sim, mo, ana, request)
}

#[test]
fn a_role_change_request_changes_nothing_until_the_peer_accepts() {
    let (mut sim, mo, ana, request) = invited_to_talk();
    assert_eq!(role_of(&sim, ana), RoleName::from("guest"));
    assert!(role_changes(&sim).is_empty());
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::RequestReceived { request: r }
            if r.id == request && r.from == Some(mo)
                && r.kind == RequestKind::ChangeRole { role: "breakout".into() }
    )));

    sim.by(
        ana,
        Command::RespondRequest {
            request,
            accept: true,
        },
    )
    .unwrap();
    assert_eq!(role_of(&sim, ana), RoleName::from("breakout"));
    assert_eq!(
        role_changes(&sim),
        vec![(ana, "guest".into(), "breakout".into())]
    );
    assert_eq!(resolved(&sim, ana, request), vec![RequestOutcome::Accepted]);
    assert_eq!(resolved(&sim, mo, request), vec![RequestOutcome::Accepted]);
    // As `breakout` in main she may talk, and the moderator hears her.
    publish(&mut sim, ana, Source::Audio);
    assert!(sim.hears(mo).contains(&ana));
}

#[test]
fn a_rejected_role_change_request_leaves_the_role() {
    let (mut sim, mo, ana, request) = invited_to_talk();
    sim.by(
        ana,
        Command::RespondRequest {
            request,
            accept: false,
        },
    )
    .unwrap();
    assert_eq!(role_of(&sim, ana), RoleName::from("guest"));
    assert!(role_changes(&sim).is_empty());
    assert!(told_role(&sim, ana).is_empty());
    assert_eq!(resolved(&sim, mo, request), vec![RequestOutcome::Rejected]);
}

#[test]
fn a_role_change_request_expires() {
    let (mut sim, mo, ana, request) = invited_to_talk();
    sim.advance(Duration::from_secs(29));
    assert!(resolved(&sim, mo, request).is_empty());
    sim.advance(Duration::from_secs(1));
    assert_eq!(resolved(&sim, mo, request), vec![RequestOutcome::Expired]);
    assert_eq!(resolved(&sim, ana, request), vec![RequestOutcome::Expired]);
    let late = sim
        .by(
            ana,
            Command::RespondRequest {
                request,
                accept: true,
            },
        )
        .unwrap_err();
    assert_eq!(late.code, ErrorCode::UnknownRequest);
    assert_eq!(role_of(&sim, ana), RoleName::from("guest"));
}

#[test]
fn only_the_target_answers_a_role_change_request() {
    let (mut sim, mo, ana, request) = invited_to_talk();
    let ben = sim.join("ben", "guest");
    for intruder in [ben, mo] {
        let refused = sim
            .by(
                intruder,
                Command::RespondRequest {
                    request,
                    accept: true,
                },
            )
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::NotRequestTarget, "{intruder}");
    }
    assert_eq!(role_of(&sim, ana), RoleName::from("guest"));
    assert_eq!(role_of(&sim, ben), RoleName::from("guest"));
    assert_eq!(
        sim.session.requests_for(ana),
        vec![request],
        "still pending"
    );
}

// ---- many peers --------------------------------------------------------------------------------

#[test]
fn a_bulk_change_moves_everyone_holding_the_given_roles() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    publish(&mut sim, mo, Source::Audio);
    let guests: Vec<PeerId> = (0..3)
        .map(|i| sim.join(&format!("guest{i}"), "guest"))
        .collect();
    let talker = sim.join("tom", "breakout");
    for g in &guests {
        assert!(!sim.hears(*g).contains(&mo));
    }

    // A guest may not.
    let refused = sim
        .by(
            guests[0],
            Command::ChangeRoles {
                from_roles: vec!["guest".into()],
                to_role: "moderator".into(),
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    let refused = sim
        .by(
            host,
            Command::ChangeRoles {
                from_roles: vec!["guest".into(), "nobody".into()],
                to_role: "moderator".into(),
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownRole);
    assert_eq!(refused.field.as_deref(), Some("from_roles[1]"));
    assert_eq!(role_of(&sim, guests[0]), RoleName::from("guest"));

    sim.by(
        host,
        Command::ChangeRoles {
            from_roles: vec!["guest".into(), "breakout".into()],
            to_role: "moderator".into(),
        },
    )
    .unwrap();
    for p in guests.iter().chain([&talker]) {
        assert_eq!(role_of(&sim, *p), RoleName::from("moderator"), "{p}");
        assert!(
            sim.hears(*p).contains(&mo),
            "{p} follows the new role at once"
        );
        assert_eq!(told_role(&sim, *p).len(), 1, "{p} is told");
    }
    assert_eq!(role_of(&sim, host), RoleName::from("host"));
    assert_eq!(role_of(&sim, mo), RoleName::from("moderator"));
    let changed: Vec<PeerId> = role_changes(&sim).into_iter().map(|c| c.0).collect();
    assert_eq!(changed.len(), 4);
    for p in guests.iter().chain([&talker]) {
        assert!(changed.contains(p));
    }
}

#[test]
fn a_bulk_change_of_a_crowd_keeps_every_subscription_right() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let talker = sim.join("tom", "breakout");
    publish(&mut sim, mo, Source::Audio);
    let audio = publish(&mut sim, talker, Source::Audio);
    let guests: Vec<PeerId> = (0..40)
        .map(|i| sim.join(&format!("guest{i}"), "guest"))
        .collect();

    // Every `breakout` and `guest` becomes a moderator: tom's audio stays (moderators talk),
    // the guests now hear mo and tom.
    sim.by(
        host,
        Command::ChangeRoles {
            from_roles: vec!["guest".into(), "breakout".into()],
            to_role: "moderator".into(),
        },
    )
    .unwrap();
    assert_eq!(sim.peer(talker).unwrap().tracks().next().unwrap().0, audio);
    for g in &guests {
        assert_eq!(sim.hears(*g), vec![mo, talker], "{g}");
        assert_eq!(sim.session.desired(*g).len(), 2);
    }
    assert_eq!(sim.hears(host), vec![mo, talker]);
    assert_eq!(role_changes(&sim).len(), 41);

    // And back to guests: tom's audio is revoked, nobody hears him.
    sim.by(
        host,
        Command::ChangeRoles {
            from_roles: vec!["moderator".into()],
            to_role: "guest".into(),
        },
    )
    .unwrap();
    assert!(sim.peer(talker).unwrap().tracks().next().is_none());
    assert!(sim.hears(host).is_empty(), "mo and tom no longer publish");
    for g in &guests {
        assert!(sim.hears(*g).is_empty(), "{g}");
    }
}

// ---- the role a guest acts as in a breakout -----------------------------------------------------

#[test]
fn a_guest_acts_as_breakout_in_a_breakout_room_and_as_guest_again_in_main() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    let rooms = sim.open_rooms(1, &[(ana, 0), (ben, 0)]);
    let room = rooms[0];
    assert_eq!(sim.peer(ana).unwrap().location(), Location::Breakout(room));

    assert_eq!(
        role_of(&sim, ana),
        RoleName::from("guest"),
        "she still holds guest"
    );
    assert_eq!(acting_of(&sim, ana), RoleName::from("breakout"));
    assert_eq!(
        told_role(&sim, ana),
        vec![(
            "guest".into(),
            "breakout".into(),
            vec![Source::Audio, Source::Video]
        )]
    );
    let info = sim.session.peer_info(ana).unwrap();
    assert_eq!(info.role, RoleName::from("guest"));
    assert_eq!(info.acting_role, RoleName::from("breakout"));

    // In the room she may talk, and her room mate hears her.
    let audio = publish(&mut sim, ana, Source::Audio);
    assert_eq!(sim.hears(ben), vec![ana]);
    assert!(
        !sim.hears(host).contains(&ana),
        "the main room does not hear a breakout"
    );
    // A screen is still beyond `breakout`.
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

    // Back in main she is a guest again: her microphone is stopped.
    sim.by(ana, Command::ReturnToMain).unwrap();
    assert_eq!(acting_of(&sim, ana), RoleName::from("guest"));
    assert!(sources(&sim, ana).is_empty());
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::TrackUnpublished { track_id, reason: TrackEndReason::RoleRevoked, .. }
            if *track_id == audio
    )));
    assert!(sim.hears(ben).is_empty());
    assert_eq!(
        told_role(&sim, ana).last().unwrap(),
        &("guest".into(), "guest".into(), vec![])
    );
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
    assert!(
        role_changes(&sim).is_empty(),
        "acting differently is not a role change"
    );
}

#[test]
fn a_role_changed_inside_a_breakout_acts_by_the_new_role_there() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    sim.open_rooms(1, &[(ana, 0), (ben, 0)]);
    publish(&mut sim, ben, Source::Audio);
    // Made a moderator from main while she stands in the room: she acts as a moderator there.
    sim.by(host, change(ana, "moderator", true)).unwrap();
    assert_eq!(acting_of(&sim, ana), RoleName::from("moderator"));
    assert!(sim.peer(ana).unwrap().location().is_breakout());
    assert_eq!(sim.hears(ana), vec![ben]);
    // She may move people now, from where she stands.
    sim.by(
        ana,
        Command::MovePeer {
            peer: ben,
            to: Location::Main,
            force: true,
        },
    )
    .unwrap();
    assert_eq!(sim.peer(ben).unwrap().location(), Location::Main);
}

#[test]
fn losing_manage_breakouts_ends_a_listen_in_and_losing_broadcast_ends_a_broadcast() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let cole = sim.join("cole", "co-host");
    let ana = sim.join("ana", "guest");
    let rooms = sim.open_rooms(1, &[(ana, 0)]);
    publish(&mut sim, ana, Source::Audio);
    publish(&mut sim, cole, Source::Audio);

    sim.by(
        mo,
        Command::ListenIn {
            breakout: Some(rooms[0]),
        },
    )
    .unwrap();
    assert!(sim.hears(mo).contains(&ana));
    sim.by(cole, Command::SetBroadcasting { on: true }).unwrap();
    assert!(sim.hears(ana).contains(&cole));

    sim.by(host, change(mo, "breakout", true)).unwrap();
    assert_eq!(sim.peer(mo).unwrap().listening(), None);
    assert!(sim.was_told(mo, |e| matches!(
        e,
        ServerEvent::ListeningTo { breakout_id: None }
    )));
    assert!(!sim.hears(mo).contains(&ana), "no longer listening in");

    sim.by(host, change(cole, "breakout", true)).unwrap();
    assert!(!sim.peer(cole).unwrap().is_broadcasting());
    assert_eq!(
        sources(&sim, cole),
        vec![Source::Audio],
        "still talks in main"
    );
    assert!(
        !sim.hears(ana).contains(&cole),
        "no longer heard in every room"
    );
}

#[test]
fn room_mates_who_heard_a_guest_are_told_its_track_ended_when_it_returns_to_main() {
    let mut sim = Sim::new();
    sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    sim.open_rooms(1, &[(ana, 0), (ben, 0)]);
    let audio = publish(&mut sim, ana, Source::Audio);
    assert!(sim.was_told(ben, |e| matches!(
        e,
        ServerEvent::TrackPublished { track, .. } if track.id == audio
    )));
    assert_eq!(sim.hears(ben), vec![ana]);

    sim.by(ana, Command::ReturnToMain).unwrap();
    // Ben was told the track exists and was receiving it: he must be told it is gone.
    assert!(sim.hears(ben).is_empty());
    assert!(
        sim.was_told(ben, |e| matches!(
            e,
            ServerEvent::TrackUnpublished { track_id, reason: TrackEndReason::RoleRevoked, .. }
                if *track_id == audio
        )),
        "ben was told: {:#?}",
        sim.inbox[&ben].iter().rev().take(4).collect::<Vec<_>>()
    );
}

#[test]
fn a_bulk_change_reaches_holders_standing_in_breakouts_and_keeps_them_there() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    let rooms = sim.open_rooms(1, &[(ana, 0)]);
    publish(&mut sim, ana, Source::Audio);
    assert_eq!(acting_of(&sim, ana), RoleName::from("breakout"));

    sim.by(
        host,
        Command::ChangeRoles {
            from_roles: vec!["guest".into()],
            to_role: "moderator".into(),
        },
    )
    .unwrap();
    for p in [ana, ben] {
        assert_eq!(role_of(&sim, p), RoleName::from("moderator"), "{p}");
        assert_eq!(acting_of(&sim, p), RoleName::from("moderator"), "{p}");
    }
    assert_eq!(
        sim.peer(ana).unwrap().location(),
        Location::Breakout(rooms[0])
    );
    assert_eq!(
        sources(&sim, ana),
        vec![Source::Audio],
        "moderators talk too"
    );
    assert!(
        !sim.hears(host).contains(&ana),
        "she is still in her room, not on the stage"
    );
}

#[test]
fn a_breakout_watching_the_main_stage_is_told_when_a_stage_track_is_revoked() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let cole = sim.join("cole", "co-host");
    let ana = sim.join("ana", "guest");
    let rooms = sim.open_rooms(1, &[(ana, 0)]);
    sim.show_main_stage(rooms[0], &["host"]);
    let screen = publish(&mut sim, host, Source::Screen);
    assert_eq!(
        sim.hears(ana),
        vec![host],
        "the room watches the host's screen"
    );
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::TrackPublished { track, .. } if track.id == screen
    )));

    // The host becomes a moderator, who may not share a screen.
    sim.by(cole, change(host, "moderator", true)).unwrap();
    assert!(sources(&sim, host).is_empty());
    assert!(sim.hears(ana).is_empty());
    assert!(
        sim.was_told(ana, |e| matches!(
            e,
            ServerEvent::TrackUnpublished { track_id, reason: TrackEndReason::RoleRevoked, .. }
                if *track_id == screen
        )),
        "ana watched the screen and must be told it ended"
    );
}
