//! Stories of a session's life: joining (role, limits, lock, password), leaving, losing the
//! connection and coming back, names and metadata, raised hands, the empty session ending, and
//! the webhooks all of that fires. Time is simulated.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{
    Actor, Assignee, BreakoutOp, Command, Effect, JoinRequest, Outcome, RoomPassword,
    SessionConfig, Template, builtin,
};
use caucus_proto::event::LeaveReason;
use caucus_proto::{
    BreakoutId, ErrorCode, LifecycleEvent, Location, PeerId, RoleName, ServerEvent, Source,
};

const SERVER: Actor = Actor::Server;

fn request(user: &str, role: &str) -> JoinRequest {
    JoinRequest {
        user_id: user.into(),
        name: user.to_owned(),
        role: role.into(),
        password: None,
        metadata: None,
    }
}

/// Join and return the outcome as the shell sees it: the peer and whether it was resumed.
fn join_outcome(sim: &mut Sim, user: &str, role: &str) -> (PeerId, bool) {
    match sim.run(SERVER, Command::Join(request(user, role))).unwrap() {
        Outcome::Joined { peer, resumed } => (peer, resumed),
        other => panic!("{other:?}"),
    }
}

fn role_name(sim: &Sim, peer: PeerId) -> RoleName {
    let p = sim.peer(peer).unwrap();
    sim.session.template().role(p.role()).name().clone()
}

fn acting_name(sim: &Sim, peer: PeerId) -> RoleName {
    let p = sim.peer(peer).unwrap();
    sim.session.template().role(p.acting_role()).name().clone()
}

fn publish(sim: &mut Sim, peer: PeerId, source: Source) {
    sim.by(
        peer,
        Command::Publish {
            source,
            muted: false,
        },
    )
    .unwrap();
}

/// One open breakout room (auto-move on), with `peers` in it.
fn open_room_with(sim: &mut Sim, peers: &[PeerId]) -> BreakoutId {
    let room = sim.create_rooms(1)[0];
    let assignments = peers
        .iter()
        .map(|p| (Assignee::Peer(*p), Location::Breakout(room)))
        .collect();
    sim.breakouts(SERVER, BreakoutOp::Assign { assignments })
        .unwrap();
    sim.breakouts(SERVER, BreakoutOp::Open { duration_s: None })
        .unwrap();
    room
}

fn joined_event(sim: &Sim, peer: PeerId) -> Vec<ServerEvent> {
    sim.inbox
        .get(&peer)
        .into_iter()
        .flatten()
        .filter(|e| matches!(***e, ServerEvent::Joined { .. }))
        .map(|e| (**e).clone())
        .collect()
}

fn left_reasons(sim: &Sim, peer: PeerId) -> Vec<LeaveReason> {
    sim.lifecycle
        .iter()
        .filter_map(|e| match e {
            LifecycleEvent::PeerLeft {
                peer_id, reason, ..
            } if *peer_id == peer => Some(*reason),
            _ => None,
        })
        .collect()
}

fn template_with(f: impl FnOnce(&mut caucus_proto::TemplateSpec)) -> Arc<Template> {
    let mut spec = builtin::breakout_template_spec();
    spec.name = "custom".into();
    f(&mut spec);
    Arc::new(Template::compile(spec).unwrap())
}

// ---- joining -----------------------------------------------------------------------------------

#[test]
fn a_joining_peer_gets_the_role_its_token_names_and_is_told_what_it_may_do() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    assert_eq!(role_name(&sim, ana), RoleName::from("guest"));
    assert_eq!(role_name(&sim, host), RoleName::from("host"));

    let joined = joined_event(&sim, ana);
    assert_eq!(joined.len(), 1, "ana is told once that she is in");
    let ServerEvent::Joined {
        peer,
        is_breakout,
        permissions,
        resumed,
        peers,
        locked,
        may_publish,
        roles,
        ..
    } = &joined[0]
    else {
        unreachable!()
    };
    assert_eq!(peer.id, ana);
    assert_eq!(
        roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["host", "co-host", "moderator", "breakout", "guest"],
        "the session's roles, highest priority first, for a console to offer"
    );
    assert_eq!(
        roles[4].breakout_role,
        Some(RoleName::from("breakout")),
        "a guest acts as `breakout` in a breakout room"
    );
    assert_eq!(peer.role, RoleName::from("guest"));
    assert_eq!(peer.location, Location::Main);
    assert!(!is_breakout);
    assert!(!resumed);
    assert!(!locked);
    assert!(permissions.send_chat && !permissions.mute_others && !permissions.end_room);
    assert!(may_publish.is_empty(), "a guest only watches in main");
    let Some(ServerEvent::Joined { may_publish, .. }) = joined_event(&sim, host).first().cloned()
    else {
        panic!("the host was not told it is in")
    };
    assert_eq!(
        may_publish,
        vec![
            Source::Audio,
            Source::Video,
            Source::Screen,
            Source::ScreenAudio
        ],
        "the host is told what it may share before it tries"
    );
    assert_eq!(
        peers.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![host],
        "she sees who is already there"
    );
    assert!(
        sim.was_told(
            host,
            |e| matches!(e, ServerEvent::PeerJoined { peer } if peer.id == ana)
        ),
        "the host sees ana arrive"
    );
}

