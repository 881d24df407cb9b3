//! Webhooks against a real receiver on loopback that is down at first: a workshop runs (joins,
//! breakouts opened, a move, a help request, a role change, closing, a leave, the end), the
//! server is restarted while the receiver is still down, then the receiver comes up — and
//! answers its very first request with a 500. Every lifecycle event arrives, each signed as
//! Standard Webhooks defines — HMAC-SHA256 of `{id}.{timestamp}.{body}` under the endpoint's key
//! (checked here with an independent HMAC over `sha2`) — none is lost, and the outbox drains to
//! zero as `/metrics` shows.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use caucus_client::{Client, ClientOptions, EventStream};
use caucus_proto::{Location, PeerId, ServerEvent};
use caucus_server::webhooks::WebhookEndpoint;
use caucus_server::{Config, Running, Server};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// The endpoint's key as the operator configures it: `whsec_` and base64 of its bytes.
const SECRET: &str = "whsec_cmVjZWl2ZXItc2hhcmVkLXNlY3JldC0wMTIzNDU2Nzg5";
const T: Duration = Duration::from_secs(20);

/// HMAC-SHA256 (RFC 2104) written out over SHA-256, independent of the server's crypto.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize();
    outer.to_vec()
}

/// The `webhook-signature` a receiver expects under `key` for this delivery.
fn expected_signature(key: &[u8], delivery: &Delivery) -> String {
    let header = |name: &str| delivery.headers.get(name).unwrap().to_str().unwrap();
    let signed = [
        header("webhook-id").as_bytes(),
        b".",
        header("webhook-timestamp").as_bytes(),
        b".",
        &delivery.body,
    ]
    .concat();
    format!("v1,{}", STANDARD.encode(hmac_sha256(key, &signed)))
}

#[derive(Debug, Clone)]
struct Delivery {
    headers: HeaderMap,
    body: Bytes,
}

struct Receiver {
    requests: Mutex<Vec<Delivery>>,
    /// How many distinct event ids were answered with a 2xx.
    delivered: watch::Sender<usize>,
}

