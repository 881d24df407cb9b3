//! Admission of TCP connections, before HTTP: how many may be open in all and from one
//! client address, and how long a new one may stay silent.
//!
//! A socket is a file descriptor from the moment it is accepted; a thousand opened and left
//! silent once made `/healthz`, new joins and the database itself fail. So the count is
//! taken at accept: [`Admission`] decides (a plain value, tested without sockets), and
//! [`LimitedListener`] carries the decision out. The excess is answered at once with a 503
//! `too_many_connections` in the API's error envelope and closed; an admitted connection
//! holds a [`Permit`] for as long as it is open and must deliver its first request head
//! within the handshake deadline.
//!
//! With TLS ([`crate::tls`]) the count and the deadline are the same, taken at accept: the
//! TLS handshake runs in a task of its own (a silent client holds up nobody), and the
//! deadline covers it and the first request head after it. The excess is closed without an
//! answer: a plain 503 means nothing to a TLS client, and a handshake to say it in would
//! spend on a flood what the limit is there to save.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use caucus_proto::{ErrorBody, ErrorCode, ErrorEnvelope};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use crate::proxies::TrustedProxies;
use crate::tls::Transport;

/// Connections from trusted addresses (the machine itself, a reverse proxy) may go this far
/// past `max_connections`, so that a health probe or the proxy still gets in when the limit
/// is reached by others.
pub const TRUSTED_HEADROOM: u32 = 32;
/// At most this many refused sockets linger at once to let their 503 be read; the rest of a
/// flood is closed without a word.
const LINGERING_REFUSALS: usize = 64;
/// How long a refused socket lingers.
const LINGER: Duration = Duration::from_secs(1);

/// The limits, from the configuration.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    pub max_connections: u32,
    /// 0 = unlimited.
    pub max_per_ip: u32,
    /// Not limited per address; allowed [`TRUSTED_HEADROOM`] past the global limit.
    pub trusted: Arc<TrustedProxies>,
    pub handshake_timeout: Duration,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    ServerFull,
    AddressFull,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::ServerFull => "the server has as many connections open as it may; retry later",
            Refusal::AddressFull => {
                "your address has as many connections open as it may; close some and retry"
            }
        }
    }
}

/// The open connections, in all and per client address.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    counts: Mutex<Counts>,
    refused_server_full: AtomicU64,
    refused_address_full: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            counts: Mutex::new(Counts::default()),
            refused_server_full: AtomicU64::new(0),
            refused_address_full: AtomicU64::new(0),
        })
    }

    /// Count one more connection from `ip`, or say why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let ip = ip.to_canonical();
        let trusted = self.limits.trusted.contains(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let limit = if trusted {
            self.limits.max_connections.saturating_add(TRUSTED_HEADROOM)
        } else {
            self.limits.max_connections
        };
        if counts.total >= limit {
            self.refused_server_full.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::ServerFull);
        }
        let mine = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if !trusted && self.limits.max_per_ip > 0 && mine >= self.limits.max_per_ip {
            self.refused_address_full.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::AddressFull);
        }
        counts.total += 1;
        counts.per_ip.insert(ip, mine + 1);
        Ok(Permit {
            admission: Arc::clone(self),
            ip,
        })
    }

    /// Open connections in all.
    pub fn open(&self) -> u32 {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// The limit in force (after the descriptor budget).
    pub fn max_connections(&self) -> u32 {
        self.limits.max_connections
    }

    /// Connections refused so far: (server full, address full).
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused_server_full.load(Ordering::Relaxed),
            self.refused_address_full.load(Ordering::Relaxed),
        )
    }

    fn release(&self, ip: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&ip);
            }
        }
    }
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(self.ip);
    }
}

/// The client address of a connection, as handlers extract it
/// (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, LimitedListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, LimitedListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// The HTTP listener, admitting connections by [`Admission`].
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    admission: Arc<Admission>,
    lingering: Arc<Semaphore>,
    /// With TLS: the acceptor, and the handshakes under way (each admitted, each bounded by
    /// the handshake deadline); a finished one is what `accept` hands on.
    tls: Option<Handshakes>,
}

