//! Webhooks to an https receiver over real sockets: a private CA and a receiver certificate are
//! made here, the receiver is a TLS server on loopback, and the server is configured as an
//! operator would (a TOML file, `webhook_ca_file`, no endpoint secret). The operator's
//! `caucus webhooks` prints the generated key; every delivery verifies under it as Standard
//! Webhooks defines (`{id}.{timestamp}.{body}`), the timestamp is inside the replay window, and
//! the token secret verifies nothing. Without the CA file the receiver's certificate is
//! refused.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use caucus_server::{Config, Overrides, Server};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use common::{Client, WAIT};

/// A receiver rejects deliveries whose timestamp is further than this from its clock.
const REPLAY_WINDOW_S: u64 = 5 * 60;
const TOKEN_SECRET: &str = "the-token-secret-0123456789abcdef";

/// A private CA and a certificate it issued for the receiver (127.0.0.1 and localhost).
struct Pki {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "Caucus test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let mut leaf =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "webhook receiver");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf.signed_by(&leaf_key, &ca).unwrap();

    Pki {
        ca_pem: pem("CERTIFICATE", ca.der()),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
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

#[derive(Debug)]
struct Delivery {
    headers: HeaderMap,
    body: Bytes,
}

/// An axum listener that does the TLS handshake and reports each one's outcome.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: mpsc::UnboundedSender<Result<(), String>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => {
                    let _ = self.handshakes.send(Ok(()));
                    return (tls, addr);
                }
                Err(e) => {
                    let _ = self.handshakes.send(Err(e.to_string()));
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

struct Receiver {
    addr: SocketAddr,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    handshakes: mpsc::UnboundedReceiver<Result<(), String>>,
    task: tokio::task::JoinHandle<()>,
}

async fn hook(
    State(deliveries): State<mpsc::UnboundedSender<Delivery>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let _ = deliveries.send(Delivery { headers, body });
    StatusCode::NO_CONTENT
}

/// An https receiver on loopback presenting `pki`'s certificate.
async fn receiver(pki: &Pki) -> Receiver {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
        .unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (handshakes_tx, handshakes) = mpsc::unbounded_channel();
    let (deliveries_tx, deliveries) = mpsc::unbounded_channel();
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
        handshakes: handshakes_tx,
    };
    let app = Router::new()
        .route("/hooks/caucus", post(hook))
        .with_state(deliveries_tx);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        addr,
        deliveries,
        handshakes,
        task,
    }
}

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caucus-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a receiver does with a delivery: the signature under `key`, computed here from the
/// headers and the raw body.
fn expected_signature(key: &[u8], headers: &HeaderMap, body: &[u8]) -> String {
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap();
    let signed = [
        header("webhook-id").as_bytes(),
        b".",
        header("webhook-timestamp").as_bytes(),
        b".",
        body,
    ]
    .concat();
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &signed);
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

