//! `MemoryStore`: the `Store` contract in a mutex of maps, for tests of other crates. Nothing
//! survives a drop. It passes the same conformance suite as the SQLite store.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use caucus_proto::{RecordingId, RoomId, TemplateId, TemplateSpec};

use crate::error::{Entity, StoreError};
use crate::outbox::{delivery_not_found, duplicate_delivery};
use crate::{
    AuditEntry, AuditRecord, BreakoutPlan, InviteRecord, InviteRefusal, LiveChange, LivePeer,
    LiveSession, OutboxEntry, OutboxItem, RecordingRecord, Result, RoomPatch, RoomRecord, Store,
    Written, validate,
};

/// An in-memory [`Store`]. Cheap to create; share it with `Arc`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

#[derive(Debug, Default)]
struct Data {
    templates: BTreeMap<TemplateId, TemplateSpec>,
    rooms: BTreeMap<RoomId, RoomRecord>,
    plans: BTreeMap<RoomId, BreakoutPlan>,
    /// Breakout-version marks; kept when a room is deleted.
    version_marks: BTreeMap<RoomId, u64>,
    /// By queueing sequence number.
    outbox: BTreeMap<u64, OutboxEntry>,
    outbox_seq: u64,
    audit: Vec<AuditRecord>,
    recordings: BTreeMap<RecordingId, RecordingRecord>,
    live: BTreeMap<RoomId, LiveSession>,
    invites: BTreeMap<String, InviteRecord>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A panic elsewhere while holding the lock cannot leave `Data` half-changed: every method
    /// validates first and mutates last, so the data behind a poisoned lock is still whole.
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Data {
    /// Validates `items` against the outbox; queues nothing.
    fn check_enqueue(&self, items: &[OutboxItem]) -> Result<()> {
        for item in items {
            validate::outbox_item(item)?;
        }
        for (i, item) in items.iter().enumerate() {
            let repeated = items[..i]
                .iter()
                .any(|o| o.event_id == item.event_id && o.endpoint == item.endpoint);
            if repeated || self.outbox_seq_of(&item.event_id, &item.endpoint).is_some() {
                return Err(duplicate_delivery(item));
            }
        }
        Ok(())
    }

    /// Queues `items`, checked by [`Data::check_enqueue`].
    fn enqueue(&mut self, items: &[OutboxItem]) {
        for item in items {
            self.outbox_seq += 1;
            let seq = self.outbox_seq;
            self.outbox.insert(seq, OutboxEntry::queued(item));
        }
    }

    fn apply_live(&mut self, change: &LiveChange) {
        match change {
            LiveChange::SessionStarted { room, at_ms } => {
                self.live
                    .entry(room.clone())
                    .or_insert_with(|| LiveSession {
                        room: room.clone(),
                        started_at_ms: *at_ms,
                        peers: Vec::new(),
                    });
            }
            LiveChange::PeerJoined { room, peer, user } => {
                let session = self
                    .live
                    .entry(room.clone())
                    .or_insert_with(|| LiveSession {
                        room: room.clone(),
                        started_at_ms: 0,
                        peers: Vec::new(),
                    });
                if session.peers.iter().all(|p| p.peer != *peer) {
                    session.peers.push(LivePeer {
                        peer: *peer,
                        user: user.clone(),
                    });
                }
            }
            LiveChange::PeerLeft { room, peer } => {
                if let Some(session) = self.live.get_mut(room) {
                    session.peers.retain(|p| p.peer != *peer);
                }
            }
            LiveChange::SessionEnded { room } => {
                self.live.remove(room);
            }
        }
    }

    fn outbox_seq_of(&self, event_id: &str, endpoint: &str) -> Option<u64> {
        self.outbox
            .iter()
            .find(|(_, e)| e.event_id == event_id && e.endpoint == endpoint)
            .map(|(seq, _)| *seq)
    }
}

impl Store for MemoryStore {
    fn put_template(&self, id: &TemplateId, spec: &TemplateSpec) -> Result<Written> {
        validate::not_empty("id", id.as_str())?;
        let previous = self.data().templates.insert(id.clone(), spec.clone());
        Ok(if previous.is_some() {
            Written::Replaced
        } else {
            Written::Created
        })
    }

    fn get_template(&self, id: &TemplateId) -> Result<TemplateSpec> {
        self.data()
            .templates
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::not_found(Entity::Template, id))
    }

