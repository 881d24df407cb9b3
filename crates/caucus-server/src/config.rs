//! Server configuration: embedded defaults < `caucus.toml` < `CAUCUS_*` environment < flags.
//!
//! [`Config`] is plain data; [`Config::load`] layers the sources with figment. Tests build a
//! [`Config::ephemeral`] directly (port 0 everywhere, a random secret, nothing on disk) so
//! that no environment variable or file can leak into them.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use caucus_core::SessionConfig;
use caucus_proto::IceServer;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::webhooks::signing::SigningKey;
use crate::webhooks::{EVENT_NAMES, WebhookEndpoint};

/// The shortest token secret accepted.
pub const MIN_SECRET_BYTES: usize = 16;
const MIN_OUTBOUND_QUEUE: usize = 16;
const MIN_BODY_BYTES: usize = 1024;
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const MIN_BANDWIDTH_KBPS: u32 = 30;
const MAX_BANDWIDTH_KBPS: u32 = 100_000;
/// A stop that may take longer than this is not bounded in any useful sense.
const MAX_SHUTDOWN_TIMEOUT_S: u64 = 3_600;
/// A TURN credential shorter-lived than this may expire before the client has allocated.
const MIN_TURN_TTL_S: u64 = 60;
/// A leaked credential works until it expires: a week bounds that.
const MAX_TURN_TTL_S: u64 = 7 * 24 * 3_600;