fn unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `caucus webhooks --config <file>`: the operator's view of the endpoints' keys.
fn printed_keys(config_file: &Path) -> Vec<(String, String)> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_caucus"))
        .args(["webhooks", "--config"])
        .arg(config_file)
        .env_remove("CAUCUS_DATA")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "caucus webhooks failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (url, key) = line.split_once(' ').unwrap();
            (url.to_owned(), key.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_receiver_behind_a_private_ca_gets_signed_timestamped_events() {
    let pki = pki();
    let mut receiver = receiver(&pki).await;
    let data = data_dir("webhooks-tls");
    let ca_file = data.join("hooks-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let url = format!("https://{}/hooks/caucus", receiver.addr);
    let config_file = data.join("caucus.toml");
    std::fs::write(
        &config_file,
        format!(
            r#"http = "127.0.0.1:0"
media = "127.0.0.1:0"
data = {data:?}
secret = "{TOKEN_SECRET}"
auto_create_rooms = true
webhook_ca_file = {ca_file:?}
webhook_backoff_initial_ms = 50
webhook_backoff_max_ms = 400

[[webhooks]]
url = "{url}"
"#
        ),
    )
    .unwrap();

    // The operator asks for the endpoint's key (generated now) to give to the receiver.
    let printed = printed_keys(&config_file);
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert_eq!(printed[0].0, url);
    let key_text = printed[0].1.clone();
    let key = STANDARD
        .decode(key_text.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);
    assert_ne!(
        key,
        TOKEN_SECRET.as_bytes(),
        "the key is not the token secret"
    );
    assert!(!key_text.contains(TOKEN_SECRET));
    assert_eq!(printed_keys(&config_file), printed, "the key is kept");

    let config = Config::load(Some(&config_file), &Overrides::default()).unwrap();
    let server = Server::start(config).await.unwrap();
    let _ana = Client::join(&server, "workshop", "ana", "host").await;

    let mut seen = Vec::new();
    while !(seen.contains(&"session.started".to_owned())
        && seen.contains(&"peer.joined".to_owned()))
    {
        let delivery = tokio::time::timeout(WAIT, receiver.deliveries.recv())
            .await
            .expect("a delivery reaches the https receiver")
            .unwrap();
        let header = |name: &str| delivery.headers.get(name).unwrap().to_str().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();

        // The receiver's checks, in its order: signature, timestamp, then the id to dedupe by.
        assert_eq!(
            header("webhook-signature"),
            expected_signature(&key, &delivery.headers, &delivery.body),
            "signed with the printed key over id, timestamp and body"
        );
        assert_ne!(
            header("webhook-signature"),
            expected_signature(TOKEN_SECRET.as_bytes(), &delivery.headers, &delivery.body),
            "the token secret signs nothing"
        );
        let timestamp: u64 = header("webhook-timestamp").parse().unwrap();
        assert!(
            timestamp.abs_diff(unix_s()) <= REPLAY_WINDOW_S,
            "the timestamp {timestamp} is inside the replay window"
        );
        assert!(
            timestamp >= body["created_at_ms"].as_u64().unwrap() / 1000,
            "the timestamp is the attempt's, not before the event"
        );
        assert_eq!(header("webhook-id"), body["id"]);
        assert_eq!(header("x-caucus-event-id"), body["id"]);
        assert_eq!(header("x-caucus-event"), body["event"]);
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(body["room"], "workshop");
        seen.push(body["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        receiver.handshakes.recv().await,
        Some(Ok(())),
        "the receiver's certificate was verified against the CA file"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let keys = std::fs::read_dir(data.join("webhook-keys"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect::<Vec<_>>();
        assert_eq!(keys.len(), 1);
        let mode = std::fs::metadata(&keys[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    }

    server.shutdown().await;
    receiver.task.abort();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_file_the_receivers_certificate_is_refused() {
    let pki = pki();
    let mut receiver = receiver(&pki).await;
    let config = Config {
        webhooks: vec![caucus_server::webhooks::WebhookEndpoint {
            url: format!("https://{}/hooks/caucus", receiver.addr),
            secret: None,
            events: Vec::new(),
        }],
        webhook_backoff_initial_ms: 50,
        webhook_backoff_max_ms: 400,
        ..Config::ephemeral()
    };
    let server = Server::start(config).await.unwrap();
    let _ana = Client::join(&server, "workshop", "ana", "host").await;

    let handshake = tokio::time::timeout(WAIT, receiver.handshakes.recv())
        .await
        .expect("the server tries the receiver")
        .unwrap();
    let error = handshake.expect_err("a certificate from an unknown CA is refused");
    assert!(
        error.contains("UnknownCA") || error.contains("BadCertificate"),
        "the client refused the chain: {error}"
    );
    assert!(
        receiver.deliveries.try_recv().is_err(),
        "nothing was delivered over an unverified connection"
    );

    server.shutdown().await;
    receiver.task.abort();
}

#[tokio::test]
async fn a_start_with_an_unreadable_ca_file_fails_naming_it() {
    let data = data_dir("webhooks-ca-missing");
    let missing = data.join("no-such-ca.pem");
    let config = Config {
        webhook_ca_file: Some(missing),
        webhooks: vec![caucus_server::webhooks::WebhookEndpoint {
            url: "https://127.0.0.1:9/hook".into(),
            secret: None,
            events: Vec::new(),
        }],
        ..Config::ephemeral()
    };
    let error = Server::start(config).await.expect_err("the start fails");
    assert!(error.to_string().contains("no-such-ca.pem"), "{error}");
    let _ = std::fs::remove_dir_all(&data);
}
