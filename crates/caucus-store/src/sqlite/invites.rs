//! Invite rows: the `invites` table, and the one-statement redeem that counts a use only while
//! the invite is usable.

use caucus_proto::{RoleName, RoomId};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{exists, millis_at};
use crate::error::{Entity, StoreError};
use crate::{InviteRecord, InviteRefusal, Result, validate};

const SELECT_INVITE: &str = "SELECT id, room, role, created_at_ms, expires_at_ms, max_uses, \
                             uses, revoked FROM invites";

pub(super) fn create(tx: &Transaction<'_>, invite: &InviteRecord) -> Result<()> {
    if !exists(
        tx,
        "SELECT 1 FROM rooms WHERE id = ?1",
        invite.room.as_str(),
    )? {
        return Err(StoreError::not_found(Entity::Room, &invite.room));
    }
    if exists(tx, "SELECT 1 FROM invites WHERE id = ?1", &invite.id)? {
        return Err(StoreError::conflict(
            Entity::Invite,
            &invite.id,
            "already exists",
        ));
    }
    let optional = |field: &str, value: Option<u64>| -> Result<Option<i64>> {
        value.map(|v| validate::millis(field, v)).transpose()
    };
    tx.prepare_cached(
        "INSERT INTO invites (id, room, role, created_at_ms, expires_at_ms, max_uses, uses,
                              revoked)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        invite.id,
        invite.room.as_str(),
        invite.role.as_str(),
        validate::millis("created_at_ms", invite.created_at_ms)?,
        optional("expires_at_ms", invite.expires_at_ms)?,
        optional("max_uses", invite.max_uses)?,
        validate::millis("uses", invite.uses)?,
        invite.revoked,
    ])?;
    Ok(())
}

pub(super) fn get(conn: &Connection, id: &str) -> Result<InviteRecord> {
    select(conn, id)?.ok_or_else(|| StoreError::not_found(Entity::Invite, id))
}

pub(super) fn list(conn: &Connection, room: &RoomId) -> Result<Vec<InviteRecord>> {
    if !exists(conn, "SELECT 1 FROM rooms WHERE id = ?1", room.as_str())? {
        return Err(StoreError::not_found(Entity::Room, room));
    }
    let invites = conn
        .prepare_cached(&format!(
            "{SELECT_INVITE} WHERE room = ?1 ORDER BY created_at_ms, id"
        ))?
        .query_map([room.as_str()], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(invites)
}

pub(super) fn revoke(tx: &Transaction<'_>, room: &RoomId, id: &str) -> Result<InviteRecord> {
    let changed = tx
        .prepare_cached("UPDATE invites SET revoked = 1 WHERE id = ?1 AND room = ?2")?
        .execute([id, room.as_str()])?;
    if changed == 0 {
        return Err(StoreError::not_found(Entity::Invite, id));
    }
    get(tx, id)
}

pub(super) fn redeem(
    tx: &Transaction<'_>,
    id: &str,
    now_ms: u64,
) -> Result<Result<InviteRecord, InviteRefusal>> {
    // Read and count in one write transaction: the writer lock and `BEGIN IMMEDIATE` keep a
    // second redeem from reading the same `uses` before this one has counted.
    let Some(mut invite) = select(tx, id)? else {
        return Ok(Err(InviteRefusal::Unknown));
    };
    if let Err(why) = invite.usable(now_ms) {
        return Ok(Err(why));
    }
    tx.prepare_cached("UPDATE invites SET uses = uses + 1 WHERE id = ?1")?
        .execute([id])?;
    invite.uses += 1;
    Ok(Ok(invite))
}

fn select(conn: &Connection, id: &str) -> Result<Option<InviteRecord>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT_INVITE} WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<InviteRecord> {
    let optional = |index: usize| -> rusqlite::Result<Option<u64>> {
        match row.get::<_, Option<i64>>(index)? {
            None => Ok(None),
            Some(_) => millis_at(row, index).map(Some),
        }
    };
    Ok(InviteRecord {
        id: row.get(0)?,
        room: RoomId::from(row.get::<_, String>(1)?),
        role: RoleName::from(row.get::<_, String>(2)?),
        created_at_ms: millis_at(row, 3)?,
        expires_at_ms: optional(4)?,
        max_uses: optional(5)?,
        uses: millis_at(row, 6)?,
        revoked: row.get(7)?,
    })
}
