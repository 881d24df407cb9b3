//! What only the SQLite store promises: everything survives a restart, migrations are idempotent,
//! the file is set up for durability, and many threads may call at once.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use caucus_proto::{RoomId, TemplateId, UserId, Visibility};
use caucus_store::{
    BreakoutPlan, Durability, PlannedRoom, RecordingPolicy, RoomPatch, SqliteStore, Store,
    StoreError, password,
};
use common::{TempDir, audit, delivery, room, template};
use rusqlite::Connection;

fn raw(dir: &TempDir) -> Connection {
    Connection::open(dir.path().join("caucus.db")).unwrap()
}

#[test]
fn everything_survives_a_restart() {
    let dir = TempDir::new("restart");
    let hash = password::hash("pw");
    let plan = BreakoutPlan {
        rooms: vec![PlannedRoom {
            id: "b1".into(),
            name: "Red".into(),
            capacity: Some(3),
            password_hash: Some(password::hash("red")),
            visibility: Visibility::Isolated,
        }],
        options: Default::default(),
        preassignments: BTreeMap::from([(UserId::from("ana"), "Red".to_owned())]),
    };
    let spec = template("Class", &["teacher", "student"]);
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store
            .put_template(&TemplateId::from("class"), &spec)
            .unwrap();
        let mut r = room("demo", "class", 10);
        r.password_hash = Some(hash.clone());
        store.create_room(&r).unwrap();
        store
            .update_room(
                &r.id,
                &RoomPatch {
                    locked: Some(true),
                    recording: Some(RecordingPolicy { auto: true }),
                    ..RoomPatch::default()
                },
                20,
            )
            .unwrap();
        store.put_plan(&r.id, &plan).unwrap();
        assert_eq!(store.reserve_versions(&r.id, 1 << 32).unwrap(), 0);
        store
            .enqueue_webhooks(&[
                delivery("e1", "http://a", 30),
                delivery("e2", "http://a", 31),
            ])
            .unwrap();
        store.mark_failed("e1", "http://a", 500, "timeout").unwrap();
        store
            .append_audit(&audit(40, "room.created", Some("demo")))
            .unwrap();
    }

    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        store.get_template(&TemplateId::from("class")).unwrap(),
        spec
    );
    let r = store.get_room(&RoomId::from("demo")).unwrap();
    assert!(r.locked && r.recording.auto);
    assert_eq!((r.created_at_ms, r.updated_at_ms), (10, 20));
    assert!(password::verify("pw", r.password_hash.as_deref().unwrap()));
    assert_eq!(store.get_plan(&r.id).unwrap(), Some(plan));
    assert_eq!(store.webhook_backlog().unwrap(), 2);
    let due = store.due_webhooks(1_000, 10).unwrap();
    assert_eq!(due[0].event_id, "e2");
    assert_eq!((due[1].attempts, due[1].next_attempt_ms), (1, 500));
    assert_eq!(due[1].last_error.as_deref(), Some("timeout"));
    let log = store.list_audit(None, 10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry, audit(40, "room.created", Some("demo")));
    // The breakout-version mark too: the next session starts above the last one's block.
    assert_eq!(store.reserve_versions(&r.id, 10).unwrap(), 1 << 32);
    // Sequence numbers keep growing across restarts.
    let next = store
        .append_audit(&audit(50, "room.updated", None))
        .unwrap();
    assert!(next > log[0].seq);
    store.integrity_check().unwrap();
}

#[test]
fn migrations_are_idempotent_and_the_file_is_set_up_for_durability() {
    let dir = TempDir::new("migrations");
    for durability in [
        Durability::PowerLoss,
        Durability::ProcessCrash,
        Durability::PowerLoss,
    ] {
        let store = SqliteStore::open_with(dir.path(), durability).unwrap();
        store
            .append_audit(&audit(1, "server.started", None))
            .unwrap();
        assert_eq!(store.path(), dir.path().join("caucus.db"));
    }
    let conn = raw(&dir);
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "audit_log",
            "breakout_plans",
            "invites",
            "live_peers",
            "live_sessions",
            "recordings",
            "rooms",
            "templates",
            "version_marks",
            "webhook_outbox"
        ]
    );
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal", "WAL is a property of the file");
    let count: u32 = conn
        .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 3);
}

