//! A raw WebSocket test client for the in-process server: JSON frames in and out, every wait
//! bounded by a timeout (no sleeps).
#![allow(dead_code)]

pub mod raw;

use std::collections::VecDeque;
use std::time::Duration;

use caucus_server::{Config, Running, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

/// A path for one test's data dir that no other test (of this run or an earlier one) uses;
/// nothing is there yet.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .subsec_nanos();
    let dir =
        std::env::temp_dir().join(format!("caucus-test-{name}-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub async fn start() -> Running {
    start_with(Config::ephemeral()).await
}

pub async fn start_with(config: Config) -> Running {
    Server::start(config).await.expect("server starts")
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Frames read while waiting for something else.
    pending: VecDeque<Value>,
    pub peer_id: String,
}

impl Client {
    pub async fn connect(server: &Running) -> Client {
        Self::connect_url(&server.signaling_url()).await
    }

    pub async fn connect_url(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        Client {
            ws,
            next_id: 1,
            pending: VecDeque::new(),
            peer_id: String::new(),
        }
    }

    /// Connect and join; asserts the `reply{joined}` then the `event{joined}`.
    pub async fn join(server: &Running, room: &str, user: &str, role: &str) -> Client {
        let mut client = Client::connect(server).await;
        let token = server.join_token(room, user, role);
        let reply = client
            .request(json!({"type": "join", "token": token}))
            .await;
        assert_eq!(reply["ok"], true, "join refused: {reply}");
        client.peer_id = reply["data"]["joined"]["peer_id"]
            .as_str()
            .expect("peer id")
            .to_owned();
        let joined = client.event("joined").await;
        assert_eq!(joined["event"]["peer"]["id"], client.peer_id.as_str());
        client
    }

    pub async fn send_raw(&mut self, message: Message) {
        tokio::time::timeout(WAIT, self.ws.send(message))
            .await
            .expect("send in time")
            .expect("send");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_raw(Message::text(text)).await;
    }

    /// Send `body` with a fresh id; returns the id.
    pub async fn send(&mut self, mut body: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        body["id"] = json!(id);
        self.send_text(&body.to_string()).await;
        id
    }

    /// Send and wait for the reply with the same id.
    pub async fn request(&mut self, body: Value) -> Value {
        let id = self.send(body).await;
        self.reply(id).await
    }

    /// Send a session command; returns the reply.
    pub async fn command(&mut self, command: Value) -> Value {
        self.request(json!({"type": "command", "command": command}))
            .await
    }

    /// The next frame (pending ones first).
    pub async fn next(&mut self) -> Value {
        if let Some(v) = self.pending.pop_front() {
            return v;
        }
        self.read().await
    }

    /// Wait for the first frame matching `want`, keeping the others for later.
    pub async fn wait_for(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&want) {
            return self.pending.remove(i).expect("index is valid");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.read_inner())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}; got {:?}", self.pending));
            let frame =
                frame.unwrap_or_else(|| panic!("connection closed while waiting for {what}"));
            if want(&frame) {
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    pub async fn reply(&mut self, id: u64) -> Value {
        self.wait_for(&format!("reply {id}"), |v| {
            v["type"] == "reply" && v["id"] == id
        })
        .await
    }

    pub async fn event(&mut self, kind: &str) -> Value {
        self.wait_for(&format!("event {kind}"), |v| {
            v["type"] == "event" && v["event"]["type"] == kind
        })
        .await
    }

    /// Wait for `peer_joined` of this peer.
    pub async fn peer_joined(&mut self, peer_id: &str) -> Value {
        self.wait_for(&format!("peer_joined {peer_id}"), |v| {
            v["type"] == "event"
                && v["event"]["type"] == "peer_joined"
                && v["event"]["peer"]["id"] == peer_id
        })
        .await
    }

    /// The next bare `error` message.
    pub async fn error(&mut self) -> Value {
        self.wait_for("error", |v| v["type"] == "error").await
    }

    async fn read(&mut self) -> Value {
        tokio::time::timeout(WAIT, self.read_inner())
            .await
            .expect("a frame in time")
            .expect("connection open")
    }

    async fn read_inner(&mut self) -> Option<Value> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(text.as_str()).expect("server sends JSON"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Wait until the server closes the connection; returns its close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("closed in time");
            match message {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(Message::Text(text))) => self
                    .pending
                    .push_back(serde_json::from_str(text.as_str()).expect("JSON")),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }

    /// Drop the TCP connection without a close handshake (a lost network).
    pub fn drop_connection(self) {
        drop(self.ws);
    }
}

pub fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("<no code>")
}
