//! The pure core of Caucus: every decision about who is where, who may do what, and who
//! receives which track.
//!
//! What it is: deterministic, synchronous state machines. [`Template`] validates and compiles
//! roles; [`policy::authorize`] answers every permission question; [`Session`] holds the live
//! side of a room — peers, tracks, the breakout set, pending requests, timers — and computes
//! each peer's *desired subscriptions* by the routing rule in [`routing`].
//!
//! What it is not: IO. It never reads a clock (time arrives as [`Time`]), never touches a
//! socket or a file, never spawns a thread, never draws entropy (auto-assign takes a seed).
//! `clippy.toml` in this crate forbids the calls that would break that.
//!
//! How to drive it:
//! ```
//! use caucus_core::{Actor, Command, Effect, JoinRequest, Session, SessionConfig, Time, builtin};
//!
//! let mut session = Session::new(Time::ZERO, builtin::breakout_template(), SessionConfig::default());
//! let join = JoinRequest {
//!     user_id: "ana".into(), name: "Ana".into(), role: "host".into(),
//!     password: None, metadata: None,
//! };
//! session.handle_command(Time::ZERO, Actor::Server, Command::Join(join)).unwrap();
//! while let Some(effect) = session.poll_effect() {
//!     // Send events, set subscriptions, fire webhooks…
//!     let _ = effect;
//! }
//! if let Some(at) = session.poll_timeout() {
//!     session.handle_timeout(at);
//! }
//! ```

pub mod assign;
pub mod breakout_set;
pub mod builtin;
pub mod command;
pub mod denial;
pub mod effect;
pub mod knowledge;
pub mod policy;
mod routing;
pub mod session;
pub mod sim;
mod state;
pub mod template;
pub mod text;
pub mod time;
mod wire;

pub use breakout_set::{BreakoutRoom, BreakoutSet};
pub use command::{
    Actor, Assignee, BreakoutOp, BreakoutRef, Command, JoinRequest, Outcome, PeerPatch,
    RoomPassword, RoomUpdate,
};
pub use denial::Denial;
pub use effect::Effect;
pub use session::{SavedPlan, SavedRoom, Session, SessionConfig};
pub use state::Peer;
pub use template::{Role, RoleIdx, Template};
pub use time::Time;
