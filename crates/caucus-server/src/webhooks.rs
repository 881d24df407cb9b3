//! Webhooks: every lifecycle event of every session, POSTed to the configured endpoints, signed,
//! at least once.
//!
//! How an event travels:
//!
//! 1. The core emits a [`LifecycleEvent`]; the room task hands it to [`WebhookSink::emit`],
//!    which renders the body once (the event's fields plus `id`, `room` and `created_at_ms`)
//!    and queues one delivery per endpoint that wants it — through the ordered store writer
//!    ([`crate::persist`]), so the room task never waits on the disk.
//! 2. The writer commits the deliveries to the store's outbox and wakes the delivery loop.
//! 3. [`run`] takes due deliveries from the outbox, POSTs each with its signature, removes it
//!    on a 2xx and otherwise schedules the next attempt with exponential backoff (with jitter,
//!    up to `webhook_backoff_max_ms`). Nothing is ever dropped for failing: an endpoint that is
//!    down for a day gets the day's events when it comes back, and a restart of the server
//!    resumes from the outbox (SQLite). A delivery whose endpoint is no longer configured is
//!    dropped with a warning.
//!
//! The request: `POST`, `Content-Type: application/json`, `X-Caucus-Event: peer.joined`,
//! `X-Caucus-Event-Id: ev_…` (the same on every attempt; receivers deduplicate by it) and
//! `X-Caucus-Signature: sha256=<hex>` — HMAC-SHA256 of the exact body bytes with the endpoint's
//! `secret` (by default the server's token secret). See `docs/api.md`, "Webhooks".

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use caucus_proto::{LifecycleEvent, RoomId};
use caucus_store::{OutboxEntry, OutboxItem, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tracing::{debug, info, warn};

use crate::persist::PersistHandle;

/// How many due deliveries one round takes from the outbox (and sends at once).
const BATCH: usize = 32;
/// How often the loop looks at the outbox when nothing woke it (for retries falling due).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// One endpoint, as the config file writes it:
///
/// ```toml
/// [[webhooks]]
/// url = "http://127.0.0.1:9000/caucus"
/// secret = "shared-with-the-receiver"   # optional: the token secret by default
/// events = ["peer.joined", "peer.moved"] # optional: every event by default
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// An `http://` URL.
    pub url: String,
    /// The HMAC key of `X-Caucus-Signature`; the server's token secret when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The event names this endpoint receives; every event when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// Every event name a webhook can carry (what `events` may list): the lifecycle events' own
/// list, so a new event is configurable the moment it exists.
pub const EVENT_NAMES: &[&str] = LifecycleEvent::NAMES;

/// The signature header's value for `body` under `key`: `sha256=` and 64 hex digits.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in tag.as_ref() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// An endpoint with its key resolved.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    key: Vec<u8>,
    events: Vec<String>,
}

impl Target {
    fn wants(&self, name: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == name)
    }
}

/// The endpoints and the retry policy, shared by the sink and the delivery loop.
#[derive(Debug)]
pub struct Webhooks {
    targets: Vec<Target>,
    timeout: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
    wake: Notify,
}

impl Webhooks {
    /// `default_secret` signs for endpoints without their own `secret`.
    pub fn new(
        endpoints: &[WebhookEndpoint],
        default_secret: &str,
        timeout: Duration,
        backoff_initial: Duration,
        backoff_max: Duration,
    ) -> Arc<Webhooks> {
        let targets = endpoints
            .iter()
            .map(|e| Target {
                url: e.url.clone(),
                key: e
                    .secret
                    .as_deref()
                    .unwrap_or(default_secret)
                    .as_bytes()
                    .to_vec(),
                events: e.events.clone(),
            })
            .collect();
        Arc::new(Webhooks {
            targets,
            timeout,
            backoff_initial,
            backoff_max,
            wake: Notify::new(),
        })
    }

    /// Whether any endpoint is configured.
    pub fn enabled(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Tell the delivery loop that the outbox has new entries.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The wait before attempt `attempts + 1`, after `attempts` failures: the initial backoff
    /// doubled per failure, capped, then shortened by up to a fifth at random so that many
    /// failed deliveries do not retry in lockstep.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doubled = self
            .backoff_initial
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let capped = doubled.min(self.backoff_max);
        let jitter = rand::random::<f64>() * 0.2;
        capped.mul_f64(1.0 - jitter)
    }
}

