//! HTTPS and WSS served by the server itself, over real sockets and real TLS: a private CA and
//! server certificates are made here, written to files as an operator would, and clients
//! trust only that CA. The certificate files are replaced under the running server (a new
//! pair is taken by new connections, a bad one is refused and the old one keeps serving),
//! and what the plain listener guarantees before HTTP — the handshake deadline, the limit per
//! address — holds for the TLS handshake too.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use caucus_server::tls::Reloads;
use caucus_server::{Config, Running};
use futures_util::{SinkExt, StreamExt};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;

use common::{WAIT, raw, start_with};

/// A reload is seen within a poll of the files; this bounds the wait for one.
const RELOAD_WAIT: Duration = Duration::from_secs(30);

/// A private CA that issues server certificates for loopback.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// One issued certificate (PEM) with its key (PEM), and the DER the server should present.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new() -> Ca {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, "Caucus TLS test CA");
        Ca {
            issuer: CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost (and `extra_name`), serial `serial`.
    fn leaf(&self, serial: u64, extra_name: &str) -> Leaf {
        let mut params = CertificateParams::new(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
            extra_name.to_owned(),
        ])
        .unwrap();
        params.serial_number = Some(SerialNumber::from(serial));
        params
            .distinguished_name
            .push(DnType::CommonName, extra_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: pem("CERTIFICATE", cert.der()),
            key_pem: pem("PRIVATE KEY", &key.serialize_der()),
            der: cert.der().clone(),
        }
    }

    /// A client configuration trusting this CA only, offering HTTP/1.1.
    fn client(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsConnector::from(Arc::new(config))
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// The certificate files of one test, removed at the end.
struct Files {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("caucus-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Files {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        }
    }

    /// Replace both files the way a renewal tool does: write aside, then rename over.
    fn install(&self, leaf: &Leaf) {
        for (path, text) in [(&self.key, &leaf.key_pem), (&self.cert, &leaf.cert_pem)] {
            let aside = path.with_extension("new");
            std::fs::write(&aside, text).unwrap();
            std::fs::rename(&aside, path).unwrap();
        }
    }

    fn config(&self) -> Config {
        Config {
            tls_cert: Some(self.cert.clone()),
            tls_key: Some(self.key.clone()),
            ..Config::ephemeral()
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS connection to the server from `from`, verified against the CA for `127.0.0.1`.
async fn connect(ca: &Ca, from: IpAddr, server: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = raw::connect_from(from, server).await;
    let name = ServerName::IpAddress(server.ip().into());
    tokio::time::timeout(WAIT, ca.client().connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("the server's certificate verifies against the CA")
}

/// The certificate the server presented on `stream`.
fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    let (_, connection) = stream.get_ref();
    connection.peer_certificates().expect("a certificate")[0].clone()
}

/// One HTTP/1.1 request on its own connection; the status and the body.
async fn https(
    ca: &Ca,
    server: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let mut stream = connect(ca, raw::loopback(1), server).await;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n");
    if let Some(token) = auth {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut bytes))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// The certificate a new connection gets, after checking it serves `/healthz`.
async fn served_now(ca: &Ca, server: SocketAddr) -> CertificateDer<'static> {
    let stream = connect(ca, raw::loopback(1), server).await;
    let cert = presented(&stream);
    drop(stream);
    let (status, body) = https(ca, server, "GET", "/healthz", None, None).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    cert
}

/// Wait until the reload counts satisfy `done`.
async fn reloads(server: &Running, what: &str, done: impl Fn(&Reloads) -> bool) -> Reloads {
    let mut reloads = server.tls_reloads().expect("TLS is on");
    let seen = tokio::time::timeout(RELOAD_WAIT, reloads.wait_for(|r| done(r)))
        .await
        .unwrap_or_else(|_| panic!("{what}: no reload in time"))
        .expect("the reload task runs");
    *seen
}

type Wss = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

/// A signaling WebSocket over TLS.
async fn wss(ca: &Ca, server: &Running) -> Wss {
    let url = server.signaling_url();
    assert!(url.starts_with("wss://"), "{url}");
    let tls = connect(ca, raw::loopback(1), server.http_addr()).await;
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, tls))
        .await
        .expect("upgrade in time")
        .expect("the WebSocket upgrade over TLS");
    ws
}

/// Send a request and read frames until its reply.
async fn request(ws: &mut Wss, id: u64, mut body: Value) -> Value {
    body["id"] = json!(id);
    ws.send(Message::text(body.to_string())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a frame");
        let Message::Text(text) = frame else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["type"] == "reply" && value["id"] == id {
            return value;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_are_served_with_links_that_say_so() {
    let ca = Ca::new();
    let files = Files::new("serve");
    let leaf = ca.leaf(1, "first.caucus.test");
    files.install(&leaf);
    let server = start_with(files.config()).await;
    let addr = server.http_addr();

    let stream = connect(&ca, raw::loopback(1), addr).await;
    assert_eq!(presented(&stream), leaf.der);
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    drop(stream);
    let (status, body) = https(&ca, addr, "GET", "/healthz", None, None).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // The signaling WebSocket over TLS: a join and a ping.
    let mut ws = wss(&ca, &server).await;
    let token = server.join_token("tls-room", "ana", "host");
    let reply = request(&mut ws, 1, json!({"type": "join", "token": token})).await;
    assert_eq!(reply["ok"], true, "{reply}");
    let reply = request(&mut ws, 2, json!({"type": "ping"})).await;
    assert_eq!(reply["ok"], true, "{reply}");

    // Every link starts with https:// (no public_url is set).
    let base = format!("https://{addr}");
    assert_eq!(server.base_url(), base);
    assert!(
        server
            .join_link(&"tls-room".into(), "t")
            .starts_with(&format!("{base}/rooms/tls-room?token="))
    );
    let management = server
        .tokens()
        .mint_management(Duration::from_secs(600))
        .unwrap();
    let (status, body) = https(
        &ca,
        addr,
        "POST",
        "/v1/rooms",
        Some(&management),
        Some(json!({"id": "standup", "name": "Standup", "template": "breakout"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = https(
        &ca,
        addr,
        "POST",
        "/v1/tokens",
        Some(&management),
        Some(json!({"room": "standup", "user_id": "ana", "role": "host"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{base}/rooms/standup?token=")),
        "{url}"
    );

    drop(ws);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_pair_is_served_to_new_connections_and_a_bad_one_is_refused() {
    let ca = Ca::new();
    let files = Files::new("reload");
    let first = ca.leaf(1, "first.caucus.test");
    files.install(&first);
    let server = start_with(files.config()).await;
    let addr = server.http_addr();
    assert_eq!(served_now(&ca, addr).await, first.der);

    // A joined peer on the first certificate, kept open through the reloads.
    let mut ws = wss(&ca, &server).await;
    let token = server.join_token("renewals", "ana", "host");
    let reply = request(&mut ws, 1, json!({"type": "join", "token": token})).await;
    assert_eq!(reply["ok"], true, "{reply}");

    // Renewed: another serial, another name.
    let second = ca.leaf(2, "second.caucus.test");
    files.install(&second);
    let seen = reloads(&server, "the renewal", |r| r.loaded >= 1).await;
    assert_eq!(
        seen,
        Reloads {
            loaded: 1,
            refused: 0
        }
    );
    assert_eq!(
        served_now(&ca, addr).await,
        second.der,
        "new connections get the new pair"
    );
    let reply = request(&mut ws, 2, json!({"type": "ping"})).await;
    assert_eq!(
        reply["ok"], true,
        "the open connection is untouched: {reply}"
    );

    // A bad replacement: a certificate with a key that is not its own.
    let third = ca.leaf(3, "third.caucus.test");
    std::fs::write(&files.cert, &third.cert_pem).unwrap();
    std::fs::write(&files.key, &first.key_pem).unwrap();
    let seen = reloads(&server, "the bad pair", |r| r.refused >= 1).await;
    assert_eq!(
        seen,
        Reloads {
            loaded: 1,
            refused: 1
        }
    );
    assert_eq!(
        served_now(&ca, addr).await,
        second.der,
        "the old pair keeps serving"
    );

    // Garbage in both files: refused too, still the old pair.
    std::fs::write(&files.cert, "not a certificate\n").unwrap();
    std::fs::write(&files.key, "not a key\n").unwrap();
    server.reload_tls();
    let seen = reloads(&server, "the garbage", |r| r.refused >= 2).await;
    assert_eq!(
        seen,
        Reloads {
            loaded: 1,
            refused: 2
        }
    );
    assert_eq!(served_now(&ca, addr).await, second.der);

    // Fixed: the third pair, asked for at once (what SIGHUP does).
    files.install(&third);
    server.reload_tls();
    reloads(&server, "the fixed pair", |r| r.loaded >= 2).await;
    assert_eq!(served_now(&ca, addr).await, third.der);
    let reply = request(&mut ws, 3, json!({"type": "ping"})).await;
    assert_eq!(reply["ok"], true, "{reply}");

    drop(ws);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_tls_port_is_told_to_use_https() {
    let ca = Ca::new();
    let files = Files::new("plain");
    files.install(&ca.leaf(1, "plain.caucus.test"));
    let server = start_with(files.config()).await;
    let addr = server.http_addr();

    let answer = raw::get_from(raw::loopback(2), addr, "/healthz", &[]).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.code(), "malformed_request", "{answer:?}");
    assert!(answer.body.contains("https://"), "{answer:?}");
    // A plain WebSocket upgrade gets the same.
    let error = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/rtc"))
        .await
        .expect_err("no plain WebSocket on the TLS port");
    assert!(error.to_string().contains("400"), "{error}");

    let (status, _) = https(&ca, addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "the server still serves https");
    server.shutdown().await;
}

/// A handshake that is refused by the client (it does not trust the CA) costs the server
/// nothing and does not stop the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_certificate_does_not_disturb_others() {
    let ca = Ca::new();
    let other = Ca::new();
    let files = Files::new("untrusted");
    files.install(&ca.leaf(1, "trusted.caucus.test"));
    let server = start_with(files.config()).await;
    let addr = server.http_addr();
    let tcp = raw::connect_from(raw::loopback(2), addr).await;
    let name = ServerName::IpAddress(addr.ip().into());
    let error = other
        .client()
        .connect(name, tcp)
        .await
        .expect_err("another CA's client refuses the certificate");
    assert!(
        error.to_string().contains("invalid peer certificate"),
        "{error}"
    );
    let (status, _) = https(&ca, addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

/// What the plain listener guarantees before HTTP holds for the TLS handshake: a socket that
/// never sends its ClientHello, one that stops halfway through it, and one that finishes the
/// handshake but never sends a request are each closed at the handshake deadline; an address
/// past its share of connections is closed at once; others get in all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_handshake_is_admitted_and_bounded_like_a_request_head() {
    let ca = Ca::new();
    let files = Files::new("deadline");
    files.install(&ca.leaf(1, "deadline.caucus.test"));
    let server = start_with(Config {
        handshake_timeout_s: 1,
        max_connections_per_ip: 3,
        ..files.config()
    })
    .await;
    let addr = server.http_addr();
    let attacker = raw::loopback(2);

    let mut silent = raw::connect_from(attacker, addr).await;
    let mut half = raw::connect_from(attacker, addr).await;
    // A TLS record header announcing a 512-byte ClientHello, and only its first bytes.
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .unwrap();
    let mut idle = connect(&ca, attacker, addr).await;

    // The address holds its three: a fourth is closed without a handshake.
    let mut excess = raw::connect_from(attacker, addr).await;
    let answer = raw::read_answer(&mut excess).await;
    assert_eq!(answer.status, 0, "closed without an answer: {answer:?}");
    assert!(answer.head.is_empty(), "{answer:?}");
    // While they are held, another address is served.
    let (status, _) = https(&ca, addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200);

    for stream in [&mut silent, &mut half] {
        let answer = raw::read_answer(stream).await;
        assert_eq!(answer.status, 0, "closed at the deadline: {answer:?}");
    }
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, idle.read_to_end(&mut rest))
        .await
        .expect("the idle TLS connection is closed at the deadline");
    assert!(
        read.is_err() || rest.is_empty(),
        "closed without an answer: {read:?} {rest:?}"
    );

    // Their places are given back: the address gets in again.
    let stream = connect(&ca, attacker, addr).await;
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn a_start_with_a_missing_or_bad_file_fails_naming_the_setting() {
    let ca = Ca::new();
    let files = Files::new("start");
    let error = caucus_server::Server::start(files.config())
        .await
        .expect_err("no certificate file");
    let text = error.to_string();
    assert!(
        text.contains("tls_cert") && text.contains("cert.pem"),
        "{text}"
    );

    let leaf = ca.leaf(1, "start.caucus.test");
    std::fs::write(&files.cert, &leaf.cert_pem).unwrap();
    std::fs::write(
        &files.key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let error = caucus_server::Server::start(files.config())
        .await
        .expect_err("a key that is not one");
    assert!(error.to_string().contains("tls_key"), "{error}");

    let other = ca.leaf(2, "other.caucus.test");
    std::fs::write(&files.key, &other.key_pem).unwrap();
    let error = caucus_server::Server::start(files.config())
        .await
        .expect_err("another certificate's key");
    assert!(error.to_string().contains("is not the key of"), "{error}");
    assert!(Path::new(&files.cert).exists());
}

/// The `caucus` binary, killed if a test fails midway.
struct Binary(std::process::Child);

impl Binary {
    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.0.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines the binary prints (its logs among them), until one satisfies `want`.
async fn line_until(
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    what: &str,
    want: impl Fn(&str) -> bool,
) -> String {
    loop {
        let line = tokio::time::timeout(RELOAD_WAIT, lines.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: not printed in time"))
            .unwrap_or_else(|| panic!("{what}: the binary ended first"));
        if want(&line) {
            return line;
        }
    }
}

/// `caucus serve --tls-cert … --tls-key …`: every printed link says https:// or wss://, and
/// SIGHUP reads the files at once (without its handler the signal would end the process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_https_links_and_reloads_on_sighup() {
    let ca = Ca::new();
    let files = Files::new("binary");
    let first = ca.leaf(1, "first.caucus.test");
    files.install(&first);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_caucus"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--media",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(files.dir.join("data"))
        .arg("--tls-cert")
        .arg(&files.cert)
        .arg("--tls-key")
        .arg(&files.key)
        .env("CAUCUS_LOG", "info")
        .env_remove("CAUCUS_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut binary = Binary(child);
    let stdout = binary.0.stdout.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let running = line_until(&mut lines, "the start", |l| {
        l.starts_with("Caucus is running: ")
    })
    .await;
    let base = running["Caucus is running: ".len()..].to_owned();
    let addr: SocketAddr = base
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("the base URL is https: {running}"))
        .parse()
        .unwrap();
    let signaling = line_until(&mut lines, "the signaling URL", |l| {
        l.trim_start().starts_with("signaling")
    })
    .await;
    assert!(
        signaling.ends_with(&format!(" wss://{addr}/v1/rtc")),
        "{signaling}"
    );
    let host_link = line_until(&mut lines, "the host's join link", |l| {
        l.trim_start().starts_with("host ")
    })
    .await;
    assert!(
        host_link.contains(&format!(" {base}/rooms/demo?token=")),
        "{host_link}"
    );
    line_until(&mut lines, "the REST line", |l| l.starts_with("REST API: ")).await;
    assert_eq!(served_now(&ca, addr).await, first.der);

    let second = ca.leaf(2, "second.caucus.test");
    files.install(&second);
    binary.signal("HUP");
    line_until(&mut lines, "the SIGHUP", |l| l.contains("SIGHUP")).await;
    line_until(&mut lines, "the reload", |l| {
        l.contains("TLS certificate reloaded")
    })
    .await;
    assert_eq!(served_now(&ca, addr).await, second.der);

    binary.signal("TERM");
    let status = tokio::task::spawn_blocking(move || {
        let status = binary.0.wait();
        (binary, status)
    });
    let (_binary, status) = tokio::time::timeout(RELOAD_WAIT, status)
        .await
        .expect("the binary stops in time")
        .unwrap();
    assert!(status.unwrap().success());
}
