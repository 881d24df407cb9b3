//! The REST control API end to end: the real server in-process on port 0, real HTTP with
//! `reqwest`, raw WebSockets (`tests/common`) for the peers. Every call a test makes is
//! recorded and, at the end of the test, checked against `/v1/openapi.json`: the path and
//! verb are documented, and so is the status code the server answered.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caucus_server::{Config, ManagementClaims, Running, TokenIssuer};
use common::{Client, code, start, start_with, temp_dir};
use reqwest::Method;
use serde_json::{Value, json};

/// A management client that remembers `(method, path, status)` of every call.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    seen: Mutex<Vec<(Method, String, u16)>>,
}

impl Api {
    fn new(server: &Running) -> Api {
        let token = server
            .tokens()
            .mint_management(Duration::from_secs(600))
            .unwrap();
        Api {
            http: reqwest::Client::new(),
            base: format!("http://{}", server.http_addr()),
            token,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// Send `body` (JSON, or raw bytes when a string) with the management token.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = match body {
                Value::String(raw) => request.header("content-type", "application/json").body(raw),
                other => request.json(&other),
            };
        }
        let response = tokio::time::timeout(common::WAIT, request.send())
            .await
            .expect("answer in time")
            .expect("HTTP works");
        self.read(method, path, response).await
    }

    async fn read(&self, method: Method, path: &str, response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        if status >= 400 {
            assert!(
                value["error"]["code"].is_string() && value["error"]["message"].is_string(),
                "{method} {path}: not an error envelope: {text}"
            );
        }
        let path = path.split('?').next().unwrap().to_owned();
        self.seen.lock().unwrap().push((method, path, status));
        (status, value)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// A call with a chosen `Authorization` header (or none).
    async fn with_auth(&self, auth: Option<&str>, path: &str) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        self.read(Method::GET, path, response).await
    }

    /// Every recorded call's path template, verb and status are in the OpenAPI document.
    async fn check_documented(&self) {
        let doc: Value = self
            .http
            .get(format!("{}/v1/openapi.json", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (method, path, status) in self.seen.lock().unwrap().iter() {
            if *status == 404 && !paths.keys().any(|t| matches(t, path)) {
                continue; // an unknown path: documented as the envelope, not as a path
            }
            if *status == 405 || path == "/v1/openapi.json" {
                continue;
            }
            let (template, item) = paths
                .iter()
                .find(|(t, item)| matches(t, path) && item.get(verb(method)).is_some())
                .unwrap_or_else(|| panic!("{method} {path} is not in the OpenAPI document"));
            let responses = &item[verb(method)]["responses"];
            assert!(
                responses.get(status.to_string()).is_some(),
                "{method} {template} answered {status}, which the document does not list"
            );
        }
    }
}

fn verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    }
}

/// Whether a concrete path fits an OpenAPI template (`{x}` matches one segment).
fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
}

