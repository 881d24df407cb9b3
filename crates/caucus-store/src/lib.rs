//! Caucus durable storage: what the control plane keeps across a restart.
//!
//! What it is: the [`Store`] trait and two implementations of it —
//! - [`SqliteStore`], the embedded default: one SQLite file `<data dir>/caucus.db` in WAL mode,
//!   migrations compiled into the binary, one writer connection and a few readers, safe to call
//!   from many threads at once. A transaction the store reports as done survives a crash of the
//!   process and a power cut (`synchronous = FULL`, see [`Durability`]); one that was not done
//!   leaves no trace.
//! - [`MemoryStore`], the same contract in a `Mutex` of maps, for the unit tests of other crates.
//!
//! It keeps templates, rooms (with hashed passwords), breakout plans with pre-assignments, each
//! room's breakout-version mark (so versions only grow across sessions and crashes), the
//! webhook outbox, an audit log of management actions, recordings' metadata, invite links (with
//! their uses counted atomically), and which sessions
//! and peers are live (ids only, so the start after a crash can announce their end). [`password`] hashes and verifies room
//! and breakout passwords (PBKDF2-HMAC-SHA256); the store itself only ever sees hashes and refuses
//! a `password_hash` that is not one.
//!
//! What it is not: policy or live state. It does not validate template documents or decide who
//! may do what (that is `caucus-core`), it holds no session state, and it delivers no webhooks
//! (the shell reads [`Store::due_webhooks`] and reports back with [`Store::mark_delivered`] or
//! [`Store::mark_failed`]). It never reads the clock: every `*_ms` value (Unix milliseconds) comes
//! from the caller, so tests choose time.
//!
//! How to drive it: open one store at start-up and share it (`Arc<dyn Store>`). Every method is
//! synchronous and short; from async code call it through `tokio::task::spawn_blocking`.
//!
//! ```no_run
//! use caucus_proto::{RoomId, TemplateId};
//! use caucus_store::{password, RecordingPolicy, RoomRecord, SqliteStore, Store};
//!
//! # fn main() -> Result<(), caucus_store::StoreError> {
//! let store = SqliteStore::open("caucus-data")?;
//! store.create_room(&RoomRecord {
//!     id: RoomId::from("demo"),
//!     name: "Demo".into(),
//!     template: TemplateId::from("breakout"),
//!     password_hash: Some(password::hash("open sesame")),
//!     locked: false,
//!     recording: RecordingPolicy::default(),
//!     created_at_ms: 1_700_000_000_000,
//!     updated_at_ms: 1_700_000_000_000,
//! })?;
//! let room = store.get_room(&RoomId::from("demo"))?;
//! assert!(password::verify("open sesame", room.password_hash.as_deref().unwrap_or("")));
//! # Ok(())
//! # }
//! ```

mod audit;
mod error;
mod invite;
mod live;
mod memory;
mod outbox;
pub mod password;
mod plan;
mod recording;
mod room;
mod sqlite;
mod validate;

use caucus_proto::{RecordingId, RoomId, TemplateId, TemplateSpec};

pub use audit::{AuditEntry, AuditRecord};
pub use error::{Entity, StoreError};
pub use invite::{INVITE_ID_BYTES, InviteRecord, InviteRefusal, is_invite_id, new_invite_id};
pub use live::{LiveChange, LivePeer, LiveSession};
pub use memory::MemoryStore;
pub use outbox::{OutboxEntry, OutboxItem};
pub use plan::{BreakoutPlan, PlannedRoom};
pub use recording::{RecordingFile, RecordingRecord};
pub use room::{RecordingPolicy, RoomPatch, RoomRecord};
pub use sqlite::{DB_FILE, Durability, SqliteStore};

/// The highest breakout-version mark a store keeps (SQLite integers are signed 64-bit).
pub const MAX_VERSION_MARK: u64 = i64::MAX as u64;

/// The result type of every store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Whether a put created a new record or replaced an existing one (201 or 200 to a REST caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
}

