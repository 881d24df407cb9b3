//! The signaling endpoint end to end: the real server in-process on port 0, raw WebSocket
//! frames from `tokio-tungstenite`.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caucus_proto::signal::MAX_MESSAGE_BYTES;
use caucus_server::{JoinClaims, TokenIssuer};
use common::{Client, code, start};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn healthz_answers_200() {
    let server = start().await;
    let mut tcp = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(common::WAIT, tcp.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_valid_join_gets_the_reply_then_the_joined_event() {
    let server = start().await;
    let mut ana = Client::connect(&server).await;
    let token = server.join_token("r1", "ana", "host");
    let id = ana.send(json!({"type": "join", "token": token})).await;
    let first = ana.next().await;
    assert_eq!(first["type"], "reply");
    assert_eq!(first["id"], id);
    assert_eq!(first["ok"], true);
    assert_eq!(first["data"]["joined"]["resumed"], false);
    let peer_id = first["data"]["joined"]["peer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = ana.next().await;
    assert_eq!(second["type"], "event");
    assert_eq!(second["event"]["type"], "joined");
    assert_eq!(second["event"]["peer"]["id"], peer_id.as_str());
    assert_eq!(second["event"]["peer"]["role"], "host");

    let bob = Client::join(&server, "r1", "bob", "guest").await;
    let seen = ana.event("peer_joined").await;
    assert_eq!(seen["event"]["peer"]["id"], bob.peer_id.as_str());
    let pong = ana.request(json!({"type": "ping"})).await;
    assert_eq!(pong["ok"], true);
    server.shutdown().await;
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(room: &str, exp: u64, nbf: u64) -> JoinClaims {
    JoinClaims {
        room: room.into(),
        user_id: "mallory".into(),
        role: "host".into(),
        name: "Mallory".into(),
        exp,
        iat: now(),
        nbf,
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_with_stable_codes() {
    let server = start().await;
    let tokens = server.tokens();
    let good = tokens.sign(&claims("r1", now() + 600, now())).unwrap();
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged_payload = {
        // Same header and signature, a different payload: the signature no longer matches.
        let other = tokens.sign(&claims("r2", now() + 600, now())).unwrap();
        other.split('.').nth(1).unwrap().to_owned()
    };
    parts[1] = &forged_payload;
    let tampered = parts.join(".");
    let alg_none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        good.split('.').nth(1).unwrap()
    );
    let cases = [
        (
            "expired",
            tokens
                .sign(&claims("r1", now() - 3600, now() - 7200))
                .unwrap(),
            "token_expired",
        ),
        (
            "not yet valid",
            tokens
                .sign(&claims("r1", now() + 7200, now() + 3600))
                .unwrap(),
            "token_invalid",
        ),
        ("tampered", tampered, "token_invalid"),
        ("alg none", alg_none, "token_invalid"),
        (
            "other secret",
            TokenIssuer::new("not-the-secret")
                .sign(&claims("r1", now() + 600, now()))
                .unwrap(),
            "token_invalid",
        ),
        ("garbage", "not.a.jwt".to_owned(), "token_invalid"),
        (
            "management token",
            tokens.mint_management(Duration::from_secs(60)).unwrap(),
            "unauthorized",
        ),
    ];
    for (what, token, expected) in cases {
        let mut client = Client::connect(&server).await;
        let reply = client
            .request(json!({"type": "join", "token": token}))
            .await;
        assert_eq!(reply["ok"], false, "{what}: {reply}");
        assert_eq!(code(&reply), expected, "{what}: {reply}");
    }

    // A token for another room than the URL names.
    let url = format!("{}?room=r2", server.signaling_url());
    let mut client = Client::connect_url(&url).await;
    let reply = client.request(json!({"type": "join", "token": good})).await;
    assert_eq!(code(&reply), "unauthorized", "{reply}");
    // The same connection may still join with a token for its room.
    let right = server.join_token("r2", "ana", "guest");
    let reply = client
        .request(json!({"type": "join", "token": right}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    // An unknown role is the core's refusal.
    let mut client = Client::connect(&server).await;
    let reply = client
        .request(json!({"type": "join", "token": server.join_token("r1", "x", "emperor")}))
        .await;
    assert_eq!(code(&reply), "unknown_role", "{reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_first_message_must_be_join() {
    let server = start().await;
    let mut client = Client::connect(&server).await;
    let reply = client.request(json!({"type": "ping"})).await;
    assert_eq!(code(&reply), "unauthorized", "{reply}");
    let reply = client
        .request(json!({"type": "command", "command": {"type": "leave"}}))
        .await;
    assert_eq!(code(&reply), "unauthorized", "{reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_frames_get_clear_errors_and_never_disturb_others() {
    let server = start().await;
    let mut bystander = Client::join(&server, "r1", "by", "guest").await;
    let mut bad = Client::join(&server, "r1", "bad", "guest").await;

    bad.send_text("this is not json").await;
    assert_eq!(code(&bad.error().await), "malformed_request");

    let id = bad.send(json!({"type": "dance"})).await;
    assert_eq!(code(&bad.reply(id).await), "unknown_command");
    let id = bad
        .send(json!({"type": "command", "command": {"type": "fly"}}))
        .await;
    assert_eq!(code(&bad.reply(id).await), "unknown_command");
    let id = bad
        .send(json!({"type": "publish", "source": "hologram", "mid": "0"}))
        .await;
    assert_eq!(code(&bad.reply(id).await), "malformed_request");
    let id = bad.send(json!({"type": "join", "token": "again"})).await;
    assert_eq!(code(&bad.reply(id).await), "invalid_value");

    bad.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(code(&bad.error().await), "malformed_request");

    // Still usable after all that.
    let reply = bad.request(json!({"type": "ping"})).await;
    assert_eq!(reply["ok"], true);

    // The bystander saw nothing of it and still gets events.
    let newcomer = Client::join(&server, "r1", "new", "guest").await;
    bystander.peer_joined(&newcomer.peer_id).await;

    // An oversized frame: an error, then the connection is closed (1009).
    let huge = format!(
        r#"{{"id": 99, "type": "ping", "pad": "{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES)
    );
    bad.send_text(&huge).await;
    assert_eq!(code(&bad.error().await), "payload_too_large");
    let close = bad.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
    // The bystander sees the bad peer's connection drop (it may resume) and lives on.
    bystander
        .wait_for("bad peer disconnected", |v| {
            v["event"]["type"] == "peer_updated"
                && v["event"]["peer"]["id"] == bad.peer_id.as_str()
                && v["event"]["peer"]["connected"] == false
        })
        .await;
    let pong = bystander.request(json!({"type": "ping"})).await;
    assert_eq!(pong["ok"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_without_hurting_others() {
    let server = start().await;
    let mut bystander = Client::join(&server, "r1", "by", "guest").await;
    let mut flooder = Client::join(&server, "r1", "flood", "guest").await;
    let count = 300;
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(flooder.send(json!({"type": "ping"})).await);
    }
    let mut limited = 0;
    for id in ids {
        let reply = flooder.reply(id).await;
        if reply["ok"] == false {
            assert_eq!(code(&reply), "rate_limited", "{reply}");
            limited += 1;
        }
    }
    assert!(limited > 0, "a burst of {count} must hit the limit");
    assert!(limited < count, "the burst allowance passes");

    let newcomer = Client::join(&server, "r1", "new", "guest").await;
    bystander.peer_joined(&newcomer.peer_id).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_host_runs_breakouts_and_a_guest_may_not() {
    let server = start().await;
    let mut host = Client::join(&server, "r1", "hana", "host").await;
    let mut guest = Client::join(&server, "r1", "gus", "guest").await;

    let reply = guest
        .command(json!({"type": "breakouts", "op": "create", "count": 1}))
        .await;
    assert_eq!(code(&reply), "not_permitted", "{reply}");
    let reply = guest
        .command(json!({"type": "remove_peer", "peer_id": host.peer_id}))
        .await;
    assert_eq!(code(&reply), "not_permitted", "{reply}");

    let reply = host
        .command(json!({"type": "breakouts", "op": "create", "count": 2}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let rooms = reply["data"]["breakouts_created"]["rooms"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rooms.len(), 2);
    let reply = host
        .command(json!({"type": "breakouts", "op": "open"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let reply = host
        .command(
            json!({"type": "move_peer", "peer_id": guest.peer_id, "to": rooms[0], "force": true}),
        )
        .await;
    assert_eq!(reply["ok"], true, "{reply}");

    let moved = guest.event("peers_moved").await;
    let moves = moved["event"]["moves"].as_array().unwrap();
    assert!(
        moves.iter().any(|g| g["to"] == rooms[0]
            && g["peers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == guest.peer_id.as_str())),
        "{moved}"
    );
    let reply = host
        .command(json!({"type": "breakouts", "op": "create", "count": 1, "version": 1}))
        .await;
    assert_eq!(code(&reply), "stale_version", "{reply}");

    // Chat in the breakout reaches the guest's location only.
    let reply = guest
        .command(json!({"type": "chat", "to": {"location": rooms[0]}, "text": "hi"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_reconnect_within_grace_resumes_the_same_peer() {
    let server = start().await;
    let mut host = Client::join(&server, "r1", "hana", "host").await;
    let guest = Client::join(&server, "r1", "gus", "guest").await;
    let old_id = guest.peer_id.clone();
    guest.drop_connection();
    let update = host.event("peer_updated").await;
    assert_eq!(update["event"]["peer"]["id"], old_id.as_str());
    assert_eq!(update["event"]["peer"]["connected"], false);

    let mut again = Client::connect(&server).await;
    let token = server.join_token("r1", "gus", "guest");
    let reply = again.request(json!({"type": "join", "token": token})).await;
    assert_eq!(
        reply["data"]["joined"]["peer_id"],
        old_id.as_str(),
        "{reply}"
    );
    assert_eq!(reply["data"]["joined"]["resumed"], true, "{reply}");
    let joined = again.event("joined").await;
    assert_eq!(joined["event"]["resumed"], true);
    let update = host.event("peer_updated").await;
    assert_eq!(update["event"]["peer"]["connected"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_connection_of_the_same_user_takes_the_peer_over() {
    let server = start().await;
    let mut first = Client::join(&server, "r1", "gus", "guest").await;
    let second = Client::join(&server, "r1", "gus", "guest").await;
    assert_eq!(second.peer_id, first.peer_id);
    let close = first.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 4000);
    server.shutdown().await;
}

#[tokio::test]
async fn leave_closes_and_others_see_the_peer_go() {
    let server = start().await;
    let mut host = Client::join(&server, "r1", "hana", "host").await;
    let mut guest = Client::join(&server, "r1", "gus", "guest").await;
    let reply = guest.command(json!({"type": "leave"})).await;
    assert_eq!(reply["ok"], true);
    let close = guest.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1000);
    let left = host.event("peer_left").await;
    assert_eq!(left["event"]["reason"], "left");
    server.shutdown().await;
}

#[tokio::test]
async fn removal_and_session_end_close_connections() {
    let server = start().await;
    let mut host = Client::join(&server, "r1", "hana", "host").await;
    let mut guest = Client::join(&server, "r1", "gus", "guest").await;
    let reply = host
        .command(json!({"type": "remove_peer", "peer_id": guest.peer_id, "reason": "bye"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    guest.event("removed").await;
    assert!(guest.closed().await.is_some());

    let reply = host.command(json!({"type": "end_session"})).await;
    assert_eq!(reply["ok"], true, "{reply}");
    host.event("session_ended").await;
    assert!(host.closed().await.is_some());

    // The room starts afresh on the next join.
    let again = Client::join(&server, "r1", "hana", "host").await;
    assert_eq!(
        again.peer_id, "p1",
        "a new session issues ids from the start"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_with_going_away() {
    let server = start().await;
    let mut guest = Client::join(&server, "r1", "gus", "guest").await;
    server.shutdown().await;
    let close = guest.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1001);
}