#[test]
fn a_token_naming_a_role_the_template_lacks_is_refused() {
    let mut sim = Sim::new();
    let refused = sim.try_join("ana", "superstar").unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownRole);
    assert!(refused.message.contains("superstar"), "{}", refused.message);
    assert_eq!(sim.session.peers().count(), 0);
    assert!(sim.lifecycle_named("peer.joined").is_empty());
    assert!(sim.lifecycle_named("session.started").is_empty());
}

#[test]
fn a_role_admits_at_most_max_peers_at_once() {
    let template = template_with(|spec| {
        spec.roles
            .get_mut(&RoleName::from("host"))
            .unwrap()
            .max_peers = 1;
        spec.roles
            .get_mut(&RoleName::from("moderator"))
            .unwrap()
            .max_peers = 2;
    });
    let mut sim = Sim::with(template, SessionConfig::default());
    let hana = sim.join("hana", "host");
    let refused = sim.try_join("hal", "host").unwrap_err();
    assert_eq!(refused.code, ErrorCode::RoleFull);
    assert!(refused.message.contains("host"), "{}", refused.message);

    sim.join("mo", "moderator");
    sim.join("mia", "moderator");
    assert_eq!(
        sim.try_join("max", "moderator").unwrap_err().code,
        ErrorCode::RoleFull
    );
    // Other roles are not limited.
    for i in 0..5 {
        sim.join(&format!("guest{i}"), "guest");
    }

    // Once the host leaves, the place is free again.
    sim.by(hana, Command::Leave { peer: hana }).unwrap();
    sim.join("hal", "host");
}

#[test]
fn a_role_limit_counts_everyone_holding_the_role_wherever_they_stand() {
    // `max_peers`: "How many peers may hold this role at once in a session".
    let template = template_with(|spec| {
        spec.roles
            .get_mut(&RoleName::from("guest"))
            .unwrap()
            .max_peers = 2;
    });
    let mut sim = Sim::with(template, SessionConfig::default());
    let ana = sim.join("ana", "guest");
    sim.join("ben", "guest");
    open_room_with(&mut sim, &[ana]);
    assert!(sim.peer(ana).unwrap().location().is_breakout());
    assert_eq!(role_name(&sim, ana), RoleName::from("guest"));
    // Ana still holds `guest` in her breakout room (she acts as `breakout` there).
    let refused = sim.try_join("cy", "guest");
    assert_eq!(
        refused.map_err(|d| d.code),
        Err(ErrorCode::RoleFull),
        "two peers already hold guest"
    );
}

#[test]
fn a_locked_room_refuses_newcomers() {
    let config = SessionConfig {
        locked: true,
        ..SessionConfig::default()
    };
    let mut sim = Sim::with(builtin::breakout_template(), config);
    let refused = sim.try_join("ana", "host").unwrap_err();
    assert_eq!(refused.code, ErrorCode::RoomLocked);
    assert_eq!(sim.session.peers().count(), 0);
}

