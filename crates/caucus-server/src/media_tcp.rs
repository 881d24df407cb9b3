//! ICE over TCP for the media thread: passive listeners, RFC 4571 framing, and the limits
//! that keep one client's connections from costing the others.
//!
//! What it is: the TCP side of the media plane, living on the media thread's runtime. Each
//! listener's accept loop and each connection's reader and writer are small tasks; they
//! talk to the media loop through one channel ([`TcpEvent`]), so the engine sees a frame's
//! contents exactly as it sees a UDP datagram, and answers it with a [`Transmit`] whose
//! transport is TCP (framed here, queued to that connection's writer).
//!
//! What it is not: a demux. Which peer a frame belongs to is the engine's business (its
//! demux table, by transport and source address); this only knows connections.
//!
//! Limits, because a TCP connection costs a descriptor and memory until it is closed:
//! at most `max_connections` in all and `max_per_ip` per client address (the excess is
//! closed at accept); a connection the engine has not answered within `answer_deadline`
//! (nobody's valid ICE check came on it) or that sends nothing for `idle_timeout` is
//! closed; frames larger than a datagram can be close the connection; a client that does
//! not read has its frames dropped when its queue is full (media is loss-tolerant, the
//! framing never breaks: whole frames only) and is closed when a write stalls past
//! `write_timeout`.
//!
//! [`Transmit`]: caucus_media::Transmit

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, trace, warn};

/// The largest frame accepted or sent: a datagram's worth (what the UDP side reads).
pub const MAX_FRAME: usize = 2048;
/// Frames queued towards one connection before new ones are dropped.
const WRITE_QUEUE: usize = 512;
/// Frames read by all connections that the media loop has not taken yet; readers wait
/// (TCP flow control pushes back on the client) when it is full.
const READ_QUEUE: usize = 4096;

/// The limits of the ICE-TCP side.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub max_connections: usize,
    pub max_per_ip: usize,
    pub answer_deadline: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

/// Totals since start, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    pub accepted: u64,
    /// Closed at accept by `max_connections` or `max_per_ip`.
    pub refused: u64,
    /// Closed because the engine never answered them, or they went silent.
    pub closed_unanswered: u64,
    pub closed_idle: u64,
    /// Closed for a frame too large or a stalled write.
    pub closed_broken: u64,
    /// Frames dropped because the connection's queue was full (or it was gone).
    pub frames_dropped: u64,
    /// Open now.
    pub open: u64,
}

/// What the tasks tell the media loop.
#[derive(Debug)]
pub enum TcpEvent {
    Accepted {
        listener: usize,
        stream: TcpStream,
        remote: SocketAddr,
    },
    Frame {
        conn: u64,
        contents: Vec<u8>,
    },
    /// The connection ended (the client closed it, a read failed, a frame was too large,
    /// a write stalled).
    Closed {
        conn: u64,
        broken: bool,
    },
}