fn err(body: &Value) -> (&str, Option<&str>) {
    (
        body["error"]["code"].as_str().unwrap_or("<none>"),
        body["error"]["field"].as_str(),
    )
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn role(subscribe: &[&str]) -> Value {
    json!({"publish": {"allowed": ["audio", "video"]}, "subscribe": {"roles": subscribe},
           "permissions": {"send_chat": true}})
}

#[tokio::test]
async fn every_v1_path_needs_a_management_token_and_refusals_carry_codes() {
    let server = start().await;
    let api = Api::new(&server);
    let path = "/v1/rooms";
    let (status, body) = api.with_auth(None, path).await;
    assert_eq!((status, err(&body).0), (401, "unauthorized"));
    let (status, body) = api.with_auth(Some("Basic abc"), path).await;
    assert_eq!((status, err(&body).0), (401, "unauthorized"));
    let (status, body) = api.with_auth(Some("Bearer garbage"), path).await;
    assert_eq!((status, err(&body).0), (401, "token_invalid"));

    let issuer = server.tokens();
    let expired = issuer
        .sign(&ManagementClaims {
            mgmt: true,
            exp: now_s() - 3600,
            iat: now_s() - 7200,
            nbf: now_s() - 7200,
        })
        .unwrap();
    let (status, body) = api
        .with_auth(Some(&format!("Bearer {expired}")), path)
        .await;
    assert_eq!((status, err(&body).0), (401, "token_expired"));

    let good = issuer.mint_management(Duration::from_secs(60)).unwrap();
    let mut parts = good.split('.');
    let (_, payload, signature) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    // {"alg":"none","typ":"JWT"} and {"alg":"HS512","typ":"JWT"} over the same claims.
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let hs512 = format!("eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.{payload}.{signature}");
    let tampered = format!(
        "{}.{}x.{signature}",
        good.split('.').next().unwrap(),
        payload
    );
    let foreign = TokenIssuer::new("another secret")
        .mint_management(Duration::from_secs(60))
        .unwrap();
    for bad in [none, hs512, tampered, foreign] {
        let (status, body) = api.with_auth(Some(&format!("Bearer {bad}")), path).await;
        assert_eq!((status, err(&body).0), (401, "token_invalid"), "{bad}");
    }
    let join = server.join_token("demo", "ana", "host");
    let (status, body) = api.with_auth(Some(&format!("Bearer {join}")), path).await;
    assert_eq!((status, err(&body).0), (401, "unauthorized"));

    let (status, _) = api.with_auth(Some(&format!("Bearer {good}")), path).await;
    assert_eq!(status, 200);
    // The document itself is public.
    let (status, body) = api.with_auth(None, "/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(body["paths"].is_object());
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_wrong_methods_and_bad_bodies_get_the_envelope() {
    let mut config = Config::ephemeral();
    config.max_body_bytes = 1024;
    let server = start_with(config).await;
    let api = Api::new(&server);
    let (status, body) = api.get("/v1/nowhere").await;
    assert_eq!((status, err(&body).0), (404, "not_found"));
    let (status, body) = api.call(Method::PATCH, "/v1/templates", None).await;
    assert_eq!((status, err(&body).0), (405, "method_not_allowed"));

    let raw = |s: &str| Value::String(s.to_owned());
    let (status, body) = api.post("/v1/rooms", raw("{\"name\": ")).await;
    assert_eq!((status, err(&body).0), (400, "malformed_request"));
    let (status, body) = api.post("/v1/rooms", raw("[1, 2")).await;
    assert_eq!((status, err(&body).0), (400, "malformed_request"));
    let (status, body) = api.post("/v1/rooms", json!({"template": "breakout"})).await;
    assert_eq!((status, err(&body)), (422, ("invalid_value", Some("name"))));
    let (status, body) = api
        .post("/v1/rooms", json!({"name": 5, "template": "breakout"}))
        .await;
    assert_eq!((status, err(&body)), (422, ("invalid_value", Some("name"))));
    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"name": "x", "template": "breakout", "colour": "red"}),
        )
        .await;
    assert_eq!(
        (status, err(&body)),
        (422, ("invalid_value", Some("colour")))
    );
    let big = json!({"name": "x".repeat(2000), "template": "breakout"});
    let (status, body) = api.post("/v1/rooms", big).await;
    assert_eq!((status, err(&body).0), (413, "payload_too_large"));
    let (status, body) = api.get("/v1/rooms/nope").await;
    assert_eq!((status, err(&body).0), (404, "unknown_room"));
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn templates_and_roles_are_validated_by_the_core_and_the_builtin_is_read_only() {
    let server = start().await;
    let api = Api::new(&server);
    let (status, body) = api.get("/v1/templates").await;
    assert_eq!(status, 200);
    assert_eq!(body["templates"][0]["id"], "breakout");
    assert_eq!(body["templates"][0]["builtin"], true);
    let (status, body) = api.get("/v1/templates/breakout").await;
    assert_eq!(status, 200);
    assert!(body["roles"]["guest"].is_object());

    let doc =
        json!({"name": "Seminar", "roles": {"host": role(&["host"]), "viewer": role(&["host"])}});
    let (status, body) = api.post("/v1/templates", doc.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], "seminar");
    let (status, body) = api.post("/v1/templates", doc.clone()).await;
    assert_eq!((status, body["id"].as_str()), (201, Some("seminar-2")));
    let mut with_id = doc.clone();
    with_id["id"] = json!("seminar");
    let (status, body) = api.post("/v1/templates", with_id).await;
    assert_eq!((status, err(&body).0), (409, "already_exists"));

    let broken = json!({"name": "Broken", "roles": {"a": role(&["ghost"])}});
    let (status, body) = api.post("/v1/templates", broken).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(err(&body).0, "unknown_role_reference");
    assert!(err(&body).1.is_some(), "{body}");
    let unknown_permission = json!({"name": "P", "roles": {"a": {"permissions": {"fly": true}}}});
    let (status, body) = api.post("/v1/templates", unknown_permission).await;
    assert_eq!(status, 422);
    assert_eq!(err(&body).1, Some("roles.a.permissions.fly"));

    let (status, _) = api.get("/v1/templates/seminar").await;
    assert_eq!(status, 200);
    let (status, body) = api.get("/v1/templates/ghost").await;
    assert_eq!((status, err(&body).0), (404, "unknown_template"));
    let put = json!({"name": "Class", "roles": {"teacher": role(&["teacher"])}});
    let (status, _) = api.put("/v1/templates/class", put.clone()).await;
    assert_eq!(status, 201);
    let (status, _) = api.put("/v1/templates/class", put.clone()).await;
    assert_eq!(status, 200);
    let (status, body) = api.put("/v1/templates/breakout", put).await;
    assert_eq!((status, err(&body).0), (403, "not_permitted"));
    let (status, body) = api.delete("/v1/templates/breakout").await;
    assert_eq!((status, err(&body).0), (403, "not_permitted"));
    let (status, body) = api
        .put("/v1/templates/breakout/roles/guest", role(&[]))
        .await;
    assert_eq!((status, err(&body).0), (403, "not_permitted"));

    let (status, body) = api
        .put("/v1/templates/class/roles/pupil", role(&["teacher"]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["roles"]["pupil"].is_object());
    let (status, body) = api
        .put("/v1/templates/class/roles/pupil", role(&["nobody"]))
        .await;
    assert_eq!((status, err(&body).0), (422, "unknown_role_reference"));
    let (status, body) = api.put("/v1/templates/ghost/roles/pupil", role(&[])).await;
    assert_eq!((status, err(&body).0), (404, "unknown_template"));
    let (status, body) = api.delete("/v1/templates/class/roles/ghost").await;
    assert_eq!((status, err(&body).0), (404, "unknown_role"));
    let (status, body) = api.delete("/v1/templates/class/roles/pupil").await;
    assert_eq!(status, 200);
    assert!(body["roles"]["pupil"].is_null());
    let (status, body) = api.delete("/v1/templates/class/roles/teacher").await;
    assert_eq!(status, 422, "the last role cannot go: {body}");

    let (status, _) = api
        .post(
            "/v1/rooms",
            json!({"id": "lesson", "name": "Lesson", "template": "class"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = api.delete("/v1/templates/class").await;
    assert_eq!((status, err(&body).0), (409, "template_in_use"));
    let (status, _) = api.delete("/v1/templates/seminar-2").await;
    assert_eq!(status, 204);
    let (status, body) = api.delete("/v1/templates/seminar-2").await;
    assert_eq!((status, err(&body).0), (404, "unknown_template"));
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn four_builtin_templates_are_listed_read_only_and_a_classroom_room_runs() {
    let server = start().await;
    let api = Api::new(&server);
    let (status, body) = api.get("/v1/templates").await;
    assert_eq!(status, 200);
    let builtins: Vec<&str> = body["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["builtin"] == true)
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(builtins, ["breakout", "classroom", "webinar", "meeting"]);
    let (status, body) = api.get("/v1/templates/classroom").await;
    assert_eq!((status, &body["builtin"]), (200, &json!(true)));
    assert_eq!(body["roles"]["student"]["join_muted"], true);
    assert!(body["roles"]["teacher"].get("join_muted").is_none());

    // Each is read-only and undeletable, and its id is not for the taking.
    let doc = json!({"name": "Mine", "roles": {"host": role(&["host"])}});
    for id in ["classroom", "webinar", "meeting"] {
        let (status, body) = api.put(&format!("/v1/templates/{id}"), doc.clone()).await;
        assert_eq!((status, err(&body).0), (403, "not_permitted"), "{id}");
        let (status, body) = api.delete(&format!("/v1/templates/{id}")).await;
        assert_eq!((status, err(&body).0), (403, "not_permitted"), "{id}");
        let (status, body) = api.delete(&format!("/v1/templates/{id}/roles/host")).await;
        assert_eq!((status, err(&body).0), (403, "not_permitted"), "{id}");
        let mut with_id = doc.clone();
        with_id["id"] = json!(id);
        let (status, body) = api.post("/v1/templates", with_id).await;
        assert_eq!((status, err(&body).0), (409, "already_exists"), "{id}");
    }
    let named_like = json!({"name": "Meeting", "roles": {"host": role(&["host"])}});
    let (status, body) = api.post("/v1/templates", named_like).await;
    assert_eq!((status, body["id"].as_str()), (201, Some("meeting-2")));

    // A room on `classroom`: a student joins, learns the classroom's roles and that students
    // start muted.
    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"id": "algebra", "name": "Algebra", "template": "classroom"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["template"], "classroom");
    let mut student = Client::connect(&server).await;
    let token = server.join_token("algebra", "ana", "student");
    let reply = student
        .request(json!({"type": "join", "token": token}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let joined = student.event("joined").await;
    let event = &joined["event"];
    assert_eq!(event["peer"]["role"], "student");
    let roles: Vec<(&str, bool)> = event["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["join_muted"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [("teacher", false), ("ta", false), ("student", true)]
    );
    assert_eq!(event["may_publish"], json!(["audio", "video"]));
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn rooms_are_created_changed_and_deleted_and_joins_check_them() {
    let mut config = Config::ephemeral();
    config.auto_create_rooms = false;
    config.max_rooms = 3;
    let server = start_with(config).await;
    let api = Api::new(&server);

    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"name": "Team Sync", "template": "breakout", "password": "s3cret"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], "team-sync");
    assert_eq!(body["has_password"], true);
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"id": "team-sync", "name": "Again", "template": "breakout"}),
        )
        .await;
    assert_eq!((status, err(&body).0), (409, "already_exists"));
    let (status, body) = api
        .post("/v1/rooms", json!({"name": "X", "template": "ghost"}))
        .await;
    assert_eq!(
        (status, err(&body)),
        (404, ("unknown_template", Some("template")))
    );
    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"id": "no spaces", "name": "X", "template": "breakout"}),
        )
        .await;
    assert_eq!((status, err(&body)), (422, ("invalid_id", Some("id"))));

    // Joins: an unknown room is refused; a password is checked against its hash.
    let mut c = Client::connect(&server).await;
    let reply = c
        .request(json!({"type": "join", "token": server.join_token("ghost", "ana", "host")}))
        .await;
    assert_eq!(code(&reply), "unknown_room");
    let token = server.join_token("team-sync", "ana", "host");
    let reply = c.request(json!({"type": "join", "token": token})).await;
    assert_eq!(code(&reply), "wrong_password");
    let reply = c
        .request(json!({"type": "join", "token": token, "password": "nope"}))
        .await;
    assert_eq!(code(&reply), "wrong_password");
    let reply = c
        .request(json!({"type": "join", "token": token, "password": "s3cret"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");

    let (status, body) = api
        .patch(
            "/v1/rooms/team-sync",
            json!({"name": "Team", "password": null, "locked": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["name"], &body["has_password"], &body["locked"]),
        (&json!("Team"), &json!(false), &json!(true))
    );
    let mut late = Client::connect(&server).await;
    let reply = late
        .request(json!({"type": "join", "token": server.join_token("team-sync", "bob", "guest")}))
        .await;
    assert_eq!(code(&reply), "room_locked");

    // One refusal order, the core's: a locked room says so before it looks at a password
    // (the core's story test `a_locked_room_answers_room_locked_whatever_the_password` checks
    // the same order), and a password set while the session is live guards its next joins.
    let (status, body) = api
        .patch("/v1/rooms/team-sync", json!({"password": "n3w"}))
        .await;
    assert_eq!(status, 200, "{body}");
    for password in [json!(null), json!("wrong"), json!("n3w")] {
        let mut late = Client::connect(&server).await;
        let reply = late
            .request(json!({"type": "join", "token": server.join_token("team-sync", "bob", "guest"), "password": password}))
            .await;
        assert_eq!(code(&reply), "room_locked", "{password}");
    }
    let (status, _) = api
        .patch("/v1/rooms/team-sync", json!({"locked": false}))
        .await;
    assert_eq!(status, 200);
    let bob = server.join_token("team-sync", "bob", "guest");
    let mut late = Client::connect(&server).await;
    let reply = late
        .request(json!({"type": "join", "token": bob, "password": "s3cret"}))
        .await;
    assert_eq!(
        code(&reply),
        "wrong_password",
        "the old password no longer opens it"
    );
    let reply = late
        .request(json!({"type": "join", "token": bob, "password": "n3w"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");

    let (status, body) = api
        .patch("/v1/rooms/team-sync", json!({"template": "ghost"}))
        .await;
    assert_eq!((status, err(&body).0), (404, "unknown_template"));
    let (status, body) = api.patch("/v1/rooms/ghost", json!({})).await;
    assert_eq!((status, err(&body).0), (404, "unknown_room"));

    let (status, body) = api.get("/v1/rooms").await;
    assert_eq!(status, 200);
    assert_eq!(body["rooms"].as_array().unwrap().len(), 1);
    let (status, _) = api.get("/v1/rooms/team-sync").await;
    assert_eq!(status, 200);

    for name in ["B", "C"] {
        let (status, _) = api
            .post("/v1/rooms", json!({"name": name, "template": "breakout"}))
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = api
        .post("/v1/rooms", json!({"name": "D", "template": "breakout"}))
        .await;
    assert_eq!((status, err(&body).0), (409, "capacity_exceeded"));

    let (status, _) = api.delete("/v1/rooms/team-sync").await;
    assert_eq!(status, 204);
    let ended = c.event("session_ended").await;
    assert_eq!(ended["type"], "event");
    let (status, body) = api.delete("/v1/rooms/team-sync").await;
    assert_eq!((status, err(&body).0), (404, "unknown_room"));
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn minted_tokens_join_and_name_real_rooms_and_roles() {
    let server = start().await;
    let api = Api::new(&server);
    let (status, _) = api
        .post(
            "/v1/rooms",
            json!({"id": "standup", "name": "Standup", "template": "breakout"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = api
        .post(
            "/v1/tokens",
            json!({"room": "standup", "user_id": "ana", "role": "host", "name": "Ana"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://") && url.contains("/rooms/standup?token="),
        "{url}"
    );
    let mut ana = Client::connect(&server).await;
    let reply = ana.request(json!({"type": "join", "token": token})).await;
    assert_eq!(reply["ok"], true, "{reply}");

    let (status, body) = api
        .post(
            "/v1/tokens",
            json!({"room": "ghost", "user_id": "a", "role": "host"}),
        )
        .await;
    assert_eq!((status, err(&body).0), (404, "unknown_room"));
    let (status, body) = api
        .post(
            "/v1/tokens",
            json!({"room": "standup", "user_id": "a", "role": "emperor"}),
        )
        .await;
    assert_eq!((status, err(&body)), (404, ("unknown_role", Some("role"))));
    let (status, body) = api
        .post(
            "/v1/tokens",
            json!({"room": "standup", "user_id": "a", "role": "host", "ttl_s": 0}),
        )
        .await;
    assert_eq!(
        (status, err(&body)),
        (422, ("invalid_value", Some("ttl_s")))
    );
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_rest_move_is_seen_by_the_connected_peer_at_once() {
    let server = start().await;
    let api = Api::new(&server);
    let mut host = Client::join(&server, "live", "ana", "host").await;
    let mut guest = Client::join(&server, "live", "gus", "guest").await;
    host.peer_joined(&guest.peer_id).await;

    let (status, body) = api.get("/v1/rooms/live/peers").await;
    assert_eq!(status, 200);
    assert_eq!(body["peers"].as_array().unwrap().len(), 2);
    let peer_path = format!("/v1/rooms/live/peers/{}", guest.peer_id);
    let (status, body) = api.get(&peer_path).await;
    assert_eq!((status, &body["user_id"]), (200, &json!("gus")));
    let (status, body) = api.get("/v1/rooms/live/peers/p999").await;
    assert_eq!((status, err(&body).0), (404, "unknown_peer"));
    let (status, body) = api.get("/v1/rooms/live/peers/nonsense").await;
    assert_eq!((status, err(&body).0), (404, "unknown_peer"));

    let (status, body) = api
        .post(
            "/v1/rooms/live/breakouts",
            json!({"names": ["Red", "Blue"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let red = body["rooms"][0]["id"].as_str().unwrap().to_owned();
    // Moving before the rooms are open is a conflict.
    let (status, body) = api.patch(&peer_path, json!({"location": red})).await;
    assert_eq!((status, err(&body).0), (409, "breakouts_not_open"));
    let (status, body) = api
        .put(
            "/v1/rooms/live/breakouts/options",
            json!({"auto_move_on_open": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post("/v1/rooms/live/breakouts/open", json!({})).await;
    assert_eq!((status, &body["phase"]), (200, &json!("open")));

    let (status, body) = api.patch(&peer_path, json!({"location": red})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location"], red.as_str());
    let me = guest.peer_id.clone();
    let moved = guest
        .wait_for("peers_moved", |v| {
            v["event"]["type"] == "peers_moved" && v["event"]["moves"][0]["peers"][0] == me.as_str()
        })
        .await;
    assert_eq!(moved["event"]["moves"][0]["to"], red.as_str());
    let (_, body) = api.get("/v1/rooms/live/breakouts").await;
    assert_eq!(body["rooms"][0]["peers"][0], guest.peer_id.as_str());

    let (status, body) = api.patch(&peer_path, json!({"role": "emperor"})).await;
    assert_eq!((status, err(&body)), (404, ("unknown_role", Some("role"))));
    // All or nothing: a good role with a bad location changes neither.
    let (status, body) = api
        .patch(&peer_path, json!({"role": "moderator", "location": "b999"}))
        .await;
    assert_eq!(
        (status, err(&body)),
        (404, ("unknown_breakout", Some("location")))
    );
    let (_, body) = api.get(&peer_path).await;
    assert_eq!(
        (&body["role"], &body["location"]),
        (&json!("guest"), &json!(red.as_str())),
        "nothing of a refused PATCH happened: {body}"
    );
    let (status, body) = api
        .patch(
            &peer_path,
            json!({"name": "Gus G.", "metadata": {"seat": 4}}),
        )
        .await;
    assert_eq!((status, &body["name"]), (200, &json!("Gus G.")));
    let (status, _) = api
        .post(
            "/v1/rooms/live/messages",
            json!({"text": "hello", "to": {"peer_id": guest.peer_id}}),
        )
        .await;
    assert_eq!(status, 204);
    guest.event("chat").await;
    let (status, body) = api
        .post(
            "/v1/rooms/live/roles/change",
            json!({"from_roles": ["guest"], "to_role": "nobody"}),
        )
        .await;
    assert_eq!((status, err(&body).0), (404, "unknown_role"));
    let (status, _) = api
        .post(
            "/v1/rooms/live/roles/change",
            json!({"from_roles": ["guest"], "to_role": "moderator"}),
        )
        .await;
    assert_eq!(status, 204);
    guest.event("role_changed").await;
    let (status, _) = api.delete(&peer_path).await;
    assert_eq!(status, 204);
    guest.event("removed").await;
    let (status, _) = api
        .post(
            "/v1/rooms/live/end",
            json!({"reason": "done", "lock": true}),
        )
        .await;
    assert_eq!(status, 204);
    host.event("session_ended").await;
    let (_, body) = api.get("/v1/rooms/live").await;
    assert_eq!(body["locked"], true, "end with lock persists the flag");
    let (status, body) = api
        .post("/v1/rooms/live/messages", json!({"text": "anyone?"}))
        .await;
    assert_eq!((status, err(&body).0), (409, "session_ended"));
    let (status, body) = api.get("/v1/rooms/live/peers").await;
    assert_eq!((status, body["peers"].as_array().unwrap().len()), (200, 0));
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn breakouts_edit_before_anyone_joins_and_refuse_stale_versions() {
    let server = start().await;
    let api = Api::new(&server);
    let (status, _) = api
        .post(
            "/v1/rooms",
            json!({"id": "plan", "name": "Plan", "template": "breakout"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = api.get("/v1/rooms/plan/breakouts").await;
    assert_eq!((status, &body["phase"]), (200, &json!("draft")));
    let (status, body) = api
        .post(
            "/v1/rooms/plan/breakouts",
            json!({"count": 2, "capacity": 5}),
        )
        .await;
    assert_eq!(status, 201);
    let version = body["version"].as_u64().unwrap();
    let b1 = body["rooms"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = api
        .patch(
            &format!("/v1/rooms/plan/breakouts/{b1}"),
            json!({"version": version - 1, "name": "Stale"}),
        )
        .await;
    assert_eq!(
        (status, err(&body)),
        (409, ("stale_version", Some("version")))
    );
    let (status, body) = api
        .patch(
            &format!("/v1/rooms/plan/breakouts/{b1}"),
            json!({"version": version, "name": "Design", "password": "pw", "capacity": null}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rooms"][0]["has_password"], true);
    assert_eq!(body["rooms"][0]["capacity"], Value::Null);
    let (status, body) = api
        .patch("/v1/rooms/plan/breakouts/b999", json!({"name": "X"}))
        .await;
    assert_eq!((status, err(&body).0), (404, "unknown_breakout"));
    let (status, body) = api.post("/v1/rooms/plan/breakouts", json!({})).await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = api
        .put(
            "/v1/rooms/plan/breakouts/preassignments",
            json!({"by_user_id": {"gus": "Design", "ida": "Room 2"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["preassignments"]["gus"], b1.as_str());
    let (status, body) = api.post("/v1/rooms/plan/breakouts/assign", json!({})).await;
    assert_eq!(
        (status, err(&body)),
        (422, ("invalid_value", Some("assignments")))
    );
    let (status, body) = api
        .post(
            "/v1/rooms/plan/breakouts/assign",
            json!({"auto": {"seed": 7}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .post(
            "/v1/rooms/plan/breakouts/assign",
            json!({"assignments": {"ida": b1}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .post("/v1/rooms/plan/breakouts/extend", json!({"seconds": 60}))
        .await;
    assert_eq!(status, 409, "no timer before opening: {body}");
    let (status, body) = api.post("/v1/rooms/plan/breakouts/close", json!({})).await;
    assert_eq!(status, 409, "{body}");

    // Guests pre-assigned by user id land in their room when rooms open.
    let mut gus = Client::join(&server, "plan", "gus", "guest").await;
    let (status, _) = api
        .post("/v1/rooms/plan/breakouts/open", json!({"duration_s": 600}))
        .await;
    assert_eq!(status, 200);
    let moved = gus.event("peers_moved").await;
    assert_eq!(moved["event"]["moves"][0]["to"], b1.as_str());
    let (status, _) = api
        .post("/v1/rooms/plan/breakouts/extend", json!({"seconds": 60}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .post(
            "/v1/rooms/plan/breakouts/broadcast",
            json!({"text": "5 minutes left"}),
        )
        .await;
    assert_eq!(status, 200);
    gus.event("broadcast").await;
    let (status, body) = api
        .post("/v1/rooms/plan/breakouts/close", json!({"countdown_s": 10}))
        .await;
    assert_eq!((status, &body["phase"]), (200, &json!("closing")));
    let (status, body) = api
        .delete(&format!("/v1/rooms/plan/breakouts/{b1}?version=1"))
        .await;
    assert_eq!((status, err(&body).0), (409, "stale_version"));
    let (status, body) = api
        .delete(&format!("/v1/rooms/plan/breakouts/{b1}?version=x"))
        .await;
    assert_eq!((status, err(&body).0), (422, "invalid_value"));
    let (status, body) = api.delete(&format!("/v1/rooms/plan/breakouts/{b1}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rooms"].as_array().unwrap().len(), 1);
    let (status, body) = api.get("/v1/rooms/ghost/breakouts").await;
    assert_eq!((status, err(&body).0), (404, "unknown_room"));
    api.check_documented().await;
    server.shutdown().await;
}

#[tokio::test]
async fn templates_rooms_and_breakout_plans_survive_a_restart() {
    let dir = temp_dir("restart");
    let config = || Config {
        data: dir.clone(),
        in_memory: false,
        auto_create_rooms: false,
        secret: Some("restart-test-secret".to_owned()),
        ..Config::ephemeral()
    };
    let server = start_with(config()).await;
    let api = Api::new(&server);
    let mut member = role(&["lead", "member"]);
    member["permissions"]["self_select_breakout"] = json!(true);
    let doc =
        json!({"name": "Workshop", "roles": {"lead": role(&["lead", "member"]), "member": member}});
    let (status, _) = api.put("/v1/templates/workshop", doc).await;
    assert_eq!(status, 201);
    let (status, _) = api
        .post(
            "/v1/rooms",
            json!({"id": "ws", "name": "Workshop", "template": "workshop", "password": "pw"}),
        )
        .await;
    assert_eq!(status, 201);
    // Burn some ids so that restoring must keep non-consecutive ones.
    let (_, body) = api
        .post(
            "/v1/rooms/ws/breakouts",
            json!({"names": ["Gone", "Alpha", "Also gone", "Beta"]}),
        )
        .await;
    let ids: Vec<String> = body["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    for gone in [&ids[0], &ids[2]] {
        let (status, _) = api.delete(&format!("/v1/rooms/ws/breakouts/{gone}")).await;
        assert_eq!(status, 200);
    }
    let (status, _) = api
        .patch(
            &format!("/v1/rooms/ws/breakouts/{}", ids[3]),
            json!({"capacity": 4, "password": "beta-pw", "visibility": {"main_stage": {"roles": ["lead"]}}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .put(
            "/v1/rooms/ws/breakouts/options",
            json!({"allow_self_select": true, "countdown_s": 15, "duration_s": 900}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, before) = api
        .put(
            "/v1/rooms/ws/breakouts/preassignments",
            json!({"by_user_id": {"ana": "Alpha", "bob": ids[3]}}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, templates_before) = api.get("/v1/templates/workshop").await;
    let (_, room_before) = api.get("/v1/rooms/ws").await;
    server.shutdown().await;

    let server = start_with(config()).await;
    let api = Api::new(&server);
    let (status, templates_after) = api.get("/v1/templates/workshop").await;
    assert_eq!((status, &templates_after), (200, &templates_before));
    let (status, room_after) = api.get("/v1/rooms/ws").await;
    assert_eq!((status, &room_after), (200, &room_before));
    let (status, after) = api.get("/v1/rooms/ws/breakouts").await;
    assert_eq!(status, 200);
    assert_eq!(after["options"], before["options"]);
    assert_eq!(after["preassignments"], before["preassignments"]);
    let summary = |v: &Value| -> Vec<Value> {
        v["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                json!([
                    r["id"],
                    r["name"],
                    r["capacity"],
                    r["has_password"],
                    r["visibility"]
                ])
            })
            .collect()
    };
    assert_eq!(summary(&after), summary(&before));
    // The room password still guards joins after the restart.
    let mut c = Client::connect(&server).await;
    let token = server.join_token("ws", "ana", "lead");
    let reply = c.request(json!({"type": "join", "token": token})).await;
    assert_eq!(code(&reply), "wrong_password");
    let reply = c
        .request(json!({"type": "join", "token": token, "password": "pw"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");

    // The breakout password survived as a hash: self-select checks attempts against it.
    let (status, _) = api.post("/v1/rooms/ws/breakouts/open", json!({})).await;
    assert_eq!(status, 200);
    let choose = |password: &str| {
        json!({"type": "command", "command":
            {"type": "join_breakout", "breakout_id": ids[3], "password": password}})
    };
    let mut cy = Client::connect(&server).await;
    let token = server.join_token("ws", "cy", "member");
    let reply = cy
        .request(json!({"type": "join", "token": token, "password": "pw"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    // Checks against a hash are rationed as the room password's are, in one allowance per
    // user (the join's check took one): a burst of three, then one a second.
    for guess in ["beta-1", "beta-2"] {
        let reply = cy.request(choose(guess)).await;
        assert_eq!(code(&reply), "wrong_password");
    }
    let reply = cy.request(choose("beta-pw")).await;
    assert_eq!(
        code(&reply),
        "rate_limited",
        "the fourth attempt within the second waits"
    );
    let mut dee = Client::connect(&server).await;
    let token = server.join_token("ws", "dee", "member");
    let reply = dee
        .request(json!({"type": "join", "token": token, "password": "pw"}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let reply = dee.request(choose("beta-pw")).await;
    assert_eq!(
        reply["ok"], true,
        "the right password opens the room: {reply}"
    );
    let (_, now) = api.get("/v1/rooms/ws/breakouts").await;
    let beta = now["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == ids[3].as_str())
        .unwrap()
        .clone();
    assert_eq!(beta["has_password"], true);
    assert_eq!(beta["peers"].as_array().unwrap().len(), 1, "{beta}");
    api.check_documented().await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every path and verb of the contract (api.md) under `/v1`.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/v1/tokens"),
    ("get", "/v1/templates"),
    ("post", "/v1/templates"),
    ("get", "/v1/templates/{template_id}"),
    ("put", "/v1/templates/{template_id}"),
    ("delete", "/v1/templates/{template_id}"),
    ("put", "/v1/templates/{template_id}/roles/{role}"),
    ("delete", "/v1/templates/{template_id}/roles/{role}"),
    ("get", "/v1/rooms"),
    ("post", "/v1/rooms"),
    ("get", "/v1/rooms/{room_id}"),
    ("patch", "/v1/rooms/{room_id}"),
    ("delete", "/v1/rooms/{room_id}"),
    ("get", "/v1/rooms/{room_id}/peers"),
    ("get", "/v1/rooms/{room_id}/peers/{peer_id}"),
    ("patch", "/v1/rooms/{room_id}/peers/{peer_id}"),
    ("delete", "/v1/rooms/{room_id}/peers/{peer_id}"),
    ("post", "/v1/rooms/{room_id}/roles/change"),
    ("post", "/v1/rooms/{room_id}/messages"),
    ("post", "/v1/rooms/{room_id}/end"),
    ("get", "/v1/rooms/{room_id}/breakouts"),
    ("post", "/v1/rooms/{room_id}/breakouts"),
    ("patch", "/v1/rooms/{room_id}/breakouts/{breakout_id}"),
    ("delete", "/v1/rooms/{room_id}/breakouts/{breakout_id}"),
    ("put", "/v1/rooms/{room_id}/breakouts/options"),
    ("post", "/v1/rooms/{room_id}/breakouts/assign"),
    ("put", "/v1/rooms/{room_id}/breakouts/preassignments"),
    ("post", "/v1/rooms/{room_id}/breakouts/open"),
    ("post", "/v1/rooms/{room_id}/breakouts/close"),
    ("post", "/v1/rooms/{room_id}/breakouts/extend"),
    ("post", "/v1/rooms/{room_id}/breakouts/broadcast"),
    ("post", "/v1/rooms/{room_id}/recordings"),
    ("get", "/v1/rooms/{room_id}/recordings"),
    ("post", "/v1/recordings/{recording_id}/stop"),
    ("get", "/v1/recordings/{recording_id}"),
    ("post", "/v1/rooms/{room_id}/invites"),
    ("get", "/v1/rooms/{room_id}/invites"),
    ("delete", "/v1/rooms/{room_id}/invites/{invite_id}"),
];

#[tokio::test]
async fn the_openapi_document_covers_the_contract_and_the_error_envelope() {
    let server = start().await;
    let api = Api::new(&server);
    let (status, doc) = api.get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    for (verb, path) in CONTRACT {
        let operation = &doc["paths"][*path][*verb];
        assert!(operation.is_object(), "{verb} {path} is not documented");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.contains_key("401"),
            "{verb} {path} does not document 401"
        );
        for (status, response) in responses {
            if status.starts_with('4') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorEnvelope",
                    "{verb} {path} {status}"
                );
            }
        }
    }
    let envelope = &doc["components"]["schemas"]["ErrorBody"]["properties"];
    for field in ["code", "message", "field"] {
        assert!(envelope[field].is_object(), "ErrorBody.{field}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Swagger UI is vendored: served from the binary, no network needed.
    let page = reqwest::get(format!("http://{}/docs/", server.http_addr()))
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    server.shutdown().await;
}

/// Client generators name their methods after operationIds: every operation has one, none is
/// repeated, and each reads as a verb and a noun (`create_room`, not `create`).
#[tokio::test]
async fn every_operation_has_a_unique_meaningful_operation_id() {
    let server = start().await;
    let api = Api::new(&server);
    let (status, doc) = api.get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    let mut seen = std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (verb, operation) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&verb.as_str())
            {
                continue;
            }
            let Some(id) = operation["operationId"].as_str() else {
                problems.push(format!("{verb} {path}: no operationId"));
                continue;
            };
            let words: Vec<&str> = id.split('_').collect();
            if words.len() < 2
                || words
                    .iter()
                    .any(|w| w.is_empty() || !w.bytes().all(|b| b.is_ascii_lowercase()))
            {
                problems.push(format!(
                    "{verb} {path}: `{id}` is not a snake_case verb and noun"
                ));
            }
            if let Some(other) = seen.insert(id.to_owned(), format!("{verb} {path}")) {
                problems.push(format!("{verb} {path}: `{id}` is also the id of {other}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(seen.len() >= CONTRACT.len(), "{} operations", seen.len());
    server.shutdown().await;
}

/// Every key of `value` is a property of the schema `name`, and every required one is there.
fn assert_fits(doc: &Value, name: &str, value: &Value) {
    let schema = &doc["components"]["schemas"][name];
    let properties = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {name}"));
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{name}: {value}"));
    for key in object.keys() {
        assert!(
            properties.contains_key(key),
            "{name} does not document `{key}`"
        );
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        let key = required.as_str().unwrap();
        assert!(
            object.contains_key(key),
            "{name}.{key} is required but absent: {value}"
        );
    }
}

#[tokio::test]
async fn wire_values_match_their_openapi_schemas() {
    let server = start().await;
    let api = Api::new(&server);
    let (_, doc) = api.get("/v1/openapi.json").await;
    let guest = Client::join(&server, "shapes", "gus", "guest").await;
    let (_, created) = api
        .post(
            "/v1/rooms/shapes/breakouts",
            json!({"names": ["A"], "capacity": 3}),
        )
        .await;
    let b = created["rooms"][0]["id"].as_str().unwrap().to_owned();
    let visibility = json!({"visibility": {"main_stage": {"roles": ["host"]}}, "password": "x"});
    api.patch(&format!("/v1/rooms/shapes/breakouts/{b}"), visibility)
        .await;
    api.put(
        "/v1/rooms/shapes/breakouts/preassignments",
        json!({"by_user_id": {"ida": "A"}}),
    )
    .await;
    let (_, view) = api.get("/v1/rooms/shapes/breakouts").await;
    assert_fits(&doc, "Breakouts", &view);
    assert_fits(&doc, "BreakoutOptions", &view["options"]);
    assert_fits(&doc, "BreakoutRoom", &view["rooms"][0]);
    assert_fits(&doc, "BreakoutsCreated", &created);
    let (_, peer) = api
        .get(&format!("/v1/rooms/shapes/peers/{}", guest.peer_id))
        .await;
    assert_fits(&doc, "Peer", &peer);
    let (_, template) = api.get("/v1/templates/breakout").await;
    assert_fits(&doc, "TemplateOut", &template);
    for role in template["roles"].as_object().unwrap().values() {
        assert_fits(&doc, "Role", role);
        assert_fits(&doc, "Permissions", &role["permissions"]);
        assert_fits(&doc, "PublishSpec", &role["publish"]);
    }
    let (_, room) = api.get("/v1/rooms/shapes").await;
    assert_fits(&doc, "RoomOut", &room);
    let (_, missing) = api.get("/v1/rooms/nope").await;
    assert_fits(&doc, "ErrorEnvelope", &missing);
    assert_fits(&doc, "ErrorBody", &missing["error"]);
    api.check_documented().await;
    server.shutdown().await;
}
