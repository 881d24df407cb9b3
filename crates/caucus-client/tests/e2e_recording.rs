//! Recording end to end over real UDP: the main room and a breakout recorded at the same time,
//! started and stopped by the REST API, peers told they are recorded, and the files — one
//! WebM per track under `{data}/recordings/{room}/{id}/` — checked with ffprobe: the expected
//! tracks with plausible durations, and no track of main in the breakout's recording; files
//! and directories owner-only.
//! `scripts/test-all` installs ffmpeg when it is missing; without it this test fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use caucus_client::{Client, ClientOptions, EventStream};
use caucus_proto::event::RecordingInfo;
use caucus_proto::{Location, ServerEvent, Source};
use caucus_server::{Config, Running, Server};
use common::{AUDIO_SECOND, T, talk, wait_acting_as, wait_more};
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(server: &Running) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("http://{}", server.http_addr()),
            token: server
                .tokens()
                .mint_management(Duration::from_secs(600))
                .unwrap(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = tokio::time::timeout(T, request.send())
            .await
            .expect("the API answers in time")
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// A data dir of its own for each test (they run at once in one process).
fn temp_data(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "caucus-e2e-recording-{label}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn join(server: &Running, room: &str, user: &str, role: &str) -> (Client, EventStream) {
    let token = server.join_token(room, user, role);
    Client::connect(&server.signaling_url(), &token, ClientOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{user} could not join: {e}"))
}

/// Waits until this peer is told that exactly these recordings are in progress.
async fn wait_recordings(events: &mut EventStream, expected: &[RecordingInfo]) {
    events
        .wait_server(
            |e| match e {
                ServerEvent::Recordings { active } if active.as_slice() == expected => Some(()),
                _ => None,
            },
            T,
        )
        .await
        .unwrap_or_else(|e| panic!("no `recordings` event listing {expected:?}: {e}"));
}

/// ffprobe's view of one file: (codec_type, codec_name, duration in seconds).
fn probe(path: &Path) -> (String, String, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .arg("format=duration:stream=codec_type,codec_name")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffprobe is missing ({e}): install Debian's ffmpeg (scripts/test-all does)")
        });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in ffprobe's answer: {text}"))
            .to_owned()
    };
    let duration = field("duration").parse().unwrap();
    (field("codec_type"), field("codec_name"), duration)
}

