//! Media off the single-UDP-address path, against the real server: clients that can only
//! use ICE over TCP (joined, publishing, receiving and moved into a breakout), IPv6
//! clients, a server on several addresses, and the limits of the ICE-TCP listener.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use caucus_client::{ClientOptions, MediaTransport};
use caucus_media::Transport;
use caucus_proto::{Location, Source};
use caucus_server::Config;
use common::{T, World, wait_more, wait_moved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn tcp_only() -> ClientOptions {
    ClientOptions {
        transport: MediaTransport::Tcp,
        ..ClientOptions::default()
    }
}

fn with_tcp(config: Config) -> Config {
    Config {
        media_tcp: vec!["127.0.0.1:0".parse().expect("an address")],
        ..config
    }
}

fn tcp_candidate(world: &World) -> SocketAddr {
    world
        .server
        .media_candidates()
        .iter()
        .find(|c| c.transport == Transport::Tcp)
        .expect("an ICE-TCP candidate")
        .address
}

/// The value of a metric line `name` in `/metrics` (0 when absent).
async fn metric(world: &World, name: &str) -> f64 {
    let body = reqwest::get(format!("http://{}/metrics", world.server.http_addr()))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_udp_join_publish_receive_and_are_moved_over_tcp() {
    let world = World::start_with("tcp", with_tcp(Config::ephemeral())).await;
    let (host, mut host_events) = world.join_with("hana", "host", tcp_only()).await;
    let (ana, _ae) = world.join_with("ana", "guest", tcp_only()).await;
    let (ben, _be) = world.join_with("ben", "guest", tcp_only()).await;
    host.publish_audio().await.expect("host audio");
    host.publish_video().await.expect("host video");
    for guest in [&ana, &ben] {
        wait_more(guest, host.peer_id(), Source::Audio, 10).await;
        wait_more(guest, host.peer_id(), Source::Video, 10).await;
    }
    assert!(
        metric(&world, "caucus_ice_tcp_connections").await >= 3.0,
        "every client's media runs on an ICE-TCP connection"
    );

    // Into a breakout and talking there, still over TCP.
    let rooms = host.create_breakouts(1, None).await.expect("create");
    host.open_breakouts(None).await.expect("open");
    let room = Location::Breakout(rooms[0]);
    for guest in [&ana, &ben] {
        host.move_peer(guest.peer_id(), room, true)
            .await
            .expect("forced move");
        wait_moved(&mut host_events, guest.peer_id(), room).await;
    }
    ben.wait_silent_from(host.peer_id(), T)
        .await
        .expect("the host is not heard in the room");
    ana.publish_audio().await.expect("ana talks in the room");
    wait_more(&ben, ana.peer_id(), Source::Audio, 10).await;
    assert!(host.received_from(ana.peer_id(), Source::Audio).is_none());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_client_and_an_ipv4_client_meet_on_a_dual_stack_server() {
    let config = Config {
        media: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
        ..Config::ephemeral()
    };
    let world = World::start_with("dual", config).await;
    assert!(
        world
            .server
            .media_candidates()
            .iter()
            .any(|c| c.address.is_ipv6())
    );
    let v6 = ClientOptions {
        bind: "[::1]:0".parse().unwrap(),
        ..ClientOptions::default()
    };
    let (six, _se) = world.join_with("six", "host", v6).await;
    let (four, _fe) = world.join("four", "host").await;
    six.publish_audio().await.expect("v6 audio");
    wait_more(&four, six.peer_id(), Source::Audio, 10).await;
    four.publish_video().await.expect("v4 video");
    wait_more(&six, four.peer_id(), Source::Video, 10).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_tcp_connections_that_do_nothing_useful_are_closed() {
    let config = Config {
        handshake_timeout_s: 1,
        media_tcp_max_per_ip: 3,
        ..with_tcp(Config::ephemeral())
    };
    let world = World::start_with("limits", config).await;
    let addr = tcp_candidate(&world);

    // Silent: closed once the engine has not answered it within the handshake deadline.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    // Garbage in a valid frame: nobody's ICE check, never answered, closed the same way.
    let mut garbage = TcpStream::connect(addr).await.expect("connect");
    garbage
        .write_all(&[0, 4, 0xde, 0xad, 0xbe, 0xef])
        .await
        .expect("write");
    // A frame longer than any datagram: closed at once.
    let mut huge = TcpStream::connect(addr).await.expect("connect");
    huge.write_all(&[0xff, 0xff, 1, 2, 3]).await.expect("write");
    for (what, stream) in [
        ("a silent connection", &mut silent),
        ("a garbage connection", &mut garbage),
        ("an oversized frame", &mut huge),
    ] {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{what} is never closed"));
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "{what}: read {read:?} instead of the end"
        );
    }

    // Beyond the per-address limit a new connection is closed at accept.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut extra = TcpStream::connect(addr).await.expect("the kernel accepts");
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(T, extra.read(&mut buf))
        .await
        .expect("the extra connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "read {read:?}");
    assert!(metric(&world, "caucus_ice_tcp_closed_total{reason=\"refused\"}").await >= 1.0);

    // Clients still get in over TCP.
    drop(held);
    let (a, _ae) = world.join_with("a", "host", tcp_only()).await;
    let (b, _be) = world.join_with("b", "guest", tcp_only()).await;
    a.publish_audio().await.expect("audio");
    wait_more(&b, a.peer_id(), Source::Audio, 10).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_bound_to_the_ipv6_wildcard_answers_ipv4_and_ipv6_clients() {
    let config = Config {
        http: "[::]:0".parse().expect("an address"),
        ..Config::ephemeral()
    };
    let world = World::start_with("dual-http", config).await;
    let port = world.server.http_addr().port();
    for host in ["127.0.0.1", "[::1]"] {
        let status = reqwest::get(format!("http://{host}:{port}/healthz"))
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"))
            .status();
        assert!(status.is_success(), "{host}: {status}");
    }
    world.stop().await;
}
