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
    /// The SDP text did not parse. The text says where, as a byte offset into the SDP.
    #[error("invalid SDP: {0}")]
    InvalidSdp(String),
    /// str0m refused the offer or answer (wrong m-lines, missing fingerprint, ...).
    #[error("SDP negotiation failed: {0}")]
    Negotiation(String),
    /// `handle_answer` while the engine has no offer outstanding for that peer.
    #[error("no offer is outstanding for {0}")]
    NoPendingOffer(PeerKey),
}

impl MediaError {
    /// `sdp` did not parse. str0m's parser (combine) reports its position as
    /// `PointerOffset(0x…)`, a raw address into `sdp`; the client is shown this message, so the
    /// address becomes the byte offset it points at.
    pub(crate) fn invalid_sdp(sdp: &str, error: impl std::fmt::Display) -> MediaError {
        const MARK: &str = "PointerOffset(";
        let text = error.to_string();
        let mut message = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(MARK) {
            message.push_str(&rest[..at]);
            let after = &rest[at + MARK.len()..];
            let Some(end) = after.find(')') else {
                rest = "";
                break;
            };
            let offset = after[..end]
                .strip_prefix("0x")
                .and_then(|hex| usize::from_str_radix(hex, 16).ok())
                .and_then(|address| address.checked_sub(sdp.as_ptr() as usize))
                .filter(|offset| *offset <= sdp.len());
            match offset {
                Some(offset) => message.push_str(&format!("byte {offset}")),
                None => message.push_str("an unknown position"),
            }
            rest = &after[end + 1..];
        }
        message.push_str(rest);
        MediaError::InvalidSdp(message.trim_end().to_owned())
    }
}