/// One value that cannot work: `key` as the file names it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong type.
    #[error("{0}")]
    Source(Box<figment::Error>),
    /// Values that parse but cannot work, each with its key.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP (REST, signaling, web app) listen address.
    pub http: SocketAddr,
    /// Media UDP listen addresses, one socket each (`["0.0.0.0:7882", "[::]:7882"]` for both
    /// IPv4 and IPv6; a single address may be given as a string, several comma-separated).
    #[serde(with = "crate::media_addrs::list")]
    pub media: Vec<SocketAddr>,
    /// ICE-over-TCP listen addresses (RFC 6544 passive candidates) for clients that cannot
    /// send UDP, e.g. `0.0.0.0:7881`, or `:443` where nothing else owns that port. Empty: off.
    #[serde(with = "crate::media_addrs::list")]
    pub media_tcp: Vec<SocketAddr>,
    /// Data directory (secret, later the database and recordings).
    pub data: PathBuf,
    /// The IPs clients are told for media, each with the bound ports of its family: behind a
    /// 1:1 NAT the public one (and the private one, for clients inside). Default: the bound
    /// IP, or the addresses of the host's interfaces when bound to an unspecified address.
    #[serde(with = "crate::media_addrs::list")]
    pub advertise: Vec<IpAddr>,
    /// The HMAC secret for tokens. When unset it is read from (or generated into)
    /// `<data>/secret`. Used as-is: its UTF-8 bytes are the HS256 key.
    pub secret: Option<String>,
    /// How long a peer whose connection dropped keeps its place (seconds).
    pub reconnect_grace_s: u64,
    /// How long an empty session lives before it ends (seconds).
    pub empty_grace_s: u64,
    /// How long a request (role change, move, unmute) waits for an answer (seconds).
    pub request_ttl_s: u64,
    /// At most this many peers per session; 0 = unlimited.
    pub max_peers_per_room: u32,
    /// Signaling messages a connection may send per second, sustained.
    pub rate_per_s: u32,
    /// Signaling messages a connection may send in one burst.
    pub rate_burst: u32,
    /// Messages queued towards one connection before it counts as too slow and is dropped
    /// (it may reconnect and resume).
    pub outbound_queue: usize,
    /// Print one join link per role of the built-in template for this room on start
    /// (the binary does; `None` prints nothing). The room is created on first join, and
    /// `POST /demo/token` hands anyone a token for it in any role — so the demo is served
    /// only when `http` is a loopback address, unless `demo_public` says otherwise.
    pub demo_room: Option<String>,
    /// Serve the demo room (and its open token endpoint) also when `http` is bound to a
    /// non-loopback address. Off by default: anyone who reaches the port could join as host.
    pub demo_public: bool,
    /// The address people reach this server at (`https://meet.example.org`, behind a
    /// proxy). Every link the server prints or returns starts with it; when unset, with
    /// `http://` and the bound address (127.0.0.1 for an unspecified one). The request's
    /// `Host` header is never used.
    pub public_url: Option<String>,
    /// Who may embed the web app in a frame: the source list of the pages'
    /// `Content-Security-Policy: frame-ancestors` (`'self'` by default, `'none'` for
    /// nobody, or origins such as `https://intranet.example.org`).
    pub frame_ancestors: String,
    /// A join to a room the store does not know creates it with the built-in template.
    /// Off by default (unknown rooms are refused with `unknown_room`); on in
    /// [`Config::ephemeral`] so tests can join any room.
    pub auto_create_rooms: bool,
    /// At most this many durable rooms; 0 = unlimited.
    pub max_rooms: u32,
    /// The largest REST request body in bytes (larger: 413 `payload_too_large`).
    pub max_body_bytes: usize,
    /// Keep rooms, templates and plans in memory only (nothing in `data`); for tests.
    pub in_memory: bool,
    /// Webhook endpoints (`[[webhooks]]` tables in the file); none by default.
    pub webhooks: Vec<WebhookEndpoint>,
    /// How long one webhook request may take before it counts as failed (milliseconds).
    pub webhook_timeout_ms: u64,
    /// The wait before the first retry of a failed webhook; it doubles per failure
    /// (milliseconds).
    pub webhook_backoff_initial_ms: u64,
    /// The longest wait between two attempts of one webhook (milliseconds).
    pub webhook_backoff_max_ms: u64,
    /// A PEM file of CA certificates that https webhook receivers may chain to, besides the
    /// built-in (Mozilla) roots: for receivers behind a private CA.
    pub webhook_ca_file: Option<PathBuf>,
    /// Bandwidth estimation towards every peer starts from this rate (kbit/s); the
    /// estimate then decides which simulcast layers a subscriber gets. 0 turns
    /// estimation off (layers then follow roles and tile sizes only).
    pub bandwidth_start_kbps: u32,
    // Limits: what one hostile or broken client may hold of the server.
    /// A WebSocket write (a message or the close) that the client does not take within this
    /// time closes the connection; a joined peer then counts as connection-lost (milliseconds).
    pub write_timeout_ms: u64,
    /// A connection that has not joined within this time is closed, whatever it does (seconds).
    pub join_timeout_s: u64,
    /// A TCP connection that has not sent its first complete HTTP request head within this
    /// time is closed (seconds): a socket opened and left silent costs a file descriptor.
    pub handshake_timeout_s: u64,
    /// At most this many open HTTP/WebSocket connections in all; the excess is answered 503
    /// `too_many_connections` and closed. Lowered at start to what the file-descriptor limit
    /// allows.
    pub max_connections: u32,
    /// At most this many open connections from one client address; 0 = unlimited.
    /// Connections from `trusted_proxies` do not count (they carry many clients).
    pub max_connections_per_ip: u32,
    /// HTTP requests (REST, pages, WebSocket upgrades) one client address may make per
    /// second, sustained; the excess is answered 429 `rate_limited`. 0 = unlimited.
    pub http_rate_per_s: u32,
    /// HTTP requests one client address may make at once.
    pub http_rate_burst: u32,
    /// Reverse proxies (their addresses) whose `X-Forwarded-For` names the client: their own
    /// connections are not limited per address, and requests through them are rate-limited
    /// by the client address they forward. A request from one without the header is the
    /// proxy's own (a local tool) and is not rate-limited.
    pub trusted_proxies: Vec<IpAddr>,
    /// At most this many open ICE-TCP connections in all; the excess is closed at accept.
    pub media_tcp_max_connections: u32,
    /// At most this many open ICE-TCP connections from one client address (a browser opens
    /// one per server TCP candidate it tries; a school's NAT carries a whole class).
    pub media_tcp_max_per_ip: u32,
    /// An ICE-TCP connection that sends nothing for this long is closed, and one the media
    /// engine has not answered (a valid ICE check) within `handshake_timeout_s` (seconds).
    pub media_tcp_idle_timeout_s: u64,
    // Operations
    /// `text` (colours only on a terminal) or `json` (one object per line, for collectors).
    pub log_format: LogFormat,
    /// One log line per HTTP request at target `caucus::access`.
    pub access_log: bool,
    /// Serve `/metrics` on this address instead of the main one (a private interface); the
    /// main address then answers it 404.
    pub metrics_http: Option<SocketAddr>,
    // HTTPS
    /// The certificate chain (PEM, the server's certificate first) that `http` serves HTTPS
    /// and WSS with; set together with `tls_key`. Read again when it changes.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    // Stopping
    /// A stop (SIGTERM, SIGINT) ends every session, finishes the recordings and sends the
    /// last webhooks within this time, then exits whatever is left (seconds). What is cut
    /// short is closed out at the next start. Keep it below the supervisor's kill timeout
    /// (Docker's `stop` waits 10 s, Kubernetes 30 s, systemd 90 s).
    pub shutdown_timeout_s: u64,
    // ICE: how clients behind firewalls reach the media port.
    /// STUN servers (or TURN servers with fixed credentials) every peer is told, as
    /// `[[ice_servers]]` tables of `urls` (`stun:`, `turn:` or `turns:`) and, for TURN,
    /// `username` and `credential`. None by default.
    pub ice_servers: Vec<IceServer>,
    /// TURN servers whose credentials are minted per join with `turn_secret` (the TURN REST
    /// scheme, coturn's `use-auth-secret`), e.g. `turn:turn.example.org:3478?transport=udp`,
    /// `turn:turn.example.org:3478?transport=tcp`, `turns:turn.example.org:443?transport=tcp`.
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn's `static-auth-secret`).
    pub turn_secret: Option<String>,
    /// A file holding `turn_secret` (read at start, surrounding whitespace trimmed), to keep
    /// the secret out of the configuration file.
    pub turn_secret_file: Option<PathBuf>,
    /// How long a minted TURN credential is valid (seconds). A call that outlasts it cannot
    /// refresh its relay, so keep it above the longest meeting.
    pub turn_ttl_s: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 7880)),
            media: vec![SocketAddr::from(([127, 0, 0, 1], 7882))],
            media_tcp: Vec::new(),
            data: PathBuf::from("./caucus-data"),
            advertise: Vec::new(),
            secret: None,
            reconnect_grace_s: 30,
            empty_grace_s: 60,
            request_ttl_s: 30,
            max_peers_per_room: 0,
            rate_per_s: 50,
            rate_burst: 100,
            outbound_queue: 1024,
            demo_room: Some("demo".to_owned()),
            demo_public: false,
            public_url: None,
            frame_ancestors: "'self'".to_owned(),
            auto_create_rooms: false,
            max_rooms: 0,
            max_body_bytes: 64 * 1024,
            in_memory: false,
            webhooks: Vec::new(),
            webhook_timeout_ms: 10_000,
            webhook_backoff_initial_ms: 1_000,
            webhook_backoff_max_ms: 300_000,
            webhook_ca_file: None,
            bandwidth_start_kbps: 1_000,
            // Limits
            write_timeout_ms: 10_000,
            join_timeout_s: 30,
            handshake_timeout_s: 10,
            max_connections: 4_096,
            max_connections_per_ip: 256,
            http_rate_per_s: 20,
            http_rate_burst: 200,
            trusted_proxies: vec![
                IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ],
            media_tcp_max_connections: 1_024,
            media_tcp_max_per_ip: 256,
            media_tcp_idle_timeout_s: 30,
            // Operations
            log_format: LogFormat::Text,
            access_log: true,
            metrics_http: None,
            // HTTPS
            tls_cert: None,
            tls_key: None,
            // Stopping
            shutdown_timeout_s: 8,
            // ICE
            ice_servers: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_secret_file: None,
            turn_ttl_s: 6 * 3_600,
        }
    }
}

