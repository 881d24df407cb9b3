//! Starting and stopping the whole server: [`Server::start`] → [`Running`].
//!
//! Start order: secret, store, what the last run left open ([`crate::recovery`]: live
//! sessions ended with their webhooks, recordings closed out), media socket and thread, plan
//! writer, room registry, HTTP listener (with TLS: its certificate pair is read before anything
//! is spawned, and its reload task starts with the listener).
//!
//! Stop order ([`Running::shutdown`], on SIGTERM or SIGINT), all within `shutdown_timeout_s`:
//! the listener stops accepting; every session ends as the server ends one (peers get
//! `session_ended`, then their socket closes with 1001; recordings stop with what they
//! received; `peer.left` and `session.ended` go to the outbox); the remaining connections
//! close; the HTTP server drains; the store writer finishes its queue; the last webhooks are
//! sent (each due delivery tried once) while the media thread ends and the recorder finishes
//! every file; SQLite is checkpointed. Whatever the time cut short is closed out by the next
//! start.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use caucus_media::{LocalCandidate, Transport};
use caucus_proto::RoomId;
use caucus_store::{MemoryStore, SqliteStore, Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tracing::{info, warn};

use crate::access::Access;
use crate::admission::{Admission, AdmissionLimits, ClientAddr, LimitedListener};
use crate::api::{ApiState, Limits};
use crate::clock::Clock;
use crate::config::Config;
use crate::connection::ConnectionContext;
use crate::control::{ControlPlane, Policy};
use crate::http_rate::HttpRate;
use crate::ice::{IceServers, TurnRest};
use crate::media_tcp::TcpLimits;
use crate::media_thread::{MediaSockets, MediaThread};
use crate::metrics::Metrics;
use crate::proxies::TrustedProxies;
use crate::recorder::Recorder;
use crate::registry::Registry;
use crate::telemetry::Telemetry;
use crate::token::{JoinGrant, TokenIssuer};
use crate::webhooks::{WebhookSink, Webhooks};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read or create the token secret in {dir}: {source}")]
    Secret { dir: String, source: std::io::Error },
    #[error("cannot bind the {what} address {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the media thread: {0}")]
    Media(std::io::Error),
    #[error("cannot open the store in {dir}: {source}")]
    Store {
        dir: String,
        source: caucus_store::StoreError,
    },
    #[error("cannot set up webhooks: {0}")]
    Webhooks(#[from] crate::webhooks::SetupError),
    #[error("a webhook endpoint's key is the token secret; give it its own key")]
    WebhookKeyIsTokenSecret,
    #[error(
        "no media address to tell clients: set advertise to the IP clients reach this server at"
    )]
    NoMediaAddress,
    #[error("cannot serve HTTPS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("{key}: {reason}")]
    TurnSecret { key: String, reason: String },
}

