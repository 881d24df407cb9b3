//! The real server in-process on port 0, and clients joined to it.
#![allow(dead_code)]

use std::time::Duration;

use caucus_client::{Client, ClientOptions, EventStream};
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
        init_logs();
        let server = Server::start(Config::ephemeral())
            .await
            .expect("the server starts");
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
