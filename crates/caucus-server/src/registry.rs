//! The room registry: which rooms are live, and the task that owns each.
//!
//! What it is: one task holding `RoomId → RoomHandle`. A connection asks it for a room;
//! the first ask creates the room task (every room uses the built-in `breakout` template for
//! now). A room whose session ended reports back and is forgotten; a later join starts a
//! fresh session (a new *generation*).
//!
//! A join can race with the end of its room: the room task has stopped but the registry has
//! not yet processed the room's "ended" report. The room reports *before* it drops its inbox,
//! so a connection that sees its join dropped and asks again is served after the report has
//! been processed, and gets a fresh room.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use caucus_core::SessionConfig;

use caucus_proto::RoomId;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::clock::Clock;
use crate::media_thread::MediaHandle;
use crate::room::{self, RoomContext, RoomHandle, RoomInput};

enum Request {
    Room {
        id: RoomId,
        reply: oneshot::Sender<RoomHandle>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// The way to reach the registry. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    tx: mpsc::UnboundedSender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Room { id, .. } => write!(f, "Room({id})"),
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
    ) -> (Registry, JoinHandle<()>) {
        let (tx, requests) = mpsc::unbounded_channel();
        let (ended_tx, ended) = mpsc::unbounded_channel();
        let ctx = RoomContext {
            clock,
            session,
            media,
            peer_keys: Arc::new(AtomicU64::new(1)),
            ended: ended_tx,
        };
        let task = RegistryTask {
            ctx,
            rooms: HashMap::new(),
            tasks: Vec::new(),
            next_generation: 1,
        };
        (Registry { tx }, tokio::spawn(task.run(requests, ended)))
    }

    /// The live room `id`, created if needed. `None` when the server is shutting down.
    pub async fn room(&self, id: &RoomId) -> Option<RoomHandle> {
        let (reply, handle) = oneshot::channel();
        self.tx
            .send(Request::Room {
                id: id.clone(),
                reply,
            })
            .ok()?;
        handle.await.ok()
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
                    Some(Request::Room { id, reply }) => {
                        let handle = self.room(id);
                        let _ = reply.send(handle);
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

    fn room(&mut self, id: RoomId) -> RoomHandle {
        if let Some(handle) = self.rooms.get(&id) {
            return handle.clone();
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let (handle, task) = room::spawn(id.clone(), generation, self.ctx.clone());
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
