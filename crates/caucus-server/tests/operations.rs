//! What an operator runs the server by, over real sockets and the real binary: `/readyz`,
//! latency histograms and process metrics in `/metrics`, `/metrics` on an address of its
//! own, JSON logs with an access line per request and no colour codes off a terminal.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use caucus_server::Config;
use common::{Client, raw, start, start_with};
use serde_json::{Value, json};

#[tokio::test]
async fn readyz_says_ready_when_store_and_media_answer() {
    let server = start().await;
    let answer = raw::get_from(raw::loopback(1), server.http_addr(), "/readyz", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "ready\n");
    server.shutdown().await;
}

/// A join, a move and a REST call each leave an observation in their histogram, and the
/// process and build are reported.
#[tokio::test]
async fn metrics_carry_join_move_and_request_latencies_and_the_process() {
    let server = start().await;
    let mut host = Client::join(&server, "r1", "hana", "host").await;
    let guest = Client::join(&server, "r1", "gus", "guest").await;
    let reply = host
        .command(json!({"type": "breakouts", "op": "create", "count": 1}))
        .await;
    let room = reply["data"]["breakouts_created"]["rooms"][0].clone();
    let reply = host
        .command(json!({"type": "breakouts", "op": "open"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let reply = host
        .command(json!({"type": "move_peer", "peer_id": guest.peer_id, "to": room, "force": true}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let openapi = raw::get_from(
        raw::loopback(1),
        server.http_addr(),
        "/v1/openapi.json",
        &[],
    )
    .await;
    assert_eq!(openapi.status, 200);

    let text = raw::get_from(raw::loopback(1), server.http_addr(), "/metrics", &[])
        .await
        .body;
    for want in [
        "caucus_join_duration_seconds_count{outcome=\"joined\"} 2",
        "caucus_move_duration_seconds_count 1",
        "caucus_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/openapi.json\",status=\"200\"} 1",
        "caucus_build_info{",
        "process_open_fds ",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    assert!(
        text.contains("caucus_move_duration_seconds_bucket{le=\"0.1\"} 1"),
        "a move is fast: {text}"
    );
    server.shutdown().await;
}

/// With `metrics_http` set, `/metrics` is served there and no longer on the public address.
#[tokio::test]
async fn metrics_move_to_their_own_address() {
    let config = Config {
        metrics_http: Some("127.0.0.1:0".parse().expect("addr")),
        ..Config::ephemeral()
    };
    let server = start_with(config).await;
    let public = raw::get_from(raw::loopback(1), server.http_addr(), "/metrics", &[]).await;
    assert_eq!(public.status, 404, "{}", public.head);
    let private = server.metrics_addr().expect("bound");
    let scrape = raw::get_from(raw::loopback(1), private, "/metrics", &[]).await;
    assert_eq!(scrape.status, 200);
    assert!(
        scrape.body.contains("caucus_http_connections "),
        "{}",
        scrape.body
    );
    let public_ready = raw::get_from(raw::loopback(1), server.http_addr(), "/readyz", &[]).await;
    assert_eq!(
        public_ready.status, 200,
        "the probes stay on the public address"
    );
    server.shutdown().await;
}

/// The binary with `log_format = "json"` writing to a pipe: every log line is a JSON
/// object, none carries an escape code, and a request leaves an access line (path without
/// its query, status, client).
#[tokio::test]
async fn the_binary_writes_json_logs_with_an_access_line_and_no_colour() {
    let data = std::env::temp_dir().join(format!("caucus-ops-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_caucus"))
        .env("CAUCUS_HTTP", "127.0.0.1:0")
        .env("CAUCUS_MEDIA", "127.0.0.1:0")
        .env("CAUCUS_DATA", &data)
        .env("CAUCUS_LOG_FORMAT", "json")
        .env_remove("CAUCUS_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn caucus");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut next_log = async || loop {
        let line = tokio::time::timeout(common::WAIT, lines.recv())
            .await
            .expect("a line in time")
            .expect("the server is running");
        assert!(!line.contains('\u{1b}'), "an escape code: {line:?}");
        if line.starts_with('{') {
            let v: Value = serde_json::from_str(&line).expect("each log line is JSON");
            seen.push(line);
            return v;
        }
    };
    let started = loop {
        let v = next_log().await;
        if v["message"] == "caucus started" {
            break v;
        }
    };
    let http: std::net::SocketAddr = started["http"]
        .as_str()
        .expect("http field")
        .parse()
        .expect("addr");
    let answer = raw::get_from(raw::loopback(1), http, "/healthz?token=secret", &[]).await;
    assert_eq!(answer.status, 200);
    let access = loop {
        let v = next_log().await;
        if v["target"] == "caucus::access" {
            break v;
        }
    };
    assert_eq!(access["path"], "/healthz", "{access}");
    assert_eq!(access["status"], 200, "{access}");
    assert_eq!(access["method"], "GET", "{access}");
    assert_eq!(access["client"], "127.0.0.1", "{access}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

/// The default text logs, written to a pipe (journald, a file): no colour codes.
#[test]
fn text_logs_off_a_terminal_carry_no_escape_codes() {
    let data = std::env::temp_dir().join(format!("caucus-ops-text-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_caucus"))
        .env("CAUCUS_HTTP", "127.0.0.1:0")
        .env("CAUCUS_MEDIA", "127.0.0.1:0")
        .env("CAUCUS_DATA", &data)
        .env_remove("CAUCUS_LOG")
        .env_remove("CAUCUS_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn caucus");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    // The started line comes before the links; the process runs until killed, so this ends.
    let before: Vec<String> = lines
        .by_ref()
        .take_while(|line| !line.contains("caucus started"))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
    assert!(!before.is_empty(), "log lines before the start line");
    for line in &before {
        assert!(!line.contains('\u{1b}'), "an escape code: {line:?}");
    }
}
