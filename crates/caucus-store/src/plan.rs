//! A room's saved breakout plan: the rooms to open, the options and who goes where.

use std::collections::BTreeMap;

use caucus_proto::{BreakoutOptions, UserId, Visibility};
use serde::{Deserialize, Serialize};

/// What the breakout set of a room's next session starts from. `Serialize` exists for the
/// store's JSON column: it includes password hashes, so do not send it to clients as is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BreakoutPlan {
    pub rooms: Vec<PlannedRoom>,
    #[serde(default)]
    pub options: BreakoutOptions,
    /// Where each user goes when rooms open: a planned room's id or name.
    #[serde(default)]
    pub preassignments: BTreeMap<UserId, String>,
}

/// One planned breakout room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRoom {
    /// The breakout id it had (`b3`); unique within the plan.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub capacity: Option<u32>,
    /// A [`crate::password::hash`] string, never the password.
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub visibility: Visibility,
}
