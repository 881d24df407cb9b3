//! Webhooks: every lifecycle event of every session, POSTed to the configured endpoints (http or
//! https), signed, at least once.
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
//! `X-Caucus-Event-Id: ev_…` (the same on every attempt; receivers deduplicate by it), and the
//! Standard Webhooks headers `webhook-id` (the event id), `webhook-timestamp` (Unix seconds of
//! this attempt) and `webhook-signature: v1,<base64>` — HMAC-SHA256 of `{id}.{timestamp}.{body}`
//! under the endpoint's own key ([`signing`]), which is never the token secret ([`keys`]).
//! https goes through rustls ([`tls`], [`transport`]). See `docs/api.md`, "Webhooks".

pub mod keys;
pub mod signing;
pub mod tls;
mod transport;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use caucus_proto::{LifecycleEvent, RoomId};
use caucus_store::{OutboxEntry, OutboxItem, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tracing::{debug, info, warn};

use crate::persist::PersistHandle;
use keys::KeysError;
use signing::SigningKey;
use tls::TlsError;
use transport::Transport;

/// How many due deliveries one round takes from the outbox (and sends at once).
const BATCH: usize = 32;
/// How often the loop looks at the outbox when nothing woke it (for retries falling due).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// One endpoint, as the config file writes it:
///
/// ```toml
/// [[webhooks]]
/// url = "https://hooks.example.com/caucus"
/// secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" # optional: generated and kept by default
/// events = ["peer.joined", "peer.moved"]           # optional: every event by default
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// An `https://` (or `http://`) URL.
    pub url: String,
    /// The signing key, `whsec_` and the base64 of 24 to 64 bytes; when unset, a random key
    /// generated for this endpoint (see [`keys`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The event names this endpoint receives; every event when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// Every event name a webhook can carry (what `events` may list): the lifecycle events' own
/// list, so a new event is configurable the moment it exists.
pub const EVENT_NAMES: &[&str] = LifecycleEvent::NAMES;

/// Why webhook delivery could not be set up (at start, before anything is queued).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// An endpoint with its key resolved.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    key: SigningKey,
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
    transport: Transport,
    backoff_initial: Duration,
    backoff_max: Duration,
    wake: Arc<Notify>,
}

impl Webhooks {
    /// Resolve every endpoint's key (generated ones are kept under `keys_in`, or only in
    /// memory when it is `None`; see [`keys::resolve`]) and build the client, trusting
    /// `ca_file` besides the built-in roots.
    pub fn new(
        endpoints: &[WebhookEndpoint],
        keys_in: Option<&Path>,
        ca_file: Option<&Path>,
        timeout: Duration,
        backoff_initial: Duration,
        backoff_max: Duration,
    ) -> Result<Arc<Webhooks>, SetupError> {
        let keys = keys::resolve(endpoints, keys_in)?;
        let targets = endpoints
            .iter()
            .zip(keys)
            .map(|(e, (key, _))| Target {
                url: e.url.clone(),
                key,
                events: e.events.clone(),
            })
            .collect();
        for endpoint in endpoints {
            if !encrypted_or_local(&endpoint.url) {
                warn!(url = %endpoint.url,
                    "webhook endpoint over plain http off this host: deliveries are signed but readable on the way");
            }
        }
        let transport = Transport::new(ca_file, timeout)?;
        Ok(Arc::new(Webhooks {
            targets,
            transport,
            backoff_initial,
            backoff_max,
            wake: Arc::new(Notify::new()),
        }))
    }

