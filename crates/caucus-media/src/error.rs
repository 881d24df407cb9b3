//! Errors returned by the engine's command methods.

use crate::ids::PeerKey;

/// A command the engine could not carry out. Network input never produces one: bad
/// datagrams are dropped and counted instead.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// `add_peer` with a key that is already in use.
    #[error("{0} already exists")]
    PeerExists(PeerKey),
    /// A command named a peer the engine does not know (never added, or already gone).
    #[error("{0} is unknown")]
    UnknownPeer(PeerKey),
    /// The SDP text did not parse.
    #[error("invalid SDP: {0}")]
    InvalidSdp(String),
    /// str0m refused the offer or answer (wrong m-lines, missing fingerprint, ...).
    #[error("SDP negotiation failed: {0}")]
    Negotiation(String),
    /// `handle_answer` while the engine has no offer outstanding for that peer.
    #[error("no offer is outstanding for {0}")]
    NoPendingOffer(PeerKey),
}