/// Durable storage for the control plane. Every call is atomic: it is carried out whole or it
/// fails and nothing changed. Implementations are safe to share between threads.
pub trait Store: Send + Sync {
    // ---- templates ------------------------------------------------------------------------

    /// Creates or replaces a template. The document is stored as given; validating it is the
    /// core's job.
    fn put_template(&self, id: &TemplateId, spec: &TemplateSpec) -> Result<Written>;

    /// `NotFound` when no template has this id.
    fn get_template(&self, id: &TemplateId) -> Result<TemplateSpec>;

    /// Every stored template, by id.
    fn list_templates(&self) -> Result<Vec<(TemplateId, TemplateSpec)>>;

    /// `NotFound` when absent; `Conflict` while a room names this template.
    fn delete_template(&self, id: &TemplateId) -> Result<()>;

    // ---- rooms ----------------------------------------------------------------------------

    /// `Conflict` when a room with this id exists; `Invalid` for an empty id or a
    /// `password_hash` that is not a [`password::hash`]. The template is not checked: built-in
    /// templates are never stored.
    fn create_room(&self, room: &RoomRecord) -> Result<()>;

    /// `NotFound` when no room has this id.
    fn get_room(&self, id: &RoomId) -> Result<RoomRecord>;

    /// Every room, by id.
    fn list_rooms(&self) -> Result<Vec<RoomRecord>>;

    /// Applies the fields the patch sets, stamps `updated_at_ms = now_ms` and returns the room as
    /// it is now. `NotFound` when absent.
    fn update_room(&self, id: &RoomId, patch: &RoomPatch, now_ms: u64) -> Result<RoomRecord>;

    /// Deletes the room, its breakout plan and its invites. `NotFound` when absent.
    fn delete_room(&self, id: &RoomId) -> Result<()>;

    // ---- breakout plans -------------------------------------------------------------------

    /// The room's saved breakout plan; `None` when none was saved. `NotFound` when the room is.
    fn get_plan(&self, room: &RoomId) -> Result<Option<BreakoutPlan>>;

    /// Saves (replaces) the room's breakout plan. `NotFound` when the room is absent; `Invalid`
    /// when planned room ids are empty or repeated or a `password_hash` is not a hash.
    fn put_plan(&self, room: &RoomId, plan: &BreakoutPlan) -> Result<()>;

    // ---- breakout versions ----------------------------------------------------------------

    /// Reserves `count` breakout versions for a new session of `room`: raises the room's mark
    /// by `count` and returns where it stood, so the session may show versions above the
    /// returned value up to it + `count`. The mark only grows; it is kept when the room is
    /// deleted (the room need not exist), and in SQLite it is durable when the call returns.
    /// `Invalid` (field `count`) when `count` is 0 or the mark would pass [`MAX_VERSION_MARK`].
    fn reserve_versions(&self, room: &RoomId, count: u64) -> Result<u64>;

    // ---- webhook outbox -------------------------------------------------------------------

    /// Queues deliveries, all or none: `Conflict` when an `(event_id, endpoint)` pair is queued
    /// already (or twice in `items`). Each is due at its `created_at_ms`. Batch the deliveries
    /// of one command: a batch costs one commit.
    fn enqueue_webhooks(&self, items: &[OutboxItem]) -> Result<()>;

    /// Queues one delivery; see [`Store::enqueue_webhooks`].
    fn enqueue_webhook(&self, item: &OutboxItem) -> Result<()> {
        self.enqueue_webhooks(std::slice::from_ref(item))
    }

    /// Up to `limit` queued deliveries with `next_attempt_ms <= now_ms`, soonest due first and
    /// in queueing order among equals.
    fn due_webhooks(&self, now_ms: u64, limit: usize) -> Result<Vec<OutboxEntry>>;

    /// Removes a delivered entry. `NotFound` when it is not queued (e.g. marked twice).
    fn mark_delivered(&self, event_id: &str, endpoint: &str) -> Result<()>;

