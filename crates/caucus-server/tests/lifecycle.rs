//! The `caucus` binary stopped the way operators stop it, over real sockets: a webhook
//! receiver on loopback, a host and a guest talking over real UDP (the Rust SDK), a recording
//! of main, then
//! - SIGTERM (systemd, Docker, Kubernetes): the guest is told the session ended, the receiver
//!   gets `peer.left` and `session.ended` before the process exits 0, and the recording's
//!   files — listed by the API after a restart — play (ffprobe) and hold every packet the
//!   guest heard up to the signal (the trailing cluster too);
//! - SIGKILL, then a restart: the recording is closed out from its files on disk (finished,
//!   with files and durations that ffprobe agrees with), and the receiver gets the
//!   `peer.left` and `session.ended` the crash kept back, marked `reason: "restart"`.
//!
//! ffprobe comes with Debian's ffmpeg (`scripts/test-all` installs it); without it the file
//! checks are skipped with a message, the rest still runs.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use caucus_client::{Client, ClientOptions, EventStream};
use caucus_proto::{PeerId, ServerEvent, Source};
use caucus_server::{JoinGrant, TokenIssuer};
use serde_json::{Value, json};
use tokio::sync::watch;

const SECRET: &str = "lifecycle-test-secret-0123456789";
const ROOM: &str = "standup";
const T: Duration = Duration::from_secs(30);

// ---- a webhook receiver ----------------------------------------------------------------------

#[derive(Clone)]
struct Receiver {
    /// Every body received, in order.
    bodies: watch::Sender<Vec<Value>>,
}

async fn hook(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    let value: Value = serde_json::from_slice(&body).unwrap();
    receiver.bodies.send_modify(|bodies| bodies.push(value));
    StatusCode::NO_CONTENT
}

impl Receiver {
    async fn start() -> (Receiver, SocketAddr) {
        let (bodies, _) = watch::channel(Vec::new());
        let receiver = Receiver { bodies };
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, addr)
    }

    fn events(&self) -> Vec<Value> {
        self.bodies.borrow().clone()
    }

    /// Waits until a received body satisfies `want`; returns it.
    async fn wait_for(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let mut rx = self.bodies.subscribe();
        let found = tokio::time::timeout(T, rx.wait_for(|b| b.iter().any(&want))).await;
        let bodies = self.events();
        assert!(
            found.is_ok(),
            "the receiver got no {what} within {T:?}; it got {bodies:#?}"
        );
        bodies.into_iter().find(|b| want(b)).unwrap()
    }
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

// ---- the binary --------------------------------------------------------------------------------

struct Caucus {
    child: Child,
    http: SocketAddr,
    log: PathBuf,
}

/// A fresh directory holding the data dir, the config file and the logs of one test.
fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caucus-lifecycle-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(dir: &Path, hook: SocketAddr) -> PathBuf {
    let path = dir.join("caucus.toml");
    std::fs::write(
        &path,
        format!(
            "secret = \"{SECRET}\"\n\
             auto_create_rooms = true\n\
             demo_room = \"{ROOM}\"\n\
             webhook_backoff_initial_ms = 50\n\
             webhook_backoff_max_ms = 400\n\
             shutdown_timeout_s = 20\n\
             [[webhooks]]\n\
             url = \"http://{hook}/hook\"\n"
        ),
    )
    .unwrap();
    path
}

impl Caucus {
    /// Start `caucus` on loopback with ephemeral ports; returns once it says where it listens.
    fn spawn(dir: &Path, run: u32) -> Caucus {
        let log = dir.join(format!("caucus-{run}.log"));
        let open_log = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_caucus"))
            .arg("--config")
            .arg(dir.join("caucus.toml"))
            .arg("--data")
            .arg(dir.join("data"))
            .args(["--http", "127.0.0.1:0", "--media", "127.0.0.1:0"])
            .env("CAUCUS_LOG", "info,caucus_server=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(open_log())
            .spawn()
            .unwrap();
        let mut child = child;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut copy = open_log();
        // The logs go to stdout: into the log file, and the address to the test.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(copy, "{line}");
                if let Some(addr) = line.strip_prefix("Caucus is running: http://") {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
            }
        });
        let http = rx
            .recv_timeout(T)
            .unwrap_or_else(|_| panic!("caucus did not start; see {}", log.display()));
        Caucus { child, http, log }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the process to exit (bounded).
    fn wait(mut self) -> ExitStatus {
        let (tx, rx) = std::sync::mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            let _ = tx.send(self.child.wait());
        });
        rx.recv_timeout(T)
            .unwrap_or_else(|_| panic!("caucus did not exit within {T:?}; see {}", log.display()))
            .unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("ws://{}/v1/rtc", self.http)
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = TokenIssuer::new(SECRET)
            .mint_management(Duration::from_secs(600))
            .unwrap();
        let mut request = reqwest::Client::new()
            .request(method, format!("http://{}{path}", self.http))
            .bearer_auth(token);
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

    async fn join(&self, user: &str, role: &str) -> (Client, EventStream) {
        let token = TokenIssuer::new(SECRET)
            .mint_join(&JoinGrant::new(ROOM, user, role), Duration::from_secs(600))
            .unwrap();
        Client::connect(&self.url(), &token, ClientOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{user} could not join: {e}"))
    }
}

