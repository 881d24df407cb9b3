//! Simulcast layers follow each subscriber's bandwidth, over real UDP: the server is told to
//! advertise 127.0.0.2, where a shaping relay stands in for the network. The relay passes
//! everything from clients to the server untouched and sends the server's datagrams on to
//! each client through a bottleneck of its own — a queue drained at a set rate, tail drop
//! beyond 250 ms — keyed by the client's loopback address. A presenter sends three layers
//! (≈ 130 kbit/s, 390 kbit/s, 1.3 Mbit/s); the server's bandwidth estimate for each
//! subscriber decides which one it gets, and follows a link that narrows; `/metrics` counts
//! the subscribers held down.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caucus_client::{Client, ClientOptions, SimulcastLayer};
use caucus_proto::{PeerId, Source};
use caucus_server::Config;
use common::World;
use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

const SMALL: (u16, u16) = (320, 180);
const MEDIUM: (u16, u16) = (640, 360);
const LARGE: (u16, u16) = (1280, 720);

/// Layer changes wait for the estimate to settle: longer than the usual event timeout.
const SETTLE: Duration = Duration::from_secs(30);

const RELAY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const BOB_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const CAROL_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

/// Downlink rate (bit/s) per client IP; an IP not listed is not limited.
type Rates = Arc<Mutex<HashMap<IpAddr, Arc<AtomicU64>>>>;

/// Counts of what the relay did, for the test's messages.
#[derive(Default)]
struct Tally {
    dropped: AtomicU64,
}

/// Relays `listen` (the advertised media address) to `server`: one upstream socket per
/// client address, and the way back through that client's bottleneck.
async fn relay(listen: Arc<UdpSocket>, server: SocketAddr, rates: Rates, tally: Arc<Tally>) {
    let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, client)) = listen.recv_from(&mut buf).await else {
            return;
        };
        let upstream = match upstreams.get(&client) {
            Some(u) => Arc::clone(u),
            None => {
                let u = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
                let rate = rates.lock().unwrap().get(&client.ip()).cloned();
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(downlink(
                    Arc::clone(&listen),
                    client,
                    rx,
                    rate,
                    Arc::clone(&tally),
                ));
                tokio::spawn(from_server(Arc::clone(&u), tx));
                upstreams.insert(client, Arc::clone(&u));
                u
            }
        };
        let _ = upstream.send_to(&buf[..n], server).await;
    }
}

/// Everything the server sends to one upstream socket, handed to that client's downlink.
async fn from_server(upstream: Arc<UdpSocket>, to: mpsc::UnboundedSender<Vec<u8>>) {
    let mut buf = vec![0u8; 2048];
    while let Ok((n, _)) = upstream.recv_from(&mut buf).await {
        if to.send(buf[..n].to_vec()).is_err() {
            return;
        }
    }
}

/// One client's bottleneck: datagrams leave one after another at the current rate; one
/// that would wait more than 250 ms is dropped.
async fn downlink(
    socket: Arc<UdpSocket>,
    client: SocketAddr,
    mut incoming: mpsc::UnboundedReceiver<Vec<u8>>,
    rate: Option<Arc<AtomicU64>>,
    tally: Arc<Tally>,
) {
    let max_queue = Duration::from_millis(250);
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut busy_until = Instant::now();
    loop {
        // Send what is due, then wait for the next departure or a new datagram.
        let now = Instant::now();
        while queue.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = queue.pop_front() {
                let _ = socket.send_to(&bytes, client).await;
            }
        }
        let next = match queue.front() {
            Some((at, _)) => tokio::time::timeout_at(*at, incoming.recv()).await,
            None => Ok(incoming.recv().await),
        };
        let bytes = match next {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(_) => continue, // a departure is due
        };
        let Some(rate) = rate.as_ref().map(|r| r.load(Ordering::Relaxed)) else {
            let _ = socket.send_to(&bytes, client).await;
            continue;
        };
        let now = Instant::now();
        let start = busy_until.max(now);
        if start - now > max_queue {
            tally.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        busy_until = start + Duration::from_nanos(bytes.len() as u64 * 8 * 1_000_000_000 / rate);
        queue.push_back((busy_until, bytes));
    }
}

