//! ICE over TCP for the media peer: an *active* candidate that dials the server's passive
//! one on the first transmit towards it, with RFC 4571 framing (a 16-bit length before each
//! datagram). For clients — or tests standing for them — that cannot send UDP.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::debug;

/// The connections to the server's TCP candidates, opened on demand.
#[derive(Debug)]
pub(crate) struct TcpLinks {
    links: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    frames_tx: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
    frames: mpsc::UnboundedReceiver<(SocketAddr, Vec<u8>)>,
}

impl TcpLinks {
    pub(crate) fn new() -> TcpLinks {
        let (frames_tx, frames) = mpsc::unbounded_channel();
        TcpLinks {
            links: HashMap::new(),
            frames_tx,
            frames,
        }
    }

    /// Sends one datagram to `destination`, connecting first if needed (what str0m sends
    /// before the connection is up waits for it).
    pub(crate) fn send(&mut self, destination: SocketAddr, contents: Vec<u8>) {
        let link = self.links.entry(destination).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(link(destination, rx, self.frames_tx.clone()));
            tx
        });
        if link.send(contents).is_err() {
            // The connection failed or closed: the next transmit dials again.
            self.links.remove(&destination);
        }
    }

    /// The next datagram received on any connection, with the server address it came from.
    pub(crate) async fn recv(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.frames.recv().await
    }
}

async fn link(
    destination: SocketAddr,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    frames: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
) {
    let stream = match TcpStream::connect(destination).await {
        Ok(stream) => stream,
        Err(e) => return debug!(%destination, error = %e, "ICE-TCP connect failed"),
    };
    let _ = stream.set_nodelay(true);
    let (mut read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move {
        loop {
            let mut len = [0u8; 2];
            if read.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut contents = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if read.read_exact(&mut contents).await.is_err()
                || frames.send((destination, contents)).is_err()
            {
                return;
            }
        }
    });
    while let Some(contents) = outgoing.recv().await {
        let Ok(len) = u16::try_from(contents.len()) else {
            continue;
        };
        if write.write_all(&len.to_be_bytes()).await.is_err()
            || write.write_all(&contents).await.is_err()
        {
            break;
        }
    }
    reader.abort();
}