/// Values given on the command line (or by clap from `CAUCUS_HTTP` & co.); `None` = not given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<SocketAddr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media_tcp: Vec<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advertise: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

impl Config {
    /// Every key, as the file and the `CAUCUS_*` environment name them. Other `CAUCUS_*`
    /// variables (say `CAUCUS_LOG`) are not configuration and are ignored.
    pub const KEYS: &'static [&'static str] = &[
        "http",
        "media",
        "media_tcp",
        "data",
        "advertise",
        "secret",
        "reconnect_grace_s",
        "empty_grace_s",
        "request_ttl_s",
        "max_peers_per_room",
        "rate_per_s",
        "rate_burst",
        "outbound_queue",
        "demo_room",
        "demo_public",
        "public_url",
        "frame_ancestors",
        "auto_create_rooms",
        "max_rooms",
        "max_body_bytes",
        "in_memory",
        "webhooks",
        "webhook_timeout_ms",
        "webhook_backoff_initial_ms",
        "webhook_backoff_max_ms",
        "webhook_ca_file",
        "bandwidth_start_kbps",
        // Limits
        "write_timeout_ms",
        "join_timeout_s",
        "handshake_timeout_s",
        "max_connections",
        "max_connections_per_ip",
        "http_rate_per_s",
        "http_rate_burst",
        "trusted_proxies",
        "media_tcp_max_connections",
        "media_tcp_max_per_ip",
        "media_tcp_idle_timeout_s",
        // Operations
        "log_format",
        "access_log",
        "metrics_http",
        // HTTPS
        "tls_cert",
        "tls_key",
        // Stopping
        "shutdown_timeout_s",
        // ICE
        "ice_servers",
        "turn_urls",
        "turn_secret",
        "turn_secret_file",
        "turn_ttl_s",
    ];

    /// Layer the sources: defaults, then the TOML file (if given; it must exist), then
    /// `CAUCUS_*` environment variables (e.g. `CAUCUS_REQUEST_TTL_S=60`), then the flags; then
    /// [`Config::validate`].
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Source(Box::new(figment::Error::from(
                    format!("config file {} does not exist", path.display()),
                ))));
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("CAUCUS_").only(Self::KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Source(Box::new(e)))?;
        config.validate().map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// Every problem of values that parse but cannot work, each naming its key.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &str, message: String| {
            if !ok {
                problems.push(Problem {
                    key: key.to_owned(),
                    message,
                });
            }
        };
        check(
            !self.media.is_empty(),
            "media",
            "needs at least one UDP address (media cannot flow without one)".into(),
        );
        for ip in &self.advertise {
            check(
                !ip.is_unspecified() && !ip.is_multicast(),
                "advertise",
                format!(
                    "{ip} cannot be told to clients; give the address they reach this server at"
                ),
            );
        }
        if let Some(secret) = &self.secret {
            check(
                secret.len() >= MIN_SECRET_BYTES,
                "secret",
                format!("must be at least {MIN_SECRET_BYTES} bytes (it signs every token)"),
            );
        }
        check(
            self.request_ttl_s >= 1,
            "request_ttl_s",
            "must be at least 1 second".into(),
        );
        check(
            self.rate_per_s >= 1,
            "rate_per_s",
            "must be at least 1".into(),
        );
        check(
            self.rate_burst >= 1,
            "rate_burst",
            "must be at least 1 (a connection must be able to send its join)".into(),
        );
        // Limits
        check(
            self.write_timeout_ms >= 1,
            "write_timeout_ms",
            "must be at least 1 millisecond".into(),
        );
        check(
            self.join_timeout_s >= 1,
            "join_timeout_s",
            "must be at least 1 second".into(),
        );
        check(
            self.handshake_timeout_s >= 1,
            "handshake_timeout_s",
            "must be at least 1 second".into(),
        );
        check(
            self.media_tcp_max_connections >= 1 && self.media_tcp_max_per_ip >= 1,
            "media_tcp_max_connections",
            "media_tcp_max_connections and media_tcp_max_per_ip must be at least 1".into(),
        );
        check(
            self.media_tcp_idle_timeout_s >= 1,
            "media_tcp_idle_timeout_s",
            "must be at least 1 second".into(),
        );
        check(
            self.max_connections >= 1,
            "max_connections",
            "must be at least 1 (nobody could connect)".into(),
        );
        check(
            self.http_rate_per_s == 0 || self.http_rate_burst >= 1,
            "http_rate_burst",
            "must be at least 1 when http_rate_per_s is set (no request could pass)".into(),
        );
        check(
            self.outbound_queue >= MIN_OUTBOUND_QUEUE,
            "outbound_queue",
            format!("must be at least {MIN_OUTBOUND_QUEUE} messages"),
        );
        check(
            (MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&self.max_body_bytes),
            "max_body_bytes",
            format!("must be between {MIN_BODY_BYTES} and {MAX_BODY_BYTES} bytes"),
        );
        check(
            self.bandwidth_start_kbps == 0
                || (MIN_BANDWIDTH_KBPS..=MAX_BANDWIDTH_KBPS).contains(&self.bandwidth_start_kbps),
            "bandwidth_start_kbps",
            format!(
                "must be 0 (off) or between {MIN_BANDWIDTH_KBPS} and {MAX_BANDWIDTH_KBPS} kbit/s"
            ),
        );
        check(
            (1..=MAX_SHUTDOWN_TIMEOUT_S).contains(&self.shutdown_timeout_s),
            "shutdown_timeout_s",
            format!("must be between 1 and {MAX_SHUTDOWN_TIMEOUT_S} seconds"),
        );
        if let Some(room) = &self.demo_room {
            check(
                caucus_proto::RoomId::check(room).is_ok(),
                "demo_room",
                format!("{room:?} is not a valid room id"),
            );
        }
        if let Some(url) = &self.public_url {
            check(
                public_url_ok(url),
                "public_url",
                format!(
                    "{url:?} is not an http:// or https:// URL of a host, without a query or fragment"
                ),
            );
        }
        // HTTPS
        for (key, other, set, other_set) in [
            ("tls_cert", "tls_key", &self.tls_cert, &self.tls_key),
            ("tls_key", "tls_cert", &self.tls_key, &self.tls_cert),
        ] {
            check(
                set.is_none() || other_set.is_some(),
                key,
                format!("needs {other} too (HTTPS takes both files, or neither)"),
            );
            if let Some(path) = set {
                check(
                    !path.as_os_str().is_empty(),
                    key,
                    "must be the path of a PEM file".into(),
                );
            }
        }
        check(
            frame_ancestors_ok(&self.frame_ancestors),
            "frame_ancestors",
            format!(
                "{:?} is not a source list (e.g. 'self', 'none' or https://intranet.example.org, separated by spaces)",
                self.frame_ancestors
            ),
        );
        check(
            self.webhook_timeout_ms >= 1,
            "webhook_timeout_ms",
            "must be at least 1 millisecond".into(),
        );
        check(
            self.webhook_backoff_initial_ms >= 1
                && self.webhook_backoff_initial_ms <= self.webhook_backoff_max_ms,
            "webhook_backoff_initial_ms",
            "must be at least 1 and at most webhook_backoff_max_ms".into(),
        );
        for (i, hook) in self.webhooks.iter().enumerate() {
            let key = format!("webhooks[{i}]");
            let url = reqwest::Url::parse(&hook.url);
            check(
                url.as_ref().is_ok_and(|u| {
                    matches!(u.scheme(), "https" | "http")
                        && u.host().is_some()
                        && u.username().is_empty()
                        && u.password().is_none()
                }),
                &format!("{key}.url"),
                format!(
                    "{:?} is not an https:// (or http://) URL without credentials",
                    hook.url
                ),
            );
            check(
                self.webhooks[..i].iter().all(|other| other.url != hook.url),
                &format!("{key}.url"),
                format!("{:?} is listed twice", hook.url),
            );
            if let Some(secret) = &hook.secret {
                if let Err(e) = SigningKey::parse(secret) {
                    check(
                        false,
                        &format!("{key}.secret"),
                        format!("{e}; leave it out to have a key generated"),
                    );
                }
                check(
                    self.secret.as_ref() != Some(secret),
                    &format!("{key}.secret"),
                    "must not be the token secret (a receiver could mint tokens)".into(),
                );
            }
            for event in &hook.events {
                check(
                    EVENT_NAMES.contains(&event.as_str()),
                    &format!("{key}.events"),
                    format!("unknown event {event:?}; known: {}", EVENT_NAMES.join(", ")),
                );
            }
        }
        self.validate_ice(&mut check);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn validate_ice(&self, check: &mut impl FnMut(bool, &str, String)) {
        for (i, server) in self.ice_servers.iter().enumerate() {
            let key = format!("ice_servers[{i}]");
            check(
                !server.urls.is_empty(),
                &format!("{key}.urls"),
                "must list at least one URL".into(),
            );
            for url in &server.urls {
                if let Err(why) = ice_url(url, &["stun", "turn", "turns"]) {
                    check(false, &format!("{key}.urls"), format!("{url:?}: {why}"));
                }
            }
            let turn = server
                .urls
                .iter()
                .any(|u| u.starts_with("turn:") || u.starts_with("turns:"));
            check(
                server.username.is_some() == server.credential.is_some()
                    && (!turn || server.credential.is_some()),
                &format!("{key}.credential"),
                "a TURN server needs both username and credential (browsers refuse it otherwise); give neither for STUN".into(),
            );
        }
        for url in &self.turn_urls {
            if let Err(why) = ice_url(url, &["turn", "turns"]) {
                check(false, "turn_urls", format!("{url:?}: {why}"));
            }
        }
        if let (Some(_), Some(_)) = (&self.turn_secret, &self.turn_secret_file) {
            check(
                false,
                "turn_secret_file",
                "give turn_secret or turn_secret_file, not both".into(),
            );
        }
        let has_secret = self.turn_secret.is_some() || self.turn_secret_file.is_some();
        check(
            self.turn_urls.is_empty() || has_secret,
            "turn_secret",
            "turn_urls need the secret shared with the TURN server (turn_secret or turn_secret_file)".into(),
        );
        check(
            !has_secret || !self.turn_urls.is_empty(),
            "turn_urls",
            "a TURN secret is set but no turn_urls say where the TURN server is".into(),
        );
        if let Some(secret) = &self.turn_secret
            && let Err(why) = turn_secret_ok(secret, self.secret.as_deref())
        {
            check(false, "turn_secret", why.into());
        }
        check(
            (MIN_TURN_TTL_S..=MAX_TURN_TTL_S).contains(&self.turn_ttl_s),
            "turn_ttl_s",
            format!("must be between {MIN_TURN_TTL_S} and {MAX_TURN_TTL_S} seconds"),
        );
    }

    /// A configuration for tests and embedding: loopback on port 0 for HTTP and media, a
    /// fresh random secret, an in-memory store (nothing is written to disk), no demo links,
    /// and rooms created on first join.
    pub fn ephemeral() -> Config {
        Config {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            media: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            secret: Some(crate::secret::random_hex(32)),
            demo_room: None,
            auto_create_rooms: true,
            in_memory: true,
            ..Config::default()
        }
    }

    /// The demo room, if the demo is served: configured, and `http` a loopback address or
    /// `demo_public` on.
    pub fn demo(&self) -> Option<caucus_proto::RoomId> {
        let room = self
            .demo_room
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())?;
        (self.http.ip().is_loopback() || self.demo_public).then(|| caucus_proto::RoomId::from(room))
    }

    /// The start of every link to this server: `public_url` without a trailing `/`, or
    /// `http://` (`https://` with TLS) and `bound` (a loopback address in place of an
    /// unspecified one).
    pub fn base_url(&self, bound: SocketAddr) -> String {
        let scheme = if self.tls().is_some() {
            "https"
        } else {
            "http"
        };
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if bound.ip().is_unspecified() => {
                let loopback = match bound {
                    SocketAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
                    SocketAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                };
                format!("{scheme}://{}", SocketAddr::new(loopback, bound.port()))
            }
            None => format!("{scheme}://{bound}"),
        }
    }

    /// The certificate files, when the listener speaks TLS.
    pub fn tls(&self) -> Option<crate::tls::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// The media engine's settings, telling clients `candidates`.
    pub fn engine(
        &self,
        candidates: Vec<caucus_media::LocalCandidate>,
    ) -> caucus_media::EngineConfig {
        let mut engine = caucus_media::EngineConfig::with_candidates(candidates);
        engine.bandwidth_estimation =
            (self.bandwidth_start_kbps > 0).then(|| u64::from(self.bandwidth_start_kbps) * 1_000);
        engine
    }

    /// The settings each new session gets.
    pub fn session(&self) -> SessionConfig {
        SessionConfig {
            reconnect_grace: Duration::from_secs(self.reconnect_grace_s),
            empty_grace: Duration::from_secs(self.empty_grace_s),
            request_ttl: Duration::from_secs(self.request_ttl_s),
            max_peers: self.max_peers_per_room,
            ..SessionConfig::default()
        }
    }
}

