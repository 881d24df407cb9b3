//! Schema migrations, compiled into the binary and tracked by `PRAGMA user_version`.
//!
//! Migration `i` (counting from 1) is `MIGRATIONS[i - 1]`; `user_version` is the number applied.
//! All pending migrations run in one `IMMEDIATE` transaction together with the version bump, so
//! a crash leaves the old schema or the new one, and two processes opening the same file at once
//! cannot both apply a step. Never edit a released migration; add the next file.

use rusqlite::{Connection, TransactionBehavior};
use tracing::info;

use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_recordings.sql"),
    include_str!("../../migrations/0003_version_marks.sql"),
    include_str!("../../migrations/0004_live_sessions.sql"),
    include_str!("../../migrations/0005_invites.sql"),
];

/// Marks the file as Caucus's (`PRAGMA application_id`, "CAUC"), so the store refuses to
/// migrate some other program's database that happens to sit at the path.
const APPLICATION_ID: i32 = 0x4341_5543;

/// The schema version this build writes.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// Brings the schema up to date; returns the version found before.
pub(crate) fn run(conn: &mut Connection) -> Result<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let application_id: i32 = tx.pragma_query_value(None, "application_id", |row| row.get(0))?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(StoreError::Backend(format!(
            "the database belongs to another application (application_id {application_id:#x})"
        )));
    }
    if application_id == 0 && found != 0 {
        return Err(StoreError::Backend(format!(
            "the database is not Caucus's (user_version {found} without Caucus's application_id)"
        )));
    }
    let latest = latest();
    if found > latest {
        return Err(StoreError::Backend(format!(
            "the database has schema version {found}, newer than this build's {latest}; \
             run a newer caucus"
        )));
    }
    if found == latest {
        return Ok(found);
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        info!(version = index + 1, "store: applied migration");
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", latest)?;
    tx.commit()?;
    Ok(found)
}
