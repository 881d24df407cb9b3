//! Why a store call failed, in the categories a REST caller maps to status codes.

use std::fmt;

/// What kind of record an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Template,
    Room,
    BreakoutPlan,
    Webhook,
    AuditEntry,
    Recording,
    Invite,
}

impl Entity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Entity::Template => "template",
            Entity::Room => "room",
            Entity::BreakoutPlan => "breakout plan",
            Entity::Webhook => "webhook delivery",
            Entity::AuditEntry => "audit entry",
            Entity::Recording => "recording",
            Entity::Invite => "invite",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed store call. The first three are the caller's business (404, 409, 422); `Backend`
/// is the store's own trouble (disk, corruption) and the only one worth a 5xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No record has this id.
    #[error("{entity} {id:?} not found")]
    NotFound { entity: Entity, id: String },
    /// The id is taken, or the record is still in use.
    #[error("{entity} {id:?}: {reason}")]
    Conflict {
        entity: Entity,
        id: String,
        reason: String,
    },
    /// The values cannot be stored as given (empty id, a password that is not a hash, ...).
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The storage itself failed: IO, a corrupt file, a schema from a newer build.
    #[error("storage failed: {0}")]
    Backend(String),
}

impl StoreError {
    pub(crate) fn not_found(entity: Entity, id: impl fmt::Display) -> Self {
        StoreError::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub(crate) fn conflict(
        entity: Entity,
        id: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        StoreError::Conflict {
            entity,
            id: id.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Backend(error.to_string())
    }
}
