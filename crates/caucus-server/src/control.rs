//! The control plane's shared half: the durable store, the templates it names, and reaching a
//! room's live session — shared by the REST API and the signaling join.
//!
//! What it is: [`ControlPlane`] wraps the [`Store`] (every call on a blocking thread, so no
//! async task ever waits on the disk), resolves template ids (the built-in `breakout` is never
//! stored), and starts a room task on demand from the durable room: its template, its locked
//! flag and its saved breakout plan. A room's password is checked here, against its hash,
//! before a join reaches the session.
//!
//! What it is not: the owner of any live state. Sessions are the room tasks'; this only finds
//! or starts them through the [`Registry`].

use std::sync::Arc;

use caucus_core::{Template, builtin};
use caucus_proto::{ErrorCode, RoomId, TemplateId, TemplateSpec};
use caucus_store::{AuditEntry, RecordingPolicy, RoomRecord, Store, StoreError};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::clock::unix_ms;
use crate::refusal::ApiError;
use crate::registry::Registry;
use crate::room::{ApiAnswer, ApiReply, ApiRequest, RoomHandle, RoomInput, RoomSetup};

/// Who acted, as the audit log names a management token.
pub const MANAGEMENT_ACTOR: &str = "management";

/// How many times reaching a room is retried when it ended at that very moment.
const ROOM_ATTEMPTS: usize = 3;

/// The breakout versions one session may show. Each session of a room takes a block above
/// every earlier one, reserved in the store (durable before the session shows any version), so
/// versions only grow for the life of the room, across restarts and crashes. A session that
/// used up its block ends (`SessionConfig::version_ceiling`); 2^32 is far more changes than a
/// session makes. Clients read versions as JavaScript numbers: 2^53 / 2^32 = 2 million sessions
/// of one room stay exact.
const VERSION_BLOCK: u64 = 1 << 32;

/// Server-wide limits and policies of the control plane.
#[derive(Debug, Clone)]
pub struct Policy {
    /// A join to a room the store does not know creates it (with the built-in template).
    pub auto_create_rooms: bool,
    /// This room is created on first join even when `auto_create_rooms` is off.
    pub demo_room: Option<RoomId>,
    /// At most this many durable rooms; 0 = unlimited.
    pub max_rooms: u32,
}

