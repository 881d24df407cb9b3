//! The SDK's TURN client against a real coturn: relay-only clients (no host candidate) join,
//! publish and receive through the relay, over UDP, TCP and TLS to the TURN server; a
//! credential minted with another secret than coturn's is refused and reported as an error.
//!
//! Needs a running coturn: `scripts/test-turn` starts one from `deploy/turnserver.conf` on
//! loopback and runs these tests with its ports (`TURN_PORT`, `TURN_TLS_PORT`), the CA of its
//! certificate (`TURN_CA`), its shared secret (`TURN_SECRET`) and log (`TURN_LOG`); hence
//! `#[ignore]` in a plain `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use caucus_client::{
    Client, ClientError, ClientOptions, IceTransportPolicy, TurnError, TurnTransport,
};
use caucus_proto::Source;
use caucus_server::Config;
use common::{T, World, wait_more};

/// coturn's port, and its relay port range (`min-port`, `max-port` of the config).
fn turn_port() -> u16 {
    std::env::var("TURN_PORT")
        .expect("TURN_PORT: run through scripts/test-turn")
        .parse()
        .expect("TURN_PORT is a port")
}

fn turn_secret() -> String {
    std::env::var("TURN_SECRET").expect("TURN_SECRET: run through scripts/test-turn")
}

/// coturn's TLS port.
fn turn_tls_port() -> u16 {
    std::env::var("TURN_TLS_PORT")
        .expect("TURN_TLS_PORT: run through scripts/test-turn")
        .parse()
        .expect("TURN_TLS_PORT is a port")
}

/// The test CA that issued coturn's certificate (DER, from `TURN_CA`'s PEM).
fn turn_ca() -> Vec<u8> {
    let pem = std::fs::read_to_string(std::env::var("TURN_CA").expect("TURN_CA")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap()
}

/// A Caucus whose joins carry a TURN credential for coturn (minted with `secret`).
async fn world(room: &str, transport: &str, secret: String) -> World {
    let url = match transport {
        "tls" => format!("turns:127.0.0.1:{}?transport=tcp", turn_tls_port()),
        _ => format!("turn:127.0.0.1:{}?transport={transport}", turn_port()),
    };
    let config = Config {
        turn_urls: vec![url],
        turn_secret: Some(secret),
        ..Config::ephemeral()
    };
    World::start_with(room, config).await
}

fn relay_only(transport: TurnTransport) -> ClientOptions {
    ClientOptions {
        ice_transport_policy: IceTransportPolicy::Relay,
        turn_transport: transport,
        tls_roots: if transport == TurnTransport::Tls {
            vec![turn_ca()]
        } else {
            Vec::new()
        },
        ..ClientOptions::default()
    }
}

/// The relay's own checks: an address on coturn's relay host (127.0.0.1 here) in its relay
/// port range, not the client's socket, and datagrams relayed both ways on a channel.
fn check_relay(client: &Client, turn: SocketAddr) -> SocketAddr {
    let relayed = client.relayed_addr().expect("a relayed candidate");
    assert_eq!(relayed.ip(), turn.ip(), "relayed on coturn's relay-ip");
    assert!(
        (49160..=49999).contains(&relayed.port()),
        "{relayed}: in coturn's min-port..max-port"
    );
    assert_ne!(Some(relayed), client.media_addr());
    let report = client.media_report().relay.expect("a relay report");
    assert_eq!(report.relayed, relayed);
    assert_eq!(report.server, turn);
    assert_eq!(report.failure, None);
    assert!(
        report.stats.sent > 0 && report.stats.received > 0,
        "{report:?}"
    );
    assert!(
        report.stats.sent_on_channels > 0,
        "ChannelData used: {report:?}"
    );
    relayed
}

/// The first line of coturn's log (`TURN_LOG`, verbose) holding both `needle` and `kind`,
/// awaited at most [`T`] (coturn writes it when it acts).
async fn coturn_log_line(needle: &str, kind: &str) -> String {
    let path = std::env::var("TURN_LOG").expect("TURN_LOG: run through scripts/test-turn");
    let find = async {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
        loop {
            tick.tick().await;
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains(needle) && l.contains(kind)) {
                return line.to_owned();
            }
        }
    };
    tokio::time::timeout(T, find)
        .await
        .unwrap_or_else(|_| panic!("coturn never logged {kind} … {needle}"))
}