/// The kernel buffers asked for the media socket. The default receive buffer (~208 KiB) holds
/// about 70 ms of ingress at 25k packets/s: any longer pause of the media thread (a busy
/// machine) drops datagrams, and one lost ingress packet is lost at every receiver. The kernel
/// grants at most `net.core.rmem_max` / `wmem_max`.
const MEDIA_SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// The media UDP socket, bound, with large kernel buffers.
fn media_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    for (what, set, get) in [
        (
            "receive",
            Socket::set_recv_buffer_size as fn(&Socket, usize) -> std::io::Result<()>,
            Socket::recv_buffer_size as fn(&Socket) -> std::io::Result<usize>,
        ),
        (
            "send",
            Socket::set_send_buffer_size,
            Socket::send_buffer_size,
        ),
    ] {
        if let Err(e) = set(&socket, MEDIA_SOCKET_BUFFER) {
            warn!(error = %e, "cannot size the media socket's {what} buffer");
        }
        // Linux reports twice the granted size (it counts its bookkeeping).
        let granted = get(&socket).unwrap_or(0) / 2;
        if granted < MEDIA_SOCKET_BUFFER / 2 {
            warn!(
                granted,
                wanted = MEDIA_SOCKET_BUFFER,
                "the media socket's {what} buffer is small; raise net.core.{}mem_max",
                if what == "receive" { "r" } else { "w" }
            );
        }
    }
    if addr.is_ipv6() {
        // `[::]` takes IPv6 only: IPv4 has its own socket (`0.0.0.0`), so every socket's
        // traffic is of one family and its candidates are that family's.
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// An ICE-TCP listener (passive candidates), bound and listening.
fn media_tcp_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // A restart must not wait for the old connections' TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// The HTTP listener. `[::]` takes IPv4 too (one socket, whatever the host's
/// `net.ipv6.bindv6only`): a dual-stack server needs only `http = "[::]:7880"`.
fn http_listener(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// Binds every media socket and works out its candidates (see [`crate::media_addrs`]).
fn bind_media(config: &Config) -> Result<(MediaSockets, Vec<LocalCandidate>), StartError> {
    let interfaces = if config
        .media
        .iter()
        .chain(&config.media_tcp)
        .any(|a| a.ip().is_unspecified())
    {
        crate::media_addrs::interface_addresses()
    } else {
        Vec::new()
    };
    let mut all = Vec::new();
    let mut udp = Vec::new();
    for addr in &config.media {
        let bind_error = |source| StartError::Bind {
            what: "media",
            addr: *addr,
            source,
        };
        let socket = media_socket(*addr).map_err(bind_error)?;
        let bound = socket.local_addr().map_err(StartError::Media)?;
        let candidates = crate::media_addrs::candidates(bound, &config.advertise, &interfaces);
        if candidates.is_empty() {
            warn!(%bound, "no address to tell clients for this media socket; set advertise");
        }
        all.extend(candidates.iter().copied().map(LocalCandidate::udp));
        udp.push((socket, candidates));
    }
    let mut tcp = Vec::new();
    for addr in &config.media_tcp {
        let bind_error = |source| StartError::Bind {
            what: "media_tcp",
            addr: *addr,
            source,
        };
        let listener = media_tcp_listener(*addr).map_err(bind_error)?;
        let bound = listener.local_addr().map_err(StartError::Media)?;
        let candidates = crate::media_addrs::candidates(bound, &config.advertise, &interfaces);
        all.extend(candidates.iter().copied().map(LocalCandidate::tcp));
        tcp.push((listener, candidates));
    }
    if !all.iter().any(|c| c.transport == Transport::Udp) {
        return Err(StartError::NoMediaAddress);
    }
    let tcp_limits = TcpLimits {
        max_connections: config.media_tcp_max_connections as usize,
        max_per_ip: config.media_tcp_max_per_ip as usize,
        answer_deadline: Duration::from_secs(config.handshake_timeout_s),
        idle_timeout: Duration::from_secs(config.media_tcp_idle_timeout_s),
        write_timeout: Duration::from_millis(config.write_timeout_ms),
    };
    Ok((
        MediaSockets {
            udp,
            tcp,
            tcp_limits,
        },
        all,
    ))
}

/// What joining peers are told of STUN and TURN; the TURN secret is read from its file here,
/// so a missing or weak one stops the start.
fn ice_servers(config: &Config, token_secret: &str) -> Result<IceServers, StartError> {
    let (secret, key) = match (&config.turn_secret, &config.turn_secret_file) {
        (Some(secret), _) => (secret.clone(), "turn_secret".to_owned()),
        (None, Some(path)) => {
            let key = format!("turn_secret_file {}", path.display());
            match crate::secret::read_file(path) {
                Ok(secret) => (secret, key),
                Err(e) => {
                    return Err(StartError::TurnSecret {
                        key,
                        reason: e.to_string(),
                    });
                }
            }
        }
        (None, None) => {
            return Ok(IceServers {
                fixed: config.ice_servers.clone(),
                turn: None,
            });
        }
    };
    // Checked here too: the token secret may come from the data dir, and the file's content
    // is known only now.
    crate::config::turn_secret_ok(&secret, Some(token_secret)).map_err(|why| {
        StartError::TurnSecret {
            key,
            reason: why.to_owned(),
        }
    })?;
    let secret = Some(secret);
    let turn = secret
        .filter(|_| !config.turn_urls.is_empty())
        .map(|secret| TurnRest {
            urls: config.turn_urls.clone(),
            secret,
            ttl: Duration::from_secs(config.turn_ttl_s),
        });
    if let Some(turn) = &turn {
        info!(urls = ?turn.urls, ttl_s = config.turn_ttl_s, "TURN credentials are minted per join");
    }
    Ok(IceServers {
        fixed: config.ice_servers.clone(),
        turn,
    })
}

/// The Caucus server.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Bind, spawn every task and the media thread, and return at once.
    pub async fn start(config: Config) -> Result<Running, StartError> {
        let secret = match &config.secret {
            Some(secret) => secret.clone(),
            None => crate::secret::load_or_create(&config.data).map_err(|source| {
                StartError::Secret {
                    dir: config.data.display().to_string(),
                    source,
                }
            })?,
        };
        let tokens = TokenIssuer::new(&secret);
        let ice = ice_servers(&config, &secret)?;
        let store: Arc<dyn Store> = if config.in_memory {
            Arc::new(MemoryStore::new())
        } else {
            let dir = config.data.clone();
            let opened = tokio::task::spawn_blocking(move || SqliteStore::open(&dir))
                .await
                .unwrap_or_else(|e| Err(StoreError::Backend(e.to_string())));
            Arc::new(opened.map_err(|source| StartError::Store {
                dir: config.data.display().to_string(),
                source,
            })?)
        };
        // Before anything is spawned: a bad key or CA file stops the start here.
        let hooks = Webhooks::new(
            &config.webhooks,
            (!config.in_memory).then_some(config.data.as_path()),
            config.webhook_ca_file.as_deref(),
            Duration::from_millis(config.webhook_timeout_ms),
            Duration::from_millis(config.webhook_backoff_initial_ms),
            Duration::from_millis(config.webhook_backoff_max_ms),
        )?;
        if hooks.signs_with(secret.as_bytes()) {
            return Err(StartError::WebhookKeyIsTokenSecret);
        }
        let tls = match config.tls() {
            Some(files) => Some(crate::tls::ServerTls::load(files).await?),
            None => None,
        };
        // What a crash kept back goes out before anything new happens.
        recover(&store, &hooks, &config.data).await;

        let (sockets, candidates) = bind_media(&config)?;
        let media_addrs: Vec<SocketAddr> = sockets
            .udp
            .iter()
            .filter_map(|(s, _)| s.local_addr().ok())
            .collect();
        let recorder =
            Recorder::spawn(&config.data, Arc::clone(&store)).map_err(StartError::Media)?;
        let media = MediaThread::spawn(
            sockets,
            config.engine(candidates.clone()),
            recorder.handle(),
        )
        .map_err(StartError::Media)?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let (accepting, mut stop_accepting) = watch::channel(false);
        let (last_webhooks, last_webhooks_rx) = watch::channel(false);
        let (persist, persist_task) = crate::persist::spawn(Arc::clone(&store));
        let webhook_task = tokio::spawn(crate::webhooks::run(
            Arc::clone(&hooks),
            Arc::clone(&store),
            last_webhooks_rx,
        ));
        let sink = WebhookSink::new(hooks, persist.clone());
        let telemetry = Telemetry::new();
        let (registry, registry_task) = Registry::spawn(
            Clock::start(),
            config.session(),
            media.handle(),
            persist,
            sink,
            Arc::clone(&telemetry),
        );
        let control = Arc::new(ControlPlane::new(
            Arc::clone(&store),
            registry.clone(),
            Policy {
                auto_create_rooms: config.auto_create_rooms,
                demo_room: config.demo(),
                max_rooms: config.max_rooms,
            },
        ));

        let listener = http_listener(config.http).map_err(|source| StartError::Bind {
            what: "HTTP",
            addr: config.http,
            source,
        })?;
        let http_addr = listener.local_addr().map_err(|source| StartError::Bind {
            what: "HTTP",
            addr: config.http,
            source,
        })?;
        let base_url = config.base_url(http_addr);
        if config.demo_room.is_some() && config.demo().is_none() {
            info!(http = %http_addr, "the demo room is off: HTTP is not bound to loopback (demo_public turns it on)");
        }
        if config.public_url.is_none() && !http_addr.ip().is_loopback() {
            warn!(%base_url, "no public_url: links name the bound address; set public_url to the address people use");
        }
        if tls.is_some() && base_url.starts_with("http://") {
            warn!(%base_url, "public_url starts with http:// but the listener speaks only HTTPS: links that start with it do not reach this listener");
        }
        let api = ApiState {
            control: Arc::clone(&control),
            tokens: tokens.clone(),
            limits: Limits {
                max_body_bytes: config.max_body_bytes,
            },
            base_url: base_url.clone(),
            data: config.data.clone(),
        };
        let ctx = Arc::new(ConnectionContext {
            control,
            tokens: tokens.clone(),
            rate_per_s: config.rate_per_s,
            rate_burst: config.rate_burst,
            outbound_queue: config.outbound_queue,
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            join_timeout: Duration::from_secs(config.join_timeout_s),
            telemetry: Arc::clone(&telemetry),
            ice,
            next_conn: AtomicU64::new(1),
            shutdown: shutdown_rx.clone(),
        });
        let trusted = TrustedProxies::new(&config.trusted_proxies);
        let rate = HttpRate::new(
            config.http_rate_per_s,
            config.http_rate_burst,
            Arc::clone(&trusted),
        );
        let budget = crate::fd_budget::check(config.max_connections);
        let admission = Admission::new(AdmissionLimits {
            max_connections: budget.max_connections,
            max_per_ip: config.max_connections_per_ip,
            trusted: Arc::clone(&trusted),
            handshake_timeout: Duration::from_secs(config.handshake_timeout_s),
        });
        let metrics = Metrics::new(
            Arc::clone(&telemetry),
            Arc::clone(&ctx.control),
            media.handle(),
            Arc::clone(&admission),
            Arc::clone(&rate),
            stop_accepting.clone(),
        );
        let metrics_listener =
            match config.metrics_http {
                Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(
                    |source| StartError::Bind {
                        what: "metrics",
                        addr,
                        source,
                    },
                )?),
                None => None,
            };
        let metrics_addr = metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok());
        let metrics_app = crate::http::metrics_router(Arc::clone(&metrics));
        let access = Access {
            telemetry,
            log: config.access_log,
            trusted,
        };
        let web_control = Arc::clone(&api.control);
        let app = crate::http::router(ctx, api, metrics, metrics_listener.is_none())
            .merge(crate::web::router(
                tokens.clone(),
                config.demo(),
                web_control,
            ))
            .layer(axum::middleware::from_fn_with_state(
                rate,
                crate::http_rate::limit,
            ))
            .layer(axum::middleware::from_fn_with_state(
                crate::web::SecurityHeaders::new(&config.frame_ancestors),
                crate::web::security_headers,
            ))
            .layer(axum::middleware::from_fn_with_state(
                access,
                crate::access::observe,
            ));
        let listener = LimitedListener::new(listener, admission);
        let (listener, tls) = match tls {
            Some(tls) => {
                let (acceptor, handle) = tls.start(stop_accepting.clone());
                (listener.with_tls(acceptor), Some(handle))
            }
            None => (listener, None),
        };
        let app = app.into_make_service_with_connect_info::<ClientAddr>();
        let mut metrics_stop = stop_accepting.clone();
        let http = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_accepting.wait_for(|s| *s).await;
            })
            .into_future();
        // The metrics listener is part of the HTTP task: both hold the store, and shutdown
        // waits for both before the store writer ends.
        let metrics_http = async move {
            let Some(listener) = metrics_listener else {
                return Ok(());
            };
            axum::serve(listener, metrics_app)
                .with_graceful_shutdown(async move {
                    let _ = metrics_stop.wait_for(|s| *s).await;
                })
                .await
        };
        let http_task = tokio::spawn(async move {
            let (http, metrics) = tokio::join!(http, metrics_http);
            for (what, result) in [("HTTP", http), ("metrics HTTP", metrics)] {
                if let Err(e) = result {
                    warn!(error = %e, "{what} server failed");
                }
            }
        });
        info!(http = %http_addr, media = ?media_addrs, ?candidates, "caucus started");
        Ok(Running {
            http_addr,
            metrics_addr,
            base_url,
            tls,
            media_addrs,
            candidates,
            tokens,
            store: Checkpoint(store),
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_s),
            accepting,
            shutdown,
            last_webhooks,
            http_task,
            registry,
            registry_task,
            persist_task,
            webhook_task,
            media,
            recorder,
        })
    }
}

