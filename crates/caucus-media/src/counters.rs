//! Counters about everything the engine dropped or moved (totals, and one current count).

/// Totals since the engine started. Cheap to copy; read them with
/// [`Engine::counters`](crate::Engine::counters) or from
/// [`EngineEvent::Stats`](crate::EngineEvent::Stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams handed to `handle_receive`.
    pub datagrams_in: u64,
    /// Bytes handed to `handle_receive`.
    pub bytes_in: u64,
    /// Datagrams emitted as `Transmit`.
    pub datagrams_out: u64,
    /// Bytes emitted as `Transmit`.
    pub bytes_out: u64,
    /// Datagrams that are not STUN, DTLS, RTP or RTCP.
    pub dropped_garbage: u64,
    /// Well-formed datagrams from an address (or with an ICE ufrag) no peer owns.
    pub dropped_unknown_source: u64,
    /// Datagrams a peer's `Rtc` rejected; the peer lives on.
    pub dropped_rejected: u64,
    /// RTP packets received from publishers.
    pub rtp_in: u64,
    /// RTP packets written towards subscribers (one per subscriber).
    pub rtp_forwarded: u64,
    /// RTP packets handed out to recordings (one per recording).
    pub rtp_recorded: u64,
    /// RTP packets that had no subscriber, or whose track is paused.
    pub rtp_unrouted: u64,
    /// Packets that could not be forwarded (no matching codec, no send stream).
    pub forwarding_errors: u64,
    /// Keyframe requests sent to publishers.
    pub keyframe_requests_sent: u64,
    /// Keyframe requests swallowed by the per-track throttle.
    pub keyframe_requests_throttled: u64,
    /// Peers dropped because their `Rtc` failed.
    pub peers_failed: u64,
    /// Desired tracks left out because a subscriber's slot bound was reached (summed over
    /// `set_subscriptions` calls).
    pub subscriptions_over_limit: u64,
    /// Simulcast layer switches made at a keyframe of the new layer.
    pub layer_switches: u64,
    /// Subscribers whose bandwidth estimate holds at least one simulcast track below the
    /// layer they would otherwise get. A current count, not a total.
    pub subscribers_bandwidth_limited: u64,
}