    /// Whether any endpoint signs with `secret` (the start refuses to sign with the token
    /// secret, however it was configured).
    pub fn signs_with(&self, secret: &[u8]) -> bool {
        self.targets
            .iter()
            .any(|t| t.key.bytes() == secret || t.key.encoded().as_bytes() == secret)
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
            self.persist.webhooks(items, Arc::clone(&self.hooks.wake));
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
    let client = hooks.transport.clone();
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
async fn last_round(hooks: &Webhooks, client: &Transport, store: &Arc<dyn Store>) {
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
async fn deliver(hooks: &Webhooks, client: &Transport, store: &Arc<dyn Store>, entry: OutboxEntry) {
    let Some(target) = hooks.targets.iter().find(|t| t.url == entry.endpoint) else {
        warn!(endpoint = %entry.endpoint, event_id = %entry.event_id,
            "webhook endpoint no longer configured; delivery dropped");
        settle(store, entry, Ok(()), hooks).await;
        return;
    };
    let name = event_name(&entry.body);
    // Signed now, not when queued: the timestamp is this attempt's, so a delivery retried
    // after an hour's outage is still inside the receiver's replay window.
    let timestamp = crate::clock::unix_ms() / 1000;
    let signature = target
        .key
        .sign(&entry.event_id, timestamp, entry.body.as_bytes());
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("x-caucus-event", name),
        ("x-caucus-event-id", entry.event_id.clone()),
        ("webhook-id", entry.event_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    let outcome = client.post(&target.url, &headers, entry.body.clone()).await;
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

/// Whether `url` is https, or http to a loopback address or `localhost`.
fn encrypted_or_local(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    url.scheme() == "https"
        || host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `event` field of a rendered body (for the `X-Caucus-Event` header).
fn event_name(body: &str) -> String {
    #[derive(Deserialize)]
    struct Named {
        event: String,
    }
    serde_json::from_str::<Named>(body).map_or_else(|_| "unknown".to_owned(), |n| n.event)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of `docs/api.md`, "Webhooks": a real body as the server renders it,
    /// signed as a delivery is.
    #[test]
    fn the_documented_test_vector_holds() {
        let event = LifecycleEvent::PeerMoved {
            peer_id: caucus_proto::PeerId::new(4),
            user_id: "ana".into(),
            from: caucus_proto::Location::Main,
            to: caucus_proto::Location::Breakout(caucus_proto::BreakoutId::new(2)),
        };
        let body = render(
            "ev_3f9c0a6b1e2d4c5a7b8e9f01",
            &RoomId::from("demo"),
            &event,
            1_795_447_279_000,
        )
        .unwrap();
        assert_eq!(
            body,
            r#"{"created_at_ms":1795447279000,"event":"peer.moved","from":"main","id":"ev_3f9c0a6b1e2d4c5a7b8e9f01","peer_id":"p4","room":"demo","to":"b2","user_id":"ana"}"#
        );
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            key.sign(
                "ev_3f9c0a6b1e2d4c5a7b8e9f01",
                1_795_447_280,
                body.as_bytes()
            ),
            "v1,nwTgbrIwTk/mRP6aU7m55dDEZLuiGzbFkjtiZIwX/1c="
        );
    }

    #[test]
    fn the_start_can_tell_whether_an_endpoint_signs_with_a_given_secret() {
        let configured = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let endpoints = [
            WebhookEndpoint {
                url: "https://a.example/hook".into(),
                secret: Some(configured.into()),
                events: Vec::new(),
            },
            WebhookEndpoint {
                url: "https://b.example/hook".into(),
                secret: None,
                events: Vec::new(),
            },
        ];
        let second = Duration::from_secs(1);
        let hooks = Webhooks::new(&endpoints, None, None, second, second, second).unwrap();
        let bytes = SigningKey::parse(configured).unwrap().bytes().to_vec();
        assert!(hooks.signs_with(configured.as_bytes()));
        assert!(hooks.signs_with(&bytes));
        assert!(!hooks.signs_with(b"the-token-secret-0123456789abcdef"));
    }

    #[test]
    fn plain_http_is_flagged_unless_it_stays_on_this_host() {
        assert!(encrypted_or_local("https://hooks.example.com/caucus"));
        assert!(encrypted_or_local("http://127.0.0.1:9000/caucus"));
        assert!(encrypted_or_local("http://[::1]:9000/caucus"));
        assert!(encrypted_or_local("http://localhost:9000/caucus"));
        assert!(!encrypted_or_local("http://hooks.example.com/caucus"));
        assert!(!encrypted_or_local("http://10.0.0.7/caucus"));
    }

    #[test]
    fn the_backoff_doubles_up_to_the_cap_with_at_most_a_fifth_of_jitter() {
        let hooks = Webhooks::new(
            &[],
            None,
            None,
            Duration::from_secs(1),
            Duration::from_millis(100),
            Duration::from_millis(1000),
        )
        .unwrap();
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