#[test]
fn a_room_password_is_required_and_checked() {
    let config = SessionConfig {
        password: Some(RoomPassword::Plain("open sesame".into())),
        ..SessionConfig::default()
    };
    let mut sim = Sim::with(builtin::breakout_template(), config);

    let refused = sim.try_join("ana", "guest").unwrap_err();
    assert_eq!(refused.code, ErrorCode::WrongPassword, "no password given");
    assert_eq!(refused.field.as_deref(), Some("password"));

    let wrong = JoinRequest {
        password: Some("open sesamE".into()),
        ..request("ana", "guest")
    };
    assert_eq!(
        sim.join_with(wrong).unwrap_err().code,
        ErrorCode::WrongPassword
    );
    let longer = JoinRequest {
        password: Some("open sesame!".into()),
        ..request("ana", "guest")
    };
    assert_eq!(
        sim.join_with(longer).unwrap_err().code,
        ErrorCode::WrongPassword
    );
    assert_eq!(sim.session.peers().count(), 0);

    let right = JoinRequest {
        password: Some("open sesame".into()),
        ..request("ana", "guest")
    };
    let ana = sim.join_with(right).unwrap();
    assert!(sim.peer(ana).is_some());
}

/// What production rooms do: the password is known only as a hash, so the session asks for a
/// check and takes the verdict — through the same gate, in the same order, as a plain one.
#[test]
fn a_hashed_room_password_is_checked_outside_and_the_verdict_decides() {
    let config = SessionConfig {
        password: Some(RoomPassword::Hash("stored-hash".into())),
        ..SessionConfig::default()
    };
    let mut sim = Sim::with(builtin::breakout_template(), config);
    let given = |p: &str| JoinRequest {
        password: Some(p.into()),
        ..request("ana", "guest")
    };
    let missing = sim.try_join("ana", "guest").unwrap_err();
    assert_eq!(missing.code, ErrorCode::WrongPassword, "no password given");

    let asked = sim
        .session
        .handle_command(sim.now, Actor::Server, Command::Join(given("guess")))
        .unwrap();
    assert_eq!(
        asked,
        Outcome::CheckPassword {
            hash: "stored-hash".into(),
            plain: "guess".into()
        }
    );
    assert_eq!(sim.session.peers().count(), 0, "nothing happened yet");
    let ask = |sim: &mut Sim, p: &str| {
        sim.session
            .handle_command(sim.now, Actor::Server, Command::Join(given(p)))
    };
    assert!(matches!(
        ask(&mut sim, "guess2"),
        Ok(Outcome::CheckPassword { .. })
    ));
    assert!(matches!(
        ask(&mut sim, "guess3"),
        Ok(Outcome::CheckPassword { .. })
    ));
    let again = ask(&mut sim, "guess4").unwrap_err();
    assert_eq!(
        again.code,
        ErrorCode::RateLimited,
        "a burst of three, then one a second"
    );

    let wrong = sim
        .session
        .handle_checked(sim.now, Actor::Server, Command::Join(given("guess")), false)
        .unwrap_err();
    assert_eq!(wrong.code, ErrorCode::WrongPassword);

    sim.advance(Duration::from_secs(1));
    let right = sim
        .session
        .handle_checked(sim.now, Actor::Server, Command::Join(given("right")), true)
        .unwrap();
    assert!(matches!(right, Outcome::Joined { resumed: false, .. }));
}

/// One refusal order for every way in: a locked room says so before it looks at a password,
/// right or wrong, plain or hashed, checked or not.
#[test]
fn a_locked_room_answers_room_locked_whatever_the_password() {
    for password in [
        RoomPassword::Plain("open sesame".into()),
        RoomPassword::Hash("stored-hash".into()),
    ] {
        let config = SessionConfig {
            password: Some(password),
            locked: true,
            ..SessionConfig::default()
        };
        let mut sim = Sim::with(builtin::breakout_template(), config);
        for given in [None, Some("wrong"), Some("open sesame")] {
            let request = JoinRequest {
                password: given.map(Into::into),
                ..request("ana", "guest")
            };
            for verdict in [None, Some(false), Some(true)] {
                let result = match verdict {
                    None => sim.session.handle_command(
                        sim.now,
                        Actor::Server,
                        Command::Join(request.clone()),
                    ),
                    Some(ok) => sim.session.handle_checked(
                        sim.now,
                        Actor::Server,
                        Command::Join(request.clone()),
                        ok,
                    ),
                };
                assert_eq!(result.map_err(|d| d.code), Err(ErrorCode::RoomLocked));
            }
        }
    }
}

