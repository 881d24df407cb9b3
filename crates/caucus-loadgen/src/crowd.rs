//! Many peers at once: connected with bounded concurrency, their event streams drained so that
//! nothing piles up unread (a breakouts view to 1,000 peers is megabytes).

use std::sync::Arc;

use caucus_client::{Client, ClientOptions};
use caucus_proto::PeerId;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::{Error, Result};
use crate::target::Target;
use crate::templates::MEMBER;

/// One connected peer of a scenario.
#[derive(Debug)]
pub struct Peer {
    pub client: Client,
    pub room: String,
    pub user: String,
    drain: JoinHandle<()>,
}

impl Peer {
    pub fn id(&self) -> PeerId {
        self.client.peer_id()
    }

    /// Leaves the session and closes both connections.
    pub async fn leave(self) {
        let _ = self.client.leave().await;
        self.client.close();
        self.drain.abort();
    }
}

/// Who to connect: a room, a user id, the client's options.
#[derive(Debug, Clone)]
pub struct Spec {
    pub room: String,
    pub user: String,
    pub options: ClientOptions,
}

/// Connects one peer as `member` and starts draining its events.
pub async fn connect(target: &Target, spec: Spec) -> Result<Peer> {
    let token = target.join_token(&spec.room, &spec.user, MEMBER)?;
    let (client, mut events) = Client::connect(&target.signaling_url(), &token, spec.options)
        .await
        .map_err(|e| Error::setup(format!("{} could not join {}: {e}", spec.user, spec.room)))?;
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    Ok(Peer {
        client,
        room: spec.room,
        user: spec.user,
        drain,
    })
}

/// Connects every spec, at most `concurrency` at a time; the peers come back in spec order.
pub async fn connect_all(
    target: &Arc<Target>,
    specs: Vec<Spec>,
    concurrency: usize,
) -> Result<Vec<Peer>> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    let n = specs.len();
    for (i, spec) in specs.into_iter().enumerate() {
        let gate = Arc::clone(&gate);
        let target = Arc::clone(target);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (i, connect(&target, spec).await)
        });
    }
    let mut peers: Vec<Option<Peer>> = (0..n).map(|_| None).collect();
    let mut first_error = None;
    let mut failed = 0;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, Ok(peer))) => peers[i] = Some(peer),
            Ok((_, Err(e))) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(Error::setup(format!("connect task: {e}")));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(Error::setup(format!(
            "{failed} of {n} peers could not connect; the first: {e}"
        )));
    }
    Ok(peers.into_iter().flatten().collect())
}

/// Leaves with every peer, at most `concurrency` at a time.
pub async fn leave_all(peers: Vec<Peer>, concurrency: usize) {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    for peer in peers {
        let gate = Arc::clone(&gate);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            peer.leave().await;
        });
    }
    while set.join_next().await.is_some() {}
}