    /// Records a failed attempt: `attempts` grows by one, the entry is due again at
    /// `next_attempt_ms` (the caller's backoff) and `last_error` keeps the first 1 KiB of
    /// `error`. `NotFound` when it is not queued.
    fn mark_failed(
        &self,
        event_id: &str,
        endpoint: &str,
        next_attempt_ms: u64,
        error: &str,
    ) -> Result<()>;

    /// How many deliveries are queued, due or not.
    fn webhook_backlog(&self) -> Result<u64>;

    // ---- audit log ------------------------------------------------------------------------

    /// Appends one entry and returns its sequence number (grows by insertion, never reused).
    fn append_audit(&self, entry: &AuditEntry) -> Result<u64>;

    /// Up to `limit` entries, newest (highest `seq`) first; only the room's when `room` is set.
    fn list_audit(&self, room: Option<&RoomId>, limit: usize) -> Result<Vec<AuditRecord>>;

    // ---- recordings -----------------------------------------------------------------------

    /// Creates or replaces a recording's metadata (one writer, the recorder, keeps it current).
    /// `Invalid` for an empty room id.
    fn put_recording(&self, recording: &RecordingRecord) -> Result<()>;

    /// `NotFound` when no recording has this id.
    fn get_recording(&self, id: RecordingId) -> Result<RecordingRecord>;

    /// The room's recordings, oldest id first (the room need not exist any more).
    fn list_recordings(&self, room: &RoomId) -> Result<Vec<RecordingRecord>>;

    /// Every recording that has not ended (`ended_at_ms` unset), oldest id first: after a
    /// crash, the ones the next start must close out.
    fn unfinished_recordings(&self) -> Result<Vec<RecordingRecord>>;

    // ---- invites ---------------------------------------------------------------------------

    /// Stores a new invite (with the `uses` and `revoked` it has). `NotFound` when its room is
    /// absent; `Conflict` when the id is taken; `Invalid` for an id that is not
    /// [`is_invite_id`], a `max_uses` of 0 or more `uses` than `max_uses`.
    fn create_invite(&self, invite: &InviteRecord) -> Result<()>;

    /// `NotFound` when no invite has this id.
    fn get_invite(&self, id: &str) -> Result<InviteRecord>;

    /// The room's invites, revoked ones too, oldest first. `NotFound` when the room is absent.
    fn list_invites(&self, room: &RoomId) -> Result<Vec<InviteRecord>>;

    /// Revokes the room's invite (again is fine) and returns it as it is now. `NotFound` when
    /// the room has no invite with this id.
    fn revoke_invite(&self, room: &RoomId, id: &str) -> Result<InviteRecord>;

    /// Counts one use of the invite if it is usable at `now_ms` ([`InviteRecord::usable`]) and
    /// returns it as it is after that use; otherwise counts nothing and says why. Atomic: two
    /// redeems of an invite with one use left never both succeed.
    fn redeem_invite(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<std::result::Result<InviteRecord, InviteRefusal>>;

    // ---- live sessions --------------------------------------------------------------------

    /// Applies `live` in order and queues `outbox`, in one commit (see [`LiveChange`]): the record of
    /// who is live never disagrees with the deliveries that announce it. A join of a room
    /// with no live session starts one; a join of a live peer, a leave of an unknown one and
    /// the end of a session that is not live change nothing. `Conflict` as
    /// [`Store::enqueue_webhooks`], and then nothing changed.
    fn record_lifecycle(&self, live: &[LiveChange], outbox: &[OutboxItem]) -> Result<()>;

    /// The sessions that are live, by room, each with its peers.
    fn live_sessions(&self) -> Result<Vec<LiveSession>>;

    /// Forgets every live session and queues `outbox` (the events their end would have sent),
    /// in one commit. `Conflict` as [`Store::enqueue_webhooks`], and then nothing changed.
    fn end_live_sessions(&self, outbox: &[OutboxItem]) -> Result<()>;

    // ---- upkeep ---------------------------------------------------------------------------

    /// Makes the store's files whole at a clean stop (SQLite: the WAL is written back into the
    /// database and truncated). Nothing to do for a store without files.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }
}
