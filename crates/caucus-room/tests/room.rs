//! The room machine driven alone, in simulated time: what it asks of connections, the engine,
//! the recorder and the store for each input.

use std::time::Duration;

use caucus_core::{JoinRequest, RoomPassword, SavedPlan, SavedRoom, SessionConfig, Time, builtin};
use caucus_media::{EngineEvent, MediaKind, PeerKey, TrackKey as EngineTrack};
use caucus_proto::signal::{
    BreakoutCommand, ClientBody, ClientMessage, PeerCommand, ReplyData, ServerMessage,
};
use caucus_proto::{BreakoutId, ErrorCode, Location, PeerId, ServerEvent, Source};
use caucus_room::{
    ApiAnswer, ApiRequest, ConnId, EngineCommand, Output, Room, RoomSetup, Signal, close_code,
};

struct Harness {
    room: Room,
    now: Time,
    next_message: u64,
}

fn setup() -> RoomSetup {
    RoomSetup {
        key_base: 1 << 32,
        seed: [7; 32],
        ..RoomSetup::new("class".into(), builtin::breakout_template())
    }
}

impl Harness {
    fn new() -> Self {
        Self::with(setup())
    }

    fn with(setup: RoomSetup) -> Self {
        Self {
            room: Room::new(Time::ZERO, setup, SessionConfig::default()),
            now: Time::ZERO,
            next_message: 100,
        }
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.room.poll_output()).collect()
    }

    fn join(&mut self, conn: u64, user: &str, role: &str) -> PeerId {
        self.room
            .handle_join(self.now, ConnId(conn), 1, request(user, role));
        let outputs = self.drain();
        match outputs.first() {
            Some(Output::Joined {
                result: Ok(peer), ..
            }) => *peer,
            other => panic!("no join: {other:?}"),
        }
    }

    fn send(&mut self, conn: u64, peer: PeerId, body: ClientBody) -> Vec<Output> {
        self.next_message += 1;
        let message = ClientMessage {
            id: self.next_message,
            body,
        };
        self.room
            .handle_message(self.now, ConnId(conn), peer, message);
        self.drain()
    }

    fn command(&mut self, conn: u64, peer: PeerId, command: PeerCommand) -> Vec<Output> {
        self.send(conn, peer, ClientBody::Command { command })
    }

    /// Offer, answer, ICE up: the peer's engine key.
    fn connect_media(&mut self, conn: u64, peer: PeerId) -> PeerKey {
        let outputs = self.send(
            conn,
            peer,
            ClientBody::Offer {
                sdp: "v=0 offer".into(),
            },
        );
        let Some(Output::Engine(EngineCommand::AddPeer { key, request, .. })) = outputs.first()
        else {
            panic!("no AddPeer: {outputs:?}");
        };
        let (key, request) = (*key, *request);
        self.room
            .handle_negotiated(self.now, key, request, Ok(Some("v=0 answer".into())));
        let answered = self.drain();
        assert!(
            matches!(replies(&answered)[..], [(ConnId(c), Some(ReplyData::Answer { .. }))] if c == conn),
            "{answered:?}"
        );
        self.room
            .handle_engine_event(self.now, EngineEvent::PeerConnected { peer: key });
        self.drain();
        key
    }

    fn advance(&mut self, by: Duration) -> Vec<Output> {
        self.now = self.now + by;
        self.room.handle_timeout(self.now);
        self.drain()
    }
}

fn request(user: &str, role: &str) -> JoinRequest {
    JoinRequest {
        user_id: user.into(),
        name: user.into(),
        role: role.into(),
        password: None,
        metadata: None,
    }
}

