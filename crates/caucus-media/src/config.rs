//! Engine configuration.

use std::net::SocketAddr;
use std::time::Duration;

use crate::transport::LocalCandidate;

/// How an [`Engine`](crate::Engine) is set up. Fixed for the engine's lifetime.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The addresses clients are told: every answer carries each as a host candidate, in
    /// this order, and traffic is accepted for any of them. At least one.
    ///
    /// Behind a 1:1 NAT these are the public addresses (`--advertise`) as well as, or
    /// instead of, the bound ones.
    pub candidates: Vec<LocalCandidate>,
    /// At most one keyframe request per publisher track is forwarded in this window; the
    /// rest are dropped (and counted). PLI storms from many subscribers cost one keyframe.
    pub keyframe_request_interval: Duration,
    /// If set, [`EngineEvent::Stats`](crate::EngineEvent::Stats) is emitted this often.
    pub stats_interval: Option<Duration>,
    /// At most this many audio tracks are forwarded to one subscriber (its audio slots are
    /// bounded by this, or by the receive-slot pool it offered if that is larger). A
    /// desired set with more keeps the first ones *in the order given* — the shell orders
    /// by priority — and counts the rest ([`Counters::subscriptions_over_limit`]).
    ///
    /// [`Counters::subscriptions_over_limit`]: crate::Counters::subscriptions_over_limit
    pub max_audio_slots: usize,
    /// The same bound for video (camera and screen share).
    pub max_video_slots: usize,
    /// Send-side bandwidth estimation (TWCC) towards every peer, starting from this many
    /// bits per second; `None` turns it off. The estimate caps the simulcast layers a
    /// subscriber gets (on top of [`Engine::set_max_layer`](crate::Engine::set_max_layer)).
    pub bandwidth_estimation: Option<u64>,
    /// A simulcast layer with no packet for this long counts as stopped: its subscribers
    /// fall back to the best layer still arriving.
    pub layer_timeout: Duration,
}

impl EngineConfig {
    /// Defaults for everything but the addresses, with one UDP candidate.
    pub fn new(advertised: SocketAddr) -> Self {
        Self::with_candidates(vec![LocalCandidate::udp(advertised)])
    }

    /// Defaults for everything but the addresses.
    pub fn with_candidates(candidates: Vec<LocalCandidate>) -> Self {
        EngineConfig {
            candidates,
            keyframe_request_interval: Duration::from_millis(500),
            stats_interval: None,
            max_audio_slots: 16,
            max_video_slots: 16,
            bandwidth_estimation: None,
            layer_timeout: Duration::from_millis(1_500),
        }
    }
}