/// A started server. Dropping it without [`Running::shutdown`] leaves the tasks running
/// until the runtime ends.
#[derive(Debug)]
pub struct Running {
    http_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    /// The start of every link: `public_url`, or `http://` (`https://`) and the bound address.
    base_url: String,
    /// The certificate's reload task, when the listener speaks TLS.
    tls: Option<crate::tls::TlsHandle>,
    /// The bound UDP addresses.
    media_addrs: Vec<SocketAddr>,
    /// What clients are told (UDP first).
    candidates: Vec<LocalCandidate>,
    tokens: TokenIssuer,
    store: Checkpoint,
    shutdown_timeout: Duration,
    /// Stops the listener (no new connections).
    accepting: watch::Sender<bool>,
    /// Closes the connections still open.
    shutdown: watch::Sender<bool>,
    /// The outbox holds the last events: send them and stop.
    last_webhooks: watch::Sender<bool>,
    http_task: JoinHandle<()>,
    registry: Registry,
    registry_task: JoinHandle<()>,
    persist_task: JoinHandle<()>,
    webhook_task: JoinHandle<()>,
    media: MediaThread,
    recorder: Recorder,
}

impl Running {
    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound address of `metrics_http`, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The first bound media UDP address (the real port when configured with port 0).
    pub fn media_addr(&self) -> SocketAddr {
        self.media_addrs[0]
    }