/// The store, the registry and the policy. Shared as `Arc<ControlPlane>`.
pub struct ControlPlane {
    store: Arc<dyn Store>,
    registry: Registry,
    policy: Policy,
    /// Held while a session's versions are reserved and the session is started, so sessions
    /// start in the order of their reservations (see [`ControlPlane::session`]).
    session_starts: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    pub fn new(store: Arc<dyn Store>, registry: Registry, policy: Policy) -> Self {
        Self {
            store,
            registry,
            policy,
            session_starts: tokio::sync::Mutex::new(()),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Run a store call on a blocking thread.
    pub async fn store<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .unwrap_or_else(|e| Err(StoreError::Backend(format!("store call panicked: {e}"))))
    }

    /// Append an audit entry; a failure is logged, never shown to the caller (the action
    /// itself succeeded).
    pub async fn audit(
        &self,
        action: &str,
        room: Option<&RoomId>,
        target: Option<String>,
        details: serde_json::Value,
    ) {
        let entry = AuditEntry {
            at_ms: unix_ms(),
            actor: MANAGEMENT_ACTOR.to_owned(),
            action: action.to_owned(),
            room: room.cloned(),
            target,
            details,
        };
        if let Err(e) = self.store(move |s| s.append_audit(&entry)).await {
            warn!(error = %e, action, "cannot append to the audit log");
        }
    }

    // ---- templates ---------------------------------------------------------------------------

    /// The document of a template: a built-in one or a stored one (a built-in id wins).
    pub async fn template_spec(&self, id: &TemplateId) -> Result<TemplateSpec, ApiError> {
        if let Some(spec) = builtin::spec(id.as_str()) {
            return Ok(spec);
        }
        let id = id.clone();
        self.store(move |s| s.get_template(&id))
            .await
            .map_err(ApiError::from)
    }

    /// A template compiled for a session.
    pub async fn compiled_template(&self, id: &TemplateId) -> Result<Arc<Template>, ApiError> {
        if let Some(template) = builtin::template(id.as_str()) {
            return Ok(template);
        }
        let spec = self.template_spec(id).await?;
        Template::compile(spec)
            .map(Arc::new)
            .map_err(ApiError::from)
    }

    // ---- rooms -------------------------------------------------------------------------------

    /// The durable room, `unknown_room` (404) when absent — also for an id outside the rule
    /// of room ids, which no room can have.
    pub async fn room_record(&self, id: &RoomId) -> Result<RoomRecord, ApiError> {
        if RoomId::check(id.as_str()).is_err() {
            return Err(ApiError::new(ErrorCode::UnknownRoom, "no such room"));
        }
        let id = id.clone();
        self.store(move |s| s.get_room(&id))
            .await
            .map_err(ApiError::from)
    }

    /// The durable room a join names: created on the fly for the demo room (and for any room
    /// when `auto_create_rooms` is on), `unknown_room` otherwise.
    pub async fn room_for_join(&self, id: &RoomId) -> Result<RoomRecord, ApiError> {
        match self.room_record(id).await {
            Err(e) if e.code == ErrorCode::UnknownRoom && self.may_auto_create(id) => {
                self.create_default_room(id).await
            }
            other => other,
        }
    }

    fn may_auto_create(&self, id: &RoomId) -> bool {
        self.policy.auto_create_rooms || self.policy.demo_room.as_ref() == Some(id)
    }

    /// Create `id` with the built-in template (or find it, if someone else just did).
    pub async fn create_default_room(&self, id: &RoomId) -> Result<RoomRecord, ApiError> {
        self.check_room_limit().await?;
        let now = unix_ms();
        let record = RoomRecord {
            id: id.clone(),
            name: id.to_string(),
            template: TemplateId::from(builtin::BREAKOUT_TEMPLATE),
            password_hash: None,
            locked: false,
            recording: RecordingPolicy::default(),
            created_at_ms: now,
            updated_at_ms: now,
        };
        let to_store = record.clone();
        match self.store(move |s| s.create_room(&to_store)).await {
            Ok(()) => {
                debug!(room = %id, "room created on first join");
                Ok(record)
            }
            Err(StoreError::Conflict { .. }) => self.room_record(id).await,
            Err(e) => Err(e.into()),
        }
    }

    /// `capacity_exceeded` (409) when one more room would pass `max_rooms`.
    pub async fn check_room_limit(&self) -> Result<(), ApiError> {
        let max = self.policy.max_rooms;
        if max == 0 {
            return Ok(());
        }
        let count = self.store(|s| s.list_rooms().map(|r| r.len())).await?;
        if count >= max as usize {
            return Err(ApiError::new(
                ErrorCode::CapacityExceeded,
                format!("this server holds at most {max} rooms"),
            ));
        }
        Ok(())
    }

    // ---- live sessions -----------------------------------------------------------------------

    /// The room's live session, if it has one.
    pub async fn live(&self, id: &RoomId) -> Result<Option<RoomHandle>, ApiError> {
        self.registry
            .live(id)
            .await
            .ok_or_else(ApiError::shutting_down)
    }

    /// The room's live session, started from the durable room if it has none.
    pub async fn session(&self, record: &RoomRecord) -> Result<RoomHandle, ApiError> {
        if let Some(handle) = self.live(&record.id).await? {
            return Ok(handle);
        }
        let template = self.compiled_template(&record.template).await?;
        let id = record.id.clone();
        let plan = match self.store(move |s| s.get_plan(&id)).await {
            Ok(plan) => plan,
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        // One start at a time: a block reserved here must not be used after a later one was
        // (a session started from it would show versions below the one before it). Starts are
        // rare and the hold is one store write.
        let _starting = self.session_starts.lock().await;
        if let Some(handle) = self.live(&record.id).await? {
            return Ok(handle);
        }
        let id = record.id.clone();
        let floor = self
            .store(move |s| s.reserve_versions(&id, VERSION_BLOCK))
            .await?;
        let setup = RoomSetup {
            template,
            locked: record.locked,
            password_hash: record.password_hash.clone(),
            plan,
            auto_record: record.recording.auto,
            versions: floor..floor.saturating_add(VERSION_BLOCK),
            keep_plan: self.policy.demo_room.as_ref() != Some(&record.id),
        };
        self.registry
            .open(&record.id, setup)
            .await
            .ok_or_else(ApiError::shutting_down)
    }

    /// Ask the room's session (started on demand when `start`), retrying when the room ended
    /// at that very moment. `None` when the room has no session and `start` is false.
    pub async fn ask(
        &self,
        record: &RoomRecord,
        start: bool,
        request: ApiRequest,
    ) -> Result<Option<ApiAnswer>, ApiError> {
        for _ in 0..ROOM_ATTEMPTS {
            let handle = if start {
                self.session(record).await?
            } else {
                match self.live(&record.id).await? {
                    Some(handle) => handle,
                    None => return Ok(None),
                }
            };
            let (reply, answer) = oneshot::channel();
            let input = RoomInput::Api {
                request: request.clone(),
                reply,
            };
            if handle.send(input).is_err() {
                continue;
            }
            match answer.await {
                Ok(ApiReply { result, persisted }) => {
                    if let Some(persisted) = persisted {
                        // The plan write is done (or failed and was logged) before we answer.
                        let _ = persisted.await;
                    }
                    return result.map(Some).map_err(ApiError::from);
                }
                // The room ended while the request was queued.
                Err(_) => continue,
            }
        }
        Err(ApiError::new(
            ErrorCode::SessionEnded,
            "the room's session is restarting; retry",
        ))
    }
}
