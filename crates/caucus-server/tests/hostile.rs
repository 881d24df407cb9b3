//! Hostile or broken clients over real sockets: whatever a client does or fails to do, the
//! server frees its connection within the configured deadlines.

mod common;

use caucus_server::Config;
use common::{Client, raw, start_with};
use futures_util::SinkExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

/// A client that opens the socket and then does nothing at all — not even read — is closed
/// by the join deadline.
#[tokio::test]
async fn a_client_that_never_joins_is_closed_by_the_join_deadline() {
    let config = Config {
        join_timeout_s: 1,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let mut client = Client::connect(&server).await;
    let error = client.error().await;
    assert_eq!(error["error"]["code"], "unauthorized", "{error}");
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(frame.reason.as_str(), "no join");
    server.shutdown().await;
}

/// A joined client that stops reading while its room floods it with chat: its writes stall
/// at the deadline, its connection is freed and the room sees it as connection-lost (so it
/// could resume), while another room keeps answering.
#[tokio::test]
async fn a_joined_client_that_never_reads_is_dropped_at_the_write_deadline() {
    let config = Config {
        write_timeout_ms: 200,
        // The room must never drop it for a full queue: only the write deadline frees it.
        outbound_queue: 1_000_000,
        rate_per_s: 100_000,
        rate_burst: 100_000,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let mut host = Client::join(&server, "r1", "hana", "host").await;
    let mut other = Client::join(&server, "r2", "olga", "host").await;

    // The sink: a tiny receive buffer, a join, and then never a read.
    let addr = server.http_addr();
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    socket.set_nonblocking(true).expect("nonblocking");
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    let stream = socket.connect(addr).await.expect("connect");
    let (mut sink, _) = tokio_tungstenite::client_async(server.signaling_url(), stream)
        .await
        .expect("handshake");
    let token = server.join_token("r1", "sid", "guest");
    let join = json!({"id": 1, "type": "join", "token": token}).to_string();
    sink.send(Message::text(join)).await.expect("send join");
    let host_id = host.peer_id.clone();
    let joined = host
        .wait_for("sid joins", |v| {
            v["type"] == "event"
                && v["event"]["type"] == "peer_joined"
                && v["event"]["peer"]["id"] != host_id.as_str()
        })
        .await;
    let sid = joined["event"]["peer"]["id"].clone();

    // Far more than the kernel buffers on both ends hold.
    let text = "x".repeat(4000);
    for _ in 0..30 {
        // Batches keep the host itself a reader (or it would be dropped at the deadline too).
        let mut last = 0;
        for _ in 0..100 {
            last = host
                .send(json!({"type": "command", "command": {"type": "chat", "to": "everyone", "text": text}}))
                .await;
        }
        let reply = host.reply(last).await;
        assert_eq!(reply["ok"], true, "{reply}");
    }
    host.wait_for("sid's connection lost", |v| {
        v["type"] == "event"
            && v["event"]["type"] == "peer_updated"
            && v["event"]["peer"]["id"] == sid
            && v["event"]["peer"]["connected"] == false
    })
    .await;

    let reply = other.request(json!({"type": "ping"})).await;
    assert_eq!(reply["ok"], true, "{reply}");
    drop(sink);
    server.shutdown().await;
}

/// A socket that connects and sends nothing, and one that sends half a request head and
/// stops (slowloris), are both closed at the handshake deadline.
#[tokio::test]
async fn silent_and_slow_sockets_are_closed_at_the_handshake_deadline() {
    let config = Config {
        handshake_timeout_s: 1,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let mut silent = raw::connect_from(raw::loopback(2), server.http_addr()).await;
    let mut slow = raw::connect_from(raw::loopback(2), server.http_addr()).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    for stream in [&mut silent, &mut slow] {
        let answer = raw::read_answer(stream).await;
        assert_eq!(answer.status, 0, "closed without an answer: {answer:?}");
    }
    // A prompt client is not affected.
    let answer = raw::get_from(raw::loopback(2), server.http_addr(), "/healthz", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    server.shutdown().await;
}

/// One address holding its share of connections is refused more with a clear 503, while
/// other addresses — a health probe, a peer joining — still get in.
#[tokio::test]
async fn an_address_past_its_connection_limit_is_refused_and_others_get_in() {
    let config = Config {
        max_connections_per_ip: 5,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let addr = server.http_addr();
    let attacker = raw::loopback(2);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(raw::connect_from(attacker, addr).await);
    }
    let mut excess = raw::connect_from(attacker, addr).await;
    let answer = raw::read_answer(&mut excess).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.code(), "too_many_connections", "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"));
    let metrics = raw::get_from(raw::loopback(1), addr, "/metrics", &[]).await;
    assert!(
        metrics
            .body
            .contains("caucus_http_connections_refused_total{reason=\"address_full\"} 1"),
        "{}",
        metrics.body
    );

    let probe = raw::get_from(raw::loopback(3), addr, "/healthz", &[]).await;
    assert_eq!(probe.status, 200, "{probe:?}");
    let mut host = Client::join(&server, "r1", "hana", "host").await;
    let reply = host.request(json!({"type": "ping"})).await;
    assert_eq!(reply["ok"], true, "{reply}");

    drop(held);
    // The places come back as the held sockets close.
    let mut answer = raw::get_from(attacker, addr, "/healthz", &[]).await;
    for _ in 0..50 {
        if answer.status == 200 {
            break;
        }
        tokio::task::yield_now().await;
        answer = raw::get_from(attacker, addr, "/healthz", &[]).await;
    }
    assert_eq!(answer.status, 200, "{answer:?}");
    server.shutdown().await;
}

/// With the whole server full, the excess is refused with a 503 and the machine's own
/// health probe still answers (trusted addresses have headroom).
#[tokio::test]
async fn past_the_global_limit_the_excess_is_refused_and_healthz_answers() {
    let config = Config {
        max_connections: 8,
        max_connections_per_ip: 0,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let addr = server.http_addr();
    let mut held = Vec::new();
    for n in 2..10 {
        held.push(raw::connect_from(raw::loopback(n), addr).await);
    }
    let mut excess = raw::connect_from(raw::loopback(10), addr).await;
    let answer = raw::read_answer(&mut excess).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.code(), "too_many_connections", "{answer:?}");
    let probe = raw::get_from(raw::loopback(1), addr, "/healthz", &[]).await;
    assert_eq!(probe.status, 200, "{probe:?}");
    drop(held);
    server.shutdown().await;
}

/// HTTP requests past an address's rate are answered 429 `rate_limited` with Retry-After;
/// other addresses and the probes are not affected; behind a trusted proxy the forwarded
/// client address is what is limited, and the proxy host's own requests are not.
#[tokio::test]
async fn http_requests_past_the_rate_are_refused_per_client_address() {
    let config = Config {
        http_rate_per_s: 1,
        http_rate_burst: 3,
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let addr = server.http_addr();
    let page = "/v1/openapi.json";
    let client = raw::loopback(2);
    let refused = until_refused(client, addr, page, &[]).await;
    assert_eq!(refused.code(), "rate_limited");
    assert!(refused.header("retry-after").is_some(), "{}", refused.head);
    let probe = raw::get_from(client, addr, "/healthz", &[]).await;
    assert_eq!(probe.status, 200, "probes are never limited");
    let other = raw::get_from(raw::loopback(3), addr, page, &[]).await;
    assert_eq!(other.status, 200, "another address has its own bucket");

    // Through the proxy on 127.0.0.1 (trusted by default).
    let proxy = raw::loopback(1);
    let forwarded = ["X-Forwarded-For: 198.51.100.7"];
    until_refused(proxy, addr, page, &forwarded).await;
    for _ in 0..5 {
        let own = raw::get_from(proxy, addr, page, &[]).await;
        assert_eq!(
            own.status, 200,
            "the proxy host's own requests are not limited"
        );
    }
    server.shutdown().await;
}

/// Requests until the first 429: the burst (3) must pass first, and a refusal must come well
/// before a second's refill could matter.
async fn until_refused(
    from: std::net::IpAddr,
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[&str],
) -> raw::Answer {
    for passed in 0..20 {
        let answer = raw::get_from(from, addr, path, headers).await;
        if answer.status == 429 {
            assert!(passed >= 3, "the burst passes first; only {passed} did");
            return answer;
        }
        assert_eq!(answer.status, 200, "{}", answer.head);
    }
    panic!("no 429 in 20 requests at 1 per second");
}