/// Whether `secret` may be the TURN shared secret, besides the token secret `token_secret`.
pub fn turn_secret_ok(secret: &str, token_secret: Option<&str>) -> Result<(), &'static str> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err("must be at least 16 bytes (whoever knows it can mint TURN credentials)");
    }
    if token_secret == Some(secret) {
        return Err(
            "must not be the token secret (the TURN server's operator could mint join tokens)",
        );
    }
    Ok(())
}

/// An ICE server URL as browsers take it (RFC 7064, RFC 7065): `scheme:host[:port]`, for
/// TURN optionally `?transport=udp|tcp`; no `//`, no credentials, no path.
fn ice_url(url: &str, schemes: &[&str]) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once(':')
        .ok_or_else(|| "not a stun:, turn: or turns: URL".to_owned())?;
    if !schemes.contains(&scheme) {
        let allowed: Vec<String> = schemes.iter().map(|s| format!("{s}:")).collect();
        return Err(format!(
            "the scheme must be {} (not {scheme}:)",
            allowed.join(", ")
        ));
    }
    let (hostport, query) = match rest.split_once('?') {
        Some((hostport, query)) => (hostport, Some(query)),
        None => (rest, None),
    };
    match query {
        None => {}
        Some(_) if scheme == "stun" => return Err("a stun: URL takes no query".into()),
        Some("transport=udp" | "transport=tcp") => {}
        Some(other) => {
            return Err(format!(
                "the query must be transport=udp or transport=tcp (not {other:?})"
            ));
        }
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or_else(|| "an IPv6 address needs its closing ]".to_owned())?;
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{ip:?} is not an IPv6 address"));
        }
        match after {
            "" => (ip, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (ip, Some(port)),
                None => return Err("only :port may follow the IPv6 address".into()),
            },
        }
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (hostport.starts_with('[')
            || host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if !host_ok {
        return Err(format!("{host:?} is not a host name or IP address"));
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("{port:?} is not a port (1 to 65535)"));
    }
    Ok(())
}