struct Handshakes {
    acceptor: TlsAcceptor,
    running: JoinSet<Option<(Admitted, SocketAddr)>>,
}

impl std::fmt::Debug for Handshakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshakes")
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl LimitedListener {
    pub fn new(inner: TcpListener, admission: Arc<Admission>) -> Self {
        Self {
            inner,
            admission,
            lingering: Arc::new(Semaphore::new(LINGERING_REFUSALS)),
            tls: None,
        }
    }

    /// Speak TLS on every connection.
    pub fn with_tls(self, acceptor: TlsAcceptor) -> Self {
        Self {
            tls: Some(Handshakes {
                acceptor,
                running: JoinSet::new(),
            }),
            ..self
        }
    }

    /// The next TCP connection, or (with TLS) the next finished handshake.
    async fn next(&mut self) -> Next {
        let handshakes = match &mut self.tls {
            Some(tls) if !tls.running.is_empty() => &mut tls.running,
            _ => return Next::Tcp(self.inner.accept().await),
        };
        tokio::select! {
            accepted = self.inner.accept() => Next::Tcp(accepted),
            Some(done) = handshakes.join_next() => Next::Handshake(done.ok().flatten()),
        }
    }
}

enum Next {
    Tcp(io::Result<(TcpStream, SocketAddr)>),
    Handshake(Option<(Admitted, SocketAddr)>),
}

