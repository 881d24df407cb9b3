//! The writer of what room tasks make durable: breakout plans, the locked flag, webhook
//! deliveries (the outbox; the webhook delivery loop reads it) and which sessions and peers are live (so a
//! start after a crash can end them; see [`crate::recovery`]).
//!
//! What it is: one task that takes write jobs from every room in order and carries each out
//! on a blocking thread, one after the other, so a newer plan of a room can never be
//! overwritten by an older one and no room task ever waits on the disk. A job may carry an
//! acknowledgement: the REST API answers a breakout edit only once its plan is written, so a
//! `200` means "survives a restart".
//!
//! Lifecycle writes (deliveries and live changes) that are queued back to back are written in
//! one commit: a join costs one fsync whether or not webhooks are configured, and a burst of
//! joins costs one for the lot.
//!
//! Breakout passwords: the core keeps them in plain text (it compares them on self-select);
//! the store must only see hashes. A plan job carries the plain passwords beside the plan, and
//! this writer hashes them (PBKDF2 — tens of milliseconds, hence here and not in the room
//! task), remembering the last hash of each room so an unchanged password is not re-hashed
//! on every write.

use std::collections::HashMap;
use std::sync::Arc;

use caucus_proto::RoomId;
use caucus_store::{BreakoutPlan, LiveChange, OutboxItem, RoomPatch, Store, StoreError};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// One write.
#[derive(Debug)]
enum Job {
    Plan {
        room: RoomId,
        plan: BreakoutPlan,
        /// `(index into plan.rooms, plain password)` for rooms whose hash is still to be made.
        plain: Vec<(usize, String)>,
        done: oneshot::Sender<()>,
    },
    Locked {
        room: RoomId,
        locked: bool,
    },
    /// Deliveries for the outbox; the delivery loop is woken (`wake`) once they are committed.
    Webhooks {
        items: Vec<OutboxItem>,
        wake: Arc<Notify>,
    },
    /// A session started or ended, a peer joined or left.
    Live(LiveChange),
    /// Lifecycle jobs gathered into one commit (made by the writer, never sent).
    Lifecycle {
        live: Vec<LiveChange>,
        items: Vec<OutboxItem>,
        wake: Option<Arc<Notify>>,
    },
}

impl Job {
    fn is_lifecycle(&self) -> bool {
        matches!(self, Job::Webhooks { .. } | Job::Live(_))
    }
}

/// The way to the writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PersistHandle {
    tx: mpsc::UnboundedSender<Job>,
}

impl PersistHandle {
    /// Save `plan` for `room`; the receiver resolves once it is written (or failed and was
    /// logged).
    pub fn plan(
        &self,
        room: RoomId,
        plan: BreakoutPlan,
        plain: Vec<(usize, String)>,
    ) -> oneshot::Receiver<()> {
        let (done, written) = oneshot::channel();
        let _ = self.tx.send(Job::Plan {
            room,
            plan,
            plain,
            done,
        });
        written
    }

    /// Save the room's locked flag.
    pub fn locked(&self, room: RoomId, locked: bool) {
        let _ = self.tx.send(Job::Locked { room, locked });
    }

    /// Queue webhook deliveries, then wake the delivery loop waiting on `wake`.
    pub fn webhooks(&self, items: Vec<OutboxItem>, wake: Arc<Notify>) {
        let _ = self.tx.send(Job::Webhooks { items, wake });
    }

    /// Note what became live or stopped being live.
    pub fn live(&self, change: LiveChange) {
        let _ = self.tx.send(Job::Live(change));
    }
}

/// Start the writer; it ends when every handle is dropped and its queue is empty.
pub fn spawn(store: Arc<dyn Store>) -> (PersistHandle, JoinHandle<()>) {
    let (tx, jobs) = mpsc::unbounded_channel();
    (PersistHandle { tx }, tokio::spawn(run(store, jobs)))
}