/// One frame for the engine.
#[derive(Debug)]
pub struct Incoming {
    pub source: SocketAddr,
    /// The listener's candidate of the source's family (what str0m expects as the local
    /// address of the pair).
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

struct Conn {
    listener: usize,
    remote: SocketAddr,
    writer: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
    writer_task: JoinHandle<()>,
    opened: Instant,
    last_frame: Instant,
    answered: bool,
}

/// The listeners, the open connections and their limits.
pub struct IceTcp {
    /// Each listener's candidate addresses.
    candidates: Vec<Vec<SocketAddr>>,
    /// Candidate address → listener.
    listener_of: HashMap<SocketAddr, usize>,
    conns: HashMap<u64, Conn>,
    by_remote: HashMap<(usize, SocketAddr), u64>,
    per_ip: HashMap<IpAddr, usize>,
    next_conn: u64,
    events_tx: mpsc::Sender<TcpEvent>,
    events: mpsc::Receiver<TcpEvent>,
    accept_tasks: Vec<JoinHandle<()>>,
    limits: TcpLimits,
    counters: TcpCounters,
}

impl std::fmt::Debug for IceTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceTcp")
            .field("candidates", &self.candidates)
            .field("open", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl IceTcp {
    /// Starts an accept loop per listener. Must run on the media thread's runtime.
    pub fn start(
        listeners: Vec<(std::net::TcpListener, Vec<SocketAddr>)>,
        limits: TcpLimits,
    ) -> io::Result<IceTcp> {
        let (events_tx, events) = mpsc::channel(READ_QUEUE);
        let mut candidates = Vec::new();
        let mut listener_of = HashMap::new();
        let mut accept_tasks = Vec::new();
        for (index, (listener, addrs)) in listeners.into_iter().enumerate() {
            listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(listener)?;
            for addr in &addrs {
                listener_of.insert(*addr, index);
            }
            info!(local = %listener.local_addr()?, candidates = ?addrs, "ICE-TCP listening");
            candidates.push(addrs);
            accept_tasks.push(tokio::spawn(accept_loop(
                listener,
                index,
                events_tx.clone(),
            )));
        }
        Ok(IceTcp {
            candidates,
            listener_of,
            conns: HashMap::new(),
            by_remote: HashMap::new(),
            per_ip: HashMap::new(),
            next_conn: 0,
            events_tx,
            events,
            accept_tasks,
            limits,
            counters: TcpCounters::default(),
        })
    }

    /// The next thing the tasks report (never ends: this holds a sender itself).
    pub async fn next(&mut self) -> Option<TcpEvent> {
        self.events.recv().await
    }

    /// Acts on an event; a frame comes back for the engine.
    pub fn on_event(&mut self, now: Instant, event: TcpEvent) -> Option<Incoming> {
        match event {
            TcpEvent::Accepted {
                listener,
                stream,
                remote,
            } => {
                self.accept(now, listener, stream, remote);
                None
            }
            TcpEvent::Frame { conn, contents } => {
                let c = self.conns.get_mut(&conn)?;
                c.last_frame = now;
                let destination = self.candidates.get(c.listener).and_then(|addrs| {
                    addrs
                        .iter()
                        .find(|a| a.is_ipv4() == c.remote.is_ipv4())
                        .copied()
                })?;
                Some(Incoming {
                    source: c.remote,
                    destination,
                    contents,
                })
            }
            TcpEvent::Closed { conn, broken } => {
                if broken {
                    self.counters.closed_broken += 1;
                }
                self.close(conn);
                None
            }
        }
    }

    fn accept(&mut self, now: Instant, listener: usize, stream: TcpStream, remote: SocketAddr) {
        let from_ip = self.per_ip.get(&remote.ip()).copied().unwrap_or(0);
        if self.conns.len() >= self.limits.max_connections || from_ip >= self.limits.max_per_ip {
            self.counters.refused += 1;
            debug!(%remote, open = self.conns.len(), from_ip, "ICE-TCP connection refused");
            return; // dropping the stream closes it
        }
        if let Err(e) = stream.set_nodelay(true) {
            trace!(%remote, error = %e, "no TCP_NODELAY");
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let (read, write) = stream.into_split();
        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
        let reader = tokio::spawn(read_frames(read, conn, self.events_tx.clone()));
        let writer_task = tokio::spawn(write_frames(
            write,
            queue,
            conn,
            self.limits.write_timeout,
            self.events_tx.clone(),
        ));
        self.conns.insert(
            conn,
            Conn {
                listener,
                remote,
                writer,
                reader,
                writer_task,
                opened: now,
                last_frame: now,
                answered: false,
            },
        );
        self.by_remote.insert((listener, remote), conn);
        *self.per_ip.entry(remote.ip()).or_default() += 1;
        self.counters.accepted += 1;
        debug!(%remote, conn, "ICE-TCP connection accepted");
    }

    /// Queues one frame from the candidate `source` to the client at `destination`.
    pub fn send(&mut self, source: SocketAddr, destination: SocketAddr, contents: Vec<u8>) {
        let conn = self
            .listener_of
            .get(&source)
            .and_then(|listener| self.by_remote.get(&(*listener, destination)))
            .and_then(|conn| self.conns.get_mut(conn));
        let Some(conn) = conn else {
            // The client closed it; the engine notices when ICE times out.
            self.counters.frames_dropped += 1;
            return;
        };
        conn.answered = true;
        if contents.len() > MAX_FRAME || conn.writer.try_send(contents).is_err() {
            self.counters.frames_dropped += 1;
        }
    }

    /// Closes connections past their deadlines. Call about once a second.
    pub fn sweep(&mut self, now: Instant) {
        let limits = self.limits;
        let mut expired = Vec::new();
        for (id, c) in &self.conns {
            if !c.answered && now.duration_since(c.opened) >= limits.answer_deadline {
                expired.push((*id, false));
            } else if now.duration_since(c.last_frame) >= limits.idle_timeout {
                expired.push((*id, true));
            }
        }
        for (id, idle) in expired {
            if idle {
                self.counters.closed_idle += 1;
            } else {
                self.counters.closed_unanswered += 1;
            }
            self.close(id);
        }
    }

    fn close(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        c.reader.abort();
        c.writer_task.abort();
        self.by_remote.remove(&(c.listener, c.remote));
        if let Some(n) = self.per_ip.get_mut(&c.remote.ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&c.remote.ip());
            }
        }
        debug!(remote = %c.remote, conn = id, "ICE-TCP connection closed");
    }

    pub fn counters(&self) -> TcpCounters {
        TcpCounters {
            open: self.conns.len() as u64,
            ..self.counters
        }
    }

    /// Whether any listener exists (the media loop skips the sweep timer otherwise).
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }
}

