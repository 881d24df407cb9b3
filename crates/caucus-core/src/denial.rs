//! A refusal as a value: a stable code, a human sentence, and the input at fault.
//!
//! The core calls it a *denial*; it is the wire's [`ErrorBody`] itself, so a refusal reaches a
//! REST caller or a signaling reply unchanged — no second type, no code turned into text and
//! parsed back. Refused commands change nothing.

pub use caucus_proto::ErrorBody as Denial;
