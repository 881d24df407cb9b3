//! The client exposes the STUN and TURN servers of its `joined` event: the TURN credential is
//! minted for its user at each join, so a reconnect brings a fresh one.

#![allow(clippy::unwrap_used)]

mod common;

use caucus_client::ClientOptions;
use caucus_proto::IceServer;
use caucus_server::Config;
use common::World;

#[tokio::test]
async fn the_servers_of_joined_are_exposed_and_renewed_by_a_reconnect() {
    let stun = IceServer {
        urls: vec!["stun:stun.example.org:3478".into()],
        username: None,
        credential: None,
    };
    let config = Config {
        ice_servers: vec![stun.clone()],
        turn_urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
        turn_secret: Some("shared-with-the-turn-server-0123".into()),
        ..Config::ephemeral()
    };
    let world = World::start_with("ice", config).await;
    let options = ClientOptions {
        media: false,
        ..ClientOptions::default()
    };
    let (mut ana, _events) = world.join_with("ana", "host", options).await;
    let servers = ana.ice_servers().to_vec();
    assert_eq!(servers.len(), 2, "{servers:?}");
    assert_eq!(servers[0], stun);
    assert_eq!(
        servers[1].urls,
        ["turn:turn.example.org:3478?transport=udp"]
    );
    let username = servers[1].username.clone().unwrap();
    assert!(username.ends_with(":ana"), "{username}");
    assert!(servers[1].credential.is_some());

    ana.reconnect().await.unwrap();
    assert!(ana.resumed());
    assert_eq!(ana.ice_servers().len(), 2);
    assert_eq!(ana.ice_servers()[1].urls, servers[1].urls);

    let plain = World::start("plain").await;
    let (bob, _events) = plain.join("bob", "host").await;
    assert_eq!(bob.ice_servers(), []);
}