impl Drop for IceTcp {
    fn drop(&mut self) {
        for task in &self.accept_tasks {
            task.abort();
        }
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
    }
}

async fn accept_loop(listener: TcpListener, index: usize, events: mpsc::Sender<TcpEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let accepted = TcpEvent::Accepted {
                    listener: index,
                    stream,
                    remote,
                };
                if events.send(accepted).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // Out of descriptors, say: wait instead of spinning.
                warn!(error = %e, "ICE-TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// RFC 4571: each frame is a 16-bit big-endian length, then that many bytes.
async fn read_frames(
    mut read: tokio::net::tcp::OwnedReadHalf,
    conn: u64,
    events: mpsc::Sender<TcpEvent>,
) {
    let broken = loop {
        let mut len = [0u8; 2];
        if read.read_exact(&mut len).await.is_err() {
            break false;
        }
        let len = usize::from(u16::from_be_bytes(len));
        if len == 0 || len > MAX_FRAME {
            break true;
        }
        let mut contents = vec![0u8; len];
        if read.read_exact(&mut contents).await.is_err() {
            break false;
        }
        if events
            .send(TcpEvent::Frame { conn, contents })
            .await
            .is_err()
        {
            return;
        }
    };
    let _ = events.send(TcpEvent::Closed { conn, broken }).await;
}

async fn write_frames(
    write: tokio::net::tcp::OwnedWriteHalf,
    mut queue: mpsc::Receiver<Vec<u8>>,
    conn: u64,
    write_timeout: Duration,
    events: mpsc::Sender<TcpEvent>,
) {
    let mut out = BufWriter::new(write);
    while let Some(frame) = queue.recv().await {
        let written = tokio::time::timeout(write_timeout, async {
            write_frame(&mut out, &frame).await?;
            // Everything queued goes out in one flush.
            while let Ok(frame) = queue.try_recv() {
                write_frame(&mut out, &frame).await?;
            }
            out.flush().await
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            let _ = events.send(TcpEvent::Closed { conn, broken: true }).await;
            return;
        }
    }
}

async fn write_frame(
    out: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    frame: &[u8],
) -> io::Result<()> {
    // `send` never queues a frame longer than MAX_FRAME, which fits in 16 bits.
    let len = u16::try_from(frame.len()).unwrap_or(u16::MAX);
    out.write_all(&len.to_be_bytes()).await?;
    out.write_all(frame).await
}
