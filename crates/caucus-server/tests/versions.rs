//! The breakout set's `version` only grows for the life of a room: a new session (after the
//! last one ended, or after a restart on the same data dir) shows versions above every version
//! shown before, so a client still holding an old one is refused with `stale_version` (409)
//! instead of matching a counter that climbed back.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use caucus_server::{Config, Running};
use common::{start_with, temp_dir};
use reqwest::Method;
use serde_json::{Value, json};

struct Rest {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Rest {
    fn new(server: &Running) -> Rest {
        Rest {
            http: reqwest::Client::new(),
            base: format!("http://{}", server.http_addr()),
            token: server
                .tokens()
                .mint_management(Duration::from_secs(600))
                .unwrap(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = tokio::time::timeout(common::WAIT, request.send())
            .await
            .expect("answer in time")
            .expect("HTTP works");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    /// The breakout set's version now (starting a session if there is none).
    async fn version(&self) -> u64 {
        let (status, body) = self.call(Method::GET, "/v1/rooms/v/breakouts", None).await;
        assert_eq!(status, 200, "{body}");
        body["version"].as_u64().unwrap()
    }

    /// Both refusals of an edit carrying `stale`: a POST and a PUT.
    async fn refuses(&self, stale: u64) {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/rooms/v/breakouts",
                Some(json!({"version": stale, "count": 1})),
            )
            .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (409, &json!("stale_version")),
            "POST with version {stale}: {body}"
        );
        let (status, body) = self
            .call(
                Method::PUT,
                "/v1/rooms/v/breakouts/options",
                Some(json!({"version": stale, "countdown_s": 5})),
            )
            .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (409, &json!("stale_version")),
            "PUT with version {stale}: {body}"
        );
    }

    /// A few edits, each with the current version; returns the version after them.
    async fn edit(&self, times: u32) -> u64 {
        for i in 0..times {
            let version = self.version().await;
            let (status, body) = self
                .call(
                    Method::PUT,
                    "/v1/rooms/v/breakouts/options",
                    Some(json!({"version": version, "countdown_s": 10 + i})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        self.version().await
    }
}

#[tokio::test]
async fn a_new_session_shows_greater_versions_and_refuses_old_ones() {
    let dir = temp_dir("sessions");
    let config = || Config {
        data: dir.clone(),
        in_memory: false,
        auto_create_rooms: false,
        secret: Some("versions-test-secret".to_owned()),
        ..Config::ephemeral()
    };
    let server = start_with(config()).await;
    let rest = Rest::new(&server);
    let (status, _) = rest
        .call(
            Method::POST,
            "/v1/rooms",
            Some(json!({"id": "v", "name": "V", "template": "breakout"})),
        )
        .await;
    assert_eq!(status, 201);
    let first = rest.edit(3).await;

    // The session ends; the next one (started by the next call) goes on above it.
    let (status, body) = rest.call(Method::POST, "/v1/rooms/v/end", None).await;
    assert_eq!(status, 204, "{body}");
    let second_start = rest.version().await;
    assert!(second_start > first, "{second_start} > {first}");
    rest.refuses(first).await;
    let second = rest.edit(2).await;
    assert!(second > second_start);

    // A restart on the same data dir: the session after it goes on above both.
    server.shutdown().await;
    let server = start_with(config()).await;
    let rest = Rest::new(&server);
    let third_start = rest.version().await;
    assert!(third_start > second, "{third_start} > {second}");
    rest.refuses(first).await;
    rest.refuses(second).await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
