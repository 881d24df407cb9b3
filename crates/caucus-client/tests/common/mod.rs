//! The real server in-process on port 0, and clients joined to it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use caucus_client::{Client, ClientOptions, EventStream};
use caucus_proto::event::TrackEndReason;
use caucus_proto::{Location, PeerId, ServerEvent, Source, TrackId};
use caucus_server::{Config, Running, Server};

/// How long any one awaited thing may take. Generous: a debug build on two cores.
pub const T: Duration = Duration::from_secs(10);

/// One second of audio (20 ms packets).
pub const AUDIO_SECOND: u64 = 50;

pub struct World {
    pub server: Running,
    pub room: String,
}

impl World {
    pub async fn start(room: &str) -> World {
        World::start_with(room, Config::ephemeral()).await
    }

    pub async fn start_with(room: &str, config: Config) -> World {
        init_logs();
        let server = Server::start(config).await.expect("the server starts");
        World {
            server,
            room: room.to_owned(),
        }
    }

    /// Joins `user` as `role` with default options.
    pub async fn join(&self, user: &str, role: &str) -> (Client, EventStream) {
        self.join_with(user, role, ClientOptions::default()).await
    }

    pub async fn join_with(
        &self,
        user: &str,
        role: &str,
        options: ClientOptions,
    ) -> (Client, EventStream) {
        let token = self.server.join_token(&self.room, user, role);
        Client::connect(&self.server.signaling_url(), &token, options)
            .await
            .unwrap_or_else(|e| panic!("{user} ({role}) could not join: {e}"))
    }

    /// A management REST call that must succeed (2xx).
    pub async fn rest(&self, method: reqwest::Method, path: &str, body: serde_json::Value) {
        let token = self
            .server
            .tokens()
            .mint_management(Duration::from_secs(600))
            .expect("a management token");
        let response = reqwest::Client::new()
            .request(method, format!("http://{}{path}", self.server.http_addr()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("the API answers");
        let status = response.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

// ── helpers shared by the scenario tests ─────────────────────────────────────────────────────

/// Waits until this client is told it now acts as `role` (its `role_changed` event).
pub async fn wait_acting_as(events: &mut EventStream, role: &str) {
    events
        .wait_server(
            |e| match e {
                ServerEvent::RoleChanged { acting_role, .. } => {
                    (acting_role.as_str() == role).then_some(())
                }
                _ => None,
            },
            T,
        )
        .await
        .unwrap_or_else(|e| panic!("no role_changed to `{role}`: {e}"));
}

/// Waits until `peer` is announced as moved to `to`; returns where it came from.
pub async fn wait_moved(events: &mut EventStream, peer: PeerId, to: Location) -> Location {
    events
        .wait_server(
            |e| match e {
                ServerEvent::PeersMoved { moves } => moves
                    .iter()
                    .find(|g| g.to == to && g.peers.contains(&peer))
                    .map(|g| g.from),
                _ => None,
            },
            T,
        )
        .await
        .unwrap_or_else(|e| panic!("no peers_moved of {peer} to {to}: {e}"))
}

/// Waits until `peer`'s track `track` is announced as ended, and returns why.
pub async fn wait_track_ended(
    events: &mut EventStream,
    peer: PeerId,
    track: TrackId,
) -> TrackEndReason {
    events
        .wait_server(
            |e| match e {
                ServerEvent::TrackUnpublished {
                    peer_id,
                    track_id,
                    reason,
                } if *peer_id == peer && *track_id == track => Some(*reason),
                _ => None,
            },
            T,
        )
        .await
        .unwrap_or_else(|e| panic!("no track_unpublished of {peer}'s {track}: {e}"))
}

/// Publishes audio and video; returns the two track ids.
pub async fn talk(client: &Client) -> (TrackId, TrackId) {
    let audio = client
        .publish_audio()
        .await
        .unwrap_or_else(|e| panic!("{} publishes audio: {e}", client.peer_id()));
    let video = client
        .publish_video()
        .await
        .unwrap_or_else(|e| panic!("{} publishes video: {e}", client.peer_id()));
    (audio, video)
}

/// Every publisher this client has received anything from (since the start or the last reset).
pub fn senders(client: &Client) -> BTreeSet<PeerId> {
    client.received().keys().map(|(peer, _)| *peer).collect()
}

/// Packets received from (`peer`, `source`) so far; 0 if none.
pub fn packets_from(client: &Client, peer: PeerId, source: Source) -> u64 {
    client.received_from(peer, source).map_or(0, |s| s.packets)
}

/// Waits for `n` more packets of `peer`'s `source` than have arrived so far: a window of live
/// traffic that gives anything unwanted the time to show up, without sleeping.
pub async fn wait_more(client: &Client, peer: PeerId, source: Source, n: u64) {
    let target = packets_from(client, peer, source) + n;
    client
        .wait_received(peer, source, target, T)
        .await
        .unwrap_or_else(|e| panic!("{} from {peer} ({source}): {e}", client.peer_id()));
}
