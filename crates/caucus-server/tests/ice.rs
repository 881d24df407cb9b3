//! The ICE servers of the `joined` event: the configured STUN servers, and TURN with a
//! credential minted for the joining user at that join (TURN REST, coturn's
//! `use-auth-secret`); a TURN secret that cannot work stops the start.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use caucus_proto::IceServer;
use caucus_server::ice::turn_credential;
use caucus_server::{Config, Server, StartError};
use common::{Client, start_with};
use serde_json::{Value, json};

const TURN_SECRET: &str = "shared-with-the-turn-server-0123";
const TTL_S: u64 = 7_200;

fn unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn with_turn() -> Config {
    Config {
        ice_servers: vec![IceServer {
            urls: vec!["stun:stun.example.org:3478".into()],
            username: None,
            credential: None,
        }],
        turn_urls: vec![
            "turn:turn.example.org:3478?transport=udp".into(),
            "turn:turn.example.org:3478?transport=tcp".into(),
            "turns:turn.example.org:443?transport=tcp".into(),
        ],
        turn_secret: Some(TURN_SECRET.into()),
        turn_ttl_s: TTL_S,
        ..Config::ephemeral()
    }
}

/// Join as `user` on a fresh connection; the `joined` event's `ice_servers`.
async fn joined_ice(server: &caucus_server::Running, user: &str) -> (Client, Vec<IceServer>) {
    let mut client = Client::connect(server).await;
    let token = server.join_token("r1", user, "host");
    let reply = client
        .request(json!({"type": "join", "token": token}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let joined = client.event("joined").await;
    let servers: Vec<IceServer> =
        serde_json::from_value(joined["event"]["ice_servers"].clone()).unwrap();
    (client, servers)
}

/// The TURN entry's expiry, after checking its username names `user` and its credential is
/// the HMAC of that username under the shared secret.
fn turn_expiry(servers: &[IceServer], user: &str) -> u64 {
    let turn = &servers[1];
    let username = turn.username.as_deref().unwrap();
    let (expiry, named) = username.split_once(':').unwrap();
    assert_eq!(named, user);
    assert_eq!(
        turn.credential.as_deref(),
        Some(turn_credential(TURN_SECRET.as_bytes(), username).as_str())
    );
    expiry.parse().unwrap()
}

#[tokio::test]
async fn every_join_is_told_stun_and_turn_with_its_own_credential() {
    let server = start_with(with_turn()).await;
    let before = unix_s();
    let (ana, servers) = joined_ice(&server, "ana").await;
    let after = unix_s();
    assert_eq!(servers.len(), 2, "{servers:?}");
    assert_eq!(servers[0].urls, ["stun:stun.example.org:3478"]);
    assert_eq!(servers[0].username, None);
    assert_eq!(servers[1].urls, with_turn().turn_urls);
    let expiry = turn_expiry(&servers, "ana");
    assert!(
        (before + TTL_S..=after + TTL_S).contains(&expiry),
        "{expiry} is not the join time plus {TTL_S} s"
    );

    // Another user's credential names that user; a resume is a join and gets a fresh one.
    let (_bob, servers) = joined_ice(&server, "bob").await;
    turn_expiry(&servers, "bob");
    ana.drop_connection();
    let (mut ana, servers) = joined_ice(&server, "ana").await;
    turn_expiry(&servers, "ana");
    // Only `joined` carries them: the next events are as they always were.
    let pong = ana.request(json!({"type": "ping"})).await;
    assert_eq!(pong["ok"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn without_configuration_the_list_is_empty() {
    let server = start_with(Config::ephemeral()).await;
    let mut client = Client::connect(&server).await;
    let token = server.join_token("r1", "ana", "host");
    client
        .request(json!({"type": "join", "token": token}))
        .await;
    let joined = client.event("joined").await;
    assert_eq!(joined["event"]["ice_servers"], Value::Array(Vec::new()));
    server.shutdown().await;
}

#[tokio::test]
async fn the_secret_may_come_from_a_file_and_a_bad_one_stops_the_start() {
    let dir = std::env::temp_dir().join(format!("caucus-ice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("turn-secret");
    std::fs::write(&file, format!("{TURN_SECRET}\n")).unwrap();
    let from_file = |path: &std::path::Path| Config {
        turn_secret: None,
        turn_secret_file: Some(path.to_owned()),
        ..with_turn()
    };
    let server = start_with(from_file(&file)).await;
    let (_ana, servers) = joined_ice(&server, "ana").await;
    turn_expiry(&servers, "ana");
    server.shutdown().await;

    let refused = |config: Config| async move {
        match Server::start(config).await {
            Err(e @ StartError::TurnSecret { .. }) => e.to_string(),
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("started with a TURN secret that cannot work"),
        }
    };
    let missing = refused(from_file(&dir.join("absent"))).await;
    assert!(missing.starts_with("turn_secret_file"), "{missing}");
    std::fs::write(&file, "short\n").unwrap();
    let short = refused(from_file(&file)).await;
    assert!(short.contains("16 bytes"), "{short}");
    let token_secret = Config::ephemeral().secret.unwrap();
    std::fs::write(&file, &token_secret).unwrap();
    let shared = refused(Config {
        secret: Some(token_secret),
        ..from_file(&file)
    })
    .await;
    assert!(shared.contains("token secret"), "{shared}");
    std::fs::remove_dir_all(&dir).unwrap();
}
