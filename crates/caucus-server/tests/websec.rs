//! Web security over real sockets: ids that could climb out of a directory and names that
//! display as something else are refused with stable codes; no internal error text reaches a
//! client; the pages carry their security headers; the data dir is owner-only; the open demo
//! token endpoint exists only on loopback (or when configured); links never come from the
//! request's `Host`.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use caucus_server::{Config, JoinClaims, Running};
use common::{Client, code, start, start_with};
use serde_json::{Value, json};

/// REST with the management token; `(status, headers, body)`.
struct Http {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Http {
    fn new(server: &Running) -> Http {
        Http {
            http: reqwest::Client::new(),
            base: format!("http://{}", server.http_addr()),
            token: server
                .tokens()
                .mint_management(Duration::from_secs(600))
                .unwrap(),
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = tokio::time::timeout(common::WAIT, request.send())
            .await
            .expect("answer in time")
            .expect("HTTP works");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body);
        let (status, _, body) = self.send(request).await;
        (status, body)
    }
}

fn error(body: &Value) -> (&str, Option<&str>) {
    (
        body["error"]["code"].as_str().unwrap_or("(none)"),
        body["error"]["field"].as_str(),
    )
}

// ---- ids -----------------------------------------------------------------------------------

#[tokio::test]
async fn ids_that_could_name_another_path_are_refused_with_invalid_id() {
    let server = start().await;
    let api = Http::new(&server);
    for id in [
        ".",
        "..",
        ".secret",
        "a/b",
        "..%2Fsecret",
        "tab\there",
        "x".repeat(65).as_str(),
    ] {
        let (status, body) = api
            .post(
                "/v1/rooms",
                json!({"id": id, "name": "X", "template": "breakout"}),
            )
            .await;
        assert_eq!(
            (status, error(&body)),
            (422, ("invalid_id", Some("id"))),
            "{id:?}: {body}"
        );
    }
    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"id": "a.b-c_1", "name": "Dots inside", "template": "breakout"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    for (field, request) in [
        (
            "room",
            json!({"room": "..", "user_id": "ana", "role": "host"}),
        ),
        (
            "user_id",
            json!({"room": "a.b-c_1", "user_id": "../ana", "role": "host"}),
        ),
        (
            "user_id",
            json!({"room": "a.b-c_1", "user_id": "ana\u{202e}", "role": "host"}),
        ),
        (
            "role",
            json!({"room": "a.b-c_1", "user_id": "ana", "role": "."}),
        ),
    ] {
        let (status, body) = api.post("/v1/tokens", request.clone()).await;
        assert_eq!(
            (status, error(&body)),
            (422, ("invalid_id", Some(field))),
            "{request}: {body}"
        );
    }

    // The signaling `?room=` hint and the meeting page's path.
    let url = format!("{}?room=..", server.signaling_url());
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 422);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(error(&body), ("invalid_id", Some("room")));
        }
        other => panic!("the upgrade should be refused: {other:?}"),
    }
    let (status, _, body) = api.get("/rooms/.hidden").await;
    assert_eq!(
        (status, error(&body)),
        (422, ("invalid_id", Some("room"))),
        "{body}"
    );

    // A token the server signed (say, by an older build) naming `..` is no way in either.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = JoinClaims {
        room: "..".into(),
        user_id: "ana".into(),
        role: "host".into(),
        name: "Ana".into(),
        exp: now + 600,
        iat: now,
        nbf: now,
    };
    let token = server.tokens().sign(&claims).unwrap();
    let mut client = Client::connect(&server).await;
    let reply = client
        .request(json!({"type": "join", "token": token}))
        .await;
    assert_eq!(code(&reply), "token_invalid", "{reply}");
    server.shutdown().await;
}

// ---- names ---------------------------------------------------------------------------------

const HOSTILE: [&str; 4] = [
    "Ana\u{0}",
    "\u{1b}[31mAna",
    "Ana\u{202e}nimda",
    "\u{2066}Ana",
];

#[tokio::test]
async fn names_with_control_or_bidi_characters_are_refused_with_invalid_name() {
    let server = start_with(Config {
        demo_room: Some("demo".into()),
        ..Config::ephemeral()
    })
    .await;
    let api = Http::new(&server);
    for name in HOSTILE {
        let (status, body) = api
            .post("/v1/rooms", json!({"name": name, "template": "breakout"}))
            .await;
        assert_eq!(
            (status, error(&body)),
            (422, ("invalid_name", Some("name"))),
            "{name:?}"
        );

        // A join whose token carries the name (the core decides).
        let grant = caucus_server::JoinGrant::new("lobby", "ana", "guest").with_name(name);
        let token = server
            .tokens()
            .mint_join(&grant, Duration::from_secs(600))
            .unwrap();
        let mut client = Client::connect(&server).await;
        let reply = client
            .request(json!({"type": "join", "token": token}))
            .await;
        assert_eq!(code(&reply), "invalid_name", "{name:?}: {reply}");

        // The demo endpoint refuses before minting anything.
        let request = api
            .http
            .post(format!("{}/demo/token", api.base))
            .json(&json!({"role": "guest", "name": name}));
        let (status, _, body) = api.send(request).await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("invalid_name")),
            "{name:?}: {body}"
        );
    }
    // A rename in the session.
    let mut ana = Client::join(&server, "lobby", "ana", "guest").await;
    for name in HOSTILE {
        let reply = ana
            .command(json!({"type": "update_self", "name": name}))
            .await;
        assert_eq!(code(&reply), "invalid_name", "{name:?}: {reply}");
    }
    server.shutdown().await;
}

