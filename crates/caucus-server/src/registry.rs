//! The room registry: which rooms are live, and the task that owns each.
//!
//! What it is: one task holding `RoomId → RoomHandle`. A connection or the REST API asks it
//! for a room's live session ([`Registry::live`]); if there is none, the caller reads the
//! durable room from the store (never this task: it must not wait on the disk) and asks it to
//! start one ([`Registry::open`] with a [`RoomSetup`]: template, locked flag, saved breakout
//! plan). Two callers racing to open the same room get the same session. A room whose session
//! ended reports back and is forgotten; a later join starts a fresh session (a new
//! *generation*).
//!
//! A join can race with the end of its room: the room task has stopped but the registry has
//! not yet processed the room's "ended" report. The room reports *before* it drops its inbox,
//! so a connection that sees its join dropped and asks again is served after the report has
//! been processed, and gets a fresh room.

use std::collections::HashMap;
use std::sync::Arc;

use caucus_core::SessionConfig;

use caucus_proto::RoomId;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::clock::Clock;
use crate::media_thread::MediaHandle;
use crate::persist::PersistHandle;
use crate::room::{self, RoomContext, RoomHandle, RoomInput, RoomSetup};
use crate::telemetry::Telemetry;
use crate::webhooks::WebhookSink;

enum Request {
    Live {
        id: RoomId,
        reply: oneshot::Sender<Option<RoomHandle>>,
    },
    Open {
        id: RoomId,
        setup: Box<RoomSetup>,
        reply: oneshot::Sender<RoomHandle>,
    },
    All {
        reply: oneshot::Sender<Vec<RoomHandle>>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// The way to reach the registry. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    tx: mpsc::UnboundedSender<Request>,
    media: MediaHandle,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Live { id, .. } => write!(f, "Live({id})"),
            Request::Open { id, .. } => write!(f, "Open({id})"),
            Request::All { .. } => f.write_str("All"),
            Request::Shutdown { .. } => f.write_str("Shutdown"),
        }
    }
}

impl Registry {
    /// Start the registry task; every room it creates gets these settings.
    pub fn spawn(
        clock: Clock,
        session: SessionConfig,
        media: MediaHandle,
        persist: PersistHandle,
        webhooks: WebhookSink,
        telemetry: Arc<Telemetry>,
    ) -> (Registry, JoinHandle<()>) {
        let (tx, requests) = mpsc::unbounded_channel();
        let (ended_tx, ended) = mpsc::unbounded_channel();
        let ctx = RoomContext {
            clock,
            session,
            media: media.clone(),
            ended: ended_tx,
            persist,
            webhooks,
            telemetry,
        };
        let task = RegistryTask {
            ctx,
            rooms: HashMap::new(),
            tasks: Vec::new(),
            next_generation: 1,
        };
        (
            Registry { tx, media },
            tokio::spawn(task.run(requests, ended)),
        )
    }

    /// The media thread (which forwards to the recorder), for what no room is there to do.
    pub fn media(&self) -> &MediaHandle {
        &self.media
    }

    /// The live session of room `id`: `Some(None)` when it has none, `None` when the server
    /// is shutting down.
    pub async fn live(&self, id: &RoomId) -> Option<Option<RoomHandle>> {
        let (reply, handle) = oneshot::channel();
        self.tx
            .send(Request::Live {
                id: id.clone(),
                reply,
            })
            .ok()?;
        handle.await.ok()
    }

    /// The live session of room `id`, started from `setup` if it has none. `None` when the
    /// server is shutting down.
    pub async fn open(&self, id: &RoomId, setup: RoomSetup) -> Option<RoomHandle> {
        let (reply, handle) = oneshot::channel();
        self.tx
            .send(Request::Open {
                id: id.clone(),
                setup: Box::new(setup),
                reply,
            })
            .ok()?;
        handle.await.ok()
    }

    /// Every live room (empty when the server is shutting down).
    pub async fn all(&self) -> Vec<RoomHandle> {
        let (reply, handles) = oneshot::channel();
        if self.tx.send(Request::All { reply }).is_err() {
            return Vec::new();
        }
        handles.await.unwrap_or_default()
    }

    /// Stop every room (each closes its connections) and wait for them.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.tx.send(Request::Shutdown { done }).is_ok() {
            let _ = finished.await;
        }
    }
}

struct RegistryTask {
    ctx: RoomContext,
    rooms: HashMap<RoomId, RoomHandle>,
    tasks: Vec<JoinHandle<()>>,
    next_generation: u64,
}

impl RegistryTask {
    async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<Request>,
        mut ended: mpsc::UnboundedReceiver<(RoomId, u64)>,
    ) {
        loop {
            tokio::select! {
                // Reports first: a request that follows a room's end must see it gone.
                biased;
                Some((id, generation)) = ended.recv() => self.ended(&id, generation),
                request = requests.recv() => match request {
                    Some(Request::Live { id, reply }) => {
                        let _ = reply.send(self.rooms.get(&id).cloned());
                    }
                    Some(Request::Open { id, setup, reply }) => {
                        let handle = self.room(id, *setup);
                        let _ = reply.send(handle);
                    }
                    Some(Request::All { reply }) => {
                        let _ = reply.send(self.rooms.values().cloned().collect());
                    }
                    Some(Request::Shutdown { done }) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.shutdown().await;
                        return;
                    }
                },
            }
        }
    }

    fn room(&mut self, id: RoomId, setup: RoomSetup) -> RoomHandle {
        if let Some(handle) = self.rooms.get(&id) {
            return handle.clone();
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let (handle, task) = room::spawn(id.clone(), generation, self.ctx.clone(), setup);
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(task);
        self.rooms.insert(id, handle.clone());
        handle
    }

    fn ended(&mut self, id: &RoomId, generation: u64) {
        if self
            .rooms
            .get(id)
            .is_some_and(|h| h.generation() == generation)
        {
            debug!(room = %id, generation, "room forgotten");
            self.rooms.remove(id);
        }
    }

    async fn shutdown(&mut self) {
        info!(rooms = self.rooms.len(), "stopping rooms");
        for (_, handle) in self.rooms.drain() {
            let _ = handle.send(RoomInput::Shutdown);
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}
