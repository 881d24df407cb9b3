//! # caucus-client — the Rust client SDK
//!
//! **What it is.** A participant of a Caucus session, as the end-to-end tests and the load
//! generator need one: the signaling protocol of `/v1/rtc` ([`caucus_proto::signal`]) with
//! every command as a typed async call, and a real WebRTC media peer ([str0m] in RTP mode on a
//! UDP socket) that sends **synthetic** audio, video and screen streams and counts, per
//! publisher and source, exactly what it receives: packets, bytes, loss, reordering and
//! one-way latency.
//!
//! **What it is not.** Not a media stack: it neither encodes nor decodes. Its payloads are
//! codec-*shaped* (an Opus TOC byte; a VP8 descriptor with real keyframe headers) and end in a
//! trailer that names the sender, the source, a per-stream sequence number and the send time
//! ([`payload`]). It does no bandwidth estimation and no STUN (no server-reflexive
//! candidate). It is not a browser SDK (that is `web/`).
//!
//! ## TURN
//!
//! The `joined` event names the ICE servers ([`Client::ice_servers`]), TURN ones with a
//! credential minted for this join. The media peer allocates a relay on the first `turn:`
//! server that grants one ([`ClientOptions::turn`], on by default; `turn:` URLs with
//! `transport=udp`, or with [`ClientOptions::turn_transport`] those with `transport=tcp` or
//! the `turns:` ones, TURN over TLS) and offers str0m's *relayed* candidate beside its host one — or alone, with
//! [`IceTransportPolicy::Relay`], the browser's `iceTransportPolicy: "relay"`: then every
//! datagram goes through the TURN server, and no relay is an error of `connect`
//! ([`ClientError::Turn`], e.g. [`TurnError::Refused`] with code 401 for a credential the TURN
//! server does not accept). Without `Relay` a failed allocation only leaves the host
//! candidate.
//!
//! The TURN client (RFC 8656) allocates with the long-term credential (401 → REALM and NONCE
//! → MESSAGE-INTEGRITY keyed by MD5(username:realm:password); 438 stale nonce retried),
//! creates a permission for each server address str0m sends to (datagrams wait for it),
//! sends Send indications and binds a channel, then sends ChannelData; it refreshes the
//! allocation a minute before its lifetime ends, renews permissions and channels, and
//! deallocates when the client closes. Answers must match an outstanding request and carry a
//! valid MESSAGE-INTEGRITY; malformed, forged or unexpected ones are dropped and counted.
//! [`MediaReport::relay`] has the relayed address and counters ([`RelayStats`]).
//!
//! ```no_run
//! use caucus_client::{Client, ClientOptions, IceTransportPolicy};
//! # async fn demo(url: &str, token: &str) -> caucus_client::Result<()> {
//! let relay_only = ClientOptions {
//!     ice_transport_policy: IceTransportPolicy::Relay,
//!     ..ClientOptions::default()
//! };
//! let (client, _events) = Client::connect(url, token, relay_only).await?;
//! println!("media relayed from {:?}", client.relayed_addr());
//! # Ok(()) }
//! ```
//!
//! ## Driving it
//!
//! ```no_run
//! use std::time::Duration;
//! use caucus_client::{Client, ClientOptions, ClientEvent};
//! use caucus_proto::{ServerEvent, Source};
//!
//! # async fn demo(url: &str, host_token: &str, guest_token: &str) -> caucus_client::Result<()> {
//! const T: Duration = Duration::from_secs(5);
//! let (host, _host_events) = Client::connect(url, host_token, ClientOptions::default()).await?;
//! let (guest, mut guest_events) = Client::connect(url, guest_token, ClientOptions::default()).await?;
//!
//! host.publish_audio().await?;
//! host.publish_video().await?;
//! guest_events
//!     .wait_for(|e| matches!(e, ClientEvent::Server(ServerEvent::TrackPublished { .. })), T)
//!     .await?;
//! let audio = guest.wait_received(host.peer_id(), Source::Audio, 50, T).await?;
//! assert_eq!(audio.lost, 0);
//!
//! // A guest may not publish in main: the server's stable code comes back.
//! let refused = guest.publish_audio().await.unwrap_err();
//! assert_eq!(refused.code(), Some(caucus_proto::ErrorCode::PublishNotAllowed));
//! # Ok(()) }
//! ```
//!
//! ## How it works
//!
//! - [`Client::connect`] opens the WebSocket (`ws://`, or `wss://` — `http(s)://` URLs are
//!   taken as `ws(s)://` — over rustls, trusting Mozilla's roots and
//!   [`ClientOptions::tls_roots`]), sends `join` (id 1), then offers the media
//!   peer's m-lines — one `sendonly` per source in [`ClientOptions::send`] plus a receive-slot
//!   pool of `recvonly` m-lines — applies the answer and waits until ICE/DTLS are up.
//! - A signaling task owns the socket: requests are numbered and matched to replies by `id`
//!   (each awaited with [`ClientOptions::request_timeout`]); pushed messages go to the
//!   [`EventStream`] and, in order, to the media task (server offers are answered there; a
//!   server offer that crosses one of ours is dropped: the server lets the client win and
//!   offers again).
//! - A media task owns the `Rtc` and its socket and runs str0m's loop. `slot` messages map each
//!   receive mid to the remote track it carries; counters are kept per (publisher, source)
//!   ([`stats`]) and shared through a `watch` channel, so reading or awaiting them
//!   ([`Client::wait_receiving_from`], [`Client::wait_silent_from`]) never blocks the task.
//! - [`Client::reconnect`] drops both connections without `leave` and joins again with the same
//!   token; the server resumes the peer within its grace period, and the client publishes its
//!   sources again.
//!
//! Tests never sleep: they await events and counters with a timeout.
//!
//! [str0m]: https://docs.rs/str0m/0.25

mod client;
mod commands;
mod error;
mod event;
mod generator;
pub mod latency;
mod media;
mod options;
pub mod payload;
mod signaling;
pub mod stats;
mod tcp;
mod turn;

pub use client::Client;
pub use error::{ClientError, Result};
pub use event::{ClientEvent, EventStream};
pub use generator::{AudioProfile, VideoProfile};
pub use media::{MediaReport, PublishedTrack, RelayReport};
pub use options::{ClientOptions, IceTransportPolicy, MediaTransport, SimulcastLayer};
pub use stats::{ReceiveReport, SentStats, StreamStats};
pub use turn::{RelayStats, TurnError, TurnTransport};