/// Waits until `client` receives keyframes of `size` from `from`'s camera.
async fn wait_size(client: &Client, from: PeerId, size: (u16, u16), who: &str, tally: &Tally) {
    if let Err(e) = client
        .wait_frame_size(from, Source::Video, size, SETTLE)
        .await
    {
        let now = client
            .received_from(from, Source::Video)
            .and_then(|s| s.frame_size);
        let dropped = tally.dropped.load(Ordering::Relaxed);
        panic!("{who} should see {size:?}, sees {now:?} ({dropped} datagrams dropped): {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_gets_the_layer_its_downlink_carries() {
    let world = World::start_with(
        "stage",
        Config {
            advertise: vec![IpAddr::V4(RELAY_IP)],
            bandwidth_start_kbps: 300,
            ..Config::ephemeral()
        },
    )
    .await;
    let server_media = world.server.media_addr();
    let listen = Arc::new(
        UdpSocket::bind(SocketAddr::new(IpAddr::V4(RELAY_IP), server_media.port()))
            .await
            .unwrap(),
    );
    let bob_rate = Arc::new(AtomicU64::new(900_000));
    let rates: Rates = Arc::new(Mutex::new(HashMap::from([(
        IpAddr::V4(BOB_IP),
        Arc::clone(&bob_rate),
    )])));
    let tally = Arc::new(Tally::default());
    let relay_task = tokio::spawn(relay(listen, server_media, rates, Arc::clone(&tally)));

    let stage = json!({"allowed": ["audio", "video"], "simulcast": true});
    world
        .rest(
            reqwest::Method::POST,
            "/v1/templates",
            json!({
                "id": "stage",
                "name": "Stage",
                "roles": {
                    "presenter": {"publish": stage, "subscribe": {"roles": ["presenter"]}},
                    "viewer": {"subscribe": {"roles": ["presenter"]}},
                }
            }),
        )
        .await;
    world
        .rest(
            reqwest::Method::POST,
            "/v1/rooms",
            json!({"id": "stage", "name": "Stage", "template": "stage"}),
        )
        .await;

    // 15 frames a second of 1,000-byte packets: 1, 3 and 11 packets a frame.
    let layers = [("q", SMALL, 1), ("h", MEDIUM, 3), ("f", LARGE, 11)]
        .map(|(rid, (width, height), packets)| SimulcastLayer {
            rid: rid.into(),
            width,
            height,
            packets_per_frame: Some(packets),
        })
        .to_vec();
    let (presenter, _presenter_events) = world
        .join_with(
            "pia",
            "presenter",
            ClientOptions {
                simulcast: layers,
                send: vec![Source::Video],
                ..ClientOptions::default()
            },
        )
        .await;
    presenter.publish_video().await.unwrap();
    let viewer = |ip: Ipv4Addr| ClientOptions {
        send: Vec::new(),
        bind: SocketAddr::new(IpAddr::V4(ip), 0),
        ..ClientOptions::default()
    };
    let (bob, _bob_events) = world.join_with("bob", "viewer", viewer(BOB_IP)).await;
    let (carol, _carol_events) = world.join_with("carol", "viewer", viewer(CAROL_IP)).await;
    let pia = presenter.peer_id();

    // Bob's 900 kbit/s carry the middle layer, not the top one; Carol's link has no limit.
    wait_size(&carol, pia, LARGE, "carol, unlimited", &tally).await;
    wait_size(&bob, pia, MEDIUM, "bob at 900 kbit/s", &tally).await;
    // Settled there: thirty more frames, still the middle layer.
    let frames = bob.received_from(pia, Source::Video).unwrap().frames;
    bob.wait_received(pia, Source::Video, frames + 30, SETTLE)
        .await
        .unwrap();
    assert_eq!(
        bob.received_from(pia, Source::Video).unwrap().frame_size,
        Some(MEDIUM)
    );

    // Bob's link narrows to 250 kbit/s: the estimate falls and he gets the small layer,
    // while Carol keeps the large one.
    bob_rate.store(250_000, Ordering::Relaxed);
    wait_size(&bob, pia, SMALL, "bob at 250 kbit/s", &tally).await;
    assert_eq!(
        carol.received_from(pia, Source::Video).unwrap().frame_size,
        Some(LARGE)
    );

    // Operators see it: Bob counts among the subscribers held below their layer.
    let metrics = reqwest::get(format!("http://{}/metrics", world.server.http_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let limited = metrics
        .lines()
        .find_map(|l| l.strip_prefix("caucus_subscribers_bandwidth_limited "))
        .unwrap_or_else(|| panic!("no bandwidth gauge in\n{metrics}"));
    let limited: f64 = limited.trim().parse().unwrap();
    assert!(limited >= 1.0, "{metrics}");

    relay_task.abort();
    world.stop().await;
}