/// One connection per user, decided here: a join of a user whose peer is still connected (its
/// old socket may be half-dead, not yet noticed) takes that peer over instead of adding a
/// second one; the old connection's media ends with it.
#[test]
fn a_newer_connection_of_a_present_user_takes_its_peer_over() {
    let mut sim = Sim::new();
    let ana = sim.join("ana", "host");
    let bob = sim.join("bob", "guest");
    sim.by(
        ana,
        Command::Publish {
            source: Source::Audio,
            muted: false,
        },
    )
    .unwrap();
    let outcome = sim
        .run(SERVER, Command::Join(request("ana", "host")))
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Joined {
            peer: ana,
            resumed: true
        }
    );
    assert_eq!(sim.session.peers().count(), 2, "still ana and bob");
    let info = sim.session.peer_info(ana).unwrap();
    assert!(info.connected && info.tracks.is_empty(), "{info:?}");
    assert!(
        sim.inbox[&bob]
            .iter()
            .any(|e| matches!(e.as_ref(), ServerEvent::TrackUnpublished { .. })),
        "who received the old connection's track is told it ended"
    );
}

#[test]
fn a_session_admits_at_most_its_max_peers() {
    let config = SessionConfig {
        max_peers: 2,
        ..SessionConfig::default()
    };
    let mut sim = Sim::with(builtin::breakout_template(), config);
    let hana = sim.join("hana", "host");
    sim.join("ana", "guest");
    let refused = sim.try_join("ben", "guest").unwrap_err();
    assert_eq!(refused.code, ErrorCode::CapacityExceeded);
    sim.by(hana, Command::Leave { peer: hana }).unwrap();
    sim.join("ben", "guest");
}

#[test]
fn a_display_name_is_checked_on_join_and_falls_back_to_the_user_id() {
    let mut sim = Sim::new();
    let blank = JoinRequest {
        name: "   ".into(),
        ..request("ana", "guest")
    };
    let ana = sim.join_with(blank).unwrap();
    assert_eq!(sim.peer(ana).unwrap().name(), "ana");

    let long = JoinRequest {
        name: "x".repeat(65),
        ..request("ben", "guest")
    };
    let refused = sim.join_with(long).unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidName);
    assert_eq!(refused.field.as_deref(), Some("name"));
}

// ---- leaving, reconnecting -----------------------------------------------------------------------

#[test]
fn a_peer_that_leaves_is_gone_and_everyone_is_told() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    publish(&mut sim, host, Source::Audio);
    assert_eq!(sim.hears(ana), vec![host]);

    sim.by(host, Command::Leave { peer: host }).unwrap();
    assert!(sim.peer(host).is_none());
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::PeerLeft { peer_id, reason: LeaveReason::Left } if *peer_id == host
    )));
    assert_eq!(sim.hears(ana), Vec::<PeerId>::new(), "her tracks are gone");
    assert_eq!(left_reasons(&sim, host), vec![LeaveReason::Left]);

    // Nobody leaves on someone else's behalf.
    let ben = sim.join("ben", "guest");
    let refused = sim.by(ana, Command::Leave { peer: ben }).unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(sim.peer(ben).is_some());
}

#[test]
fn reconnecting_within_the_grace_period_restores_the_same_peer_role_and_breakout() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    publish(&mut sim, host, Source::Audio);
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    let room = open_room_with(&mut sim, &[ana, ben]);
    sim.show_main_stage(room, &["host"]);
    publish(&mut sim, ana, Source::Audio);
    publish(&mut sim, ben, Source::Audio);
    assert_eq!(sim.hears(ben), vec![host, ana]);

    sim.run(SERVER, Command::Disconnect { peer: ana }).unwrap();
    assert!(!sim.peer(ana).unwrap().is_connected());
    assert_eq!(sim.hears(ben), vec![host], "ana's microphone went with her");
    assert!(sim.was_told(ben, |e| matches!(
        e,
        ServerEvent::PeerUpdated { peer } if peer.id == ana && !peer.connected
    )));

    sim.advance(Duration::from_secs(20));
    let (back, resumed) = join_outcome(&mut sim, "ana", "guest");
    assert_eq!(back, ana, "the same peer comes back");
    assert!(resumed);
    let p = sim.peer(ana).unwrap();
    assert!(p.is_connected());
    assert_eq!(p.location(), Location::Breakout(room));
    assert_eq!(role_name(&sim, ana), RoleName::from("guest"));
    assert_eq!(acting_name(&sim, ana), RoleName::from("breakout"));
    assert_eq!(sim.hears(ana), vec![host, ben], "she hears her room again");

    let joined = joined_event(&sim, ana);
    let Some(ServerEvent::Joined {
        resumed,
        is_breakout,
        peer,
        ..
    }) = joined.last()
    else {
        panic!("ana was not told she is back")
    };
    assert!(*resumed);
    assert!(*is_breakout);
    assert_eq!(peer.location, Location::Breakout(room));
    assert!(left_reasons(&sim, ana).is_empty(), "she never left");
    assert_eq!(
        sim.lifecycle_named("peer.joined").len(),
        3,
        "no second join"
    );

    // The old grace timer does not throw her out later.
    sim.advance(Duration::from_secs(60));
    assert!(sim.peer(ana).is_some_and(|p| p.is_connected()));
}

