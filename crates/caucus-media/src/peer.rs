//! One client connection: its str0m `Rtc` and what the engine knows about it.

use std::collections::HashMap;

use str0m::Rtc;
use str0m::change::SdpPendingOffer;
use str0m::media::{Mid, Rid};
use str0m::rtp::Ssrc;

use crate::ids::TrackKey;
use crate::slot::Slot;

#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) rtc: Rtc,
    pub(crate) connected: bool,
    /// Publisher side: receiving m-lines and the track each one is.
    pub(crate) published: HashMap<Mid, TrackKey>,
    /// Incoming SSRC → (mid, rid), so str0m is asked once per stream, not per packet.
    pub(crate) ssrc_mid: HashMap<Ssrc, (Mid, Option<Rid>)>,
    /// Subscriber side: send m-lines. Few per connection, so a Vec.
    pub(crate) slots: Vec<Slot>,
    /// Subscriber side: the complete desired set from `set_subscriptions`.
    pub(crate) desired: Vec<TrackKey>,
    /// Desired tracks that have no slot yet (waiting for a renegotiation).
    pub(crate) unplaced: Vec<TrackKey>,
    /// The server-initiated offer waiting for the client's answer. At most one.
    pub(crate) pending_offer: Option<SdpPendingOffer>,
}

impl Peer {
    pub(crate) fn new(rtc: Rtc) -> Self {
        Peer {
            rtc,
            connected: false,
            published: HashMap::new(),
            ssrc_mid: HashMap::new(),
            slots: Vec::new(),
            desired: Vec::new(),
            unplaced: Vec::new(),
            pending_offer: None,
        }
    }

    pub(crate) fn slot_showing(&mut self, track: TrackKey) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.track == Some(track))
    }

    pub(crate) fn slot_by_mid(&mut self, mid: Mid) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.mid == mid)
    }
}
