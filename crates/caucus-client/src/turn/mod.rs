//! A TURN client (RFC 8656): one allocation on one TURN server, so the media peer can offer a
//! *relayed* candidate and reach the Caucus server through the relay.
//!
//! [`Allocation`] is sans-IO like str0m: it is fed what the TURN server sent and the time, and
//! hands out the datagrams to send to the TURN server, the data peers sent through the relay,
//! and when it next needs the clock. The media task carries its datagrams over the media UDP
//! socket, or a TCP connection, plain or TLS ([`link`]).
//!
//! What it does: Allocate with the long-term credential (the first request goes without, the
//! server's 401 names REALM and NONCE, the retry carries MESSAGE-INTEGRITY keyed by
//! MD5(username:realm:password); a 438 stale nonce is retried with the new one),
//! CreatePermission for each peer address str0m sends to (what is sent before it is granted
//! waits, bounded), then Send indications and a ChannelBind, after which data goes as
//! ChannelData; Refresh before the allocation's lifetime ends, permissions and channels
//! renewed before theirs; on close a Refresh with lifetime 0 deallocates. Requests over UDP are
//! retransmitted (RTO 500 ms, doubling). Answers must match an outstanding transaction and,
//! once a key is known, carry a valid MESSAGE-INTEGRITY; anything else is dropped. Errors are
//! values ([`TurnError`]), never panics.

pub(crate) mod link;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use caucus_proto::IceServer;
use tracing::{debug, trace, warn};

use wire::{Builder, Message};

/// Why a TURN allocation could not be made or was lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// The TURN server refused with this STUN error code (401: the credential is wrong or
    /// expired; 437, 486, 508: no allocation).
    #[error("TURN server {server} refused: {code} {reason}")]
    Refused {
        server: SocketAddr,
        code: u16,
        reason: String,
    },
    /// The TURN server did not answer.
    #[error("TURN server {server} did not answer {what}")]
    Timeout { server: SocketAddr, what: String },
    /// The TURN server's answer broke the protocol.
    #[error("TURN server {server}: {message}")]
    Protocol { server: SocketAddr, message: String },
    /// No usable TURN server: none named, a URL that does not parse or resolve, or no
    /// credential.
    #[error("no usable TURN server: {0}")]
    NoServer(String),
    /// The connection to the TURN server failed.
    #[error("TURN server {server}: {message}")]
    Io { server: SocketAddr, message: String },
}

/// How the client talks to the TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnTransport {
    /// `turn:` URLs with `transport=udp` (or none).
    Udp,
    /// `turn:` URLs with `transport=tcp`.
    Tcp,
    /// `turns:` URLs: TURN over TLS (on 443, through firewalls that allow nothing else).
    Tls,
}

/// A TURN server from a `turn:` URL of the `joined` event, resolved, with its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TurnServer {
    pub(crate) addr: SocketAddr,
    /// The URL's host: the name a TLS certificate must carry.
    pub(crate) host: String,
    pub(crate) transport: TurnTransport,
    pub(crate) username: String,
    pub(crate) password: String,
}

/// A `turn:` or `turns:` URL taken apart: host, port and transport (`None` for anything
/// else, or an unknown transport).
pub(crate) fn parse_url(url: &str) -> Option<(String, u16, TurnTransport)> {
    let (rest, tls) = match url.strip_prefix("turns:") {
        Some(rest) => (rest, true),
        None => (url.strip_prefix("turn:")?, false),
    };
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    let transport = match (
        tls,
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix("transport=")),
    ) {
        (false, None | Some("udp")) => TurnTransport::Udp,
        (false, Some("tcp")) => TurnTransport::Tcp,
        (true, None | Some("tcp")) => TurnTransport::Tls,
        _ => return None,
    };
    let default_port = if tls { 5349 } else { 3478 };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (host.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().ok()?),
            None => (hostport.to_owned(), default_port),
        }
    };
    (!host.is_empty()).then_some((host, port, transport))
}

