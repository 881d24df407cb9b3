//! Invite links end to end: the real server on port 0 with its SQLite store, real HTTP. A link
//! admits many visitors, each with an identity of their own, until it is used up, revoked or
//! expired; each refusal has its stable code.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use caucus_proto::{RoleName, RoomId};
use caucus_server::{Config, Running};
use caucus_store::{InviteRecord, SqliteStore, Store, new_invite_id};
use common::{Client, start_with, temp_dir};
use serde_json::{Value, json};

struct Http {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Http {
    fn new(server: &Running, management: bool) -> Http {
        let token = management.then(|| {
            server
                .tokens()
                .mint_management(Duration::from_secs(600))
                .unwrap()
        });
        Http {
            client: reqwest::Client::new(),
            base: format!("http://{}", server.http_addr()),
            token,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
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
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, value)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn one_link_admits_many_visitors_each_as_someone_new_until_it_may_not() {
    let dir = temp_dir("rest");
    let server = start_with(Config {
        data: dir.clone(),
        in_memory: false,
        ..Config::ephemeral()
    })
    .await;
    let api = Http::new(&server, true);
    let visitor = Http::new(&server, false);
    let (status, _) = api
        .post(
            "/v1/rooms",
            json!({"id": "class", "name": "Class", "template": "breakout"}),
        )
        .await;
    assert_eq!(status, 201);

    // The management token guards creating and listing; the room and the role must exist.
    let (status, body) = visitor
        .post("/v1/rooms/class/invites", json!({"role": "guest"}))
        .await;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    let (status, body) = api
        .post("/v1/rooms/nowhere/invites", json!({"role": "guest"}))
        .await;
    assert_eq!((status, code(&body)), (404, "unknown_room"));
    let (status, body) = api
        .post("/v1/rooms/class/invites", json!({"role": "wizard"}))
        .await;
    assert_eq!((status, code(&body)), (404, "unknown_role"), "{body}");
    assert_eq!(body["error"]["field"], "role");
    for (field, value) in [
        ("max_uses", 0),
        ("max_uses", 100_001),
        ("expires_in_s", 0),
        ("expires_in_s", 40_000_000),
    ] {
        let (status, body) = api
            .post(
                "/v1/rooms/class/invites",
                json!({"role": "guest", field: value}),
            )
            .await;
        assert_eq!((status, code(&body)), (422, "invalid_value"), "{field}");
        assert_eq!(body["error"]["field"], field);
    }

    // Two uses: two visitors, two identities, then used up.
    let (status, invite) = api
        .post(
            "/v1/rooms/class/invites",
            json!({"role": "guest", "max_uses": 2, "expires_in_s": 3600}),
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let id = invite["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(
        invite["url"],
        format!("{}/invite/{id}", server.base_url()).as_str()
    );
    assert_eq!(invite["role"], "guest");
    assert_eq!(invite["uses"], 0);
    assert_eq!(invite["max_uses"], 2);
    let expires = invite["expires_at_ms"].as_u64().unwrap();
    let created = invite["created_at_ms"].as_u64().unwrap();
    assert_eq!(expires - created, 3_600_000);

    let (status, listed) = api.get("/v1/rooms/class/invites").await;
    assert_eq!(status, 200);
    assert_eq!(listed["invites"].as_array().unwrap().len(), 1);
    assert_eq!(listed["invites"][0]["id"], id.as_str());

    // The page is served to anyone.
    let page = reqwest::get(format!("{}/invite/{id}", server.base_url()))
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("/assets/invite.js"));

    let (status, body) = visitor
        .post(&format!("/invite/{id}/join"), json!({"name": "  "}))
        .await;
    assert_eq!((status, code(&body)), (422, "invalid_name"));
    let (status, body) = visitor
        .post(
            &format!("/invite/{id}/join"),
            json!({"name": "Ana\u{202e}x"}),
        )
        .await;
    assert_eq!((status, code(&body)), (422, "invalid_name"));

    let mut users = Vec::new();
    for name in ["Ana", "Ben"] {
        let (status, joined) = visitor
            .post(&format!("/invite/{id}/join"), json!({"name": name}))
            .await;
        assert_eq!(status, 200, "{joined}");
        assert_eq!(joined["room"], "class");
        let token = joined["token"].as_str().unwrap();
        assert_eq!(
            joined["url"],
            format!("/rooms/class?token={token}").as_str()
        );
        let claims = server.tokens().verify_join(token).unwrap();
        assert_eq!(claims.room, RoomId::from("class"));
        assert_eq!(claims.role, RoleName::from("guest"));
        assert_eq!(claims.name, name);
        users.push((claims.user_id, token.to_owned()));
    }
    assert_ne!(users[0].0, users[1].0, "each visitor is someone new");
    // Both join the meeting as two peers, side by side.
    let mut peers = Vec::new();
    for (_, token) in &users {
        let mut client = Client::connect(&server).await;
        let reply = client
            .request(json!({"type": "join", "token": token}))
            .await;
        assert_eq!(reply["ok"], true, "{reply}");
        peers.push(client);
    }

    let (status, body) = visitor
        .post(&format!("/invite/{id}/join"), json!({"name": "Cai"}))
        .await;
    assert_eq!((status, code(&body)), (410, "invite_used_up"));
    let (_, listed) = api.get("/v1/rooms/class/invites").await;
    assert_eq!(listed["invites"][0]["uses"], 2);

    // Revoked: refused from then on; revoking again is fine; only the room's own invites.
    let (_, open) = api
        .post("/v1/rooms/class/invites", json!({"role": "host"}))
        .await;
    let open_id = open["id"].as_str().unwrap().to_owned();
    assert!(open["max_uses"].is_null() && open["expires_at_ms"].is_null());
    let (status, _) = visitor
        .post(&format!("/invite/{open_id}/join"), json!({"name": "Dee"}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = visitor
        .delete(&format!("/v1/rooms/class/invites/{open_id}"))
        .await;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    let (status, _) = api
        .post(
            "/v1/rooms",
            json!({"id": "other", "name": "Other", "template": "breakout"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = api
        .delete(&format!("/v1/rooms/other/invites/{open_id}"))
        .await;
    assert_eq!((status, code(&body)), (404, "unknown_invite"));
    for _ in 0..2 {
        let (status, _) = api
            .delete(&format!("/v1/rooms/class/invites/{open_id}"))
            .await;
        assert_eq!(status, 204);
    }
    let (status, body) = visitor
        .post(&format!("/invite/{open_id}/join"), json!({"name": "Eve"}))
        .await;
    assert_eq!((status, code(&body)), (410, "invite_revoked"));

    // Unknown, whatever its shape.
    for unknown in [new_invite_id(), "nonsense".to_owned()] {
        let (status, body) = visitor
            .post(&format!("/invite/{unknown}/join"), json!({"name": "Fay"}))
            .await;
        assert_eq!((status, code(&body)), (404, "unknown_invite"));
    }

    // Expired: an invite whose time is up (written to the same database file, as a clock
    // that moved on would leave it).
    let expired = InviteRecord {
        id: new_invite_id(),
        room: RoomId::from("class"),
        role: RoleName::from("guest"),
        created_at_ms: 1_000,
        expires_at_ms: Some(2_000),
        max_uses: None,
        uses: 0,
        revoked: false,
    };
    let other = SqliteStore::open(&dir).unwrap();
    other.create_invite(&expired).unwrap();
    drop(other);
    let (status, body) = visitor
        .post(
            &format!("/invite/{}/join", expired.id),
            json!({"name": "Gus"}),
        )
        .await;
    assert_eq!((status, code(&body)), (410, "invite_expired"));

    // Invites go with their room.
    let (status, _) = api.delete("/v1/rooms/class").await;
    assert_eq!(status, 204);
    let (status, body) = visitor
        .post(&format!("/invite/{id}/join"), json!({"name": "Hal"}))
        .await;
    assert_eq!((status, code(&body)), (404, "unknown_invite"));
    drop(peers);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