    /// Every bound media UDP address.
    pub fn media_addrs(&self) -> &[SocketAddr] {
        &self.media_addrs
    }

    /// The first UDP address put in SDP answers.
    pub fn advertised_media_addr(&self) -> SocketAddr {
        self.candidates[0].address
    }

    /// Every candidate put in SDP answers: UDP ones, then ICE-TCP ones.
    pub fn media_candidates(&self) -> &[LocalCandidate] {
        &self.candidates
    }

    /// `ws://HOST:PORT/v1/rtc` (`wss://` with TLS).
    pub fn signaling_url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}/v1/rtc", self.http_addr)
    }

    /// Whether the HTTP listener speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Read the certificate files now (SIGHUP) rather than at the next poll; nothing without
    /// TLS.
    pub fn reload_tls(&self) {
        if let Some(tls) = &self.tls {
            tls.reload_now();
        }
    }

    /// The certificate reloads so far (swapped in, refused), updated after each; `None`
    /// without TLS.
    pub fn tls_reloads(&self) -> Option<watch::Receiver<crate::tls::Reloads>> {
        self.tls.as_ref().map(crate::tls::TlsHandle::reloads)
    }

    /// Mints and verifies tokens with this server's secret.
    pub fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    /// A join token for `user` as `role` in `room`, valid for an hour. Panics for ids outside
    /// the id rule (a test helper).
    pub fn join_token(&self, room: &str, user: &str, role: &str) -> String {
        self.tokens
            .mint_join(&JoinGrant::new(room, user, role), Duration::from_secs(3600))
            .expect("the ids follow the id rule (caucus_proto::ids::check_chosen)")
    }

    /// The start of every link to this server: `public_url` when configured, otherwise
    /// `http://HOST:PORT` (`https://` with TLS) of the bound address.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The browser link for a join token: `{base_url}/rooms/{room}?token=…`.
    pub fn join_link(&self, room: &RoomId, token: &str) -> String {
        format!("{}/rooms/{room}?token={token}", self.base_url)
    }

    /// Stop: end every session (peers told, recordings finished, webhooks sent), close every
    /// connection, stop the media thread and the recorder, checkpoint the store — within the
    /// configured `shutdown_timeout_s`; whatever is still running then is left to the next
    /// start to close out (see the module docs).
    pub async fn shutdown(self) {
        let deadline = Instant::now() + self.shutdown_timeout;
        info!(timeout_s = self.shutdown_timeout.as_secs(), "shutting down");
        let _ = self.accepting.send(true);
        if let Some(tls) = &self.tls {
            tls.stop();
        }
        // Every session ends; its peers' queues hold `session_ended` and the close.
        if timeout_at(deadline, async {
            self.registry.shutdown().await;
            let _ = self.registry_task.await;
        })
        .await
        .is_err()
        {
            warn!("the rooms did not stop in time");
        }
        let _ = self.shutdown.send(true);
        let mut http_task = self.http_task;
        if timeout_at(deadline, &mut http_task).await.is_err() {
            warn!("HTTP server did not drain in time; aborting it");
            http_task.abort();
        }
        // Every room has stopped and the HTTP server (whose state holds the store) is gone:
        // the writer finishes its queue (the sessions' last events among it) and ends.
        if timeout_at(deadline, self.persist_task).await.is_err() {
            warn!("the store writer did not finish in time");
        }
        let _ = self.last_webhooks.send(true);
        let mut webhook_task = self.webhook_task;
        let webhooks = async {
            if timeout_at(deadline, &mut webhook_task).await.is_err() {
                warn!(
                    "the last webhooks were not all sent in time; the rest go after the next start"
                );
                webhook_task.abort();
            }
        };
        let media = self.media;
        let recorder = self.recorder;
        let media = async {
            let stopped = timeout_at(deadline, async {
                media.stop().await;
                // The media thread held the last handle: the recorder finishes every file.
                recorder.stop().await;
            });
            if stopped.await.is_err() {
                warn!("recordings were not finished in time; the next start closes them out");
            }
        };
        tokio::join!(webhooks, media);
        let store = self.store.0;
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "cannot checkpoint the store"),
            Err(e) => warn!(error = %e, "the store checkpoint panicked"),
        }
        info!("stopped");
    }
}