/// The TURN servers (over `transport`) the ICE servers name, resolved, in their order.
pub(crate) async fn servers(
    ice_servers: &[IceServer],
    transport: TurnTransport,
) -> Result<Vec<TurnServer>, TurnError> {
    let mut out = Vec::new();
    let mut why = Vec::new();
    for server in ice_servers {
        for url in &server.urls {
            let Some((host, port, t)) = parse_url(url) else {
                continue;
            };
            if t != transport {
                continue;
            }
            let (Some(username), Some(password)) = (&server.username, &server.credential) else {
                why.push(format!("{url}: no credential"));
                continue;
            };
            match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(addrs) => out.extend(addrs.map(|addr| TurnServer {
                    addr,
                    host: host.clone(),
                    transport,
                    username: username.clone(),
                    password: password.clone(),
                })),
                Err(e) => why.push(format!("{url}: {e}")),
            }
        }
    }
    if out.is_empty() {
        let why = if why.is_empty() {
            format!("no turn: URL over {transport:?} among the ICE servers")
        } else {
            why.join("; ")
        };
        return Err(TurnError::NoServer(why));
    }
    Ok(out)
}

/// What the allocation's requests are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Allocate,
    Refresh { lifetime: u32 },
    Permission(IpAddr),
    Bind(SocketAddr, u16),
}

struct Pending {
    purpose: Purpose,
    bytes: Vec<u8>,
    sent: u32,
    retransmit_at: Instant,
    /// After this the request is given up.
    deadline: Instant,
    /// An authenticated retry was already made for this purpose (a second 401 is final).
    authenticated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Allocating,
    Allocated { relayed: SocketAddr },
    Failed(TurnError),
    Closed,
}

/// A permission for one peer IP: granted (until `renew_at`), or asked for.
struct Permission {
    granted: bool,
    renew_at: Instant,
    /// Datagrams to send once granted (oldest dropped past [`QUEUE`]).
    queued: VecDeque<(SocketAddr, Vec<u8>)>,
}

struct Channel {
    number: u16,
    bound: bool,
    renew_at: Instant,
}

/// Counters of one allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams sent to peers through the relay, and received from them.
    pub sent: u64,
    pub received: u64,
    /// Of `sent`, those that went as ChannelData (the rest as Send indications).
    pub sent_on_channels: u64,
    /// Datagrams for peers dropped: past the queue of a pending permission, refused
    /// permissions, or no allocation.
    pub dropped: u64,
    /// What the TURN server sent that was dropped: unexpected, unauthenticated or malformed
    /// answers, data on unbound channels.
    pub ignored_answers: u64,
}

const RTO: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
const QUEUE: usize = 64;
/// Permissions last 300 s, channels 600 s (RFC 8656 §9, §12): renewed a minute early.
const PERMISSION_RENEW: Duration = Duration::from_secs(240);
const CHANNEL_RENEW: Duration = Duration::from_secs(540);
const FIRST_CHANNEL: u16 = 0x4000;
const LAST_CHANNEL: u16 = 0x4FFF;

/// One TURN allocation, sans-IO.
pub(crate) struct Allocation {
    server: TurnServer,
    reliable: bool,
    realm: Option<String>,
    nonce: Option<String>,
    key: Option<[u8; 16]>,
    state: State,
    pending: HashMap<[u8; 12], Pending>,
    permissions: HashMap<IpAddr, Permission>,
    channels: HashMap<SocketAddr, Channel>,
    by_number: HashMap<u16, SocketAddr>,
    next_channel: u16,
    refresh_at: Option<Instant>,
    out: VecDeque<Vec<u8>>,
    stats: RelayStats,
}