// ---- internal error text -------------------------------------------------------------------

/// Parses as SDP, but str0m cannot answer it (no ICE credentials, no fingerprint).
const UNNEGOTIABLE: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
    a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
    a=sendonly\r\na=rtpmap:111 opus/48000/2\r\n";

#[tokio::test]
async fn sdp_refusals_are_a_code_and_a_fixed_sentence() {
    let server = start().await;
    let mut ana = Client::join(&server, "lobby", "ana", "host").await;
    for (sdp, expected) in [
        ("v=0\r\nthis is not SDP at all\r\n", "malformed_request"),
        (UNNEGOTIABLE, "invalid_value"),
    ] {
        let reply = ana.request(json!({"type": "offer", "sdp": sdp})).await;
        assert_eq!(code(&reply), expected, "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            [
                "the SDP could not be parsed",
                "the SDP could not be negotiated"
            ]
            .contains(&message),
            "the client is told str0m's own text: {message:?}"
        );
        assert_eq!(reply["error"]["field"], "sdp");
    }
    server.shutdown().await;
}

// ---- headers -------------------------------------------------------------------------------

#[tokio::test]
async fn pages_and_assets_carry_the_security_headers() {
    let server = start().await;
    let web = Http::new(&server);
    for path in [
        "/",
        "/rooms/demo",
        "/assets/meeting.js",
        "/assets/app.css",
        "/healthz",
        "/v1/rooms",
    ] {
        let (_, headers, _) = web.get(path).await;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_owned()
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        ] {
            assert!(
                csp.split("; ").any(|d| d == directive),
                "{path}: {directive} not in {csp}"
            );
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
    }
    server.shutdown().await;

    let server = start_with(Config {
        frame_ancestors: "https://intranet.example.org".into(),
        ..Config::ephemeral()
    })
    .await;
    let (_, headers, _) = Http::new(&server).get("/rooms/demo").await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.ends_with("frame-ancestors https://intranet.example.org"),
        "{csp}"
    );
    server.shutdown().await;
}

/// The policy runs no inline script or style: the pages must not need any.
#[test]
fn the_pages_hold_no_inline_script_or_style() {
    let web = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web");
    for page in ["index.html", "room.html"] {
        let html = std::fs::read_to_string(web.join(page)).unwrap();
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{page}: inline script {tag}");
        }
        assert!(!html.contains("<style"), "{page}: a <style> element");
        assert!(!html.contains(" style="), "{page}: a style attribute");
        let handler = html.match_indices(" on").any(|(at, _)| {
            let rest = &html[at + 3..];
            let name = rest.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(0);
            name > 0 && rest[name..].starts_with('=')
        });
        assert!(!handler, "{page}: an inline event handler");
    }
}

// ---- the demo ------------------------------------------------------------------------------