/// Every reply in `outputs`: the connection and its data (`None` data for a refusal too).
fn replies(outputs: &[Output]) -> Vec<(ConnId, Option<ReplyData>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send {
                to,
                message: Signal::Message(m),
            } => match m.as_ref() {
                ServerMessage::Reply { data, .. } => Some((to[0], data.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn refusals(outputs: &[Output]) -> Vec<ErrorCode> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send {
                message: Signal::Message(m),
                ..
            } => match m.as_ref() {
                ServerMessage::Reply { error: Some(e), .. } => Some(e.code),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn subscriptions(outputs: &[Output], to: PeerKey) -> Option<Vec<EngineTrack>> {
    outputs.iter().rev().find_map(|o| match o {
        Output::Engine(EngineCommand::SetSubscriptions { key, tracks }) if *key == to => {
            Some(tracks.clone())
        }
        _ => None,
    })
}

fn closes(outputs: &[Output]) -> Vec<(ConnId, u16)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Close { conn, code, .. } => Some((*conn, *code)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_join_is_answered_first_then_replied_on_its_connection() {
    let mut h = Harness::new();
    h.room
        .handle_join(h.now, ConnId(1), 42, request("ana", "host"));
    let outputs = h.drain();
    let Output::Joined { conn, result } = &outputs[0] else {
        panic!("{outputs:?}")
    };
    assert_eq!((*conn, result.is_ok()), (ConnId(1), true));
    let ServerMessage::Reply { id, ok, .. } = (match &outputs[1] {
        Output::Send {
            to,
            message: Signal::Message(m),
        } if to == &[ConnId(1)] => m.as_ref().clone(),
        other => panic!("{other:?}"),
    }) else {
        panic!()
    };
    assert_eq!((id, ok), (42, true));
    assert!(
        outputs.iter().any(|o| matches!(o, Output::Lifecycle(_))),
        "session.started and peer.joined go to webhooks"
    );
}

#[test]
fn a_refused_join_says_why_and_attaches_nothing() {
    let mut h = Harness::new();
    h.room
        .handle_join(h.now, ConnId(1), 1, request("ana", "no-such-role"));
    let outputs = h.drain();
    assert!(
        matches!(&outputs[..], [Output::Joined { result: Err(e), .. }] if e.code == ErrorCode::UnknownRole),
        "{outputs:?}"
    );
}

#[test]
fn a_second_connection_of_the_same_user_takes_the_peer_over() {
    let mut h = Harness::new();
    let ana = h.join(1, "ana", "host");
    let key = h.connect_media(1, ana);
    h.room
        .handle_join(h.now, ConnId(2), 1, request("ana", "host"));
    let outputs = h.drain();
    assert_eq!(closes(&outputs), vec![(ConnId(1), close_code::REPLACED)]);
    assert!(outputs.contains(&Output::Engine(EngineCommand::RemovePeer { key })));
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::Joined { conn: ConnId(2), result: Ok(p) } if *p == ana)),
        "the same peer, resumed on the new connection"
    );
    // The old connection is no longer heard.
    let ignored = h.send(1, ana, ClientBody::Ping);
    assert!(ignored.is_empty(), "{ignored:?}");
    assert_eq!(replies(&h.send(2, ana, ClientBody::Ping)).len(), 1);
}

#[test]
fn engine_keys_come_from_the_rooms_own_range() {
    let mut h = Harness::new();
    let ana = h.join(1, "ana", "host");
    let bob = h.join(2, "bob", "guest");
    assert_eq!(h.connect_media(1, ana), PeerKey((1 << 32) + 1));
    assert_eq!(h.connect_media(2, bob), PeerKey((1 << 32) + 2));
}

#[test]
fn a_track_is_forwarded_once_announced_and_received_and_only_to_its_subscribers() {
    let mut h = Harness::new();
    let host = h.join(1, "host", "host");
    let guest = h.join(2, "guest", "guest");
    let host_key = h.connect_media(1, host);
    let guest_key = h.connect_media(2, guest);

    let announced = h.send(
        1,
        host,
        ClientBody::Publish {
            source: Source::Audio,
            mid: "0".into(),
            muted: false,
        },
    );
    assert!(matches!(
        replies(&announced)[..],
        [(ConnId(1), Some(ReplyData::Published { .. }))]
    ));
    // Announced but no RTP yet: nothing to forward.
    assert_eq!(subscriptions(&announced, guest_key), Some(vec![]));

    h.room.handle_engine_event(
        h.now,
        EngineEvent::TrackPublished {
            peer: host_key,
            track: EngineTrack(9),
            mid: "0".into(),
            kind: MediaKind::Audio,
        },
    );
    let bound = h.drain();
    assert!(bound.contains(&Output::Engine(EngineCommand::SetPaused {
        track: EngineTrack(9),
        paused: false
    })));
    assert_eq!(subscriptions(&bound, guest_key), Some(vec![EngineTrack(9)]));
    assert_eq!(
        subscriptions(&bound, host_key),
        None,
        "a publisher never receives itself"
    );

    // A guest may not publish at all: refused with the core's code.
    let refused = h.send(
        2,
        guest,
        ClientBody::Publish {
            source: Source::Video,
            mid: "1".into(),
            muted: false,
        },
    );
    assert_eq!(refusals(&refused), vec![ErrorCode::PublishNotAllowed]);
}

#[test]
fn a_connection_that_cannot_keep_up_is_dropped_and_may_resume() {
    let mut h = Harness::new();
    let ana = h.join(1, "ana", "host");
    h.connect_media(1, ana);
    h.room.handle_slow(h.now, ConnId(1));
    let outputs = h.drain();
    assert_eq!(closes(&outputs), vec![(ConnId(1), close_code::TOO_SLOW)]);
    assert!(!h.room.session().peer(ana).unwrap().is_connected());
    // Within the grace period the same user comes back as the same peer.
    h.advance(Duration::from_secs(10));
    assert_eq!(h.join(3, "ana", "host"), ana);
}

#[test]
fn a_lost_peer_leaves_after_the_grace_period_and_an_empty_room_ends_once() {
    let mut h = Harness::new();
    let ana = h.join(1, "ana", "host");
    let key = h.connect_media(1, ana);
    h.room.handle_connection_lost(h.now, ConnId(1), ana);
    let lost = h.drain();
    assert!(lost.contains(&Output::Engine(EngineCommand::RemovePeer { key })));
    assert!(!h.room.is_ended());
    let later = h.advance(Duration::from_secs(31));
    assert!(h.room.session().peer(ana).is_none(), "{later:?}");
    let mut outputs = later;
    for _ in 0..3 {
        outputs.extend(h.advance(Duration::from_secs(61)));
    }
    let ended = outputs
        .iter()
        .filter(|o| matches!(o, Output::Ended))
        .count();
    assert_eq!(ended, 1);
    assert!(h.room.is_ended());
    assert_eq!(h.room.poll_timeout(), None);
}

#[test]
fn shutdown_closes_every_connection_and_releases_the_engine() {
    let mut h = Harness::new();
    let ana = h.join(1, "ana", "host");
    let bob = h.join(2, "bob", "guest");
    let ana_key = h.connect_media(1, ana);
    let bob_key = h.connect_media(2, bob);
    h.room.handle_shutdown(h.now);
    let outputs = h.drain();
    // Each peer is told that the session ended, before its connection closes.
    for conn in [ConnId(1), ConnId(2)] {
        let told = outputs.iter().position(|o| match o {
            Output::Send {
                to,
                message: Signal::Event(event),
            } => {
                to.contains(&conn)
                    && matches!(&**event, ServerEvent::SessionEnded { reason }
                        if reason == caucus_room::SHUTDOWN_REASON)
            }
            _ => false,
        });
        let closed = outputs
            .iter()
            .position(|o| matches!(o, Output::Close { conn: c, .. } if *c == conn));
        assert!(
            told.is_some() && told < closed,
            "{conn:?}: told {told:?}, closed {closed:?}"
        );
    }
    // The webhooks a session's end sends: each peer left, then the session ended.
    let lifecycle: Vec<&str> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Lifecycle(event) => Some(event.name()),
            _ => None,
        })
        .collect();
    assert_eq!(lifecycle, ["peer.left", "peer.left", "session.ended"]);
    let mut closed = closes(&outputs);
    closed.sort();
    assert_eq!(
        closed,
        vec![
            (ConnId(1), close_code::GOING_AWAY),
            (ConnId(2), close_code::GOING_AWAY)
        ]
    );
    for key in [ana_key, bob_key] {
        assert!(outputs.contains(&Output::Engine(EngineCommand::RemovePeer { key })));
    }
    assert_eq!(outputs.last(), Some(&Output::Ended));
}

#[test]
fn a_rest_edit_of_the_breakout_set_waits_for_its_plan_to_be_written() {
    let mut h = Harness::new();
    h.join(1, "ana", "host");
    let answer = h.room.handle_api(
        h.now,
        ApiRequest::Breakouts {
            version: None,
            op: BreakoutCommand::Create {
                count: Some(2),
                names: vec![],
                capacity: None,
            },
        },
    );
    let Ok(ApiAnswer::Breakouts { view, .. }) = &answer.result else {
        panic!("{:?}", answer.result)
    };
    assert_eq!(view.rooms.len(), 2);
    let outputs = h.drain();
    let written: Vec<_> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::PersistPlan { plan, ack } => Some((plan.rooms.len(), *ack)),
            _ => None,
        })
        .collect();
    assert_eq!(written.len(), 1, "{outputs:?}");
    assert_eq!(answer.acks, vec![written[0].1]);

    // A read changes nothing and waits for nothing.
    let view = h.room.handle_api(h.now, ApiRequest::View);
    assert!(view.acks.is_empty());
    assert!(
        !h.drain()
            .iter()
            .any(|o| matches!(o, Output::PersistPlan { .. }))
    );

    // A stale version is refused and writes nothing.
    let stale = h.room.handle_api(
        h.now,
        ApiRequest::Breakouts {
            version: Some(0),
            op: BreakoutCommand::Remove {
                breakout_id: view_ids(&h)[0],
            },
        },
    );
    assert_eq!(
        stale.result.err().map(|e| e.code),
        Some(ErrorCode::StaleVersion)
    );
    assert!(stale.acks.is_empty());
}

