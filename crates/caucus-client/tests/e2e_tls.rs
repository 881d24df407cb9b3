//! The SDK over `wss://` (and `https://`) to the server's own TLS listener: a private CA made
//! here issues the server's certificate; clients trusting that CA join, publish and receive;
//! a client that does not trust it gets a WebSocket error naming the certificate.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use caucus_client::{Client, ClientError, ClientOptions};
use caucus_proto::Source;
use caucus_server::Config;
use common::{World, wait_more};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A CA (its DER) and a server certificate for 127.0.0.1 written to `dir` (cert, key).
fn certificates(dir: &PathBuf) -> (Vec<u8>, PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = params.signed_by(&key, &issuer).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, pem("CERTIFICATE", leaf.der())).unwrap();
    std::fs::write(&key_path, pem("PRIVATE KEY", &key.serialize_der())).unwrap();
    (issuer.der().to_vec(), cert_path, key_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_join_publish_and_receive_over_wss_trusting_a_private_ca() {
    let dir = std::env::temp_dir().join(format!("caucus-client-tls-{}", std::process::id()));
    let (ca, cert, key) = certificates(&dir);
    let config = Config {
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..Config::ephemeral()
    };
    let world = World::start_with("tls", config).await;
    let url = world.server.signaling_url();
    assert!(url.starts_with("wss://"), "{url}");
    let trusting = ClientOptions {
        tls_roots: vec![ca],
        ..ClientOptions::default()
    };

    // Not trusted: refused during the TLS handshake, as an error value.
    let token = world.server.join_token(&world.room, "eve", "guest");
    let refused = Client::connect(&url, &token, ClientOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ClientError::WebSocket(m) if m.contains("certificate")),
        "{refused:?}"
    );

    let host_token = world.server.join_token(&world.room, "hana", "host");
    let (host, _he) = Client::connect(&url, &host_token, trusting.clone())
        .await
        .unwrap();
    // The same server through its https:// form.
    let https = url.replacen("wss://", "https://", 1);
    let guest_token = world.server.join_token(&world.room, "gus", "guest");
    let (guest, _ge) = Client::connect(&https, &guest_token, trusting)
        .await
        .unwrap();
    host.publish_audio().await.unwrap();
    wait_more(&guest, host.peer_id(), Source::Audio, 10).await;
    assert!(guest.ping().await.is_ok());
    host.close();
    guest.close();
    world.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