/// Where room tasks hand their lifecycle events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    hooks: Arc<Webhooks>,
    persist: PersistHandle,
}

impl WebhookSink {
    pub fn new(hooks: Arc<Webhooks>, persist: PersistHandle) -> Self {
        WebhookSink { hooks, persist }
    }

    /// Queue `event` of `room` for every endpoint that wants it.
    pub fn emit(&self, room: &RoomId, event: &LifecycleEvent, now_ms: u64) {
        let items = self.hooks.deliveries(room, event, now_ms);
        if !items.is_empty() {
            self.persist.webhooks(items, Arc::clone(&self.hooks));
        }
    }
}

impl Webhooks {
    /// The outbox entries of `event` of `room`: one per endpoint that wants it (none when no
    /// endpoint does), all with one id and body.
    pub fn deliveries(
        &self,
        room: &RoomId,
        event: &LifecycleEvent,
        now_ms: u64,
    ) -> Vec<OutboxItem> {
        let name = event.name();
        let targets: Vec<&Target> = self.targets.iter().filter(|t| t.wants(name)).collect();
        if targets.is_empty() {
            return Vec::new();
        }
        let id = format!("ev_{}", crate::secret::random_hex(12));
        let body = match render(&id, room, event, now_ms) {
            Ok(body) => body,
            Err(e) => {
                warn!(%room, event = name, error = %e, "cannot render a webhook body");
                return Vec::new();
            }
        };
        targets
            .into_iter()
            .map(|t| OutboxItem {
                event_id: id.clone(),
                endpoint: t.url.clone(),
                body: body.clone(),
                created_at_ms: now_ms,
            })
            .collect()
    }
}

/// The body: the event's own fields (`event` = its dotted name) and `id`, `room`,
/// `created_at_ms` (Unix milliseconds).
fn render(
    id: &str,
    room: &RoomId,
    event: &LifecycleEvent,
    now_ms: u64,
) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(event)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("id".into(), id.into());
        object.insert("room".into(), room.as_str().into());
        object.insert("created_at_ms".into(), now_ms.into());
    }
    serde_json::to_string(&value)
}

/// Deliver from the outbox until `stop` turns true (the server's last events are in the
/// outbox then); the round in flight finishes, and every delivery due is tried once more —
/// the caller bounds how long that may take. Entries left stay queued for the next start.
pub async fn run(hooks: Arc<Webhooks>, store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(hooks.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("caucus/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            warn!(error = %e, "cannot build the webhook client; webhooks stay queued");
            return;
        }
    };
    info!(endpoints = hooks.targets.len(), "webhook delivery started");
    loop {
        if *stop.borrow() {
            break;
        }
        let due = {
            let store = Arc::clone(&store);
            let now = crate::clock::unix_ms();
            tokio::task::spawn_blocking(move || store.due_webhooks(now, BATCH)).await
        };
        let due = match due {
            Ok(Ok(due)) => due,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read the webhook outbox");
                Vec::new()
            }
            Err(e) => {
                warn!(error = %e, "the webhook outbox read panicked");
                Vec::new()
            }
        };
        let full = due.len() == BATCH;
        if !due.is_empty() {
            // A round runs to its end even when asked to stop (each request is bounded by the
            // timeout): an answered delivery is always marked, never sent again.
            let rounds = due
                .into_iter()
                .map(|entry| deliver(&hooks, &client, &store, entry));
            futures_util::future::join_all(rounds).await;
        }
        if full {
            continue;
        }
        tokio::select! {
            () = hooks.wake.notified() => {}
            () = tokio::time::sleep(IDLE_POLL) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    if hooks.enabled() {
        last_round(&hooks, &client, &store).await;
    }
    debug!("webhook delivery stopped");
}

/// At shutdown: every delivery due now gets one attempt (a failed one keeps its place in the
/// outbox for the next start), so receivers hear of the sessions the stop ended.
async fn last_round(hooks: &Webhooks, client: &reqwest::Client, store: &Arc<dyn Store>) {
    let mut tried = std::collections::HashSet::new();
    loop {
        let due = {
            let store = Arc::clone(store);
            let now = crate::clock::unix_ms();
            // Failed ones may be due again already: look past them.
            let limit = BATCH + tried.len();
            tokio::task::spawn_blocking(move || store.due_webhooks(now, limit)).await
        };
        let fresh: Vec<OutboxEntry> = match due {
            Ok(Ok(due)) => due
                .into_iter()
                .filter(|e| tried.insert((e.event_id.clone(), e.endpoint.clone())))
                .collect(),
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read the webhook outbox");
                Vec::new()
            }
            Err(e) => {
                warn!(error = %e, "the webhook outbox read panicked");
                Vec::new()
            }
        };
        if fresh.is_empty() {
            break;
        }
        info!(deliveries = fresh.len(), "delivering the last webhooks");
        let rounds = fresh
            .into_iter()
            .map(|entry| deliver(hooks, client, store, entry));
        futures_util::future::join_all(rounds).await;
    }
}