/// The number after `key` in a coturn usage line (`rp=12,`).
fn count(line: &str, key: &str) -> u64 {
    line.split([' ', ','])
        .find_map(|w| w.strip_prefix(key))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Two relay-only clients: the host publishes audio and video; the guest decodes both; the
/// guest's reports reach the host (RTCP) the same way.
async fn media_through_the_relay(transport: TurnTransport, name: &str) {
    let port = if transport == TurnTransport::Tls {
        turn_tls_port()
    } else {
        turn_port()
    };
    let turn = SocketAddr::from(([127, 0, 0, 1], port));
    let world = world(name, name, turn_secret()).await;
    // Users per transport: coturn's log accumulates over the tests.
    let (host_user, guest_user) = (format!("hana{name}"), format!("gus{name}"));
    let (host, _he) = world
        .join_with(&host_user, "host", relay_only(transport))
        .await;
    let (guest, _ge) = world
        .join_with(&guest_user, "guest", relay_only(transport))
        .await;
    host.publish_audio().await.expect("audio");
    host.publish_video().await.expect("video");
    wait_more(&guest, host.peer_id(), Source::Audio, 25).await;
    wait_more(&guest, host.peer_id(), Source::Video, 25).await;
    let received = guest.media_report().received;
    assert_eq!(received.undecodable, 0, "every payload decodes");
    let video = guest.received_from(host.peer_id(), Source::Video).unwrap();
    assert!(video.keyframe_packets > 0, "a keyframe came through");

    let decoded = [Source::Audio, Source::Video]
        .iter()
        .filter_map(|s| guest.received_from(host.peer_id(), *s))
        .map(|s| s.packets)
        .sum::<u64>();
    let host_relay = check_relay(&host, turn);
    let guest_relay = check_relay(&guest, turn);
    assert_ne!(host_relay, guest_relay);
    host.close();
    guest.close();

    // coturn's own account, once the clients deallocated (a Refresh with lifetime 0): for
    // each user, datagrams it relayed from the relayed address to its one permitted peer (the
    // Caucus media address) and back; for the publisher at least every packet the guest
    // decoded.
    for (user, at_least) in [(&host_user, decoded), (&guest_user, 1)] {
        // TLS where asked (coturn's TLS port would take plain TCP too), and only there.
        let session = coturn_log_line(&format!("{user}>, lifetime=600"), ": new,").await;
        assert_eq!(
            session.contains("method=TLS"),
            transport == TurnTransport::Tls,
            "{session}"
        );
        coturn_log_line(&format!("{user}>, lifetime=0"), "refreshed").await;
        let usage = coturn_log_line(&format!("{user}>, rp="), "peer usage:").await;
        let (to_caucus, from_caucus) = (count(&usage, "sp="), count(&usage, "rp="));
        assert!(
            to_caucus >= at_least && from_caucus > 0,
            "coturn relayed {user}'s datagrams to Caucus and back (≥ {at_least}): {usage}"
        );
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn: scripts/test-turn runs it"]
async fn relay_only_clients_exchange_media_through_turn_over_udp() {
    media_through_the_relay(TurnTransport::Udp, "udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn: scripts/test-turn runs it"]
async fn relay_only_clients_exchange_media_through_turn_over_tcp() {
    media_through_the_relay(TurnTransport::Tcp, "tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn: scripts/test-turn runs it"]
async fn relay_only_clients_exchange_media_through_turn_over_tls() {
    media_through_the_relay(TurnTransport::Tls, "tls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn: scripts/test-turn runs it"]
async fn a_credential_coturn_does_not_know_is_refused_as_an_error() {
    let world = world("wrong", "udp", format!("not-{}", turn_secret())).await;
    let token = world.server.join_token(&world.room, "mallory", "host");
    let refused = Client::connect(
        &world.server.signaling_url(),
        &token,
        relay_only(TurnTransport::Udp),
    )
    .await
    .expect_err("no relay, no media");
    assert!(
        matches!(
            refused,
            ClientError::Turn(TurnError::Refused { code: 401, .. })
        ),
        "{refused:?}"
    );

    // The same Caucus, TURN off in the client: relay-only has nothing to offer.
    let no_turn = ClientOptions {
        turn: false,
        ..relay_only(TurnTransport::Udp)
    };
    let off = Client::connect(&world.server.signaling_url(), &token, no_turn)
        .await
        .expect_err("relay-only without TURN");
    assert!(
        matches!(off, ClientError::Turn(TurnError::NoServer(_))),
        "{off:?}"
    );
    world.stop().await;
}