#[test]
fn reconnecting_restores_a_role_given_during_the_session_not_the_token_role() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    sim.by(
        host,
        Command::ChangeRole {
            peer: ana,
            role: "moderator".into(),
            force: true,
        },
    )
    .unwrap();
    sim.run(SERVER, Command::Disconnect { peer: ana }).unwrap();
    sim.advance(Duration::from_secs(5));
    let (back, resumed) = join_outcome(&mut sim, "ana", "guest");
    assert_eq!((back, resumed), (ana, true));
    assert_eq!(role_name(&sim, ana), RoleName::from("moderator"));
}

#[test]
fn a_second_disconnect_gets_a_fresh_grace_period() {
    let mut sim = Sim::new();
    sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    sim.run(SERVER, Command::Disconnect { peer: ana }).unwrap();
    sim.advance(Duration::from_secs(20));
    join_outcome(&mut sim, "ana", "guest");
    sim.advance(Duration::from_secs(5));
    sim.run(SERVER, Command::Disconnect { peer: ana }).unwrap();
    // 30 s after the first loss, but only 5 s after the second.
    sim.advance(Duration::from_secs(5));
    assert!(sim.peer(ana).is_some(), "still within the second grace");
    sim.advance(Duration::from_secs(25));
    assert!(sim.peer(ana).is_none());
}

#[test]
fn reconnecting_after_the_grace_period_is_a_new_peer() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let room = open_room_with(&mut sim, &[ana]);
    sim.run(SERVER, Command::Disconnect { peer: ana }).unwrap();

    sim.advance(Duration::from_secs(29));
    assert!(sim.peer(ana).is_some(), "her place is kept for 30 s");
    assert!(left_reasons(&sim, ana).is_empty());
    sim.advance(Duration::from_secs(1));
    assert!(sim.peer(ana).is_none());
    assert_eq!(left_reasons(&sim, ana), vec![LeaveReason::ReconnectTimeout]);
    assert!(sim.was_told(host, |e| matches!(
        e,
        ServerEvent::PeerLeft { peer_id, reason: LeaveReason::ReconnectTimeout } if *peer_id == ana
    )));
    assert!(
        sim.session.breakouts_view(sim.now).rooms[0]
            .peers
            .is_empty(),
        "the room no longer lists her"
    );

    let (again, resumed) = join_outcome(&mut sim, "ana", "guest");
    assert_ne!(again, ana, "a new peer");
    assert!(!resumed);
    assert_eq!(sim.peer(again).unwrap().location(), Location::Main);
    let _ = room;
}

// ---- names, metadata, hands ------------------------------------------------------------------------