impl Listener for LimitedListener {
    type Io = Admitted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Admitted, SocketAddr) {
        loop {
            let (stream, addr) = match self.next().await {
                Next::Tcp(Ok(accepted)) => accepted,
                Next::Tcp(Err(e)) => {
                    // Out of descriptors or a connection reset before accept: wait a little
                    // rather than spin (what axum's own listener does).
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Next::Handshake(Some(ready)) => return ready,
                Next::Handshake(None) => continue,
            };
            let permit = match self.admission.admit(addr.ip()) {
                Ok(permit) => permit,
                Err(refusal) => {
                    debug!(client = %addr, ?refusal, "connection refused");
                    if self.tls.is_none() {
                        refuse(stream, refusal, &self.lingering);
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let deadline = Instant::now() + self.admission.limits.handshake_timeout;
            let Some(tls) = &mut self.tls else {
                return (
                    Admitted::new(Transport::Plain(stream), permit, deadline),
                    addr,
                );
            };
            let acceptor = tls.acceptor.clone();
            tls.running.spawn(async move {
                match tokio::time::timeout_at(deadline, crate::tls::handshake(&acceptor, stream))
                    .await
                {
                    Ok(Ok(tls)) => Some((
                        Admitted::new(Transport::Tls(Box::new(tls)), permit, deadline),
                        addr,
                    )),
                    Ok(Err(e)) => {
                        debug!(client = %addr, error = %e, "TLS handshake failed");
                        None
                    }
                    Err(_) => {
                        debug!(client = %addr, "no TLS handshake within the handshake deadline");
                        None
                    }
                }
            });
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The 503 a refused connection is sent before it is closed.
fn refusal_response(refusal: Refusal) -> Vec<u8> {
    let body = serde_json::to_string(&ErrorEnvelope {
        error: ErrorBody::new(ErrorCode::TooManyConnections, refusal.message()),
    })
    .unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answer and close without waiting on the client: the answer fits an empty send buffer. A
/// few refused sockets linger briefly, reading what the client sent, so that closing does
/// not reset the connection before the client has read the answer.
fn refuse(stream: TcpStream, refusal: Refusal, lingering: &Arc<Semaphore>) {
    let _ = stream.try_write(&refusal_response(refusal));
    let Ok(slot) = Arc::clone(lingering).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _slot = slot;
        let mut stream = stream;
        let _ = tokio::time::timeout(LINGER, async {
            use tokio::io::AsyncReadExt;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
            let mut sink = [0u8; 1024];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    });
}

/// An admitted connection: its permit, and the deadline for its first request head (the
/// bytes up to the first blank line; with TLS, of the plain text), after which it reads as
/// timed out.
#[derive(Debug)]
pub struct Admitted {
    stream: Transport,
    _permit: Permit,
    handshake: Option<Handshake>,
}

#[derive(Debug)]
struct Handshake {
    deadline: Pin<Box<Sleep>>,
    head: HeadEnd,
}

impl Admitted {
    fn new(stream: Transport, permit: Permit, deadline: Instant) -> Self {
        Self {
            stream,
            _permit: permit,
            handshake: Some(Handshake {
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                head: HeadEnd::default(),
            }),
        }
    }
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(handshake) = &mut this.handshake
            && handshake.deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete request within the handshake deadline",
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if let Some(handshake) = &mut this.handshake
            && handshake.head.feed(&buf.filled()[before..])
        {
            this.handshake = None;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Finds the end of an HTTP/1 request head (`\r\n\r\n`) across reads of any size.
#[derive(Debug, Default)]
struct HeadEnd {
    /// How much of `\r\n\r\n` the bytes so far end with.
    matched: usize,
}

impl HeadEnd {
    const END: &'static [u8] = b"\r\n\r\n";

    /// Feed the next bytes; true once the head is complete.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            self.matched = if b == Self::END[self.matched] {
                self.matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            if self.matched == Self::END.len() {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn admission(max: u32, per_ip: u32, trusted: Vec<IpAddr>) -> Arc<Admission> {
        Admission::new(AdmissionLimits {
            max_connections: max,
            max_per_ip: per_ip,
            trusted: TrustedProxies::new(&trusted),
            handshake_timeout: Duration::from_secs(10),
        })
    }

    #[test]
    fn one_address_is_held_to_its_share_and_others_still_get_in() {
        let a = admission(100, 2, vec![]);
        let held: Vec<_> = (0..2).map(|_| a.admit(ip(1)).expect("admitted")).collect();
        assert_eq!(a.admit(ip(1)).unwrap_err(), Refusal::AddressFull);
        assert!(a.admit(ip(2)).is_ok());
        drop(held);
        assert!(
            a.admit(ip(1)).is_ok(),
            "a closed connection gives its place back"
        );
    }

    #[test]
    fn the_global_limit_holds_with_headroom_for_trusted_addresses() {
        let proxy = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let a = admission(3, 0, vec![proxy]);
        let _held: Vec<_> = (1..=3).map(|n| a.admit(ip(n)).expect("admitted")).collect();
        assert_eq!(a.admit(ip(9)).unwrap_err(), Refusal::ServerFull);
        let probes: Vec<_> = (0..TRUSTED_HEADROOM)
            .map(|_| a.admit(proxy).expect("trusted gets the headroom"))
            .collect();
        assert_eq!(a.admit(proxy).unwrap_err(), Refusal::ServerFull);
        assert_eq!(a.open(), 3 + TRUSTED_HEADROOM);
        drop(probes);
        assert_eq!(a.open(), 3);
    }

    #[test]
    fn trusted_addresses_are_not_limited_per_address() {
        let proxy = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let a = admission(100, 1, vec![proxy]);
        let _held: Vec<_> = (0..10).map(|_| a.admit(proxy).expect("admitted")).collect();
        assert_eq!(a.open(), 10);
    }

    #[test]
    fn a_mapped_ipv4_address_counts_as_itself() {
        let a = admission(100, 1, vec![]);
        let _v4 = a.admit(ip(1)).expect("admitted");
        let mapped = match ip(1) {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            IpAddr::V6(_) => unreachable!(),
        };
        assert_eq!(a.admit(mapped).unwrap_err(), Refusal::AddressFull);
    }

    #[test]
    fn the_head_end_is_found_across_reads() {
        let mut head = HeadEnd::default();
        assert!(!head.feed(b"GET / HTTP/1.1\r\nHost: x\r"));
        assert!(!head.feed(b"\n\r"));
        assert!(head.feed(b"\n"));
        let mut split = HeadEnd::default();
        assert!(!split.feed(b"a\r\n\r\r\n"));
        assert!(split.feed(b"\r\n"));
    }

    #[test]
    fn the_refusal_is_a_complete_http_response_with_the_code() {
        let text = String::from_utf8(refusal_response(Refusal::AddressFull)).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let envelope: ErrorEnvelope = serde_json::from_str(body).expect("envelope");
        assert_eq!(envelope.error.code, ErrorCode::TooManyConnections);
    }
}
