//! Hostile or broken clients over real sockets: whatever a client does or fails to do, the
//! server frees its connection within the configured deadlines.

mod common;

use caucus_server::Config;
use common::{Client, start_with};
use futures_util::SinkExt;
use serde_json::json;
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
