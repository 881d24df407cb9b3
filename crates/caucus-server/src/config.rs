//! Server configuration: embedded defaults < `caucus.toml` < `CAUCUS_*` environment < flags.
//!
//! [`Config`] is plain data; [`Config::load`] layers the sources with figment. Tests build a
//! [`Config::ephemeral`] directly (port 0 everywhere, a random secret, nothing on disk) so
//! that no environment variable or file can leak into them.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use caucus_core::SessionConfig;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP (REST, signaling, web app) listen address.
    pub http: SocketAddr,
    /// Media UDP listen address.
    pub media: SocketAddr,
    /// Data directory (secret, later the database and recordings).
    pub data: PathBuf,
    /// The IP clients are told for media (behind NAT: the public one). Default: the bound IP,
    /// or 127.0.0.1 when bound to an unspecified address.
    pub advertise: Option<IpAddr>,
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
    /// (the binary does; `None` prints nothing). The room is created on first join.
    pub demo_room: Option<String>,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 7880)),
            media: SocketAddr::from(([127, 0, 0, 1], 7882)),
            data: PathBuf::from("./caucus-data"),
            advertise: None,
            secret: None,
            reconnect_grace_s: 30,
            empty_grace_s: 60,
            request_ttl_s: 30,
            max_peers_per_room: 0,
            rate_per_s: 50,
            rate_burst: 100,
            outbound_queue: 1024,
            demo_room: Some("demo".to_owned()),
            auto_create_rooms: false,
            max_rooms: 0,
            max_body_bytes: 64 * 1024,
            in_memory: false,
        }
    }
}

/// Values given on the command line (or by clap from `CAUCUS_HTTP` & co.); `None` = not given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<IpAddr>,
}

impl Config {
    /// Every key, as the file and the `CAUCUS_*` environment name them. Other `CAUCUS_*`
    /// variables (say `CAUCUS_LOG`) are not configuration and are ignored.
    pub const KEYS: &'static [&'static str] = &[
        "http",
        "media",
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
        "auto_create_rooms",
        "max_rooms",
        "max_body_bytes",
        "in_memory",
    ];

    /// Layer the sources: defaults, then the TOML file (if given; it must exist), then
    /// `CAUCUS_*` environment variables (e.g. `CAUCUS_REQUEST_TTL_S=60`), then the flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "config file {} does not exist",
                    path.display()
                ))));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment
            .merge(Env::prefixed("CAUCUS_").only(Self::KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)
    }

    /// A configuration for tests and embedding: loopback on port 0 for HTTP and media, a
    /// fresh random secret, an in-memory store (nothing is written to disk), no demo links,
    /// and rooms created on first join.
    pub fn ephemeral() -> Config {
        Config {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            media: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret: Some(crate::secret::random_hex(32)),
            demo_room: None,
            auto_create_rooms: true,
            in_memory: true,
            ..Config::default()
        }
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
    fn a_missing_config_file_is_an_error() {
        let missing = Path::new("/nonexistent/caucus.toml");
        assert!(Config::load(Some(missing), &Overrides::default()).is_err());
    }
}
