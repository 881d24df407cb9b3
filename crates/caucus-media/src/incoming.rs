//! One incoming RTP packet, resolved to its track, as the forwarding and the recording
//! tap see it.

use str0m::format::PayloadParams;
use str0m::media::Rid;
use str0m::rtp::RtpPacket;

use crate::ids::{MediaKind, TrackKey};

/// A publisher's packet after demux: which track and layer it is, and what its payload
/// says. Borrowed, so handing it around copies nothing.
pub(crate) struct Incoming<'a> {
    pub(crate) track: TrackKey,
    pub(crate) kind: MediaKind,
    pub(crate) rid: Option<Rid>,
    /// `Some(true)`: starts a keyframe; `None`: a codec the engine cannot read (or audio).
    pub(crate) keyframe: Option<bool>,
    /// The track has simulcast layers (a slot then switches only at a keyframe).
    pub(crate) simulcast: bool,
    pub(crate) packet: &'a RtpPacket,
    /// The publisher's payload type parameters (`None`: a payload type it never offered).
    pub(crate) params: Option<PayloadParams>,
}
