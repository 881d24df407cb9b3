//! Engine configuration.

use std::net::SocketAddr;
use std::time::Duration;

/// How an [`Engine`](crate::Engine) is set up. Fixed for the engine's lifetime.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The UDP address clients are told (the single host candidate in every answer).
    ///
    /// Behind NAT this is the public address (`--advertise`), not the bound one.
    pub advertised: SocketAddr,
    /// At most one keyframe request per publisher track is forwarded in this window; the
    /// rest are dropped (and counted). PLI storms from many subscribers cost one keyframe.
    pub keyframe_request_interval: Duration,
    /// If set, [`EngineEvent::Stats`](crate::EngineEvent::Stats) is emitted this often.
    pub stats_interval: Option<Duration>,
}

impl EngineConfig {
    /// Defaults for everything but the advertised address.
    pub fn new(advertised: SocketAddr) -> Self {
        EngineConfig {
            advertised,
            keyframe_request_interval: Duration::from_millis(500),
            stats_interval: None,
        }
    }
}