async fn demo_token_status(server: &Running) -> (u16, Value) {
    // Bound to 0.0.0.0 or 127.0.0.1: either way reached over loopback.
    let url = format!("http://127.0.0.1:{}/demo/token", server.http_addr().port());
    let response = reqwest::Client::new()
        .post(url)
        .json(&json!({"role": "host", "name": "Eve"}))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn demo_config(http: &str, demo_public: bool) -> Config {
    Config {
        http: http.parse().unwrap(),
        demo_room: Some("demo".into()),
        demo_public,
        auto_create_rooms: false,
        ..Config::ephemeral()
    }
}

#[tokio::test]
async fn the_open_demo_token_exists_only_on_loopback_unless_configured() {
    // On loopback: the embedded default works as before.
    let server = start_with(demo_config("127.0.0.1:0", false)).await;
    let (status, body) = demo_token_status(&server).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .starts_with("/rooms/demo?token=")
    );
    server.shutdown().await;

    // Bound to every address: no route, and the demo room is not created by a join.
    let server = start_with(demo_config("0.0.0.0:0", false)).await;
    let (status, body) = demo_token_status(&server).await;
    assert_eq!((status, error(&body).0), (404, "not_found"), "{body}");
    let (_, _, info) = Http {
        base: format!("http://127.0.0.1:{}", server.http_addr().port()),
        ..Http::new(&server)
    }
    .get("/demo")
    .await;
    assert_eq!(info["enabled"], false, "{info}");
    let mut client = Client::connect_url(&format!(
        "ws://127.0.0.1:{}/v1/rtc",
        server.http_addr().port()
    ))
    .await;
    let reply = client
        .request(json!({"type": "join", "token": server.join_token("demo", "eve", "host")}))
        .await;
    assert_eq!(code(&reply), "unknown_room", "{reply}");
    server.shutdown().await;

    // Unless the configuration asks for it.
    let server = start_with(demo_config("0.0.0.0:0", true)).await;
    let (status, body) = demo_token_status(&server).await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_demo_offers_the_roles_of_the_demo_rooms_own_template() {
    let server = start_with(demo_config("127.0.0.1:0", false)).await;
    let api = Http::new(&server);
    // Before the room exists: the built-in template's roles, highest priority first.
    let (_, _, info) = api.get("/demo").await;
    let roles: Vec<&str> = info["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(roles.first(), Some(&"host"), "{info}");
    assert!(roles.contains(&"guest"), "{info}");

    // The operator puts the demo room on a template of its own.
    let role = |subscribe: &[&str]| json!({"publish": {"allowed": ["audio", "video"]}, "subscribe": {"roles": subscribe}});
    let template = json!({"id": "class", "name": "Class", "roles": {
        "teacher": {"priority": 10, "publish": {"allowed": ["audio", "video"]}, "subscribe": {"roles": ["student"]}},
        "student": role(&["teacher", "student"]),
    }});
    let (status, body) = api.post("/v1/templates", template).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"id": "demo", "name": "Demo", "template": "class"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (_, _, info) = api.get("/demo").await;
    assert_eq!(info["roles"], json!(["teacher", "student"]), "{info}");
    let ask = |role: &str| {
        api.http
            .post(format!("{}/demo/token", api.base))
            .json(&json!({"role": role, "name": "Eve"}))
    };
    let (status, _, body) = api.send(ask("teacher")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = api.send(ask("host")).await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("unknown_role")),
        "{body}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_demo_rooms_next_meeting_starts_without_the_last_ones_rooms() {
    let server = start_with(demo_config("127.0.0.1:0", false)).await;
    let api = Http::new(&server);
    let (status, body) = api
        .post(
            "/v1/rooms",
            json!({"id": "class", "name": "Class", "template": "breakout"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut rooms_after_a_meeting = Vec::new();
    for room in ["demo", "class"] {
        let mut host = Client::join(&server, room, "host", "host").await;
        let (status, body) = api
            .post(&format!("/v1/rooms/{room}/breakouts"), json!({"count": 2}))
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = api.post(&format!("/v1/rooms/{room}/end"), json!({})).await;
        assert!((200..300).contains(&status), "{status} {body}");
        host.closed().await;
        // The next meeting.
        let _host = Client::join(&server, room, "host", "host").await;
        let (_, _, view) = api
            .send(
                api.http
                    .get(format!("{}/v1/rooms/{room}/breakouts", api.base))
                    .bearer_auth(&api.token),
            )
            .await;
        rooms_after_a_meeting.push(view["rooms"].as_array().map_or(0, Vec::len));
    }
    assert_eq!(
        rooms_after_a_meeting,
        [0, 2],
        "the demo room starts fresh; another room keeps its plan"
    );
    server.shutdown().await;
}

// ---- links ---------------------------------------------------------------------------------

#[tokio::test]
async fn links_use_the_public_url_never_the_host_header() {
    for public_url in [None, Some("https://meet.example.org/")] {
        let server = start_with(Config {
            public_url: public_url.map(str::to_owned),
            ..Config::ephemeral()
        })
        .await;
        let api = Http::new(&server);
        let (status, _) = api
            .post(
                "/v1/rooms",
                json!({"id": "standup", "name": "Standup", "template": "breakout"}),
            )
            .await;
        assert_eq!(status, 201);
        let request = api
            .http
            .post(format!("{}/v1/tokens", api.base))
            .bearer_auth(&api.token)
            .header("host", "evil.example")
            .json(&json!({"room": "standup", "user_id": "ana", "role": "host"}));
        let (status, _, body) = api.send(request).await;
        assert_eq!(status, 200, "{body}");
        let url = body["url"].as_str().unwrap();
        let expected = match public_url {
            Some(_) => "https://meet.example.org/rooms/standup?token=".to_owned(),
            None => format!("http://{}/rooms/standup?token=", server.http_addr()),
        };
        assert!(url.starts_with(&expected), "{url}");
        assert!(!url.contains("evil"), "{url}");
        assert!(
            server
                .join_link(&"standup".into(), "t")
                .starts_with(&expected[..expected.len() - 6])
        );
        server.shutdown().await;
    }
}

// ---- file modes ----------------------------------------------------------------------------

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_holds_owner_only_files() {
    let scratch = std::env::temp_dir().join(format!("caucus-websec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let data = scratch.join("data");
    let server = start_with(Config {
        data: data.clone(),
        in_memory: false,
        secret: None,
        ..Config::ephemeral()
    })
    .await;
    let (status, _) = Http::new(&server)
        .post(
            "/v1/rooms",
            json!({"id": "standup", "name": "Standup", "template": "breakout"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(mode(&data), 0o700, "the data dir");
    for file in ["secret", "caucus.db", "caucus.db-wal", "caucus.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&scratch);
}