/// An absolute http(s) URL of a host, nothing after the path (links append to it).
fn public_url_ok(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
            && u.password().is_none()
    })
}

/// A CSP source list that cannot end the directive early or add another one.
fn frame_ancestors_ok(list: &str) -> bool {
    !list.trim().is_empty()
        && list
            .bytes()
            .all(|b| (b.is_ascii_graphic() && !matches!(b, b';' | b',')) || b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("caucus-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("caucus.toml");
        std::fs::write(&file, "request_ttl_s = 99\nhttp = \"127.0.0.1:9000\"\n").unwrap();
        let overrides = Overrides {
            http: Some("127.0.0.1:9001".parse().unwrap()),
            ..Overrides::default()
        };
        let config = Config::load(Some(&file), &overrides).unwrap();
        assert_eq!(config.request_ttl_s, 99);
        assert_eq!(config.http, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(config.media, Config::default().media);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_key_can_come_from_the_environment() {
        let fields = serde_json::to_value(Config::default()).unwrap();
        let mut fields: Vec<&str> = fields
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = Config::KEYS.to_vec();
        fields.sort_unstable();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }

    #[test]
    fn the_defaults_and_the_ephemeral_config_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
        assert_eq!(Config::ephemeral().validate(), Ok(()));
    }

    #[test]
    fn values_that_cannot_work_are_each_named_with_their_key() {
        let config = Config {
            advertise: vec!["0.0.0.0".parse().unwrap()],
            secret: Some("short".into()),
            rate_burst: 0,
            max_body_bytes: 10,
            bandwidth_start_kbps: 5,
            shutdown_timeout_s: 0,
            demo_room: Some("no spaces".into()),
            webhook_backoff_initial_ms: 10_000,
            webhook_backoff_max_ms: 1_000,
            webhooks: vec![
                WebhookEndpoint {
                    url: "https://user:password@hooks.example/x".into(),
                    secret: Some(String::new()),
                    events: vec!["peer.joined".into(), "peer.teleported".into()],
                },
                WebhookEndpoint {
                    url: "http://127.0.0.1:9/ok".into(),
                    secret: None,
                    events: Vec::new(),
                },
                WebhookEndpoint {
                    url: "http://127.0.0.1:9/ok".into(),
                    secret: None,
                    events: Vec::new(),
                },
            ],
            ..Config::default()
        };
        let problems = config.validate().unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "advertise",
                "secret",
                "rate_burst",
                "max_body_bytes",
                "bandwidth_start_kbps",
                "shutdown_timeout_s",
                "demo_room",
                "webhook_backoff_initial_ms",
                "webhooks[0].url",
                "webhooks[0].secret",
                "webhooks[0].events",
                "webhooks[2].url",
            ]
        );
        let text = ConfigError::Invalid(problems).to_string();
        assert!(text.contains("peer.teleported"), "{text}");
        assert!(text.contains("listed twice"), "{text}");
    }

    #[test]
    fn an_endpoint_key_is_in_the_standard_format_and_never_the_token_secret() {
        let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let with = |token_secret: &str, secret: &str| Config {
            secret: Some(token_secret.into()),
            webhooks: vec![WebhookEndpoint {
                url: "https://hooks.example/caucus".into(),
                secret: Some(secret.into()),
                events: Vec::new(),
            }],
            ..Config::default()
        };
        assert_eq!(
            with("a-token-secret-of-32-characters!", key).validate(),
            Ok(())
        );
        let problems = with(key, key).validate().unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "webhooks[0].secret");
        assert!(problems[0].message.contains("token secret"), "{problems:?}");
        let problems = with(
            "a-token-secret-of-32-characters!",
            "shared-with-the-receiver",
        )
        .validate()
        .unwrap_err();
        assert!(problems[0].message.contains("whsec_"), "{problems:?}");
    }

    #[test]
    fn the_demo_is_served_on_loopback_only_unless_configured() {
        let on = |http: &str, demo_public: bool| Config {
            http: http.parse().unwrap(),
            demo_public,
            ..Config::default()
        };
        let demo = Some(caucus_proto::RoomId::from("demo"));
        assert_eq!(Config::default().demo(), demo);
        assert_eq!(on("[::1]:7880", false).demo(), demo);
        assert_eq!(on("0.0.0.0:7880", false).demo(), None);
        assert_eq!(on("192.0.2.10:7880", false).demo(), None);
        assert_eq!(on("0.0.0.0:7880", true).demo(), demo);
        let none = Config {
            demo_room: None,
            ..on("127.0.0.1:7880", true)
        };
        assert_eq!(none.demo(), None);
    }

    #[test]
    fn links_start_with_the_public_url_or_the_bound_address() {
        let bound: SocketAddr = "0.0.0.0:7880".parse().unwrap();
        assert_eq!(Config::default().base_url(bound), "http://127.0.0.1:7880");
        let public = Config {
            public_url: Some("https://meet.example.org/caucus/".into()),
            ..Config::default()
        };
        assert_eq!(public.base_url(bound), "https://meet.example.org/caucus");
        assert_eq!(public.validate(), Ok(()));
        for bad in [
            "meet.example.org",
            "ftp://x",
            "https://x/?a=b",
            "https://u:p@x/",
        ] {
            let config = Config {
                public_url: Some(bad.into()),
                ..Config::default()
            };
            let keys: Vec<String> = config
                .validate()
                .unwrap_err()
                .into_iter()
                .map(|p| p.key)
                .collect();
            assert_eq!(keys, ["public_url"], "{bad}");
        }
    }

    #[test]
    fn tls_takes_both_files_or_neither_and_links_say_https() {
        let with = |cert: Option<&str>, key: Option<&str>| Config {
            tls_cert: cert.map(PathBuf::from),
            tls_key: key.map(PathBuf::from),
            ..Config::default()
        };
        let keys = |config: Config| -> Vec<String> {
            config
                .validate()
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.key)
                .collect()
        };
        assert_eq!(keys(with(Some("/etc/caucus/cert.pem"), None)), ["tls_cert"]);
        assert_eq!(keys(with(None, Some("/etc/caucus/key.pem"))), ["tls_key"]);
        assert_eq!(keys(with(Some(""), Some("/k.pem"))), ["tls_cert"]);
        let both = with(Some("/etc/caucus/cert.pem"), Some("/etc/caucus/key.pem"));
        assert_eq!(both.validate(), Ok(()));
        let bound: SocketAddr = "0.0.0.0:7880".parse().unwrap();
        assert_eq!(both.base_url(bound), "https://127.0.0.1:7880");
        assert_eq!(with(None, None).base_url(bound), "http://127.0.0.1:7880");
        let public = Config {
            public_url: Some("https://meet.example.org".into()),
            ..both.clone()
        };
        assert_eq!(public.base_url(bound), "https://meet.example.org");
        assert!(with(Some("/c.pem"), None).tls().is_none());
        assert_eq!(
            both.tls().map(|files| files.key),
            Some(PathBuf::from("/etc/caucus/key.pem"))
        );
    }

    #[test]
    fn tls_files_can_be_given_as_flags() {
        let overrides = Overrides {
            tls_cert: Some("/etc/caucus/cert.pem".into()),
            tls_key: Some("/etc/caucus/key.pem".into()),
            ..Overrides::default()
        };
        let config = Config::load(None, &overrides).unwrap();
        assert!(config.tls().is_some());
        let half = Overrides {
            tls_key: None,
            ..overrides
        };
        let error = Config::load(None, &half).unwrap_err().to_string();
        assert!(error.contains("tls_cert: needs tls_key"), "{error}");
    }

    #[test]
    fn frame_ancestors_is_one_source_list() {
        for good in ["'self'", "'none'", "'self' https://intranet.example.org"] {
            let config = Config {
                frame_ancestors: good.into(),
                ..Config::default()
            };
            assert_eq!(config.validate(), Ok(()), "{good}");
        }
        for bad in ["", "'self'; script-src *", "a,b", "'self'\n"] {
            let config = Config {
                frame_ancestors: bad.into(),
                ..Config::default()
            };
            assert!(config.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_endpoint_may_ask_for_every_lifecycle_event() {
        let config = Config {
            webhooks: vec![WebhookEndpoint {
                url: "http://127.0.0.1:9/hook".into(),
                secret: None,
                events: caucus_proto::LifecycleEvent::NAMES
                    .iter()
                    .map(|n| (*n).to_owned())
                    .collect(),
            }],
            ..Config::default()
        };
        assert_eq!(config.validate().map_err(|p| p.len()), Ok(()));
    }

    #[test]
    fn webhooks_come_from_the_file() {
        let dir = std::env::temp_dir().join(format!("caucus-config-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("caucus.toml");
        std::fs::write(
            &file,
            "webhook_ca_file = \"/etc/caucus/hooks-ca.pem\"\n\
             [[webhooks]]\nurl = \"https://hooks.example/caucus\"\nevents = [\"peer.joined\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(config.webhooks.len(), 1);
        assert_eq!(config.webhooks[0].url, "https://hooks.example/caucus");
        assert_eq!(config.webhooks[0].events, ["peer.joined"]);
        assert_eq!(
            config.webhook_ca_file.as_deref(),
            Some(Path::new("/etc/caucus/hooks-ca.pem"))
        );
        std::fs::write(&file, "[[webhooks]]\nurl = \"ftp://x\"\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ice_servers_and_turn_come_from_the_file_and_the_environment() {
        let dir = std::env::temp_dir().join(format!("caucus-config-ice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("caucus.toml");
        std::fs::write(
            &file,
            "turn_urls = [\"turn:turn.example.org:3478?transport=udp\", \"turns:turn.example.org:443?transport=tcp\"]\n\
             turn_secret_file = \"/etc/caucus/turn-secret\"\n\
             turn_ttl_s = 3600\n\
             [[ice_servers]]\nurls = [\"stun:stun.example.org:3478\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(config.ice_servers[0].urls, ["stun:stun.example.org:3478"]);
        assert_eq!(config.turn_urls.len(), 2);
        assert_eq!(config.turn_ttl_s, 3600);
        assert_eq!(
            config.turn_secret_file.as_deref(),
            Some(Path::new("/etc/caucus/turn-secret"))
        );
        std::fs::remove_dir_all(&dir).unwrap();

        // `CAUCUS_TURN_URLS` is read as figment reads every variable: an array of quoted strings.
        let value: figment::value::Value =
            r#"["turn:127.0.0.1:3478?transport=udp"]"#.parse().unwrap();
        let urls: Vec<String> = value.deserialize().unwrap();
        assert_eq!(urls, ["turn:127.0.0.1:3478?transport=udp"]);
    }

    #[test]
    fn ice_urls_secrets_and_the_ttl_are_checked() {
        let stun = |url: &str| IceServer {
            urls: vec![url.into()],
            username: None,
            credential: None,
        };
        let config = Config {
            secret: Some("the-token-secret-is-long-enough".into()),
            ice_servers: vec![
                stun("stun:stun.example.org:3478"),
                stun("http://stun.example.org"),
                stun("turn:turn.example.org"),
                IceServer {
                    urls: Vec::new(),
                    username: None,
                    credential: None,
                },
            ],
            turn_urls: vec![
                "turn:[::1]:3478?transport=udp".into(),
                "stun:x.example.org".into(),
            ],
            turn_secret: Some("the-token-secret-is-long-enough".into()),
            turn_secret_file: Some("/etc/caucus/turn".into()),
            turn_ttl_s: 10,
            ..Config::default()
        };
        let keys: Vec<String> = config
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(
            keys,
            [
                "ice_servers[1].urls",
                "ice_servers[2].credential",
                "ice_servers[3].urls",
                "turn_urls",
                "turn_secret_file",
                "turn_secret",
                "turn_ttl_s",
            ]
        );
        let only_urls = Config {
            turn_urls: vec!["turn:turn.example.org:3478".into()],
            ..Config::default()
        };
        assert_eq!(only_urls.validate().unwrap_err()[0].key, "turn_secret");
        let only_secret = Config {
            turn_secret: Some("a-turn-secret-of-32-characters!!".into()),
            ..Config::default()
        };
        assert_eq!(only_secret.validate().unwrap_err()[0].key, "turn_urls");

        for good in [
            "turn:turn.example.org",
            "turn:turn.example.org:3478?transport=tcp",
            "turns:turn.example.org:443?transport=tcp",
            "turn:192.0.2.7:3478",
            "turn:[2001:db8::7]:3478?transport=udp",
        ] {
            assert_eq!(ice_url(good, &["turn", "turns"]), Ok(()), "{good}");
        }
        for bad in [
            "turn://turn.example.org",
            "turn:turn.example.org:0",
            "turn:turn.example.org:99999",
            "turn:turn.example.org?transport=sctp",
            "turn:",
            "turn:user@turn.example.org",
            "turn:[2001:db8::7",
            "stun:stun.example.org?transport=udp",
            "turn:-bad-.example.org",
        ] {
            assert!(ice_url(bad, &["stun", "turn", "turns"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let missing = Path::new("/nonexistent/caucus.toml");
        assert!(Config::load(Some(missing), &Overrides::default()).is_err());
    }
}
