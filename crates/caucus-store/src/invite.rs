//! Invite links: one link that many people open, each redeeming one use for an identity of
//! their own (the server mints each visitor a fresh user id in the invite's role).
//!
//! The store keeps the record and counts uses atomically ([`crate::Store::redeem_invite`]):
//! a use is counted only while the invite is usable, so `max_uses` visitors get in and the
//! next is told it is used up, however many arrive at once.

use std::fmt::Write as _;

use caucus_proto::{RoleName, RoomId};
use rand::RngCore;

/// Random bytes in an invite id: 128 bits, so an id cannot be guessed.
pub const INVITE_ID_BYTES: usize = 16;

/// One invite link of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    /// Random, unguessable and URL-safe: [`new_invite_id`].
    pub id: String,
    pub room: RoomId,
    /// The role every visitor joins in.
    pub role: RoleName,
    pub created_at_ms: u64,
    /// `None`: never expires. Usable while `now_ms < expires_at_ms`.
    pub expires_at_ms: Option<u64>,
    /// `None`: any number of uses.
    pub max_uses: Option<u64>,
    /// Uses redeemed so far.
    pub uses: u64,
    /// A revoked invite never redeems again.
    pub revoked: bool,
}

impl InviteRecord {
    /// Whether a visitor could redeem it at `now_ms`, and why not. Revoked wins over expired,
    /// which wins over used up.
    pub fn usable(&self, now_ms: u64) -> Result<(), InviteRefusal> {
        if self.revoked {
            Err(InviteRefusal::Revoked)
        } else if self.expires_at_ms.is_some_and(|at| now_ms >= at) {
            Err(InviteRefusal::Expired)
        } else if self.max_uses.is_some_and(|max| self.uses >= max) {
            Err(InviteRefusal::UsedUp)
        } else {
            Ok(())
        }
    }
}

/// Why an invite did not redeem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteRefusal {
    /// No invite has this id (or its room was deleted).
    Unknown,
    Expired,
    Revoked,
    UsedUp,
}

/// A new invite id: [`INVITE_ID_BYTES`] random bytes from a cryptographic generator seeded
/// by the operating system (`rand::rng()`), as lowercase hex (URL-safe).
pub fn new_invite_id() -> String {
    let mut bytes = [0u8; INVITE_ID_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Whether `id` has the shape of an invite id (lowercase hex, the right length): anything else is
/// unknown without asking the store.
pub fn is_invite_id(id: &str) -> bool {
    id.len() == INVITE_ID_BYTES * 2 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