async fn hook(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut requests = receiver.requests.lock().unwrap();
    let id = headers.get("x-caucus-event-id").cloned();
    requests.push(Delivery { headers, body });
    // The first request after coming up fails: the server must try it again.
    if requests.len() == 1 {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let delivered: BTreeSet<_> = requests[1..]
        .iter()
        .filter_map(|r| r.headers.get("x-caucus-event-id"))
        .chain(id.as_ref())
        .collect();
    receiver.delivered.send_replace(delivered.len());
    StatusCode::NO_CONTENT
}

fn config(data: &std::path::Path, hook_addr: SocketAddr, secret: &str) -> Config {
    Config {
        data: data.to_owned(),
        in_memory: false,
        secret: Some(secret.to_owned()),
        webhooks: vec![WebhookEndpoint {
            url: format!("http://{hook_addr}/hooks/caucus"),
            secret: Some(SECRET.to_owned()),
            events: Vec::new(),
        }],
        webhook_timeout_ms: 2_000,
        webhook_backoff_initial_ms: 50,
        webhook_backoff_max_ms: 400,
        ..Config::ephemeral()
    }
}

fn body_created_s(body: &[u8]) -> u64 {
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    body["created_at_ms"].as_u64().unwrap() / 1000
}

async fn metric(server: &Running, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{}/metrics", server.http_addr()))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn wait_moved(events: &mut EventStream, peer: PeerId, to: Location) {
    events
        .wait_server(
            |e| match e {
                ServerEvent::PeersMoved { moves } => moves
                    .iter()
                    .any(|g| g.to == to && g.peers.contains(&peer))
                    .then_some(()),
                _ => None,
            },
            T,
        )
        .await
        .unwrap_or_else(|e| panic!("{peer} was not moved to {to}: {e}"));
}

async fn join(server: &Running, user: &str, role: &str) -> (Client, EventStream) {
    let token = server.join_token("workshop", user, role);
    Client::connect(&server.signaling_url(), &token, ClientOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{user} could not join: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_a_receiver_that_was_down_signed_and_none_lost() {
    // A free port with nobody listening: the receiver is down.
    let hook_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let data = std::env::temp_dir().join(format!("caucus-webhooks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let server_secret = "server-token-secret-0123456789";
    let server = Server::start(config(&data, hook_addr, server_secret))
        .await
        .unwrap();

    // A short workshop.
    let (host, _host_events) = join(&server, "hana", "host").await;
    let (ana, mut ana_events) = join(&server, "ana", "guest").await;
    let (ben, mut ben_events) = join(&server, "ben", "guest").await;
    let rooms = host.create_breakouts(2, None).await.unwrap();
    host.open_breakouts(None).await.unwrap();
    host.move_peer(ana.peer_id(), Location::Breakout(rooms[0]), true)
        .await
        .unwrap();
    wait_moved(&mut ana_events, ana.peer_id(), Location::Breakout(rooms[0])).await;
    ana.request_help().await.unwrap();
    host.change_role(ben.peer_id(), "co-host", true)
        .await
        .unwrap();
    ben_events
        .wait_server(
            |e| matches!(e, ServerEvent::RoleChanged { .. }).then_some(()),
            T,
        )
        .await
        .unwrap();
    host.close_breakouts(Some(0), None).await.unwrap();
    wait_moved(&mut ana_events, ana.peer_id(), Location::Main).await;
    ben.leave().await.unwrap();
    host.end_session(Some("done".into()), false).await.unwrap();
    let expected: BTreeSet<&str> = [
        "session.started",
        "peer.joined",
        "breakouts.opened",
        "peer.moved",
        "help.requested",
        "role.changed",
        "breakouts.closing",
        "breakouts.closed",
        "peer.left",
        "session.ended",
    ]
    .into();
    // peer.joined ×3, peer.moved ×2 (in, back), peer.left ×3 (ben leaves; ana and hana at the
    // end), and one of each of the seven others.
    let total = 3 + 2 + 3 + 7;
    drop((host, ana, ben));

    // Restart while the receiver is still down (shutting down, the store writer commits
    // everything queued): the outbox is on disk, one delivery per event.
    server.shutdown().await;
    let server = Server::start(config(&data, hook_addr, server_secret))
        .await
        .unwrap();
    assert_eq!(
        metric(&server, "caucus_webhook_backlog").await,
        Some(f64::from(total)),
        "exactly one delivery per event, and nothing queued was lost in the restart"
    );

    // The receiver comes up.
    let (delivered, mut all_delivered) = watch::channel(0);
    let receiver = Arc::new(Receiver {
        requests: Mutex::default(),
        delivered,
    });
    let listener = tokio::net::TcpListener::bind(hook_addr).await.unwrap();
    let app = Router::new()
        .route("/hooks/caucus", post(hook))
        .with_state(Arc::clone(&receiver));
    let receiver_task = tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::time::timeout(T, all_delivered.wait_for(|n| *n == total as usize))
        .await
        .expect("every event is delivered once the receiver is up")
        .unwrap();
    // Shutting down lets the deliveries in flight finish; after a restart the outbox is empty.
    server.shutdown().await;
    let server = Server::start(config(&data, hook_addr, server_secret))
        .await
        .unwrap();
    assert_eq!(
        metric(&server, "caucus_webhook_backlog").await,
        Some(0.0),
        "the outbox drained"
    );

    let requests = receiver.requests.lock().unwrap().clone();
    assert!(
        requests.len() > total as usize,
        "the first request failed and was tried again"
    );
    let mut by_id: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for request in &requests {
        let header = |name: &str| request.headers.get(name).unwrap().to_str().unwrap();
        let key = STANDARD
            .decode(SECRET.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(
            header("webhook-signature"),
            expected_signature(&key, request),
            "the signature is HMAC-SHA256 of id, timestamp and the exact body"
        );
        assert_ne!(
            header("webhook-signature"),
            expected_signature(server_secret.as_bytes(), request),
            "the endpoint's own key signs, not the token secret"
        );
        assert_eq!(header("webhook-id"), header("x-caucus-event-id"));
        let timestamp: u64 = header("webhook-timestamp").parse().unwrap();
        assert!(
            timestamp >= body_created_s(&request.body),
            "the timestamp is the attempt's: a retry after the outage is not stale"
        );
        assert_eq!(header("content-type"), "application/json");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["id"], header("x-caucus-event-id"));
        assert_eq!(body["event"], header("x-caucus-event"));
        assert_eq!(body["room"], "workshop");
        assert!(body["created_at_ms"].as_u64().unwrap() > 1_600_000_000_000);
        if let Some(seen) = by_id.get(body["id"].as_str().unwrap()) {
            assert_eq!(seen, &body, "a retried event is the same event");
        }
        by_id.insert(body["id"].as_str().unwrap().to_owned(), body);
    }
    assert_eq!(
        by_id.len(),
        total as usize,
        "every event arrived once by id"
    );
    let names: BTreeSet<&str> = by_id
        .values()
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, expected);
    let count = |name: &str| by_id.values().filter(|b| b["event"] == name).count();
    assert_eq!(count("peer.joined"), 3);
    assert_eq!(count("peer.moved"), 2);
    assert_eq!(count("peer.left"), 3);
    let moved_in = by_id
        .values()
        .find(|b| b["event"] == "peer.moved" && b["to"] != "main")
        .unwrap();
    assert_eq!(moved_in["to"], rooms[0].to_string());
    let role = by_id
        .values()
        .find(|b| b["event"] == "role.changed")
        .unwrap();
    assert_eq!(
        (role["from"].as_str(), role["to"].as_str()),
        (Some("guest"), Some("co-host"))
    );

    receiver_task.abort();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);
}