    fn list_templates(&self) -> Result<Vec<(TemplateId, TemplateSpec)>> {
        Ok(self
            .data()
            .templates
            .iter()
            .map(|(id, spec)| (id.clone(), spec.clone()))
            .collect())
    }

    fn delete_template(&self, id: &TemplateId) -> Result<()> {
        let mut data = self.data();
        if !data.templates.contains_key(id) {
            return Err(StoreError::not_found(Entity::Template, id));
        }
        if let Some(room) = data.rooms.values().find(|r| &r.template == id) {
            return Err(StoreError::conflict(
                Entity::Template,
                id,
                format!("room {} uses it", room.id),
            ));
        }
        data.templates.remove(id);
        Ok(())
    }

    fn create_room(&self, room: &RoomRecord) -> Result<()> {
        validate::room(room)?;
        let mut data = self.data();
        if data.rooms.contains_key(&room.id) {
            return Err(StoreError::conflict(
                Entity::Room,
                &room.id,
                "already exists",
            ));
        }
        data.rooms.insert(room.id.clone(), room.clone());
        Ok(())
    }

    fn get_room(&self, id: &RoomId) -> Result<RoomRecord> {
        self.data()
            .rooms
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::not_found(Entity::Room, id))
    }

    fn list_rooms(&self) -> Result<Vec<RoomRecord>> {
        Ok(self.data().rooms.values().cloned().collect())
    }

    fn update_room(&self, id: &RoomId, patch: &RoomPatch, now_ms: u64) -> Result<RoomRecord> {
        validate::patch(patch, now_ms)?;
        let mut data = self.data();
        let room = data
            .rooms
            .get_mut(id)
            .ok_or_else(|| StoreError::not_found(Entity::Room, id))?;
        *room = patch.apply(room, now_ms);
        Ok(room.clone())
    }

    fn delete_room(&self, id: &RoomId) -> Result<()> {
        let mut data = self.data();
        if data.rooms.remove(id).is_none() {
            return Err(StoreError::not_found(Entity::Room, id));
        }
        data.plans.remove(id);
        data.invites.retain(|_, invite| invite.room != *id);
        Ok(())
    }

    fn get_plan(&self, room: &RoomId) -> Result<Option<BreakoutPlan>> {
        let data = self.data();
        if !data.rooms.contains_key(room) {
            return Err(StoreError::not_found(Entity::Room, room));
        }
        Ok(data.plans.get(room).cloned())
    }

    fn put_plan(&self, room: &RoomId, plan: &BreakoutPlan) -> Result<()> {
        validate::plan(plan)?;
        let mut data = self.data();
        if !data.rooms.contains_key(room) {
            return Err(StoreError::not_found(Entity::Room, room));
        }
        data.plans.insert(room.clone(), plan.clone());
        Ok(())
    }

    fn reserve_versions(&self, room: &RoomId, count: u64) -> Result<u64> {
        let mut data = self.data();
        let mark = data.version_marks.get(room).copied().unwrap_or(0);
        let raised = validate::version_mark(mark, count)?;
        data.version_marks.insert(room.clone(), raised);
        Ok(mark)
    }

    fn enqueue_webhooks(&self, items: &[OutboxItem]) -> Result<()> {
        let mut data = self.data();
        data.check_enqueue(items)?;
        data.enqueue(items);
        Ok(())
    }

    fn due_webhooks(&self, now_ms: u64, limit: usize) -> Result<Vec<OutboxEntry>> {
        let data = self.data();
        let mut due: Vec<(u64, &OutboxEntry)> = data
            .outbox
            .iter()
            .filter(|(_, e)| e.next_attempt_ms <= now_ms)
            .map(|(seq, e)| (*seq, e))
            .collect();
        due.sort_by_key(|(seq, e)| (e.next_attempt_ms, *seq));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    fn mark_delivered(&self, event_id: &str, endpoint: &str) -> Result<()> {
        let mut data = self.data();
        let seq = data
            .outbox_seq_of(event_id, endpoint)
            .ok_or_else(|| delivery_not_found(event_id, endpoint))?;
        data.outbox.remove(&seq);
        Ok(())
    }

    fn mark_failed(
        &self,
        event_id: &str,
        endpoint: &str,
        next_attempt_ms: u64,
        error: &str,
    ) -> Result<()> {
        validate::millis("next_attempt_ms", next_attempt_ms)?;
        let mut data = self.data();
        let seq = data
            .outbox_seq_of(event_id, endpoint)
            .ok_or_else(|| delivery_not_found(event_id, endpoint))?;
        if let Some(entry) = data.outbox.get_mut(&seq) {
            entry.attempts = entry.attempts.saturating_add(1);
            entry.next_attempt_ms = next_attempt_ms;
            entry.last_error = Some(validate::error_text(error));
        }
        Ok(())
    }

    fn webhook_backlog(&self) -> Result<u64> {
        Ok(self.data().outbox.len() as u64)
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<u64> {
        validate::audit(entry)?;
        let mut data = self.data();
        let seq = data.audit.last().map_or(1, |r| r.seq + 1);
        data.audit.push(AuditRecord {
            seq,
            entry: entry.clone(),
        });
        Ok(seq)
    }

    fn list_audit(&self, room: Option<&RoomId>, limit: usize) -> Result<Vec<AuditRecord>> {
        Ok(self
            .data()
            .audit
            .iter()
            .rev()
            .filter(|r| room.is_none_or(|room| r.entry.room.as_ref() == Some(room)))
            .take(limit)
            .cloned()
            .collect())
    }

    fn put_recording(&self, recording: &RecordingRecord) -> Result<()> {
        validate::recording(recording)?;
        self.data()
            .recordings
            .insert(recording.id, recording.clone());
        Ok(())
    }

    fn get_recording(&self, id: RecordingId) -> Result<RecordingRecord> {
        self.data()
            .recordings
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::not_found(Entity::Recording, id))
    }

    fn list_recordings(&self, room: &RoomId) -> Result<Vec<RecordingRecord>> {
        Ok(self
            .data()
            .recordings
            .values()
            .filter(|r| &r.room == room)
            .cloned()
            .collect())
    }

    fn unfinished_recordings(&self) -> Result<Vec<RecordingRecord>> {
        Ok(self
            .data()
            .recordings
            .values()
            .filter(|r| r.ended_at_ms.is_none())
            .cloned()
            .collect())
    }

    fn create_invite(&self, invite: &InviteRecord) -> Result<()> {
        validate::invite(invite)?;
        let mut data = self.data();
        if !data.rooms.contains_key(&invite.room) {
            return Err(StoreError::not_found(Entity::Room, &invite.room));
        }
        if data.invites.contains_key(&invite.id) {
            return Err(StoreError::conflict(
                Entity::Invite,
                &invite.id,
                "already exists",
            ));
        }
        data.invites.insert(invite.id.clone(), invite.clone());
        Ok(())
    }

    fn get_invite(&self, id: &str) -> Result<InviteRecord> {
        self.data()
            .invites
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::not_found(Entity::Invite, id))
    }

    fn list_invites(&self, room: &RoomId) -> Result<Vec<InviteRecord>> {
        let data = self.data();
        if !data.rooms.contains_key(room) {
            return Err(StoreError::not_found(Entity::Room, room));
        }
        let mut invites: Vec<InviteRecord> = data
            .invites
            .values()
            .filter(|invite| invite.room == *room)
            .cloned()
            .collect();
        invites.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(invites)
    }

    fn revoke_invite(&self, room: &RoomId, id: &str) -> Result<InviteRecord> {
        let mut data = self.data();
        match data.invites.get_mut(id) {
            Some(invite) if invite.room == *room => {
                invite.revoked = true;
                Ok(invite.clone())
            }
            _ => Err(StoreError::not_found(Entity::Invite, id)),
        }
    }

    fn redeem_invite(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<std::result::Result<InviteRecord, InviteRefusal>> {
        validate::millis("now_ms", now_ms)?;
        let mut data = self.data();
        let Some(invite) = data.invites.get_mut(id) else {
            return Ok(Err(InviteRefusal::Unknown));
        };
        if let Err(why) = invite.usable(now_ms) {
            return Ok(Err(why));
        }
        invite.uses += 1;
        Ok(Ok(invite.clone()))
    }

    fn record_lifecycle(&self, live: &[LiveChange], outbox: &[OutboxItem]) -> Result<()> {
        for change in live {
            validate::live_change(change)?;
        }
        let mut data = self.data();
        data.check_enqueue(outbox)?;
        for change in live {
            data.apply_live(change);
        }
        data.enqueue(outbox);
        Ok(())
    }

    fn live_sessions(&self) -> Result<Vec<LiveSession>> {
        Ok(self.data().live.values().cloned().collect())
    }

    fn end_live_sessions(&self, outbox: &[OutboxItem]) -> Result<()> {
        let mut data = self.data();
        data.check_enqueue(outbox)?;
        data.live.clear();
        data.enqueue(outbox);
        Ok(())
    }
}
