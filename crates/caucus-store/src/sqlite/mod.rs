//! `SqliteStore`: the embedded default, one SQLite file in the data dir.
//!
//! Connections: one writer behind a mutex (SQLite allows one writer at a time anyway; queueing
//! in-process is cheaper than `SQLITE_BUSY` retries) and a few read-only readers, which WAL lets
//! run beside the writer on the last committed state. Every write is one `BEGIN IMMEDIATE`
//! transaction; a reader sees a write once the call that made it has returned.
//!
//! Durability: `journal_mode = WAL` with `synchronous = FULL` — every commit fsyncs the WAL, so a
//! call that returned `Ok` survives a process crash *and* a power cut or kernel panic. `NORMAL`
//! would survive a process crash only (it may lose the last commits on power loss), and "a
//! restart loses nothing committed" is the promise the webhook outbox and the audit log rest on.
//! The cost is one fsync per write call (about 2 ms on this project's machines, against 20 µs
//! with `NORMAL`); [`Store::enqueue_webhooks`] takes a batch so that a command's deliveries cost
//! one. [`Durability::ProcessCrash`] opts into `NORMAL` where that trade is wanted.

mod invites;
mod migrate;
mod rooms;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use caucus_proto::{PeerId, RecordingId, RoomId, TemplateId, TemplateSpec, UserId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, params};
use tracing::{debug, info, warn};

use crate::error::{Entity, StoreError};
use crate::outbox::{delivery_not_found, duplicate_delivery};
use crate::{
    AuditEntry, AuditRecord, BreakoutPlan, InviteRecord, InviteRefusal, LiveChange, LivePeer,
    LiveSession, OutboxEntry, OutboxItem, RecordingRecord, Result, RoomPatch, RoomRecord, Store,
    Written, validate,
};
use rooms::{RoomRow, SELECT_ROOM, insert_room, select_room};

/// The database file inside the data dir.
pub const DB_FILE: &str = "caucus.db";

/// Read-only connections. Reads are short; a few cover the REST handlers of a 2-core server.
const READERS: usize = 4;

/// How long a connection waits for a lock held by another process (e.g. a backup tool) before
/// the call fails. In-process writers queue on the mutex and never see this.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a write that returned `Ok` survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: a crash of the process, a kernel panic, a power cut. One fsync per
    /// write call.
    #[default]
    PowerLoss,
    /// `synchronous = NORMAL`: a crash of the process. A power cut may lose the last writes
    /// (never corrupting the file); writes cost no fsync except at checkpoints.
    ProcessCrash,
}

impl Durability {
    fn synchronous(self) -> &'static str {
        match self {
            Durability::PowerLoss => "FULL",
            Durability::ProcessCrash => "NORMAL",
        }
    }
}