/// The store, kept to be checkpointed at the end of a stop.
struct Checkpoint(Arc<dyn Store>);

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpoint")
    }
}

/// Before anything runs: end what the last run left open (nothing after a clean stop). A
/// failure is logged, not fatal: the server is more use running.
async fn recover(store: &Arc<dyn Store>, hooks: &Arc<Webhooks>, data: &std::path::Path) {
    let store = Arc::clone(store);
    let hooks = Arc::clone(hooks);
    let data = data.to_owned();
    let done = tokio::task::spawn_blocking(move || {
        let now = crate::clock::unix_ms();
        match crate::recovery::end_live_sessions(store.as_ref(), &hooks, now) {
            Ok(0) => {}
            Ok(n) => warn!(
                sessions = n,
                "the last run stopped without ending its sessions; their end is sent now"
            ),
            Err(e) => warn!(error = %e, "cannot end the sessions the last run left live"),
        }
        match crate::recovery::close_out_recordings(store.as_ref(), &data) {
            Ok(0) => {}
            Ok(n) => warn!(
                recordings = n,
                "the last run stopped without finishing its recordings; closed out"
            ),
            Err(e) => warn!(error = %e, "cannot close out the recordings the last run left open"),
        }
    })
    .await;
    if let Err(e) = done {
        warn!(error = %e, "recovery panicked");
    }
}