impl Drop for Caucus {
    fn drop(&mut self) {
        // A test that failed midway must not leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- media -------------------------------------------------------------------------------------

fn packets_from(client: &Client, peer: PeerId, source: Source) -> u64 {
    client.received_from(peer, source).map_or(0, |s| s.packets)
}

/// Waits for `n` more packets of `peer`'s `source` than have arrived so far.
async fn wait_more(client: &Client, peer: PeerId, source: Source, n: u64) {
    let target = packets_from(client, peer, source) + n;
    client
        .wait_received(peer, source, target, T)
        .await
        .unwrap_or_else(|e| panic!("from {peer} ({source}): {e}"));
}

/// A host who talks (audio and video) and a guest who hears it, with main being recorded;
/// returns them and the recording's id and the guest's audio count when it started.
async fn meeting(server: &Caucus) -> (Client, Client, EventStream, String, u64) {
    let (host, _host_events) = server.join("hana", "host").await;
    let (guest, guest_events) = server.join("gus", "guest").await;
    host.publish_audio().await.unwrap();
    host.publish_video().await.unwrap();
    wait_more(&guest, host.peer_id(), Source::Audio, 10).await;
    let (status, recording) = server
        .api(
            reqwest::Method::POST,
            &format!("/v1/rooms/{ROOM}/recordings"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "{recording}");
    // The tap is in place before the answer: every packet the guest hears from now on is
    // recorded too.
    let from = packets_from(&guest, host.peer_id(), Source::Audio);
    let id = recording["id"].as_str().unwrap().to_owned();
    (host, guest, guest_events, id, from)
}

// ---- files -------------------------------------------------------------------------------------

fn ffprobe_present() -> bool {
    let found = Command::new("ffprobe").arg("-version").output().is_ok();
    if !found {
        eprintln!("SKIPPED the file checks: ffprobe is missing (install Debian's ffmpeg)");
    }
    found
}

/// ffprobe's (codec_type, codec_name, duration in seconds) of one file.
fn probe(path: &Path) -> (String, String, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .arg("format=duration:stream=codec_type,codec_name")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .unwrap();
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
    (
        field("codec_type"),
        field("codec_name"),
        field("duration").parse().unwrap(),
    )
}

/// A finished recording's files: an audio and a video file of the host, each playable, with
/// the duration the API lists. Returns the audio file's entry.
fn check_files(data: &Path, recording: &Value, host: PeerId) -> Value {
    assert_eq!(recording["state"], "finished", "{recording}");
    assert_eq!(recording["end_reason"], "session_ended", "{recording}");
    let files = recording["files"].as_array().unwrap();
    let mut kinds: Vec<&str> = files.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["audio", "video"], "{recording}");
    let dir = data.join(recording["path"].as_str().unwrap());
    for file in files {
        assert_eq!(file["peer_id"], host.to_string(), "{file}");
        let listed_ms = file["duration_ms"].as_u64().unwrap();
        assert!(listed_ms > 0, "{file}");
        if ffprobe_present() {
            let (codec_type, codec_name, seconds) =
                probe(&dir.join(file["name"].as_str().unwrap()));
            assert_eq!(codec_type, file["kind"].as_str().unwrap(), "{file}");
            assert_eq!(codec_name, file["codec"].as_str().unwrap(), "{file}");
            assert!(
                (seconds * 1000.0 - listed_ms as f64).abs() < 100.0,
                "ffprobe says {seconds} s, the API {listed_ms} ms: {file}"
            );
        }
    }
    files.iter().find(|f| f["kind"] == "audio").unwrap().clone()
}

// ---- the tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_sessions_finishes_the_recording_sends_the_webhooks_and_exits_0() {
    let dir = temp_dir("sigterm");
    let (receiver, hook) = Receiver::start().await;
    write_config(&dir, hook);
    let server = Caucus::spawn(&dir, 1);
    let (host, guest, mut guest_events, recording, from) = meeting(&server).await;
    // A good stretch of media, video keyframes included.
    wait_more(&guest, host.peer_id(), Source::Audio, 100).await;
    wait_more(&guest, host.peer_id(), Source::Video, 60).await;
    let heard = packets_from(&guest, host.peer_id(), Source::Audio) - from;

    server.signal("TERM");
    let reason = guest_events
        .wait_server(
            |e| match e {
                ServerEvent::SessionEnded { reason } => Some(reason.clone()),
                _ => None,
            },
            T,
        )
        .await
        .expect("the guest is told the session ended");
    assert_eq!(reason, "the server is shutting down");
    let log = server.log.clone();
    let status = server.wait();
    assert!(
        status.success(),
        "exit status {status}; log: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // Sent before the process exited: nothing to wait for.
    let events = receiver.events();
    let ended = named(&events, "session.ended");
    assert_eq!(ended.len(), 1, "{events:#?}");
    assert_eq!(ended[0]["room"], ROOM);
    assert_eq!(ended[0]["reason"], "the server is shutting down");
    let left: Vec<&str> = named(&events, "peer.left")
        .iter()
        .map(|e| e["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "{events:#?}");
    assert!(left.contains(&"hana") && left.contains(&"gus"), "{left:?}");
    assert_eq!(named(&events, "recording.finished").len(), 1, "{events:#?}");
    drop((host, guest));

    // The next start finds nothing to close out, and lists the finished recording.
    let server = Caucus::spawn(&dir, 2);
    let (status, done) = server
        .api(
            reqwest::Method::GET,
            &format!("/v1/recordings/{recording}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let host_id: PeerId = done["files"][0]["peer_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let audio = check_files(&dir.join("data"), &done, host_id);
    // The trailing seconds are kept: every packet the guest heard while it recorded is in the
    // file, the last cluster's too.
    let frames = audio["frames"].as_u64().unwrap();
    assert!(
        frames >= heard,
        "{frames} frames recorded, {heard} packets heard: {audio}"
    );
    server.signal("TERM");
    // The stop left nothing open for this start to end or close out.
    let log = server.log();
    assert!(log.contains("caucus started"), "{log}");
    assert!(!log.contains("the last run stopped without"), "{log}");
    assert!(server.wait().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_the_next_start_closes_the_recording_out_and_sends_the_missed_webhooks() {
    let dir = temp_dir("sigkill");
    let (receiver, hook) = Receiver::start().await;
    write_config(&dir, hook);
    let server = Caucus::spawn(&dir, 1);
    let (host, guest, _guest_events, recording, _) = meeting(&server).await;
    let host_id = host.peer_id();
    // Over 5 s of audio: the first audio cluster and a few video ones are on disk.
    wait_more(&guest, host_id, Source::Audio, 400).await;
    wait_more(&guest, host_id, Source::Video, 60).await;
    receiver
        .wait_for("peer.joined of the guest", |e| {
            e["event"] == "peer.joined" && e["user_id"] == "gus"
        })
        .await;

    server.signal("KILL");
    let status = server.wait();
    assert!(!status.success(), "{status}");
    drop((host, guest));
    assert!(named(&receiver.events(), "session.ended").is_empty());

    let server = Caucus::spawn(&dir, 2);
    let ended = receiver
        .wait_for("session.ended", |e| e["event"] == "session.ended")
        .await;
    assert_eq!(ended["room"], ROOM);
    assert_eq!(ended["reason"], "restart");
    let events = receiver.events();
    let mut left: Vec<(&str, &str)> = named(&events, "peer.left")
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        [("gus", "restart"), ("hana", "restart")],
        "{events:#?}"
    );

    let (status, done) = server
        .api(
            reqwest::Method::GET,
            &format!("/v1/recordings/{recording}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert!(done["ended_at_ms"].as_u64().is_some(), "{done}");
    check_files(&dir.join("data"), &done, host_id);

    // Closed out once: a clean stop and another start change nothing.
    server.signal("TERM");
    assert!(server.wait().success());
    let server = Caucus::spawn(&dir, 3);
    let (_, again) = server
        .api(
            reqwest::Method::GET,
            &format!("/v1/recordings/{recording}"),
            None,
        )
        .await;
    assert_eq!(again, done);
    assert_eq!(named(&receiver.events(), "session.ended").len(), 1);
    server.signal("TERM");
    assert!(server.wait().success());
}
