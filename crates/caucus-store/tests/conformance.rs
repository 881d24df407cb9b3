//! The `Store` contract, run against both implementations: whatever passes here may stand in
//! for the other. Each case takes a fresh, empty store.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use caucus_proto::{BreakoutOptions, RoleName, RoomId, TemplateId, UserId, Visibility};
use caucus_store::{
    BreakoutPlan, Entity, PlannedRoom, RecordingPolicy, RoomPatch, Store, StoreError, Written,
    password,
};
use common::{Fixture, audit, delivery, room, template};

macro_rules! conformance {
    ($name:ident, $fixture:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn templates() {
                let f = $fixture;
                cases::templates(&*f.store);
            }

            #[test]
            fn rooms() {
                let f = $fixture;
                cases::rooms(&*f.store);
            }

            #[test]
            fn plans() {
                let f = $fixture;
                cases::plans(&*f.store);
            }

            #[test]
            fn version_marks() {
                let f = $fixture;
                cases::version_marks(&*f.store);
            }

            #[test]
            fn outbox() {
                let f = $fixture;
                cases::outbox(&*f.store);
            }

            #[test]
            fn audit_log() {
                let f = $fixture;
                cases::audit_log(&*f.store);
            }

            #[test]
            fn recordings() {
                let f = $fixture;
                cases::recordings(&*f.store);
            }

            #[test]
            fn live_sessions() {
                let f = $fixture;
                cases::live_sessions(&*f.store);
            }

            #[test]
            fn invites() {
                let f = $fixture;
                cases::invites(&*f.store);
            }

            #[test]
            fn invalid_values() {
                let f = $fixture;
                cases::invalid_values(&*f.store);
            }
        }
    };
}

conformance!(memory, Fixture::memory());
conformance!(sqlite, Fixture::sqlite("conformance"));

fn not_found(entity: Entity, id: &str) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_owned(),
    }
}

fn is_conflict(result: Result<impl std::fmt::Debug, StoreError>, entity: Entity) {
    match result {
        Err(StoreError::Conflict { entity: e, .. }) if e == entity => {}
        other => panic!("expected a {entity} conflict, got {other:?}"),
    }
}