impl Allocation {
    /// Starts allocating: the first Allocate is ready to send.
    pub(crate) fn new(server: TurnServer, now: Instant) -> Allocation {
        let reliable = server.transport != TurnTransport::Udp;
        let mut a = Allocation {
            server,
            reliable,
            realm: None,
            nonce: None,
            key: None,
            state: State::Allocating,
            pending: HashMap::new(),
            permissions: HashMap::new(),
            channels: HashMap::new(),
            by_number: HashMap::new(),
            next_channel: FIRST_CHANNEL,
            refresh_at: None,
            out: VecDeque::new(),
            stats: RelayStats::default(),
        };
        a.request(Purpose::Allocate, now);
        a
    }

    pub(crate) fn server(&self) -> &TurnServer {
        &self.server
    }

    /// The relayed address, once allocated.
    pub(crate) fn relayed(&self) -> Option<SocketAddr> {
        match self.state {
            State::Allocated { relayed } => Some(relayed),
            _ => None,
        }
    }

    /// Why the allocation failed or was lost.
    pub(crate) fn failure(&self) -> Option<&TurnError> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn stats(&self) -> RelayStats {
        self.stats
    }

    /// The next datagram (or TCP frame) to send to the TURN server.
    pub(crate) fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next run.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let permissions = self.permissions.values().map(|p| p.renew_at);
        let channels = self.channels.values().map(|c| c.renew_at);
        self.pending
            .values()
            .map(|p| p.retransmit_at.min(p.deadline))
            .chain(self.refresh_at)
            .chain(
                permissions
                    .chain(channels)
                    .filter(|_| self.relayed().is_some()),
            )
            .min()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut expired = Vec::new();
        for (id, p) in &mut self.pending {
            if p.deadline <= now {
                expired.push(*id);
            } else if !self.reliable && p.retransmit_at <= now {
                p.sent += 1;
                p.retransmit_at = now + RTO * 2u32.saturating_pow(p.sent.min(5));
                self.out.push_back(p.bytes.clone());
            } else if self.reliable {
                p.retransmit_at = p.deadline;
            }
        }
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                self.on_timeout(p.purpose, now);
            }
        }
        if self.relayed().is_none() {
            return;
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            self.request(Purpose::Refresh { lifetime: 600 }, now);
        }
        let renew: Vec<IpAddr> = self
            .permissions
            .iter()
            .filter(|(_, p)| p.renew_at <= now)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in renew {
            if let Some(p) = self.permissions.get_mut(&ip) {
                p.renew_at = now + PERMISSION_RENEW;
            }
            self.request(Purpose::Permission(ip), now);
        }
        let rebind: Vec<(SocketAddr, u16)> = self
            .channels
            .iter()
            .filter(|(_, c)| c.renew_at <= now)
            .map(|(peer, c)| (*peer, c.number))
            .collect();
        for (peer, number) in rebind {
            if let Some(c) = self.channels.get_mut(&peer) {
                c.renew_at = now + CHANNEL_RENEW;
            }
            self.request(Purpose::Bind(peer, number), now);
        }
    }

    fn on_timeout(&mut self, purpose: Purpose, now: Instant) {
        let what = match purpose {
            Purpose::Allocate => "Allocate",
            Purpose::Refresh { .. } => "Refresh",
            Purpose::Permission(_) => "CreatePermission",
            Purpose::Bind(..) => "ChannelBind",
        };
        warn!(server = %self.server.addr, what, "TURN request timed out");
        match purpose {
            Purpose::Allocate => {
                self.fail(TurnError::Timeout {
                    server: self.server.addr,
                    what: what.into(),
                });
            }
            Purpose::Refresh { lifetime } if lifetime > 0 => {
                self.fail(TurnError::Timeout {
                    server: self.server.addr,
                    what: what.into(),
                });
            }
            Purpose::Refresh { .. } => {}
            Purpose::Permission(ip) => self.drop_permission(ip),
            Purpose::Bind(peer, _) => self.drop_channel(peer, now),
        }
    }

    /// Sends `data` to `peer` through the relay: as ChannelData once a channel is bound, as a
    /// Send indication once permitted, else after the permission is granted.
    pub(crate) fn send_to(&mut self, peer: SocketAddr, data: &[u8], now: Instant) {
        if self.relayed().is_none() {
            self.stats.dropped += 1;
            return;
        }
        if let Some(c) = self.channels.get(&peer)
            && c.bound
        {
            self.stats.sent += 1;
            self.stats.sent_on_channels += 1;
            self.out
                .push_back(wire::channel_data(c.number, data, self.reliable));
            return;
        }
        match self.permissions.get_mut(&peer.ip()) {
            Some(p) if p.granted => {
                self.stats.sent += 1;
                let indication = Builder::new(wire::SEND, wire::INDICATION, transaction_id())
                    .xor_address(wire::XOR_PEER_ADDRESS, peer)
                    .attr(wire::DATA_ATTR, data)
                    .finish(None);
                self.out.push_back(indication);
                self.bind(peer, now);
            }
            Some(p) => {
                if p.queued.len() >= QUEUE {
                    p.queued.pop_front();
                    self.stats.dropped += 1;
                }
                p.queued.push_back((peer, data.to_vec()));
            }
            None => {
                self.permissions.insert(
                    peer.ip(),
                    Permission {
                        granted: false,
                        renew_at: now + PERMISSION_RENEW,
                        queued: VecDeque::from([(peer, data.to_vec())]),
                    },
                );
                self.request(Purpose::Permission(peer.ip()), now);
            }
        }
    }

    /// Asks for a channel to `peer`, unless one is bound or asked for.
    fn bind(&mut self, peer: SocketAddr, now: Instant) {
        if self.channels.contains_key(&peer) || self.next_channel > LAST_CHANNEL {
            return;
        }
        let number = self.next_channel;
        self.next_channel += 1;
        self.channels.insert(
            peer,
            Channel {
                number,
                bound: false,
                renew_at: now + CHANNEL_RENEW,
            },
        );
        self.by_number.insert(number, peer);
        self.request(Purpose::Bind(peer, number), now);
    }

    /// Deallocates (a Refresh with lifetime 0, sent once and not awaited).
    pub(crate) fn close(&mut self, now: Instant) {
        if self.relayed().is_some() {
            self.request(Purpose::Refresh { lifetime: 0 }, now);
        }
        self.pending.clear();
        self.state = State::Closed;
    }

    /// One datagram (or TCP frame) from the TURN server. Returns the peer data it carried
    /// (a Data indication or ChannelData), after acting on any answer.
    pub(crate) fn handle_input(
        &mut self,
        bytes: &[u8],
        now: Instant,
    ) -> Option<(SocketAddr, Vec<u8>)> {
        if wire::is_channel_data(bytes) {
            return match wire::parse_channel_data(bytes) {
                Ok((number, data)) => match self.by_number.get(&number) {
                    Some(peer) if self.channels.get(peer).is_some_and(|c| c.bound) => {
                        self.stats.received += 1;
                        Some((*peer, data.to_vec()))
                    }
                    _ => self.ignore(format_args!("ChannelData on unbound channel {number:#x}")),
                },
                Err(e) => self.ignore(format_args!("{e}")),
            };
        }
        let message = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => return self.ignore(format_args!("{e}")),
        };
        if message.class == wire::INDICATION {
            if message.method != wire::DATA || self.relayed().is_none() {
                return self.ignore(format_args!("indication {:#x}", message.method));
            }
            let (Some(peer), Some(data)) = (
                message.xor_address(wire::XOR_PEER_ADDRESS),
                message.attr(wire::DATA_ATTR),
            ) else {
                return self.ignore(format_args!("Data indication without peer or data"));
            };
            self.stats.received += 1;
            return Some((peer, data.to_vec()));
        }
        if message.class != wire::SUCCESS && message.class != wire::ERROR {
            return self.ignore(format_args!("a request from the TURN server"));
        }
        let Some(pending) = self.pending.get(&message.transaction) else {
            return self.ignore(format_args!("an answer to no request"));
        };
        let purpose = pending.purpose;
        let authenticated = pending.authenticated;
        let method_of = match purpose {
            Purpose::Allocate => wire::ALLOCATE,
            Purpose::Refresh { .. } => wire::REFRESH,
            Purpose::Permission(_) => wire::CREATE_PERMISSION,
            Purpose::Bind(..) => wire::CHANNEL_BIND,
        };
        if message.method != method_of {
            return self.ignore(format_args!("answer of the wrong method"));
        }
        // Once a key is known, an answer with an integrity must carry the right one; a
        // success must carry one.
        if let Some(key) = self.key {
            let checked = message.has_integrity() && message.integrity_ok(&key);
            if (message.class == wire::SUCCESS || message.has_integrity()) && !checked {
                return self.ignore(format_args!("answer with a bad or missing integrity"));
            }
        }
        self.pending.remove(&message.transaction);
        if message.class == wire::SUCCESS {
            self.on_success(purpose, &message, now);
        } else {
            self.on_error(purpose, authenticated, &message, now);
        }
        None
    }

    fn ignore<T>(&mut self, why: std::fmt::Arguments<'_>) -> Option<T> {
        trace!(server = %self.server.addr, %why, "TURN datagram ignored");
        self.stats.ignored_answers += 1;
        None
    }

    fn on_success(&mut self, purpose: Purpose, message: &Message<'_>, now: Instant) {
        match purpose {
            Purpose::Allocate => {
                if self.state != State::Allocating {
                    return;
                }
                let Some(relayed) = message.xor_address(wire::XOR_RELAYED_ADDRESS) else {
                    return self.fail(TurnError::Protocol {
                        server: self.server.addr,
                        message: "Allocate success without XOR-RELAYED-ADDRESS".into(),
                    });
                };
                let lifetime = message.u32(wire::LIFETIME).unwrap_or(600);
                debug!(server = %self.server.addr, %relayed, lifetime,
                    mapped = ?message.xor_address(wire::XOR_MAPPED_ADDRESS), "TURN allocated");
                self.state = State::Allocated { relayed };
                self.refresh_at = Some(now + refresh_after(lifetime));
            }
            Purpose::Refresh { lifetime: 0 } => {}
            Purpose::Refresh { .. } => {
                let lifetime = message.u32(wire::LIFETIME).unwrap_or(600);
                self.refresh_at = Some(now + refresh_after(lifetime));
            }
            Purpose::Permission(ip) => {
                let Some(p) = self.permissions.get_mut(&ip) else {
                    return;
                };
                p.granted = true;
                let queued: Vec<_> = p.queued.drain(..).collect();
                for (peer, data) in queued {
                    self.send_to(peer, &data, now);
                }
            }
            Purpose::Bind(peer, number) => {
                if let Some(c) = self.channels.get_mut(&peer)
                    && c.number == number
                {
                    c.bound = true;
                }
            }
        }
    }

    fn on_error(
        &mut self,
        purpose: Purpose,
        authenticated: bool,
        message: &Message<'_>,
        now: Instant,
    ) {
        let (code, reason) = message.error().unwrap_or((0, "no ERROR-CODE".into()));
        let realm = message.text(wire::REALM);
        let nonce = message.text(wire::NONCE);
        let retry = match code {
            // Unauthenticated: the first time, learn realm and nonce and sign.
            401 if !authenticated && realm.is_some() && nonce.is_some() => true,
            // Stale nonce: sign again with the new one.
            438 if nonce.is_some() => true,
            _ => false,
        };
        if retry {
            if let Some(realm) = realm {
                self.key = Some(wire::long_term_key(
                    &self.server.username,
                    &realm,
                    &self.server.password,
                ));
                self.realm = Some(realm);
            }
            self.nonce = nonce;
            debug!(server = %self.server.addr, code, "TURN request signed again");
            return self.request(purpose, now);
        }
        warn!(server = %self.server.addr, code, %reason, ?purpose, "TURN request refused");
        let refused = TurnError::Refused {
            server: self.server.addr,
            code,
            reason,
        };
        match purpose {
            Purpose::Allocate => self.fail(refused),
            // The allocation is gone (437) or cannot be kept.
            Purpose::Refresh { lifetime } if lifetime > 0 => self.fail(refused),
            Purpose::Refresh { .. } => {}
            Purpose::Permission(ip) => self.drop_permission(ip),
            Purpose::Bind(peer, _) => self.drop_channel(peer, now),
        }
    }

    fn drop_permission(&mut self, ip: IpAddr) {
        if let Some(p) = self.permissions.remove(&ip) {
            self.stats.dropped += p.queued.len() as u64;
        }
    }

    fn drop_channel(&mut self, peer: SocketAddr, now: Instant) {
        // Not bound: data keeps going as Send indications. The number is not reused.
        if let Some(c) = self.channels.get_mut(&peer) {
            c.bound = false;
            c.renew_at = now + Duration::from_secs(24 * 3600);
        }
    }

    fn fail(&mut self, error: TurnError) {
        warn!(error = %error, "TURN allocation failed");
        self.pending.clear();
        self.refresh_at = None;
        for p in self.permissions.values_mut() {
            self.stats.dropped += p.queued.len() as u64;
        }
        self.permissions.clear();
        self.channels.clear();
        self.by_number.clear();
        self.state = State::Failed(error);
    }

    fn request(&mut self, purpose: Purpose, now: Instant) {
        if matches!(self.state, State::Failed(_) | State::Closed) {
            return;
        }
        let transaction = transaction_id();
        let mut b = match purpose {
            Purpose::Allocate => Builder::new(wire::ALLOCATE, wire::REQUEST, transaction)
                .attr(wire::REQUESTED_TRANSPORT, &[wire::UDP, 0, 0, 0]),
            Purpose::Refresh { lifetime } => {
                Builder::new(wire::REFRESH, wire::REQUEST, transaction)
                    .u32(wire::LIFETIME, lifetime)
            }
            Purpose::Permission(ip) => {
                Builder::new(wire::CREATE_PERMISSION, wire::REQUEST, transaction)
                    .xor_address(wire::XOR_PEER_ADDRESS, SocketAddr::new(ip, 0))
            }
            Purpose::Bind(peer, number) => {
                Builder::new(wire::CHANNEL_BIND, wire::REQUEST, transaction)
                    .attr(
                        wire::CHANNEL_NUMBER,
                        &[(number >> 8) as u8, number as u8, 0, 0],
                    )
                    .xor_address(wire::XOR_PEER_ADDRESS, peer)
            }
        };
        let key = match (&self.realm, &self.nonce, &self.key) {
            (Some(realm), Some(nonce), Some(key)) => {
                b = b
                    .attr(wire::USERNAME, self.server.username.as_bytes())
                    .attr(wire::REALM, realm.as_bytes())
                    .attr(wire::NONCE, nonce.as_bytes());
                Some(key.as_slice())
            }
            _ => None,
        };
        let bytes = b.finish(key);
        self.out.push_back(bytes.clone());
        self.pending.insert(
            transaction,
            Pending {
                purpose,
                bytes,
                sent: 0,
                retransmit_at: now + RTO,
                deadline: now + REQUEST_TIMEOUT,
                authenticated: key.is_some(),
            },
        );
    }
}

/// When to refresh an allocation of `lifetime` seconds: a minute early, or at half of a short
/// one.
fn refresh_after(lifetime: u32) -> Duration {
    let lifetime = Duration::from_secs(u64::from(lifetime.max(2)));
    if lifetime > Duration::from_secs(120) {
        lifetime - Duration::from_secs(60)
    } else {
        lifetime / 2
    }
}

fn transaction_id() -> [u8; 12] {
    rand::random()
}

#[cfg(test)]
mod tests;