#[test]
fn a_newer_schema_or_a_foreign_database_is_refused() {
    let dir = TempDir::new("newer");
    drop(SqliteStore::open(dir.path()).unwrap());
    raw(&dir).pragma_update(None, "user_version", 99).unwrap();
    match SqliteStore::open(dir.path()) {
        Err(StoreError::Backend(message)) => assert!(message.contains("99"), "{message}"),
        other => panic!("opened a newer schema: {other:?}"),
    }

    let dir = TempDir::new("foreign");
    let conn = raw(&dir);
    conn.execute_batch("CREATE TABLE notes (x TEXT); PRAGMA user_version = 3;")
        .unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(dir.path()),
        Err(StoreError::Backend(_))
    ));

    let dir = TempDir::new("not-a-dir");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        SqliteStore::open(&file),
        Err(StoreError::Backend(_))
    ));
}

#[test]
fn many_threads_write_and_read_at_once() {
    const THREADS: usize = 8;
    const OPS: usize = 200;
    let dir = TempDir::new("concurrency");
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    store
        .put_template(&TemplateId::from("t"), &template("T", &["host"]))
        .unwrap();

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..OPS {
                    let at = (t * OPS + i) as u64;
                    let id = format!("t{t}-r{}", i / 4);
                    match i % 4 {
                        0 => store.create_room(&room(&id, "t", at)).unwrap(),
                        1 => {
                            store
                                .append_audit(&audit(at, "room.created", Some(&id)))
                                .unwrap();
                        }
                        2 => store
                            .enqueue_webhook(&delivery(&format!("e{at}"), "http://a", at))
                            .unwrap(),
                        _ => {
                            let r = store.get_room(&RoomId::from(id.as_str())).unwrap();
                            assert_eq!(r.created_at_ms, at - 3);
                            let patch = RoomPatch {
                                name: Some(format!("renamed {at}")),
                                ..RoomPatch::default()
                            };
                            store.update_room(&r.id, &patch, at).unwrap();
                            let mine = store.list_audit(Some(&r.id), 5).unwrap();
                            assert_eq!(mine.len(), 1);
                            assert!(!store.due_webhooks(u64::MAX, 5).unwrap().is_empty());
                            assert!(!store.list_rooms().unwrap().is_empty());
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }

    let per_kind = (THREADS * OPS / 4) as u64;
    let rooms = store.list_rooms().unwrap();
    assert_eq!(rooms.len() as u64, per_kind);
    assert!(rooms.iter().all(|r| r.name.starts_with("renamed ")));
    assert_eq!(
        store.list_audit(None, usize::MAX).unwrap().len() as u64,
        per_kind
    );
    assert_eq!(store.webhook_backlog().unwrap(), per_kind);
    assert_eq!(
        store.due_webhooks(u64::MAX, usize::MAX).unwrap().len() as u64,
        per_kind
    );
    // A room that exists blocks its template even under load.
    assert!(matches!(
        store.delete_template(&TemplateId::from("t")),
        Err(StoreError::Conflict { .. })
    ));
    store.integrity_check().unwrap();
}

/// Recording metadata is there after a restart: `GET /v1/recordings/{id}` keeps working.
#[test]
fn recordings_survive_reopening() {
    use caucus_proto::{Location, RecordingId};
    use caucus_store::RecordingRecord;

    let dir = TempDir::new("recordings");
    let record = RecordingRecord {
        id: RecordingId::new(77),
        room: RoomId::from("demo"),
        location: Location::Main,
        started_at_ms: 5,
        ended_at_ms: Some(9),
        end_reason: None,
        files: Vec::new(),
    };
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store.put_recording(&record).unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.get_recording(RecordingId::new(77)).unwrap(), record);
}
