//! Crash safety, which needs the store's insides: a process that dies in the middle of a write
//! transaction.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use caucus_proto::{RoomId, TemplateId};

use super::*;
use crate::RecordingPolicy;

const CRASH_ENV: &str = "CAUCUS_STORE_CRASH";
const COMMITTED: usize = 25;
const MARKER: &str = "caucus-store-crash-child: committed";

fn test_room(id: &str, at_ms: u64) -> RoomRecord {
    RoomRecord {
        id: RoomId::from(id),
        name: format!("Room {id}"),
        template: TemplateId::from("breakout"),
        password_hash: None,
        locked: false,
        recording: RecordingPolicy::default(),
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
    }
}

fn test_audit(at_ms: u64, details: serde_json::Value) -> AuditEntry {
    AuditEntry {
        at_ms,
        actor: "admin".into(),
        action: "room.created".into(),
        room: None,
        target: None,
        details,
    }
}

/// Parent: runs this same test in a child process that commits `COMMITTED` rooms and audit
/// entries, then aborts inside a large open transaction (large enough that SQLite spills its
/// uncommitted pages into the WAL before the abort). Reopening must show exactly the committed
/// rows, and the file must pass `PRAGMA integrity_check`.
///
/// Child (when `CAUCUS_STORE_CRASH` names a dir): does the above and never returns.
#[test]
fn a_crash_mid_transaction_keeps_every_commit_and_nothing_else() {
    if let Some(dir) = std::env::var_os(CRASH_ENV) {
        crash_child(Path::new(&dir));
    }

    let scratch = Scratch::new("crash");
    let dir = scratch.0.clone();
    let test_name = format!(
        "{}::a_crash_mid_transaction_keeps_every_commit_and_nothing_else",
        module_path!()
            .split_once("::")
            .map_or("", |(_crate, path)| path)
    );
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            test_name.as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_ENV, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "the child should have aborted: {stdout}"
    );
    assert!(
        stdout.contains(&format!("{MARKER} {COMMITTED}")),
        "the child did not reach the crash: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let wal = std::fs::metadata(dir.join(format!("{DB_FILE}-wal"))).map_or(0, |m| m.len());
    assert!(
        wal > 2_000_000,
        "the abort should leave uncommitted frames in the WAL ({wal} bytes)"
    );

    let store = SqliteStore::open(&dir).unwrap();
    store.integrity_check().unwrap();
    let rooms = store.list_rooms().unwrap();
    assert_eq!(rooms.len(), COMMITTED);
    assert!(
        rooms
            .iter()
            .all(|r| r.id.as_str().starts_with("committed-"))
    );
    assert!(matches!(
        store.get_room(&RoomId::from("uncommitted")),
        Err(StoreError::NotFound { .. })
    ));
    let log = store.list_audit(None, usize::MAX).unwrap();
    assert_eq!(log.len(), COMMITTED);
    assert!(log.iter().all(|r| r.entry.details == serde_json::json!({})));
    // The store keeps working on the recovered file.
    store.create_room(&test_room("after", 1)).unwrap();
    store.integrity_check().unwrap();
}

fn crash_child(dir: &Path) -> ! {
    let store = SqliteStore::open(dir).unwrap();
    for i in 0..COMMITTED {
        store
            .create_room(&test_room(&format!("committed-{i}"), i as u64))
            .unwrap();
        store
            .append_audit(&test_audit(i as u64, serde_json::json!({})))
            .unwrap();
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{MARKER} {COMMITTED}").unwrap();
    stdout.flush().unwrap();

    let _ = store.write::<()>("crash", |tx| {
        insert_room(tx, &test_room("uncommitted", 99), "{}")?;
        let filler = "x".repeat(2_000);
        let mut stmt = tx.prepare_cached(
            "INSERT INTO audit_log (at_ms, actor, action, details) VALUES (?1, 'admin', 'fill', ?2)",
        )?;
        // ~8 MB: well past the 2 MB page cache, so dirty pages spill into the WAL.
        for i in 0..4_000_i64 {
            stmt.execute(params![i, format!("\"{filler}\"")])?;
        }
        std::process::abort()
    });
    std::process::abort();
}

/// A directory under the system temp dir, removed on drop (also when an assertion fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("caucus-store-unit-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
