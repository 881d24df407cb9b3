//! The webhook outbox: deliveries queued in the same store as the change that caused them, so a
//! crash between "done" and "sent" cannot lose one (at-least-once).

use crate::error::{Entity, StoreError};

/// A delivery to queue: one lifecycle event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The event's unique id; receivers deduplicate by it. Unique per endpoint in the outbox.
    pub event_id: String,
    /// The URL to POST to.
    pub endpoint: String,
    /// The request body, ready to send (JSON text).
    pub body: String,
    /// When the event happened; the first attempt is due then.
    pub created_at_ms: u64,
}

/// A queued delivery with its retry state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub event_id: String,
    pub endpoint: String,
    pub body: String,
    pub created_at_ms: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    pub next_attempt_ms: u64,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
}

impl OutboxEntry {
    pub(crate) fn queued(item: &OutboxItem) -> Self {
        OutboxEntry {
            event_id: item.event_id.clone(),
            endpoint: item.endpoint.clone(),
            body: item.body.clone(),
            created_at_ms: item.created_at_ms,
            attempts: 0,
            next_attempt_ms: item.created_at_ms,
            last_error: None,
        }
    }
}

pub(crate) fn duplicate_delivery(item: &OutboxItem) -> StoreError {
    StoreError::conflict(
        Entity::Webhook,
        format!("{} -> {}", item.event_id, item.endpoint),
        "already queued",
    )
}

pub(crate) fn delivery_not_found(event_id: &str, endpoint: &str) -> StoreError {
    StoreError::not_found(Entity::Webhook, format!("{event_id} -> {endpoint}"))
}