fn view_ids(h: &Harness) -> Vec<BreakoutId> {
    h.room
        .session()
        .breakouts_view(h.now)
        .rooms
        .iter()
        .map(|r| r.id)
        .collect()
}

fn locked_plan() -> SavedPlan {
    SavedPlan {
        rooms: vec![SavedRoom {
            id: "b1".parse().expect("a breakout id"),
            name: "Red".into(),
            capacity: None,
            password: Some(RoomPassword::Hash("stored-hash".into())),
            visibility: Default::default(),
        }],
        options: caucus_proto::BreakoutOptions {
            allow_self_select: true,
            ..Default::default()
        },
        preassignments: Default::default(),
    }
}

#[test]
fn a_restored_room_password_is_checked_against_its_hash_off_the_loop_and_slowly() {
    let mut h = Harness::with(RoomSetup {
        plan: Some(locked_plan()),
        ..setup()
    });
    let host = h.join(1, "host", "host");
    let guest = h.join(2, "guest", "guest");
    h.command(
        1,
        host,
        PeerCommand::Breakouts {
            version: None,
            op: BreakoutCommand::Open { duration_s: None },
        },
    );
    let b1: BreakoutId = "b1".parse().unwrap();
    let join = |password: &str| PeerCommand::JoinBreakout {
        breakout_id: b1,
        password: Some(password.into()),
    };
    let asked = h.command(2, guest, join("guess"));
    let [Output::VerifyPassword { check, hash, plain }] = &asked[..] else {
        panic!("{asked:?}")
    };
    assert_eq!((hash.as_str(), plain.as_str()), ("stored-hash", "guess"));
    let wrong = *check;

    // The core rations checks against a hash: a burst of three, then one a second.
    for guess in ["guess2", "guess3"] {
        let asked = h.command(2, guest, join(guess));
        assert!(
            matches!(&asked[..], [Output::VerifyPassword { .. }]),
            "{asked:?}"
        );
    }
    let again = h.command(2, guest, join("guess4"));
    assert_eq!(refusals(&again), vec![ErrorCode::RateLimited]);

    h.room.handle_password_verdict(h.now, wrong, false);
    assert_eq!(refusals(&h.drain()), vec![ErrorCode::WrongPassword]);

    h.now = h.now + Duration::from_secs(2);
    let asked = h.command(2, guest, join("right"));
    let [Output::VerifyPassword { check, .. }] = &asked[..] else {
        panic!("{asked:?}")
    };
    h.room.handle_password_verdict(h.now, *check, true);
    let moved = h.drain();
    assert!(refusals(&moved).is_empty(), "{moved:?}");
    assert_eq!(
        h.room.session().peer(guest).unwrap().location(),
        Location::Breakout(b1)
    );
    // The stored hash stays right: learning the password is no edit of the plan.
    assert!(
        !moved
            .iter()
            .any(|o| matches!(o, Output::PersistPlan { .. })),
        "{moved:?}"
    );
    // The core compares the password itself from now on: no more checks.
    let third = h.join(3, "other", "guest");
    let direct = h.command(3, third, join("right"));
    assert!(refusals(&direct).is_empty(), "{direct:?}");
    assert!(
        !direct
            .iter()
            .any(|o| matches!(o, Output::VerifyPassword { .. })),
        "{direct:?}"
    );
}

