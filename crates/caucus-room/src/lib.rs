//! # caucus-room — the room machine
//!
//! **What it is.** The glue between one live [`Session`](caucus_core::Session) (the pure
//! core: who may do what, who receives what) and the media engine's view of that room's
//! peers, as a deterministic, sans-IO state machine in the style of the core and the engine:
//! inputs come in as `handle_*(now, …)`, everything the world must do comes out of
//! [`Room::poll_output`], and [`Room::poll_timeout`] says when it next needs the clock.
//!
//! It owns the session, the translation between the core's ids and the engine's keys
//! ([`MediaIds`]), which connection carries which peer, the layer hints given to the engine,
//! the recordings' track sets and the durable parts that must be written (breakout plan,
//! locked flag). It never touches a socket, a channel, a thread or the clock, and randomness
//! comes from a generator seeded by whoever creates it — so a whole-server simulation can
//! drive rooms beside the engine under one seed, and its unit tests run in simulated time.
//!
//! **What it is not.** A place for policy: the core decides; the room translates, orders
//! what the engine must do, and delivers. Nor does it know tokio: the shell's room task is a
//! thin loop that feeds it inputs and carries out [`Output`]s.
//!
//! **How to drive it.**
//!
//! ```
//! use caucus_core::{builtin, JoinRequest, SessionConfig, Time};
//! use caucus_room::{ConnId, Output, Room, RoomSetup};
//!
//! let setup = RoomSetup::new("demo".into(), builtin::breakout_template());
//! let mut room = Room::new(Time::ZERO, setup, SessionConfig::default());
//! let join = JoinRequest { user_id: "ana".into(), name: "Ana".into(), role: "host".into(),
//!                          password: None, metadata: None };
//! room.handle_join(Time::ZERO, ConnId(1), 1, join);
//! while let Some(output) = room.poll_output() {
//!     match output {
//!         Output::Joined { conn, result } => assert!(result.is_ok() && conn == ConnId(1)),
//!         _ => { /* frames to connections, engine commands, webhooks, writes… */ }
//!     }
//! }
//! ```

mod api;
mod media;
mod media_ids;
mod output;
mod recording;
mod room;
mod signaling;

pub use api::{ApiAnswer, ApiRequest, ApiResult, OptionsPatch, PeerPatch};
pub use media_ids::{BoundTrack, MediaIds};
pub use output::{AckId, CheckId, EngineCommand, Output, RecordCommand, RecordedTrack, Signal};
pub use room::{ConnId, Room, RoomCounts, RoomSetup, SHUTDOWN_REASON, close_code};