#[test]
fn a_peer_renames_itself_and_sets_metadata_and_others_see_it() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    sim.by(
        ana,
        Command::UpdatePeer {
            peer: ana,
            name: Some("  Ana B.  ".into()),
            metadata: Some(serde_json::json!({"pronouns": "she/her"})),
        },
    )
    .unwrap();
    assert_eq!(sim.peer(ana).unwrap().name(), "Ana B.");
    assert!(sim.was_told(host, |e| matches!(
        e,
        ServerEvent::PeerUpdated { peer }
            if peer.id == ana && peer.name == "Ana B."
                && peer.metadata == Some(serde_json::json!({"pronouns": "she/her"}))
    )));

    // Only the name: the metadata stays.
    sim.by(
        ana,
        Command::UpdatePeer {
            peer: ana,
            name: Some("Ana".into()),
            metadata: None,
        },
    )
    .unwrap();
    let info = sim.session.peer_info(ana).unwrap();
    assert_eq!(info.name, "Ana");
    assert_eq!(
        info.metadata,
        Some(serde_json::json!({"pronouns": "she/her"}))
    );

    // Not someone else's, not even as a host.
    let refused = sim
        .by(
            host,
            Command::UpdatePeer {
                peer: ana,
                name: Some("Mallory".into()),
                metadata: None,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert_eq!(sim.peer(ana).unwrap().name(), "Ana");
    // The server may.
    sim.run(
        SERVER,
        Command::UpdatePeer {
            peer: ana,
            name: Some("Ana (interpreter)".into()),
            metadata: None,
        },
    )
    .unwrap();
    assert_eq!(sim.peer(ana).unwrap().name(), "Ana (interpreter)");
}

#[test]
fn bad_names_and_oversized_metadata_are_refused_and_change_nothing() {
    let mut sim = Sim::new();
    let ana = sim.join("ana", "guest");
    let update = |name: Option<String>, metadata: Option<serde_json::Value>| Command::UpdatePeer {
        peer: ana,
        name,
        metadata,
    };

    let empty = sim.by(ana, update(Some("   ".into()), None)).unwrap_err();
    assert_eq!(empty.code, ErrorCode::InvalidName);
    assert_eq!(empty.field.as_deref(), Some("name"));

    let long = sim.by(ana, update(Some("é".repeat(65)), None)).unwrap_err();
    assert_eq!(long.code, ErrorCode::InvalidName);
    assert_eq!(long.field.as_deref(), Some("name"));
    // 64 characters are fine (characters, not bytes).
    sim.by(ana, update(Some("é".repeat(64)), None)).unwrap();

    let control = sim
        .by(ana, update(Some("ana\u{7}".into()), None))
        .unwrap_err();
    assert_eq!(control.code, ErrorCode::InvalidName);

    let big = serde_json::json!({ "blob": "x".repeat(5000) });
    let refused = sim
        .by(ana, update(Some("New name".into()), Some(big)))
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidValue);
    assert_eq!(refused.field.as_deref(), Some("metadata"));
    assert_eq!(
        sim.peer(ana).unwrap().name(),
        "é".repeat(64),
        "a refused update changes nothing, not even the valid name"
    );
    assert_eq!(sim.session.peer_info(ana).unwrap().metadata, None);
}

#[test]
fn a_peer_raises_its_own_hand_and_only_a_moderator_lowers_someone_elses() {
    let mut sim = Sim::new();
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");

    sim.by(
        ana,
        Command::SetHand {
            peer: ana,
            raised: true,
        },
    )
    .unwrap();
    assert!(sim.peer(ana).unwrap().hand_raised());
    assert!(sim.was_told(mo, |e| matches!(
        e,
        ServerEvent::PeerUpdated { peer } if peer.id == ana && peer.hand_raised
    )));

    // Another guest may not lower it, nor raise someone's hand.
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
    assert!(sim.peer(ana).unwrap().hand_raised());
    let refused = sim
        .by(
            mo,
            Command::SetHand {
                peer: ben,
                raised: true,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(!sim.peer(ben).unwrap().hand_raised());

    // A moderator (mute_others) may lower it.
    sim.by(
        mo,
        Command::SetHand {
            peer: ana,
            raised: false,
        },
    )
    .unwrap();
    assert!(!sim.peer(ana).unwrap().hand_raised());
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::PeerUpdated { peer } if peer.id == ana && !peer.hand_raised
    )));

    // And she lowers her own.
    sim.by(
        ben,
        Command::SetHand {
            peer: ben,
            raised: true,
        },
    )
    .unwrap();
    sim.by(
        ben,
        Command::SetHand {
            peer: ben,
            raised: false,
        },
    )
    .unwrap();
    assert!(!sim.peer(ben).unwrap().hand_raised());
}

// ---- the session's own life ------------------------------------------------------------------------

#[test]
fn an_empty_session_ends_after_its_grace_period() {
    let mut sim = Sim::new();
    sim.advance(Duration::from_secs(10));
    let ana = sim.join("ana", "guest");
    sim.advance(Duration::from_secs(40));
    sim.by(ana, Command::Leave { peer: ana }).unwrap();

    // The timer armed when the session was created falls due now, but the session has been
    // empty for only 10 s.
    sim.advance(Duration::from_secs(10));
    assert!(!sim.session.is_ended());
    sim.advance(Duration::from_secs(49));
    assert!(!sim.session.is_ended(), "59 s empty");
    assert!(sim.lifecycle_named("session.ended").is_empty());
    sim.advance(Duration::from_secs(1));
    assert!(sim.session.is_ended(), "60 s empty");
    assert_eq!(sim.lifecycle_named("session.ended").len(), 1);
    assert!(sim.log.contains(&Effect::SessionEnded));
    assert_eq!(sim.session.poll_timeout(), None);

    let refused = sim.try_join("ben", "guest").unwrap_err();
    assert_eq!(refused.code, ErrorCode::SessionEnded);
}