fn is_invalid(result: Result<impl std::fmt::Debug, StoreError>, field: &str) {
    match result {
        Err(StoreError::Invalid { field: f, .. }) if f == field => {}
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}

mod cases {
    use super::*;

    pub fn version_marks(store: &dyn Store) {
        let a = RoomId::from("a");
        // A room's first reservation starts at 0; each next one where the last ended.
        assert_eq!(store.reserve_versions(&a, 100).unwrap(), 0);
        assert_eq!(store.reserve_versions(&a, 1).unwrap(), 100);
        assert_eq!(store.reserve_versions(&a, 50).unwrap(), 101);
        // Rooms have their own marks; the room need not exist.
        assert_eq!(store.reserve_versions(&RoomId::from("b"), 7).unwrap(), 0);
        // The mark outlives the room: a room made again goes on above it.
        store.create_room(&room("a", "breakout", 1)).unwrap();
        store.delete_room(&a).unwrap();
        assert_eq!(store.reserve_versions(&a, 1).unwrap(), 151);
        // Nothing reserved, or past the largest mark: refused, and the mark stays.
        is_invalid(store.reserve_versions(&a, 0), "count");
        is_invalid(
            store.reserve_versions(&a, caucus_store::MAX_VERSION_MARK),
            "count",
        );
        is_invalid(store.reserve_versions(&a, u64::MAX), "count");
        assert_eq!(store.reserve_versions(&a, 1).unwrap(), 152);
        let rest = caucus_store::MAX_VERSION_MARK - 153;
        assert_eq!(store.reserve_versions(&a, rest).unwrap(), 153);
        is_invalid(store.reserve_versions(&a, 1), "count");
    }

    pub fn live_sessions(store: &dyn Store) {
        use caucus_proto::PeerId;
        use caucus_store::{LiveChange, LivePeer, LiveSession};

        let demo = RoomId::from("demo");
        let other = RoomId::from("other");
        let (p1, p2, p3) = (PeerId::new(1), PeerId::new(2), PeerId::new(3));
        let joined = |room: &RoomId, peer, user: &str| LiveChange::PeerJoined {
            room: room.clone(),
            peer,
            user: UserId::from(user),
        };
        assert!(store.live_sessions().unwrap().is_empty());
        store
            .record_lifecycle(
                &[
                    LiveChange::SessionStarted {
                        room: demo.clone(),
                        at_ms: 10,
                    },
                    joined(&demo, p1, "ana"),
                    joined(&demo, p2, "ben"),
                    // Joining again (a resume) changes nothing; a join starts a session too.
                    joined(&demo, p1, "ana"),
                    joined(&other, p1, "cleo"),
                ],
                &[delivery("e1", "http://a", 10)],
            )
            .unwrap();
        assert_eq!(store.webhook_backlog().unwrap(), 1);
        store
            .record_lifecycle(
                &[
                    LiveChange::PeerLeft {
                        room: demo.clone(),
                        peer: p1,
                    },
                    joined(&demo, p3, "dan"),
                    // Unknown peers and sessions: nothing to forget.
                    LiveChange::PeerLeft {
                        room: RoomId::from("nowhere"),
                        peer: p1,
                    },
                    LiveChange::SessionEnded {
                        room: RoomId::from("nowhere"),
                    },
                ],
                &[],
            )
            .unwrap();
        let peer = |peer, user: &str| LivePeer {
            peer,
            user: UserId::from(user),
        };
        assert_eq!(
            store.live_sessions().unwrap(),
            [
                LiveSession {
                    room: demo.clone(),
                    started_at_ms: 10,
                    peers: vec![peer(p2, "ben"), peer(p3, "dan")],
                },
                LiveSession {
                    room: other.clone(),
                    started_at_ms: 0,
                    peers: vec![peer(p1, "cleo")],
                },
            ]
        );

        // A delivery queued already: nothing changes, the live change neither.
        is_conflict(
            store.record_lifecycle(
                &[LiveChange::SessionEnded { room: demo.clone() }],
                &[delivery("e1", "http://a", 10)],
            ),
            Entity::Webhook,
        );
        assert_eq!(store.live_sessions().unwrap().len(), 2);

        // A session's end forgets it with its peers; a new session of the room starts empty.
        store
            .record_lifecycle(&[LiveChange::SessionEnded { room: demo.clone() }], &[])
            .unwrap();
        store
            .record_lifecycle(
                &[LiveChange::SessionStarted {
                    room: demo.clone(),
                    at_ms: 20,
                }],
                &[],
            )
            .unwrap();
        let sessions = store.live_sessions().unwrap();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].started_at_ms, 20);
        assert!(sessions[0].peers.is_empty());

        // After a crash: every live session is forgotten with the missed events queued.
        is_conflict(
            store.end_live_sessions(&[delivery("e1", "http://a", 30)]),
            Entity::Webhook,
        );
        assert_eq!(store.live_sessions().unwrap().len(), 2);
        store
            .end_live_sessions(&[
                delivery("e2", "http://a", 30),
                delivery("e3", "http://a", 30),
            ])
            .unwrap();
        assert!(store.live_sessions().unwrap().is_empty());
        assert_eq!(store.webhook_backlog().unwrap(), 3);
        is_invalid(
            store.record_lifecycle(
                &[LiveChange::SessionEnded {
                    room: RoomId::from(""),
                }],
                &[],
            ),
            "room",
        );
    }

    pub fn invites(store: &dyn Store) {
        use caucus_proto::RoleName;
        use caucus_store::{InviteRecord, InviteRefusal, is_invite_id, new_invite_id};

        let (a, b) = (RoomId::from("a"), RoomId::from("b"));
        store.create_room(&room("a", "breakout", 1)).unwrap();
        store.create_room(&room("b", "breakout", 1)).unwrap();
        let id = new_invite_id();
        assert!(is_invite_id(&id), "{id}");
        assert_ne!(id, new_invite_id(), "random");
        assert_eq!(id.len(), 32, "128 bits as hex");
        let invite = InviteRecord {
            id: id.clone(),
            room: a.clone(),
            role: RoleName::from("guest"),
            created_at_ms: 1_000,
            expires_at_ms: Some(10_000),
            max_uses: Some(2),
            uses: 0,
            revoked: false,
        };
        store.create_invite(&invite).unwrap();
        assert_eq!(store.get_invite(&id).unwrap(), invite);
        is_conflict(store.create_invite(&invite), Entity::Invite);
        assert_eq!(
            store.create_invite(&InviteRecord {
                id: new_invite_id(),
                room: RoomId::from("zzz"),
                ..invite.clone()
            }),
            Err(not_found(Entity::Room, "zzz"))
        );
        let bad_id = InviteRecord {
            id: "not-an-id".into(),
            ..invite.clone()
        };
        is_invalid(store.create_invite(&bad_id), "id");
        let no_uses = InviteRecord {
            id: new_invite_id(),
            max_uses: Some(0),
            ..invite.clone()
        };
        is_invalid(store.create_invite(&no_uses), "max_uses");

        // Redeeming counts one use while usable, then says why not.
        let first = store.redeem_invite(&id, 2_000).unwrap().unwrap();
        assert_eq!(first.uses, 1);
        assert_eq!(store.redeem_invite(&id, 2_001).unwrap().unwrap().uses, 2);
        assert_eq!(
            store.redeem_invite(&id, 2_002).unwrap(),
            Err(InviteRefusal::UsedUp)
        );
        assert_eq!(
            store.get_invite(&id).unwrap().uses,
            2,
            "a refusal counts nothing"
        );
        assert_eq!(
            store.redeem_invite(&new_invite_id(), 2_000).unwrap(),
            Err(InviteRefusal::Unknown)
        );

        // Unlimited, but expiring: usable up to the instant before `expires_at_ms`.
        let open = InviteRecord {
            id: new_invite_id(),
            created_at_ms: 2_000,
            max_uses: None,
            ..invite.clone()
        };
        store.create_invite(&open).unwrap();
        for _ in 0..5 {
            store.redeem_invite(&open.id, 9_999).unwrap().unwrap();
        }
        assert_eq!(
            store.redeem_invite(&open.id, 10_000).unwrap(),
            Err(InviteRefusal::Expired)
        );
        assert_eq!(store.get_invite(&open.id).unwrap().uses, 5);

        // Never expiring; revoked in its own room only.
        let forever = InviteRecord {
            id: new_invite_id(),
            created_at_ms: 3_000,
            expires_at_ms: None,
            max_uses: None,
            role: RoleName::from("host"),
            ..invite.clone()
        };
        store.create_invite(&forever).unwrap();
        store
            .redeem_invite(&forever.id, u64::from(u32::MAX))
            .unwrap()
            .unwrap();
        assert_eq!(
            store.revoke_invite(&b, &forever.id),
            Err(not_found(Entity::Invite, &forever.id))
        );
        let revoked = store.revoke_invite(&a, &forever.id).unwrap();
        assert!(revoked.revoked);
        assert_eq!(revoked.uses, 1);
        assert!(
            store.revoke_invite(&a, &forever.id).unwrap().revoked,
            "again is fine"
        );
        assert_eq!(
            store.redeem_invite(&forever.id, 3_001).unwrap(),
            Err(InviteRefusal::Revoked)
        );
        let unknown = new_invite_id();
        assert_eq!(
            store.revoke_invite(&a, &unknown),
            Err(not_found(Entity::Invite, &unknown))
        );

        // Listed by room, oldest first, revoked ones too.
        let other = InviteRecord {
            id: new_invite_id(),
            room: b.clone(),
            created_at_ms: 500,
            ..invite.clone()
        };
        store.create_invite(&other).unwrap();
        let listed: Vec<String> = store
            .list_invites(&a)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(listed, [id.clone(), open.id.clone(), forever.id.clone()]);
        assert_eq!(store.list_invites(&b).unwrap(), vec![other.clone()]);
        assert_eq!(
            store.list_invites(&RoomId::from("zzz")),
            Err(not_found(Entity::Room, "zzz"))
        );

        // Many visitors at once: exactly `max_uses` of them get in.
        let rush = InviteRecord {
            id: new_invite_id(),
            created_at_ms: 4_000,
            expires_at_ms: None,
            max_uses: Some(3),
            ..invite.clone()
        };
        store.create_invite(&rush).unwrap();
        let admitted = std::thread::scope(|scope| {
            let visitors: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| store.redeem_invite(&rush.id, 4_001).unwrap()))
                .collect();
            visitors
                .into_iter()
                .map(|v| v.join().unwrap())
                .filter(Result::is_ok)
                .count()
        });
        assert_eq!(admitted, 3);
        assert_eq!(store.get_invite(&rush.id).unwrap().uses, 3);
        store.revoke_invite(&a, &rush.id).unwrap();

        // Deleting a room deletes its invites, and only its.
        store.delete_room(&a).unwrap();
        assert_eq!(store.get_invite(&id), Err(not_found(Entity::Invite, &id)));
        assert_eq!(
            store.redeem_invite(&open.id, 2_000).unwrap(),
            Err(InviteRefusal::Unknown)
        );
        assert_eq!(store.get_invite(&other.id).unwrap(), other);
    }

    pub fn recordings(store: &dyn Store) {
        use caucus_proto::event::RecordingEndReason;
        use caucus_proto::{BreakoutId, Location, PeerId, RecordingId, TrackId};
        use caucus_store::{RecordingFile, RecordingRecord};

        let id = RecordingId::new(9_007_199_254_740_000);
        assert_eq!(
            store.get_recording(id),
            Err(not_found(Entity::Recording, "rec9007199254740000"))
        );
        let mut main = RecordingRecord {
            id,
            room: RoomId::from("a"),
            location: Location::Main,
            started_at_ms: 1_000,
            ended_at_ms: None,
            end_reason: None,
            files: Vec::new(),
        };
        // The room need not exist: metadata outlives rooms.
        store.put_recording(&main).unwrap();
        assert_eq!(store.get_recording(id).unwrap(), main);

        let breakout = RecordingRecord {
            id: RecordingId::new(3),
            location: Location::Breakout(BreakoutId::new(2)),
            ..main.clone()
        };
        store.put_recording(&breakout).unwrap();
        let other_room = RecordingRecord {
            id: RecordingId::new(4),
            room: RoomId::from("b"),
            ..main.clone()
        };
        store.put_recording(&other_room).unwrap();

        main.files.push(RecordingFile {
            name: "p1-t2.webm".into(),
            peer: PeerId::new(1),
            track: TrackId::new(2),
            kind: "audio".into(),
            codec: "opus".into(),
            offset_ms: 40,
            duration_ms: 5_000,
            frames: 250,
            bytes: 12_345,
        });
        main.ended_at_ms = Some(6_000);
        main.end_reason = Some(RecordingEndReason::Stopped);
        store.put_recording(&main).unwrap();
        assert_eq!(store.get_recording(id).unwrap(), main, "replaced whole");

        let listed = store.list_recordings(&RoomId::from("a")).unwrap();
        assert_eq!(listed, vec![breakout.clone(), main], "the room's, by id");
        assert_eq!(
            store.unfinished_recordings().unwrap(),
            vec![breakout, other_room.clone()],
            "every room's, by id, without the ended one"
        );
        assert!(
            store
                .list_recordings(&RoomId::from("zzz"))
                .unwrap()
                .is_empty()
        );

        let empty_room = RecordingRecord {
            room: RoomId::from(""),
            ..other_room
        };
        is_invalid(store.put_recording(&empty_room), "room");
    }

    pub fn templates(store: &dyn Store) {
        let webinar = TemplateId::from("webinar");
        let class = TemplateId::from("class");
        assert!(store.list_templates().unwrap().is_empty());

        let v1 = template("Webinar", &["host"]);
        assert_eq!(store.put_template(&webinar, &v1).unwrap(), Written::Created);
        assert_eq!(store.get_template(&webinar).unwrap(), v1);
        let v2 = template("Webinar", &["host", "guest"]);
        assert_eq!(
            store.put_template(&webinar, &v2).unwrap(),
            Written::Replaced
        );
        assert_eq!(store.get_template(&webinar).unwrap(), v2);

        let c = template("Class", &["teacher", "student"]);
        store.put_template(&class, &c).unwrap();
        assert_eq!(
            store.list_templates().unwrap(),
            vec![(class.clone(), c), (webinar.clone(), v2)],
            "listed by id"
        );

        let ghost = TemplateId::from("ghost");
        assert_eq!(
            store.get_template(&ghost),
            Err(not_found(Entity::Template, "ghost"))
        );
        assert_eq!(
            store.delete_template(&ghost),
            Err(not_found(Entity::Template, "ghost"))
        );

        // A template a room names cannot go; once the room is gone it can.
        store.create_room(&room("r1", "webinar", 1)).unwrap();
        is_conflict(store.delete_template(&webinar), Entity::Template);
        assert!(
            store.get_template(&webinar).is_ok(),
            "refused means unchanged"
        );
        // Moving the room to another template frees this one.
        let patch = RoomPatch {
            template: Some(class.clone()),
            ..RoomPatch::default()
        };
        store.update_room(&RoomId::from("r1"), &patch, 2).unwrap();
        store.delete_template(&webinar).unwrap();
        assert_eq!(
            store.get_template(&webinar),
            Err(not_found(Entity::Template, "webinar"))
        );
        is_conflict(store.delete_template(&class), Entity::Template);
        store.delete_room(&RoomId::from("r1")).unwrap();
        store.delete_template(&class).unwrap();
        assert!(store.list_templates().unwrap().is_empty());

        // A room may name a template the store does not hold (the built-ins live in the core).
        store.create_room(&room("r2", "breakout", 3)).unwrap();
    }

    pub fn rooms(store: &dyn Store) {
        let demo = room("demo", "breakout", 1_000);
        store.create_room(&demo).unwrap();
        assert_eq!(store.get_room(&demo.id).unwrap(), demo);
        let mut again = room("demo", "other", 5);
        again.name = "Someone else's".into();
        is_conflict(store.create_room(&again), Entity::Room);
        assert_eq!(store.get_room(&demo.id).unwrap(), demo, "unchanged");

        store
            .create_room(&room("alpha", "breakout", 2_000))
            .unwrap();
        let ids: Vec<_> = store
            .list_rooms()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![RoomId::from("alpha"), RoomId::from("demo")]);

        // A patch changes what it names and stamps updated_at_ms.
        let hash = password::hash("letmein");
        let patch = RoomPatch {
            name: Some("Demo day".into()),
            password_hash: Some(Some(hash.clone())),
            locked: Some(true),
            recording: Some(RecordingPolicy { auto: true }),
            ..RoomPatch::default()
        };
        let updated = store.update_room(&demo.id, &patch, 1_500).unwrap();
        assert_eq!(updated.name, "Demo day");
        assert_eq!(updated.password_hash.as_deref(), Some(hash.as_str()));
        assert!(updated.locked);
        assert!(updated.recording.auto);
        assert_eq!(updated.template, demo.template);
        assert_eq!(updated.created_at_ms, 1_000);
        assert_eq!(updated.updated_at_ms, 1_500);
        assert_eq!(store.get_room(&demo.id).unwrap(), updated);
        assert!(password::verify("letmein", &hash));

        // `Some(None)` clears the password; an empty patch only stamps the time.
        let clear = RoomPatch {
            password_hash: Some(None),
            ..RoomPatch::default()
        };
        assert_eq!(
            store
                .update_room(&demo.id, &clear, 1_600)
                .unwrap()
                .password_hash,
            None
        );
        let touched = store
            .update_room(&demo.id, &RoomPatch::default(), 1_700)
            .unwrap();
        assert_eq!(touched.updated_at_ms, 1_700);
        assert_eq!(touched.name, "Demo day");

        let ghost = RoomId::from("ghost");
        assert_eq!(
            store.get_room(&ghost),
            Err(not_found(Entity::Room, "ghost"))
        );
        assert_eq!(
            store.update_room(&ghost, &RoomPatch::default(), 1),
            Err(not_found(Entity::Room, "ghost"))
        );
        assert_eq!(
            store.delete_room(&ghost),
            Err(not_found(Entity::Room, "ghost"))
        );

        store.delete_room(&demo.id).unwrap();
        assert_eq!(
            store.get_room(&demo.id),
            Err(not_found(Entity::Room, "demo"))
        );
        assert_eq!(
            store.delete_room(&demo.id),
            Err(not_found(Entity::Room, "demo"))
        );
        assert_eq!(store.list_rooms().unwrap().len(), 1);
        // The id is free again.
        store.create_room(&demo).unwrap();
    }

    pub fn plans(store: &dyn Store) {
        let r = RoomId::from("r");
        assert_eq!(store.get_plan(&r), Err(not_found(Entity::Room, "r")));
        assert_eq!(
            store.put_plan(&r, &BreakoutPlan::default()),
            Err(not_found(Entity::Room, "r"))
        );
        store.create_room(&room("r", "breakout", 1)).unwrap();
        assert_eq!(store.get_plan(&r).unwrap(), None);

        let plan = BreakoutPlan {
            rooms: vec![
                PlannedRoom {
                    id: "b1".into(),
                    name: "Red".into(),
                    capacity: Some(4),
                    password_hash: Some(password::hash("red")),
                    visibility: Visibility::MainStage {
                        roles: vec![RoleName::from("host")],
                    },
                },
                PlannedRoom {
                    id: "b2".into(),
                    name: "Blue".into(),
                    capacity: None,
                    password_hash: None,
                    visibility: Visibility::Isolated,
                },
            ],
            options: BreakoutOptions {
                allow_self_select: true,
                duration_s: Some(600),
                ..BreakoutOptions::default()
            },
            preassignments: BTreeMap::from([
                (UserId::from("ana"), "b1".to_owned()),
                (UserId::from("bo"), "Blue".to_owned()),
            ]),
        };
        store.put_plan(&r, &plan).unwrap();
        assert_eq!(store.get_plan(&r).unwrap(), Some(plan.clone()));

        let mut smaller = plan.clone();
        smaller.rooms.truncate(1);
        smaller.preassignments.remove(&UserId::from("bo"));
        store.put_plan(&r, &smaller).unwrap();
        assert_eq!(store.get_plan(&r).unwrap(), Some(smaller));

        // Refused plans change nothing.
        let mut twice = plan.clone();
        twice.rooms[1].id = "b1".into();
        is_invalid(store.put_plan(&r, &twice), "rooms[1].id");
        let mut plain = plan.clone();
        plain.rooms[0].password_hash = Some("red".into());
        is_invalid(store.put_plan(&r, &plain), "rooms[0].password_hash");
        let mut unnamed = plan.clone();
        unnamed.rooms[0].id = String::new();
        is_invalid(store.put_plan(&r, &unnamed), "rooms[0].id");
        assert_eq!(store.get_plan(&r).unwrap().unwrap().rooms.len(), 1);

        // The plan goes with its room.
        store.delete_room(&r).unwrap();
        store.create_room(&room("r", "breakout", 2)).unwrap();
        assert_eq!(store.get_plan(&r).unwrap(), None);
    }

    pub fn outbox(store: &dyn Store) {
        assert_eq!(store.webhook_backlog().unwrap(), 0);
        assert!(store.due_webhooks(u64::MAX, 10).unwrap().is_empty());
        store.enqueue_webhooks(&[]).unwrap();

        // e1 and e2 fan out to two endpoints in one batch; e3 comes later.
        store
            .enqueue_webhooks(&[
                delivery("e1", "http://a/hook", 100),
                delivery("e1", "http://b/hook", 100),
                delivery("e2", "http://a/hook", 100),
            ])
            .unwrap();
        store
            .enqueue_webhook(&delivery("e3", "http://a/hook", 300))
            .unwrap();
        assert_eq!(store.webhook_backlog().unwrap(), 4);

        let keys = |entries: Vec<caucus_store::OutboxEntry>| -> Vec<(String, String)> {
            entries
                .into_iter()
                .map(|e| (e.event_id, e.endpoint))
                .collect()
        };
        let pair = |e: &str, ep: &str| (e.to_owned(), ep.to_owned());

        assert!(
            store.due_webhooks(99, 10).unwrap().is_empty(),
            "not due yet"
        );
        let due = store.due_webhooks(100, 10).unwrap();
        assert_eq!(due.len(), 3);
        assert_eq!(due[0].attempts, 0);
        assert_eq!(due[0].next_attempt_ms, 100);
        assert_eq!(due[0].created_at_ms, 100);
        assert_eq!(due[0].body, r#"{"id":"e1"}"#);
        assert_eq!(due[0].last_error, None);
        assert_eq!(
            keys(due),
            vec![
                pair("e1", "http://a/hook"),
                pair("e1", "http://b/hook"),
                pair("e2", "http://a/hook")
            ],
            "queueing order among equals"
        );
        assert_eq!(
            keys(store.due_webhooks(1_000, 2).unwrap()),
            vec![pair("e1", "http://a/hook"), pair("e1", "http://b/hook")],
            "limit"
        );

        // Duplicates are refused, the whole batch with them.
        is_conflict(
            store.enqueue_webhook(&delivery("e1", "http://a/hook", 400)),
            Entity::Webhook,
        );
        is_conflict(
            store.enqueue_webhooks(&[
                delivery("e4", "http://a/hook", 400),
                delivery("e2", "http://a/hook", 400),
            ]),
            Entity::Webhook,
        );
        is_conflict(
            store.enqueue_webhooks(&[
                delivery("e5", "http://a/hook", 400),
                delivery("e5", "http://a/hook", 400),
            ]),
            Entity::Webhook,
        );
        assert_eq!(
            store.webhook_backlog().unwrap(),
            4,
            "nothing of those batches"
        );

        // A failure backs the entry off; the others keep their turn.
        let long_error = "x".repeat(5_000);
        store
            .mark_failed("e1", "http://a/hook", 1_100, &long_error)
            .unwrap();
        store
            .mark_failed("e1", "http://a/hook", 2_100, "503 Service Unavailable")
            .unwrap();
        assert_eq!(
            keys(store.due_webhooks(1_000, 10).unwrap()),
            vec![
                pair("e1", "http://b/hook"),
                pair("e2", "http://a/hook"),
                pair("e3", "http://a/hook")
            ]
        );
        let backed_off = store.due_webhooks(2_100, 10).unwrap();
        assert_eq!(
            keys(backed_off.clone()).last(),
            Some(&pair("e1", "http://a/hook")),
            "due last: it is due latest"
        );
        let e1a = backed_off.last().unwrap();
        assert_eq!(e1a.attempts, 2);
        assert_eq!(e1a.next_attempt_ms, 2_100);
        assert_eq!(e1a.last_error.as_deref(), Some("503 Service Unavailable"));
        store
            .mark_failed("e2", "http://a/hook", 1_000, &long_error)
            .unwrap();
        let e2 = store
            .due_webhooks(1_000, 10)
            .unwrap()
            .into_iter()
            .find(|e| e.event_id == "e2")
            .unwrap();
        assert_eq!(e2.attempts, 1);
        assert_eq!(
            e2.last_error.as_ref().map(String::len),
            Some(1024),
            "kept 1 KiB"
        );
        // Cut at a character boundary.
        store
            .mark_failed("e2", "http://a/hook", 1_000, &"é".repeat(600))
            .unwrap();
        let e2 = store
            .due_webhooks(1_000, 10)
            .unwrap()
            .into_iter()
            .find(|e| e.event_id == "e2")
            .unwrap();
        assert_eq!(e2.last_error.as_ref().map(String::len), Some(1024));

        // Delivered entries leave the queue.
        store.mark_delivered("e1", "http://b/hook").unwrap();
        assert_eq!(store.webhook_backlog().unwrap(), 3);
        assert_eq!(
            store.mark_delivered("e1", "http://b/hook"),
            Err(not_found(Entity::Webhook, "e1 -> http://b/hook"))
        );
        assert_eq!(
            store.mark_failed("nope", "http://a/hook", 5, "x"),
            Err(not_found(Entity::Webhook, "nope -> http://a/hook"))
        );
        for (event, endpoint) in [("e1", "http://a/hook"), ("e2", "http://a/hook")] {
            store.mark_delivered(event, endpoint).unwrap();
        }
        assert_eq!(
            keys(store.due_webhooks(u64::MAX, 10).unwrap()),
            vec![pair("e3", "http://a/hook")]
        );
        // Delivered ids may be queued again (a new delivery of the same event is the caller's call).
        store
            .enqueue_webhook(&delivery("e1", "http://b/hook", 500))
            .unwrap();
        assert_eq!(store.webhook_backlog().unwrap(), 2);
    }

    pub fn audit_log(store: &dyn Store) {
        assert!(store.list_audit(None, 10).unwrap().is_empty());
        let mut seqs = Vec::new();
        for (at, action, room) in [
            (10, "template.created", None),
            (20, "room.created", Some("a")),
            (30, "room.created", Some("b")),
            (25, "room.updated", Some("a")), // a clock step back: order is by insertion
            (40, "room.deleted", Some("a")),
        ] {
            seqs.push(store.append_audit(&audit(at, action, room)).unwrap());
        }
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

        let all = store.list_audit(None, 10).unwrap();
        let at: Vec<u64> = all.iter().map(|r| r.entry.at_ms).collect();
        assert_eq!(at, vec![40, 25, 30, 20, 10], "newest first");
        assert_eq!(all[0].seq, seqs[4]);
        assert_eq!(all[0].entry, audit(40, "room.deleted", Some("a")));

        let a: Vec<u64> = store
            .list_audit(Some(&RoomId::from("a")), 10)
            .unwrap()
            .iter()
            .map(|r| r.entry.at_ms)
            .collect();
        assert_eq!(a, vec![40, 25, 20]);
        assert_eq!(
            store.list_audit(Some(&RoomId::from("a")), 1).unwrap().len(),
            1
        );
        assert_eq!(store.list_audit(None, 2).unwrap().len(), 2);
        assert!(store.list_audit(None, 0).unwrap().is_empty());
        assert!(
            store
                .list_audit(Some(&RoomId::from("zzz")), 10)
                .unwrap()
                .is_empty()
        );

        let mut rich = audit(50, "peer.removed", Some("b"));
        rich.target = Some("p7".into());
        rich.details = serde_json::json!({"reason": "spam", "nested": [1, {"x": null}]});
        store.append_audit(&rich).unwrap();
        assert_eq!(store.list_audit(None, 1).unwrap()[0].entry, rich);
    }

    pub fn invalid_values(store: &dyn Store) {
        is_invalid(
            store.put_template(&TemplateId::from(""), &template("x", &[])),
            "id",
        );
        is_invalid(store.create_room(&room("", "breakout", 1)), "id");
        // A room id names a directory of recordings: nothing that could climb out of it.
        for id in [".", "..", "../x", "a/b", ".hidden", "a\0b"] {
            is_invalid(store.create_room(&room(id, "breakout", 1)), "id");
        }
        is_invalid(store.create_room(&room("r", "", 1)), "template");
        let mut plain = room("r", "breakout", 1);
        plain.password_hash = Some("hunter2".into());
        is_invalid(store.create_room(&plain), "password_hash");
        is_invalid(
            store.create_room(&room("r", "breakout", u64::MAX)),
            "created_at_ms",
        );
        assert!(
            store.list_rooms().unwrap().is_empty(),
            "nothing was created"
        );

        store.create_room(&room("r", "breakout", 1)).unwrap();
        let patch = RoomPatch {
            password_hash: Some(Some("hunter2".into())),
            ..RoomPatch::default()
        };
        is_invalid(
            store.update_room(&RoomId::from("r"), &patch, 2),
            "password_hash",
        );
        is_invalid(
            store.update_room(&RoomId::from("r"), &RoomPatch::default(), u64::MAX),
            "now_ms",
        );
        assert_eq!(store.get_room(&RoomId::from("r")).unwrap().updated_at_ms, 1);

        is_invalid(
            store.enqueue_webhook(&delivery("", "http://a", 1)),
            "event_id",
        );
        is_invalid(store.enqueue_webhook(&delivery("e", "", 1)), "endpoint");
        store
            .enqueue_webhook(&delivery("e", "http://a", 1))
            .unwrap();
        is_invalid(
            store.mark_failed("e", "http://a", u64::MAX, "x"),
            "next_attempt_ms",
        );
        let mut nobody = audit(1, "x", None);
        nobody.actor = String::new();
        is_invalid(store.append_audit(&nobody), "actor");
        is_invalid(store.append_audit(&audit(1, "", None)), "action");
    }
}