/// The files a finished recording lists, checked on disk with ffprobe: returns
/// (peer, kind) per file.
fn check_files(data: &Path, recording: &Value) -> Vec<(String, String)> {
    assert_eq!(recording["state"], "finished", "{recording}");
    let dir = data.join(recording["path"].as_str().unwrap());
    let mut out = Vec::new();
    for file in recording["files"].as_array().unwrap() {
        let path = dir.join(file["name"].as_str().unwrap());
        let (codec_type, codec_name, seconds) = probe(&path);
        let kind = file["kind"].as_str().unwrap().to_owned();
        assert_eq!(codec_type, kind, "{file}");
        assert_eq!(codec_name, file["codec"].as_str().unwrap(), "{file}");
        let listed_ms = file["duration_ms"].as_u64().unwrap();
        assert!(
            (seconds * 1000.0 - listed_ms as f64).abs() < 100.0,
            "ffprobe says {seconds} s, the API {listed_ms} ms: {file}"
        );
        // Plausible: the test let at least a second of media flow, and it ran well under a minute.
        assert!((0.5..60.0).contains(&seconds), "{seconds} s: {file}");
        out.push((file["peer_id"].as_str().unwrap().to_owned(), kind));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_and_a_breakout_are_recorded_at_once_into_webm_files_that_ffprobe_reads() {
    let data = temp_data("main-and-breakout");
    let config = Config {
        data: data.clone(),
        ..Config::ephemeral()
    };
    let server = Server::start(config).await.expect("the server starts");
    let api = Api::new(&server);
    let room = "studio";
    let (host, mut host_events) = join(&server, room, "hana", "host").await;
    let (ana, mut ana_events) = join(&server, room, "ana", "guest").await;
    let (ben, mut ben_events) = join(&server, room, "ben", "guest").await;
    let hana = host.peer_id();
    talk(&host).await;

    // Both guests go to one breakout room, where they act as `breakout` and may talk.
    let rooms = host.create_breakouts(1, None).await.expect("create");
    host.open_breakouts(None).await.expect("open");
    let b1 = Location::Breakout(rooms[0]);
    for guest in [&ana, &ben] {
        host.move_peer(guest.peer_id(), b1, true)
            .await
            .expect("move");
    }
    wait_acting_as(&mut ana_events, "breakout").await;
    wait_acting_as(&mut ben_events, "breakout").await;
    talk(&ana).await;
    ben.publish_audio().await.expect("ben talks");

    // Start both recordings; a second one of main is refused, and so is an unknown breakout.
    let (status, main_rec) = api
        .post(&format!("/v1/rooms/{room}/recordings"), json!({}))
        .await;
    assert_eq!(status, 201, "{main_rec}");
    assert_eq!(main_rec["location"], "main");
    assert_eq!(main_rec["state"], "recording");
    let (status, b1_rec) = api
        .post(
            &format!("/v1/rooms/{room}/recordings"),
            json!({"location": rooms[0]}),
        )
        .await;
    assert_eq!(status, 201, "{b1_rec}");
    let (status, again) = api
        .post(
            &format!("/v1/rooms/{room}/recordings"),
            json!({"location": "main"}),
        )
        .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("already_exists"))
    );
    let (status, unknown) = api
        .post(
            &format!("/v1/rooms/{room}/recordings"),
            json!({"location": "b99"}),
        )
        .await;
    assert_eq!(
        (status, unknown["error"]["code"].as_str()),
        (404, Some("unknown_breakout"))
    );
    let (status, junk) = api
        .post(
            &format!("/v1/rooms/{room}/recordings"),
            json!({"location": "lobby"}),
        )
        .await;
    assert_eq!(status, 422, "{junk}");

    // Everyone is told what is being recorded.
    let mut active = vec![
        RecordingInfo {
            id: main_rec["id"].as_str().unwrap().parse().unwrap(),
            location: Location::Main,
        },
        RecordingInfo {
            id: b1_rec["id"].as_str().unwrap().parse().unwrap(),
            location: b1,
        },
    ];
    active.sort_by_key(|r| r.id);
    for events in [&mut host_events, &mut ana_events, &mut ben_events] {
        wait_recordings(events, &active).await;
    }

    // Let a good stretch of media flow into both recordings.
    for _ in 0..2 {
        wait_more(&ana, ben.peer_id(), Source::Audio, AUDIO_SECOND).await;
    }
    // Video files start at a keyframe, which may be the publisher's periodic one (every 2 s)
    // when the requested one is throttled: wait for a good 3 s of video.
    wait_more(&ben, ana.peer_id(), Source::Video, 150).await;

    let (status, listed) = api.get(&format!("/v1/rooms/{room}/recordings")).await;
    assert_eq!(status, 200);
    assert_eq!(listed["recordings"].as_array().unwrap().len(), 2);

    // Stop both: each answer lists its finished files.
    let (status, main_done) = api
        .post(
            &format!("/v1/recordings/{}/stop", main_rec["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{main_done}");
    let (status, b1_done) = api
        .post(
            &format!("/v1/recordings/{}/stop", b1_rec["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{b1_done}");
    wait_recordings(&mut ana_events, &[]).await;

    let main_files = check_files(&data, &main_done);
    assert_eq!(
        main_files,
        vec![
            (hana.to_string(), "audio".to_owned()),
            (hana.to_string(), "video".to_owned())
        ],
        "main holds the host's tracks"
    );
    let b1_files = check_files(&data, &b1_done);
    assert_eq!(
        b1_files,
        vec![
            (ana.peer_id().to_string(), "audio".to_owned()),
            (ana.peer_id().to_string(), "video".to_owned()),
            (ben.peer_id().to_string(), "audio".to_owned()),
        ],
        "the breakout holds its guests' tracks and nothing from main"
    );

    // Reading works later too, and unknown ids are 404.
    let (status, again) = api
        .get(&format!(
            "/v1/recordings/{}",
            b1_rec["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!((status, &again["files"]), (200, &b1_done["files"]));
    let (status, missing) = api.get("/v1/recordings/rec1").await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("unknown_recording"))
    );
    downloads_seek(&api, &data, &b1_done).await;

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);
}

/// A recording's files download whole or by byte range (a browser's `<video>` seeks so),
/// with the management token only, and only the files the recording lists.
async fn downloads_seek(api: &Api, data: &Path, recording: &Value) {
    let id = recording["id"].as_str().unwrap();
    let file = &recording["files"][0];
    let name = file["name"].as_str().unwrap();
    let on_disk = std::fs::read(data.join(recording["path"].as_str().unwrap()).join(name)).unwrap();
    assert!(on_disk.len() > 200, "a real file: {} bytes", on_disk.len());
    let url = format!("{}/v1/recordings/{id}/files/{name}", api.base);
    let get = |range: Option<&str>| {
        let mut request = api.http.get(&url).bearer_auth(&api.token);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        request.send()
    };
    let whole = get(None).await.unwrap();
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let kind = file["kind"].as_str().unwrap();
    assert_eq!(
        whole.headers()["content-type"],
        format!("{kind}/webm").as_str()
    );
    assert_eq!(whole.bytes().await.unwrap().as_ref(), on_disk.as_slice());

    let part = get(Some("bytes=100-199")).await.unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", on_disk.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &on_disk[100..200]);
    let past = get(Some(&format!("bytes={}-", on_disk.len() + 10)))
        .await
        .unwrap();
    assert_eq!(past.status().as_u16(), 416);

    for other in ["nope.webm", "..%2F..%2Fsecret"] {
        let (status, body) = api.get(&format!("/v1/recordings/{id}/files/{other}")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("unknown_file")),
            "{other}"
        );
    }
    let anonymous = api.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

/// A room whose policy records main starts recording at the first join, by itself; ending the
/// session finishes the recording with `session_ended`.
/// Recordings are the meeting itself: every directory from `recordings/` down is 0700 and
/// every file 0600, whatever the umask.
fn owner_only(data: &Path, recording: &Value) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = data.join(recording["path"].as_str().unwrap());
        let mut at = dir.as_path();
        while at != data {
            assert_eq!(mode(at), 0o700, "{}", at.display());
            at = at.parent().unwrap();
        }
        for file in recording["files"].as_array().unwrap() {
            let path = dir.join(file["name"].as_str().unwrap());
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_with_an_automatic_policy_records_main_from_the_first_join() {
    let data = temp_data("auto");
    let config = Config {
        data: data.clone(),
        ..Config::ephemeral()
    };
    let server = Server::start(config).await.expect("the server starts");
    let api = Api::new(&server);
    let (status, room) = api
        .post(
            "/v1/rooms",
            json!({"id": "lecture", "name": "Lecture", "template": "breakout", "auto_record": true}),
        )
        .await;
    assert_eq!(
        (status, &room["auto_record"]),
        (201, &json!(true)),
        "{room}"
    );

    let (host, mut host_events) = join(&server, "lecture", "hana", "host").await;
    let recording = host_events
        .wait_server(
            |e| match e {
                ServerEvent::Joined { recordings, .. } if !recordings.is_empty() => {
                    Some(recordings[0])
                }
                ServerEvent::Recordings { active } if !active.is_empty() => Some(active[0]),
                _ => None,
            },
            T,
        )
        .await
        .expect("the host learns that main is recorded");
    assert_eq!(recording.location, Location::Main);
    talk(&host).await;
    let (guest, _guest_events) = join(&server, "lecture", "gus", "guest").await;
    wait_more(&guest, host.peer_id(), Source::Audio, AUDIO_SECOND).await;
    // A good 3 s of video: its file starts at a keyframe (see the test above).
    wait_more(&guest, host.peer_id(), Source::Video, 150).await;

    let (status, _) = api.post("/v1/rooms/lecture/end", json!({})).await;
    assert_eq!(status, 204);
    // The end of the session finishes the recording; its stop answers once that is done.
    let (status, done) = api
        .post(&format!("/v1/recordings/{}/stop", recording.id), json!({}))
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["end_reason"], "session_ended", "{done}");
    let files = check_files(&data, &done);
    owner_only(&data, &done);
    let hana = host.peer_id().to_string();
    assert_eq!(
        files,
        vec![
            (hana.clone(), "audio".to_owned()),
            (hana, "video".to_owned())
        ]
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);
}