#[test]
fn someone_joining_during_the_grace_keeps_the_session_alive() {
    let mut sim = Sim::new();
    let ana = sim.join("ana", "guest");
    sim.by(ana, Command::Leave { peer: ana }).unwrap();
    sim.advance(Duration::from_secs(50));
    let ben = sim.join("ben", "guest");
    sim.advance(Duration::from_secs(600));
    assert!(!sim.session.is_ended());
    assert!(sim.peer(ben).is_some());
}

#[test]
fn a_session_with_only_a_reconnecting_peer_lives_until_the_peer_is_given_up() {
    let mut sim = Sim::new();
    let ana = sim.join("ana", "guest");
    sim.run(SERVER, Command::Disconnect { peer: ana }).unwrap();
    sim.advance(Duration::from_secs(30));
    assert!(sim.peer(ana).is_none());
    assert!(!sim.session.is_ended(), "empty only since now");
    sim.advance(Duration::from_secs(59));
    assert!(!sim.session.is_ended());
    sim.advance(Duration::from_secs(1));
    assert!(sim.session.is_ended());
}

#[test]
fn webhooks_tell_the_session_start_and_every_join_and_leave() {
    let mut sim = Sim::new();
    assert!(
        sim.lifecycle.is_empty(),
        "nothing happens before anyone joins"
    );
    let hana = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    sim.by(ana, Command::Leave { peer: ana }).unwrap();
    sim.by(hana, Command::Leave { peer: hana }).unwrap();
    sim.advance(Duration::from_secs(60));

    let names: Vec<&str> = sim.lifecycle.iter().map(LifecycleEvent::name).collect();
    assert_eq!(
        names,
        vec![
            "session.started",
            "peer.joined",
            "peer.joined",
            "peer.left",
            "peer.left",
            "session.ended"
        ]
    );
    assert_eq!(
        sim.lifecycle[2],
        LifecycleEvent::PeerJoined {
            peer_id: ana,
            user_id: "ana".into(),
            role: "guest".into(),
            location: Location::Main,
        }
    );
    assert_eq!(
        sim.lifecycle[3],
        LifecycleEvent::PeerLeft {
            peer_id: ana,
            user_id: "ana".into(),
            reason: LeaveReason::Left,
        }
    );
}

#[test]
fn a_guest_back_from_a_breakout_is_never_shut_out_of_main_by_its_own_role_limit() {
    let template = template_with(|spec| {
        spec.roles
            .get_mut(&RoleName::from("guest"))
            .unwrap()
            .max_peers = 2;
    });
    let mut sim = Sim::with(template, SessionConfig::default());
    let ana = sim.join("ana", "guest");
    sim.join("ben", "guest");
    open_room_with(&mut sim, &[ana]);
    // Whatever the session decides about a third guest...
    let _ = sim.try_join("cy", "guest");
    // ...ana, who holds one of the two guest places, can always come back.
    sim.by(ana, Command::ReturnToMain).unwrap();
    assert_eq!(sim.peer(ana).unwrap().location(), Location::Main);
}

#[test]
fn a_session_that_keeps_no_plan_leaves_an_empty_one_when_it_ends() {
    let end = |keep_plan: bool| {
        let config = SessionConfig {
            keep_plan,
            ..SessionConfig::default()
        };
        let mut sim = Sim::with(builtin::breakout_template(), config);
        let host = sim.join("host", "host");
        sim.create_rooms(2);
        sim.breakouts(
            SERVER,
            BreakoutOp::SetPreassignments {
                by_user_id: [(
                    "ana".into(),
                    caucus_core::BreakoutRef::Name("Room 1".into()),
                )]
                .into(),
            },
        )
        .unwrap();
        let written = sim.plan_writes.len();
        sim.by(
            host,
            Command::EndSession {
                reason: None,
                lock: false,
            },
        )
        .unwrap();
        sim.plan_writes[written..].to_vec()
    };
    // A room's plan outlives its meetings by default: nothing is written at the end.
    assert!(end(true).is_empty());
    // The demo room's next meeting starts fresh: the end writes an empty plan.
    assert_eq!(end(false), vec![caucus_core::SavedPlan::default()]);
}