/// One attempt at one delivery, and its bookkeeping.
async fn deliver(
    hooks: &Webhooks,
    client: &reqwest::Client,
    store: &Arc<dyn Store>,
    entry: OutboxEntry,
) {
    let Some(target) = hooks.targets.iter().find(|t| t.url == entry.endpoint) else {
        warn!(endpoint = %entry.endpoint, event_id = %entry.event_id,
            "webhook endpoint no longer configured; delivery dropped");
        settle(store, entry, Ok(()), hooks).await;
        return;
    };
    let name = event_name(&entry.body);
    let result = client
        .post(&target.url)
        .header("content-type", "application/json")
        .header("x-caucus-event", name)
        .header("x-caucus-event-id", &entry.event_id)
        .header(
            "x-caucus-signature",
            signature(&target.key, entry.body.as_bytes()),
        )
        .body(entry.body.clone())
        .send()
        .await;
    let outcome = match result {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status())),
        Err(e) => Err(error_chain(&e)),
    };
    settle(store, entry, outcome, hooks).await;
}

/// Remove a delivered entry, or schedule its next attempt.
async fn settle(
    store: &Arc<dyn Store>,
    entry: OutboxEntry,
    outcome: Result<(), String>,
    hooks: &Webhooks,
) {
    let store = Arc::clone(store);
    let next = crate::clock::unix_ms()
        .saturating_add(u64::try_from(hooks.backoff(entry.attempts + 1).as_millis()).unwrap_or(0));
    let written = tokio::task::spawn_blocking(move || match outcome {
        Ok(()) => {
            debug!(event_id = %entry.event_id, endpoint = %entry.endpoint, "webhook delivered");
            store.mark_delivered(&entry.event_id, &entry.endpoint)
        }
        Err(error) => {
            debug!(event_id = %entry.event_id, endpoint = %entry.endpoint,
                attempts = entry.attempts + 1, %error, "webhook delivery failed; will retry");
            store.mark_failed(&entry.event_id, &entry.endpoint, next, &error)
        }
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "cannot update the webhook outbox"),
        Err(e) => warn!(error = %e, "the webhook outbox update panicked"),
    }
}

/// The `event` field of a rendered body (for the `X-Caucus-Event` header).
fn event_name(body: &str) -> String {
    #[derive(Deserialize)]
    struct Named {
        event: String,
    }
    serde_json::from_str::<Named>(body).map_or_else(|_| "unknown".to_owned(), |n| n.event)
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2.
        let sig = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_backoff_doubles_up_to_the_cap_with_at_most_a_fifth_of_jitter() {
        let hooks = Webhooks::new(
            &[],
            "k",
            Duration::from_secs(1),
            Duration::from_millis(100),
            Duration::from_millis(1000),
        );
        for (attempts, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let wait = hooks.backoff(attempts).as_millis();
            assert!(
                wait <= full && wait >= full * 4 / 5,
                "attempt {attempts}: {wait} ms, expected about {full} ms"
            );
        }
    }

    #[test]
    fn a_body_carries_the_event_fields_and_the_envelope() {
        let event = LifecycleEvent::SessionEnded {
            reason: "done".into(),
        };
        let body = render("ev_1", &RoomId::from("demo"), &event, 42).unwrap();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["event"], "session.ended");
        assert_eq!(value["reason"], "done");
        assert_eq!(value["id"], "ev_1");
        assert_eq!(value["room"], "demo");
        assert_eq!(value["created_at_ms"], 42);
        assert_eq!(event_name(&body), "session.ended");
    }
}