/// Hashes made for a room's breakout passwords: `(room, breakout id) → (plain, hash)`.
type HashCache = HashMap<(RoomId, String), (String, String)>;

async fn run(store: Arc<dyn Store>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut cache = HashCache::new();
    let mut next = None;
    loop {
        let Some(job) = (match next.take() {
            Some(job) => Some(job),
            None => jobs.recv().await,
        }) else {
            break;
        };
        let job = if job.is_lifecycle() {
            let (gathered, after) = gather(job, &mut jobs);
            next = after;
            gathered
        } else {
            job
        };
        let store = Arc::clone(&store);
        let taken = std::mem::take(&mut cache);
        let outcome = tokio::task::spawn_blocking(move || {
            let mut cache = taken;
            let done = write(store.as_ref(), job, &mut cache);
            (cache, done)
        })
        .await;
        match outcome {
            Ok((kept, done)) => {
                cache = kept;
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            Err(e) => warn!(error = %e, "a store write panicked"),
        }
    }
    debug!("persist writer stopped");
}

fn write(store: &dyn Store, job: Job, cache: &mut HashCache) -> Option<oneshot::Sender<()>> {
    match job {
        Job::Plan {
            room,
            mut plan,
            plain,
            done,
        } => {
            for (index, password) in plain {
                let Some(planned) = plan.rooms.get_mut(index) else {
                    continue;
                };
                let key = (room.clone(), planned.id.clone());
                let hash = match cache.get(&key) {
                    Some((known, hash)) if *known == password => hash.clone(),
                    _ => {
                        let hash = caucus_store::password::hash(&password);
                        cache.insert(key, (password, hash.clone()));
                        hash
                    }
                };
                planned.password_hash = Some(hash);
            }
            match store.put_plan(&room, &plan) {
                Ok(()) => debug!(room = %room, rooms = plan.rooms.len(), "breakout plan saved"),
                // The room was deleted while its session ran: nothing to keep.
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => warn!(room = %room, error = %e, "cannot save the breakout plan"),
            }
            Some(done)
        }
        Job::Locked { room, locked } => {
            let patch = RoomPatch {
                locked: Some(locked),
                ..RoomPatch::default()
            };
            match store.update_room(&room, &patch, crate::clock::unix_ms()) {
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => warn!(room = %room, error = %e, "cannot save the locked flag"),
            }
            None
        }
        Job::Webhooks { items, wake } => {
            match store.enqueue_webhooks(&items) {
                Ok(()) => wake.notify_one(),
                Err(e) => warn!(error = %e, deliveries = items.len(), "cannot queue webhooks"),
            }
            None
        }
        Job::Live(change) => {
            if let Err(e) = store.record_lifecycle(std::slice::from_ref(&change), &[]) {
                warn!(error = %e, ?change, "cannot note a live session change");
            }
            None
        }
        Job::Lifecycle { live, items, wake } => {
            match store.record_lifecycle(&live, &items) {
                Ok(()) => {
                    if let Some(wake) = wake {
                        wake.notify_one();
                    }
                }
                Err(e) => warn!(error = %e, deliveries = items.len(), changes = live.len(),
                    "cannot write lifecycle events"),
            }
            None
        }
    }
}

/// `first` and the lifecycle jobs queued right behind it, as one job; and the job after them,
/// if one was taken.
fn gather(first: Job, jobs: &mut mpsc::UnboundedReceiver<Job>) -> (Job, Option<Job>) {
    let mut live = Vec::new();
    let mut items = Vec::new();
    let mut wake = None;
    let mut take = |job: Job| match job {
        Job::Webhooks {
            items: more,
            wake: w,
        } => {
            items.extend(more);
            wake = Some(w);
        }
        Job::Live(change) => live.push(change),
        _ => {}
    };
    take(first);
    let mut after = None;
    while let Ok(job) = jobs.try_recv() {
        if job.is_lifecycle() {
            take(job);
        } else {
            after = Some(job);
            break;
        }
    }
    (Job::Lifecycle { live, items, wake }, after)
}
