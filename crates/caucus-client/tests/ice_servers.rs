//! The client exposes the STUN and TURN servers of its `joined` event: the TURN credential is
//! minted for its user at each join, and a reconnect reads the new connection's.

#![allow(clippy::unwrap_used)]

mod common;

use caucus_client::{ClientEvent, ClientOptions, EventStream};
use caucus_proto::{IceServer, ServerEvent};
use caucus_server::Config;
use common::{T, World};

async fn wait_joined(events: &mut EventStream) {
    events
        .wait_for(
            |e| matches!(e, ClientEvent::Server(ServerEvent::Joined { .. })),
            T,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_servers_of_joined_are_exposed_and_read_again_after_a_reconnect() {
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
    let (mut ana, mut events) = world.join_with("ana", "host", options).await;
    wait_joined(&mut events).await;
    let servers = ana.ice_servers();
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
    wait_joined(&mut events).await;
    assert_eq!(ana.ice_servers().len(), 2);

    let plain = World::start("plain").await;
    let (bob, mut events) = plain.join("bob", "host").await;
    wait_joined(&mut events).await;
    assert_eq!(bob.ice_servers(), []);
}
