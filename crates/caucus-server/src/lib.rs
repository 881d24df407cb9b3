//! # caucus-server — the shell
//!
//! **What it is.** Everything in Caucus that *does*: the HTTP listener, the signaling
//! WebSocket, the media UDP socket and thread, the clock, the secret on disk. It feeds the
//! pure machines — [`caucus_core::Session`] (who may do what, who receives what) and
//! [`caucus_media::Engine`] (packets) — and carries out what they ask.
//!
//! **What it is not.** A place for decisions: policy, routing and forwarding live in the
//! pure crates; this crate translates ids between them and delivers.
//!
//! **The shape: one owner per piece of live state, reached by messages.**
//!
//! ```text
//!  WebSocket ──▶ connection task ──RoomInput──▶ room task (owns the Session) ──MediaCommand──▶ media thread
//!      ▲          (parse, token,                 (effects → events,                          (owns the Engine
//!      └── Outbound ── rate limit)                subscriptions, pauses)  ◀──MediaReport────  and the UDP socket)
//!                         │
//!                         └──▶ registry task (RoomId → room task; creates rooms on first join)
//! ```
//!
//! - [`api`]: the REST control API under `/v1` and its OpenAPI document.
//! - [`control`]: the store (SQLite in the data dir, or in memory) and starting a room's
//!   session on demand from its durable record; [`persist`]: the ordered writer of plans.
//! - [`registry`]: one task, `RoomId → RoomHandle`.
//! - [`room`]: one task per live room; see its docs for the effect handling and [`room::MediaIds`]
//!   for the core ↔ engine id translation.
//! - [`connection`]: one task per WebSocket.
//! - [`media_thread`]: the engine and the socket on their own OS thread.
//! - [`recorder`]: per-track WebM files from the media plane's recording tap, on its own thread.
//! - [`recovery`]: what a start closes out after a stop that was not clean (live sessions,
//!   unfinished recordings).
//! - [`admission`]: connections counted and bounded before HTTP; [`tls`]: HTTPS on the same
//!   listener (`tls_cert`, `tls_key`), its certificate reloaded when the files change.
//!
//! **How to drive it.** Tests and embedders start it in-process:
//!
//! ```no_run
//! # async fn demo() -> Result<(), caucus_server::StartError> {
//! use caucus_server::{Config, Server};
//! let running = Server::start(Config::ephemeral()).await?;
//! let token = running.join_token("demo", "ana", "host");
//! let url = running.signaling_url(); // ws://127.0.0.1:PORT/v1/rtc; send {"id":1,"type":"join","token":…}
//! # let _ = (token, url);
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The protocol on the WebSocket is `docs/protocol.md`.

pub mod access;
pub mod admission;
pub mod api;
pub mod client_frame;
pub mod clock;
pub mod config;
pub mod connection;
pub mod control;
pub mod fd_budget;
pub mod http;
pub mod http_rate;
pub mod ice;
pub mod logging;
pub mod media_addrs;
pub mod media_tcp;
pub mod media_thread;
pub mod metrics;
pub mod outbound;
pub mod persist;
pub mod private_fs;
pub mod proxies;
pub mod rate_limit;
pub mod recorder;
pub mod recovery;
pub mod refusal;
pub mod registry;
pub mod room;
pub mod secret;
pub mod server;
pub mod telemetry;
pub mod tls;
pub mod token;
pub mod web;
pub mod webhooks;

pub use config::{Config, ConfigError, Overrides};
pub use server::{Running, Server, StartError};
pub use token::{JoinClaims, JoinGrant, ManagementClaims, TokenError, TokenIssuer};
