//! Shared by the integration tests: a self-deleting temp dir and sample records.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use caucus_proto::{RoleName, RoleSpec, RoomId, TemplateId, TemplateSpec};
use caucus_store::{
    AuditEntry, MemoryStore, OutboxItem, RecordingPolicy, RoomRecord, SqliteStore, Store,
};

/// A unique directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "caucus-store-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover of an earlier run that had the same pid.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store under test and, for SQLite, its directory. Fields drop in order: store, then dir.
pub struct Fixture {
    pub store: Box<dyn Store>,
    _dir: Option<TempDir>,
}

impl Fixture {
    pub fn memory() -> Fixture {
        Fixture {
            store: Box::new(MemoryStore::new()),
            _dir: None,
        }
    }

    pub fn sqlite(label: &str) -> Fixture {
        let dir = TempDir::new(label);
        Fixture {
            store: Box::new(SqliteStore::open(dir.path()).unwrap()),
            _dir: Some(dir),
        }
    }
}

pub fn template(name: &str, roles: &[&str]) -> TemplateSpec {
    TemplateSpec {
        name: name.to_owned(),
        roles: roles
            .iter()
            .map(|r| (RoleName::from(*r), RoleSpec::default()))
            .collect::<BTreeMap<_, _>>(),
    }
}

pub fn room(id: &str, template: &str, at_ms: u64) -> RoomRecord {
    RoomRecord {
        id: RoomId::from(id),
        name: format!("Room {id}"),
        template: TemplateId::from(template),
        password_hash: None,
        locked: false,
        recording: RecordingPolicy::default(),
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
    }
}

pub fn delivery(event_id: &str, endpoint: &str, at_ms: u64) -> OutboxItem {
    OutboxItem {
        event_id: event_id.to_owned(),
        endpoint: endpoint.to_owned(),
        body: format!(r#"{{"id":"{event_id}"}}"#),
        created_at_ms: at_ms,
    }
}

pub fn audit(at_ms: u64, action: &str, room: Option<&str>) -> AuditEntry {
    AuditEntry {
        at_ms,
        actor: "admin".to_owned(),
        action: action.to_owned(),
        room: room.map(RoomId::from),
        target: None,
        details: serde_json::json!({ "n": at_ms }),
    }
}