#[test]
fn events_go_to_the_connections_of_their_receivers_serialized_once() {
    let mut h = Harness::new();
    let host = h.join(1, "host", "host");
    h.join(2, "g1", "guest");
    h.join(3, "g2", "guest");
    let outputs = h.command(1, host, PeerCommand::SetLocked { locked: true });
    let locked: Vec<&Vec<ConnId>> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send {
                to,
                message: Signal::Event(e),
            } if matches!(e.as_ref(), ServerEvent::RoomLocked { locked: true }) => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(locked.len(), 1, "one output for every receiver");
    let mut to = locked[0].clone();
    to.sort();
    assert_eq!(to, vec![ConnId(1), ConnId(2), ConnId(3)]);
    assert!(outputs.contains(&Output::PersistLocked { locked: true }));
}

#[test]
fn the_same_inputs_and_seed_give_the_same_outputs() {
    let run = || {
        let mut h = Harness::new();
        let host = h.join(1, "host", "host");
        for i in 0..6 {
            h.join(10 + i, &format!("g{i}"), "guest");
        }
        let mut all = h.command(
            1,
            host,
            PeerCommand::Breakouts {
                version: None,
                op: BreakoutCommand::Create {
                    count: Some(3),
                    names: vec![],
                    capacity: None,
                },
            },
        );
        all.extend(h.command(
            1,
            host,
            PeerCommand::Breakouts {
                version: None,
                op: BreakoutCommand::Auto {
                    exclude_roles: None,
                    seed: None,
                    keep_previous: false,
                },
            },
        ));
        let recording = h.room.handle_api(
            h.now,
            ApiRequest::StartRecording {
                location: Location::Main,
            },
        );
        all.extend(h.drain());
        format!("{all:?} {:?}", recording.result)
    };
    assert_eq!(run(), run());
}
