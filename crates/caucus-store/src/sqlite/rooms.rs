//! Room rows: how a [`RoomRecord`] is read from and written to the `rooms` table.

use caucus_proto::{RoomId, TemplateId};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{from_json, millis_at};
use crate::error::Entity;
use crate::{RecordingPolicy, Result, RoomRecord, validate};

pub(super) const SELECT_ROOM: &str = "SELECT id, name, template, password_hash, locked, recording, \
                           created_at_ms, updated_at_ms FROM rooms";

pub(super) fn select_room(conn: &Connection, id: &RoomId) -> Result<Option<RoomRecord>> {
    conn.prepare_cached(&format!("{SELECT_ROOM} WHERE id = ?1"))?
        .query_row([id.as_str()], RoomRow::from_row)
        .optional()?
        .map(RoomRow::into_record)
        .transpose()
}

pub(super) fn insert_room(tx: &Transaction<'_>, room: &RoomRecord, recording: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO rooms (id, name, template, password_hash, locked, recording,
                            created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        room.id.as_str(),
        room.name,
        room.template.as_str(),
        room.password_hash,
        room.locked,
        recording,
        validate::millis("created_at_ms", room.created_at_ms)?,
        validate::millis("updated_at_ms", room.updated_at_ms)?,
    ])?;
    Ok(())
}

/// A room row before its JSON column is decoded (decoding errors are ours, not rusqlite's).
pub(super) struct RoomRow {
    record: RoomRecord,
    recording: String,
}

impl RoomRow {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RoomRow> {
        Ok(RoomRow {
            record: RoomRecord {
                id: RoomId::from(row.get::<_, String>(0)?),
                name: row.get(1)?,
                template: TemplateId::from(row.get::<_, String>(2)?),
                password_hash: row.get(3)?,
                locked: row.get(4)?,
                recording: RecordingPolicy::default(),
                created_at_ms: millis_at(row, 6)?,
                updated_at_ms: millis_at(row, 7)?,
            },
            recording: row.get(5)?,
        })
    }

    pub(super) fn into_record(self) -> Result<RoomRecord> {
        let mut record = self.record;
        record.recording = from_json(&self.recording, Entity::Room, &record.id)?;
        Ok(record)
    }
}