/// The SQLite [`Store`]. Open one per data dir and share it.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// Create `dir` (and its missing parents) owner-only (0700); an existing directory is left
/// as it is.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The database holds room passwords' hashes, the webhook outbox and the audit log: it is
/// owner-only (0600) like the token secret. SQLite creates a new file 0644 and gives the
/// `-wal` and `-shm` files the mode of the database, so the database is created here first;
/// one left readable by an older build is narrowed, with its companions.
fn private_db_files(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    drop(options.open(path)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = PathBuf::from(file);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/caucus.db` and brings its schema up to date.
    /// Fails with `Backend` when the directory cannot be created, the file is not a Caucus
    /// database, or its schema is newer than this build.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<SqliteStore> {
        Self::open_with(data_dir, Durability::default())
    }

    /// [`SqliteStore::open`] with a chosen [`Durability`].
    pub fn open_with(data_dir: impl AsRef<Path>, durability: Durability) -> Result<SqliteStore> {
        let dir = data_dir.as_ref();
        private_dir(dir).map_err(|e| {
            StoreError::Backend(format!("cannot create data dir {}: {e}", dir.display()))
        })?;
        let path = dir.join(DB_FILE);
        private_db_files(&path)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", path.display())))?;
        let mut writer = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        let journal: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{} cannot use WAL (journal_mode is {journal}); is it on a network file system?",
                path.display()
            )));
        }
        writer.pragma_update(None, "synchronous", durability.synchronous())?;
        writer.pragma_update(None, "foreign_keys", true)?;
        let found = migrate::run(&mut writer)?;

        let readers = (0..READERS)
            .map(|_| open_reader(&path).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        info!(
            path = %path.display(),
            schema_version = migrate::latest(),
            found_version = found,
            ?durability,
            "store: opened"
        );
        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `PRAGMA integrity_check`; `Backend` with SQLite's findings when the file is damaged.
    pub fn integrity_check(&self) -> Result<()> {
        let conn = self.reader();
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let findings = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if findings == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Backend(format!(
                "integrity check failed: {}",
                findings.join("; ")
            )))
        }
    }

    /// Runs `f` in one write transaction: committed when it returns `Ok`, rolled back otherwise.
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let result = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)
            .and_then(|tx| {
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            });
        if let Err(StoreError::Backend(error)) = &result {
            warn!(op, %error, "store: write failed");
        }
        result
    }

    fn read<T>(&self, op: &'static str, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let result = f(&self.reader());
        if let Err(StoreError::Backend(error)) = &result {
            warn!(op, %error, "store: read failed");
        }
        result
    }

    /// A free reader if there is one, else waits for one. A poisoned lock is fine to take: a
    /// panic cannot leave a read-only connection in a state that matters.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            match self.readers[(start + i) % n].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.readers[start % n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl Store for SqliteStore {
    fn put_template(&self, id: &TemplateId, spec: &TemplateSpec) -> Result<Written> {
        validate::not_empty("id", id.as_str())?;
        let json = to_json(spec)?;
        self.write("put_template", |tx| {
            let existed = exists(tx, "SELECT 1 FROM templates WHERE id = ?1", id.as_str())?;
            tx.prepare_cached(
                "INSERT INTO templates (id, spec) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET spec = excluded.spec",
            )?
            .execute(params![id.as_str(), json])?;
            Ok(if existed {
                Written::Replaced
            } else {
                Written::Created
            })
        })
    }

    fn get_template(&self, id: &TemplateId) -> Result<TemplateSpec> {
        self.read("get_template", |conn| {
            let json: Option<String> = conn
                .prepare_cached("SELECT spec FROM templates WHERE id = ?1")?
                .query_row([id.as_str()], |row| row.get(0))
                .optional()?;
            let json = json.ok_or_else(|| StoreError::not_found(Entity::Template, id))?;
            from_json(&json, Entity::Template, id)
        })
    }

    fn list_templates(&self) -> Result<Vec<(TemplateId, TemplateSpec)>> {
        self.read("list_templates", |conn| {
            let mut stmt = conn.prepare_cached("SELECT id, spec FROM templates ORDER BY id")?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, json)| {
                    let spec = from_json(&json, Entity::Template, &id)?;
                    Ok((TemplateId::from(id), spec))
                })
                .collect()
        })
    }

    fn delete_template(&self, id: &TemplateId) -> Result<()> {
        self.write("delete_template", |tx| {
            if !exists(tx, "SELECT 1 FROM templates WHERE id = ?1", id.as_str())? {
                return Err(StoreError::not_found(Entity::Template, id));
            }
            let user: Option<String> = tx
                .prepare_cached("SELECT id FROM rooms WHERE template = ?1 ORDER BY id LIMIT 1")?
                .query_row([id.as_str()], |row| row.get(0))
                .optional()?;
            if let Some(room) = user {
                return Err(StoreError::conflict(
                    Entity::Template,
                    id,
                    format!("room {room} uses it"),
                ));
            }
            tx.prepare_cached("DELETE FROM templates WHERE id = ?1")?
                .execute([id.as_str()])?;
            Ok(())
        })
    }

    fn create_room(&self, room: &RoomRecord) -> Result<()> {
        validate::room(room)?;
        let recording = to_json(&room.recording)?;
        self.write("create_room", |tx| {
            if exists(tx, "SELECT 1 FROM rooms WHERE id = ?1", room.id.as_str())? {
                return Err(StoreError::conflict(
                    Entity::Room,
                    &room.id,
                    "already exists",
                ));
            }
            insert_room(tx, room, &recording)
        })
    }

    fn get_room(&self, id: &RoomId) -> Result<RoomRecord> {
        self.read("get_room", |conn| {
            select_room(conn, id)?.ok_or_else(|| StoreError::not_found(Entity::Room, id))
        })
    }

    fn list_rooms(&self) -> Result<Vec<RoomRecord>> {
        self.read("list_rooms", |conn| {
            let mut stmt = conn.prepare_cached(&format!("{SELECT_ROOM} ORDER BY id"))?;
            let rows = stmt
                .query_map([], RoomRow::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(RoomRow::into_record).collect()
        })
    }

    fn update_room(&self, id: &RoomId, patch: &RoomPatch, now_ms: u64) -> Result<RoomRecord> {
        validate::patch(patch, now_ms)?;
        self.write("update_room", |tx| {
            let room =
                select_room(tx, id)?.ok_or_else(|| StoreError::not_found(Entity::Room, id))?;
            let next = patch.apply(&room, now_ms);
            tx.prepare_cached(
                "UPDATE rooms SET name = ?2, template = ?3, password_hash = ?4, locked = ?5,
                 recording = ?6, updated_at_ms = ?7 WHERE id = ?1",
            )?
            .execute(params![
                next.id.as_str(),
                next.name,
                next.template.as_str(),
                next.password_hash,
                next.locked,
                to_json(&next.recording)?,
                validate::millis("now_ms", next.updated_at_ms)?,
            ])?;
            Ok(next)
        })
    }

    fn delete_room(&self, id: &RoomId) -> Result<()> {
        self.write("delete_room", |tx| {
            // The plan goes with it: `ON DELETE CASCADE`.
            let deleted = tx
                .prepare_cached("DELETE FROM rooms WHERE id = ?1")?
                .execute([id.as_str()])?;
            if deleted == 0 {
                return Err(StoreError::not_found(Entity::Room, id));
            }
            Ok(())
        })
    }

    fn get_plan(&self, room: &RoomId) -> Result<Option<BreakoutPlan>> {
        self.read("get_plan", |conn| {
            let found: Option<Option<String>> = conn
                .prepare_cached(
                    "SELECT p.plan FROM rooms r LEFT JOIN breakout_plans p ON p.room = r.id
                     WHERE r.id = ?1",
                )?
                .query_row([room.as_str()], |row| row.get(0))
                .optional()?;
            match found {
                None => Err(StoreError::not_found(Entity::Room, room)),
                Some(None) => Ok(None),
                Some(Some(json)) => from_json(&json, Entity::BreakoutPlan, room).map(Some),
            }
        })
    }

    fn put_plan(&self, room: &RoomId, plan: &BreakoutPlan) -> Result<()> {
        validate::plan(plan)?;
        let json = to_json(plan)?;
        self.write("put_plan", |tx| {
            if !exists(tx, "SELECT 1 FROM rooms WHERE id = ?1", room.as_str())? {
                return Err(StoreError::not_found(Entity::Room, room));
            }
            tx.prepare_cached(
                "INSERT INTO breakout_plans (room, plan) VALUES (?1, ?2)
                 ON CONFLICT (room) DO UPDATE SET plan = excluded.plan",
            )?
            .execute(params![room.as_str(), json])?;
            Ok(())
        })
    }

    fn reserve_versions(&self, room: &RoomId, count: u64) -> Result<u64> {
        self.write("reserve_versions", |tx| {
            let found: Option<i64> = tx
                .prepare_cached("SELECT mark FROM version_marks WHERE room = ?1")?
                .query_row([room.as_str()], |row| row.get(0))
                .optional()?;
            let mark = u64::try_from(found.unwrap_or(0)).map_err(|_| {
                StoreError::Backend(format!("room {room} has a negative version mark"))
            })?;
            let raised = validate::version_mark(mark, count)?;
            // `version_mark` keeps it within i64.
            let raised = i64::try_from(raised).unwrap_or(i64::MAX);
            tx.prepare_cached(
                "INSERT INTO version_marks (room, mark) VALUES (?1, ?2)
                 ON CONFLICT (room) DO UPDATE SET mark = excluded.mark",
            )?
            .execute(params![room.as_str(), raised])?;
            Ok(mark)
        })
    }

    fn enqueue_webhooks(&self, items: &[OutboxItem]) -> Result<()> {
        for item in items {
            validate::outbox_item(item)?;
        }
        if items.is_empty() {
            return Ok(());
        }
        self.write("enqueue_webhooks", |tx| enqueue(tx, items))
    }

    fn due_webhooks(&self, now_ms: u64, limit: usize) -> Result<Vec<OutboxEntry>> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("due_webhooks", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT event_id, endpoint, body, created_at_ms, attempts, next_attempt_ms,
                        last_error
                 FROM webhook_outbox WHERE next_attempt_ms <= ?1
                 ORDER BY next_attempt_ms, seq LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![now, limit], |row| {
                    Ok(OutboxEntry {
                        event_id: row.get(0)?,
                        endpoint: row.get(1)?,
                        body: row.get(2)?,
                        created_at_ms: millis_at(row, 3)?,
                        attempts: row.get(4)?,
                        next_attempt_ms: millis_at(row, 5)?,
                        last_error: row.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn mark_delivered(&self, event_id: &str, endpoint: &str) -> Result<()> {
        self.write("mark_delivered", |tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM webhook_outbox WHERE event_id = ?1 AND endpoint = ?2")?
                .execute([event_id, endpoint])?;
            if deleted == 0 {
                return Err(delivery_not_found(event_id, endpoint));
            }
            Ok(())
        })
    }

    fn mark_failed(
        &self,
        event_id: &str,
        endpoint: &str,
        next_attempt_ms: u64,
        error: &str,
    ) -> Result<()> {
        let next = validate::millis("next_attempt_ms", next_attempt_ms)?;
        let error = validate::error_text(error);
        self.write("mark_failed", |tx| {
            let attempts: Option<u32> = tx
                .prepare_cached(
                    "UPDATE webhook_outbox
                     SET attempts = min(attempts + 1, 4294967295), next_attempt_ms = ?3,
                         last_error = ?4
                     WHERE event_id = ?1 AND endpoint = ?2
                     RETURNING attempts",
                )?
                .query_row(params![event_id, endpoint, next, error], |row| row.get(0))
                .optional()?;
            let attempts = attempts.ok_or_else(|| delivery_not_found(event_id, endpoint))?;
            debug!(
                event_id,
                endpoint, attempts, next_attempt_ms, "store: delivery failed"
            );
            Ok(())
        })
    }

    fn webhook_backlog(&self) -> Result<u64> {
        self.read("webhook_backlog", |conn| {
            let count: i64 = conn
                .prepare_cached("SELECT count(*) FROM webhook_outbox")?
                .query_row([], |row| row.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<u64> {
        validate::audit(entry)?;
        let at = validate::millis("at_ms", entry.at_ms)?;
        let details = to_json(&entry.details)?;
        self.write("append_audit", |tx| {
            tx.prepare_cached(
                "INSERT INTO audit_log (at_ms, actor, action, room, target, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                at,
                entry.actor,
                entry.action,
                entry.room.as_ref().map(RoomId::as_str),
                entry.target,
                details,
            ])?;
            u64::try_from(tx.last_insert_rowid())
                .map_err(|_| StoreError::Backend("negative audit sequence number".into()))
        })
    }

    fn list_audit(&self, room: Option<&RoomId>, limit: usize) -> Result<Vec<AuditRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("list_audit", |conn| {
            let columns = |row: &Row<'_>| {
                Ok((
                    millis_at(row, 0)?,
                    millis_at(row, 1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, String>(6)?,
                ))
            };
            // Two statements rather than `?1 IS NULL OR room = ?1`, which would keep SQLite off
            // the (room, seq) index.
            let rows = match room {
                Some(room) => conn
                    .prepare_cached(
                        "SELECT seq, at_ms, actor, action, room, target, details FROM audit_log
                         WHERE room = ?1 ORDER BY seq DESC LIMIT ?2",
                    )?
                    .query_map(params![room.as_str(), limit], columns)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                None => conn
                    .prepare_cached(
                        "SELECT seq, at_ms, actor, action, room, target, details FROM audit_log
                         ORDER BY seq DESC LIMIT ?1",
                    )?
                    .query_map(params![limit], columns)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            rows.into_iter()
                .map(|(seq, at_ms, actor, action, room, target, details)| {
                    Ok(AuditRecord {
                        seq,
                        entry: AuditEntry {
                            at_ms,
                            actor,
                            action,
                            room: room.map(RoomId::from),
                            target,
                            details: from_json(&details, Entity::AuditEntry, seq)?,
                        },
                    })
                })
                .collect()
        })
    }

    fn put_recording(&self, recording: &RecordingRecord) -> Result<()> {
        validate::recording(recording)?;
        let doc = to_json(recording)?;
        let id = recording_key(recording.id)?;
        self.write("put_recording", |tx| {
            tx.prepare_cached(
                "INSERT INTO recordings (id, room, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET room = excluded.room, doc = excluded.doc",
            )?
            .execute(params![id, recording.room.as_str(), doc])?;
            Ok(())
        })
    }

    fn get_recording(&self, id: RecordingId) -> Result<RecordingRecord> {
        let key = recording_key(id)?;
        self.read("get_recording", |conn| {
            let doc: Option<String> = conn
                .prepare_cached("SELECT doc FROM recordings WHERE id = ?1")?
                .query_row([key], |row| row.get(0))
                .optional()?;
            match doc {
                None => Err(StoreError::not_found(Entity::Recording, id)),
                Some(doc) => from_json(&doc, Entity::Recording, id),
            }
        })
    }

    fn list_recordings(&self, room: &RoomId) -> Result<Vec<RecordingRecord>> {
        self.read("list_recordings", |conn| {
            let docs = conn
                .prepare_cached("SELECT id, doc FROM recordings WHERE room = ?1 ORDER BY id")?
                .query_map([room.as_str()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            docs.into_iter()
                .map(|(id, doc)| from_json(&doc, Entity::Recording, id))
                .collect()
        })
    }

    fn unfinished_recordings(&self) -> Result<Vec<RecordingRecord>> {
        self.read("unfinished_recordings", |conn| {
            let docs = conn
                .prepare_cached(
                    "SELECT id, doc FROM recordings
                     WHERE json_extract(doc, '$.ended_at_ms') IS NULL ORDER BY id",
                )?
                .query_map([], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            docs.into_iter()
                .map(|(id, doc)| from_json(&doc, Entity::Recording, id))
                .collect()
        })
    }

    fn create_invite(&self, invite: &InviteRecord) -> Result<()> {
        validate::invite(invite)?;
        self.write("create_invite", |tx| invites::create(tx, invite))
    }

    fn get_invite(&self, id: &str) -> Result<InviteRecord> {
        self.read("get_invite", |conn| invites::get(conn, id))
    }

    fn list_invites(&self, room: &RoomId) -> Result<Vec<InviteRecord>> {
        self.read("list_invites", |conn| invites::list(conn, room))
    }

    fn revoke_invite(&self, room: &RoomId, id: &str) -> Result<InviteRecord> {
        self.write("revoke_invite", |tx| invites::revoke(tx, room, id))
    }

    fn redeem_invite(&self, id: &str, now: u64) -> Result<Result<InviteRecord, InviteRefusal>> {
        validate::millis("now_ms", now)?;
        self.write("redeem_invite", |tx| invites::redeem(tx, id, now))
    }

    fn record_lifecycle(&self, live: &[LiveChange], outbox: &[OutboxItem]) -> Result<()> {
        for change in live {
            validate::live_change(change)?;
        }
        for item in outbox {
            validate::outbox_item(item)?;
        }
        if live.is_empty() && outbox.is_empty() {
            return Ok(());
        }
        self.write("record_lifecycle", |tx| {
            for change in live {
                apply_live(tx, change)?;
            }
            enqueue(tx, outbox)
        })
    }

    fn live_sessions(&self) -> Result<Vec<LiveSession>> {
        self.read("live_sessions", |conn| {
            let mut sessions = conn
                .prepare_cached("SELECT room, started_at_ms FROM live_sessions ORDER BY room")?
                .query_map([], |row| {
                    Ok(LiveSession {
                        room: RoomId::from(row.get::<_, String>(0)?),
                        started_at_ms: millis_at(row, 1)?,
                        peers: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut peers = conn.prepare_cached(
                "SELECT peer_id, user_id FROM live_peers WHERE room = ?1 ORDER BY rowid",
            )?;
            for session in &mut sessions {
                let rows = peers
                    .query_map([session.room.as_str()], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for (peer, user) in rows {
                    let peer: PeerId = peer.parse().map_err(|_| {
                        StoreError::Backend(format!(
                            "live peer {peer:?} of room {} is not a peer id",
                            session.room
                        ))
                    })?;
                    session.peers.push(LivePeer {
                        peer,
                        user: UserId::from(user),
                    });
                }
            }
            Ok(sessions)
        })
    }

    fn end_live_sessions(&self, outbox: &[OutboxItem]) -> Result<()> {
        for item in outbox {
            validate::outbox_item(item)?;
        }
        self.write("end_live_sessions", |tx| {
            // The peers go with their sessions: `ON DELETE CASCADE`.
            tx.prepare_cached("DELETE FROM live_sessions")?
                .execute([])?;
            enqueue(tx, outbox)
        })
    }

    fn checkpoint(&self) -> Result<()> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        // (busy, pages in the WAL, pages written back): busy means a reader held it open.
        let (busy, log, done): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        if busy != 0 {
            warn!(
                log,
                done, "store: the checkpoint could not finish (a reader was busy)"
            );
        } else {
            debug!(pages = done, "store: checkpointed");
        }
        Ok(())
    }
}

/// Queues deliveries; `Conflict` on a pair queued already (the transaction is then rolled back).
fn enqueue(tx: &Transaction<'_>, items: &[OutboxItem]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO webhook_outbox (event_id, endpoint, body, created_at_ms, next_attempt_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (event_id, endpoint) DO NOTHING",
    )?;
    for item in items {
        let at = validate::millis("created_at_ms", item.created_at_ms)?;
        let inserted = stmt.execute(params![item.event_id, item.endpoint, item.body, at])?;
        if inserted == 0 {
            return Err(duplicate_delivery(item));
        }
    }
    Ok(())
}

fn apply_live(tx: &Transaction<'_>, change: &LiveChange) -> Result<()> {
    match change {
        LiveChange::SessionStarted { room, at_ms } => {
            tx.prepare_cached(
                "INSERT INTO live_sessions (room, started_at_ms) VALUES (?1, ?2)
                 ON CONFLICT (room) DO NOTHING",
            )?
            .execute(params![room.as_str(), validate::millis("at_ms", *at_ms)?])?;
        }
        LiveChange::PeerJoined { room, peer, user } => {
            tx.prepare_cached(
                "INSERT INTO live_sessions (room, started_at_ms) VALUES (?1, 0)
                 ON CONFLICT (room) DO NOTHING",
            )?
            .execute([room.as_str()])?;
            tx.prepare_cached(
                "INSERT INTO live_peers (room, peer_id, user_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (room, peer_id) DO NOTHING",
            )?
            .execute(params![room.as_str(), peer.to_string(), user.as_str()])?;
        }
        LiveChange::PeerLeft { room, peer } => {
            tx.prepare_cached("DELETE FROM live_peers WHERE room = ?1 AND peer_id = ?2")?
                .execute(params![room.as_str(), peer.to_string()])?;
        }
        LiveChange::SessionEnded { room } => {
            tx.prepare_cached("DELETE FROM live_sessions WHERE room = ?1")?
                .execute([room.as_str()])?;
        }
    }
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

pub(super) fn exists(conn: &Connection, sql: &str, key: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row([key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// A recording id as SQLite's signed 64-bit key (ids are issued below 2^53).
fn recording_key(id: RecordingId) -> Result<i64> {
    i64::try_from(id.get()).map_err(|_| StoreError::Invalid {
        field: "id".into(),
        reason: format!("recording id {id} is too large"),
    })
}

/// A non-negative integer column as `u64` (the store only writes non-negative values).
pub(super) fn millis_at(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(index)?;
    u64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(index, value))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("cannot encode: {e}")))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    json: &str,
    entity: Entity,
    id: impl fmt::Display,
) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Backend(format!("stored {entity} {id} does not decode: {e}")))
}

#[cfg(test)]
mod tests;
