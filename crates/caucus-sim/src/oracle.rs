//! What is checked while a plan runs, and what each check found.
//!
//! - **Isolation (media).** Subscriber S may receive a packet of kind K from client P iff P's
//!   track of that source is in S's desired set as the core computes it
//!   (`session.desired(S)`). Every desired set is recorded over time as intervals per
//!   (subscriber, publisher, kind); a received packet must fall inside one, or within
//!   [`GRACE`] after it ended (packets already on the wire, and retransmissions of them).
//! - **Isolation (signaling).** A room's frames go only to connections of its own clients,
//!   and no event names a peer or track its receiver was not told of (checked by the client,
//!   [`crate::client::Unknown`]).
//! - **Liveness.** While a track is in S's desired set, unmuted, and both ends have media up
//!   and are on the network, S gets a frame of it at least every [`MAX_GAP`] (after
//!   [`WARMUP`] from the moment all that became true).
//! - **Refusals change nothing.** A command answered `ok: false` leaves the session's peers,
//!   breakout view and desired sets exactly as they were.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::client::Kind;

/// How long after a track leaves a desired set a packet of it may still arrive: the longest
/// one-way delay a plan draws is 60 ms plus 25 ms of jitter, and a NACKed packet is resent
/// within about one round trip of its loss being noticed. 500 ms covers several rounds.
pub const GRACE: Duration = Duration::from_millis(500);

/// Time from "everything is ready" to "frames must flow": a new subscription takes a slot
/// (or a server offer and its answer, one signaling round trip of up to ~100 ms) and the
/// first packet's trip.
pub const WARMUP: Duration = Duration::from_millis(1_000);

/// The longest gap allowed between frames a subscriber should get. Audio is sent every
/// 20 ms, video every 40 ms; at 5 % independent loss a gap of 600 ms needs 15 audio packets
/// in a row lost and not recovered by NACK, which a run never sees.
pub const MAX_GAP: Duration = Duration::from_millis(600);

/// (subscriber client, publisher client, kind).
pub type Pair = (usize, usize, Kind);

/// When a pair was allowed: closed intervals, the last one open while it lasts.
#[derive(Debug, Default, Clone)]
pub struct Allowed {
    pub intervals: Vec<(Duration, Option<Duration>)>,
}

impl Allowed {
    pub fn is_open(&self) -> bool {
        self.intervals.last().is_some_and(|(_, end)| end.is_none())
    }

    pub fn open(&mut self, now: Duration) {
        if !self.is_open() {
            self.intervals.push((now, None));
        }
    }

    pub fn close(&mut self, now: Duration) {
        if let Some((_, end @ None)) = self.intervals.last_mut() {
            *end = Some(now);
        }
    }

    /// Whether the pair was allowed at some moment between `at` and [`GRACE`] later (a
    /// packet sent at `at` may reach the engine any time in that window).
    pub fn touches(&self, at: Duration) -> bool {
        self.intervals
            .iter()
            .any(|(from, until)| *from <= at + GRACE && until.is_none_or(|u| at <= u))
    }

    /// Whether a packet received at `at` is explained by an interval.
    pub fn covers(&self, at: Duration) -> bool {
        self.intervals
            .iter()
            .any(|(from, until)| *from <= at && until.is_none_or(|u| at <= u + GRACE))
    }
}

/// Liveness bookkeeping of one pair.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flow {
    /// Since when every condition for frames to flow has held.
    pub eligible_since: Option<Duration>,
    pub last_frame: Option<Duration>,
}

/// Everything the checks found; a run passes when every list is empty.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    pub isolation: Vec<String>,
    pub signaling: Vec<String>,
    /// Events naming a track or peer their receiver was not told of, except…
    pub unknown_names: Vec<String>,
    /// …`track_unpublished` for a track the receiver never knew (once a known leak: after
    /// breakouts closed, news of tracks of a room the receiver never stood in).
    pub unknown_track_unpublished: Vec<String>,
    /// …and names an arrival should have been introduced to: `slot` frames, `track_muted`
    /// and `track_published` naming a track or peer the receiver was never told of.
    pub unknown_slot: Vec<String>,
    /// Packets sent while their pair was allowed but received more than [`GRACE`] after it
    /// ended: a retransmission (or padding probe) of a track that has left its slot. Kept
    /// apart from [`Findings::isolation`] (packets sent while their pair was not allowed)
    /// because the cause differs; both fail a run.
    pub late_resends: Vec<String>,
    pub liveness: Vec<String>,
    pub refusals: Vec<String>,
    pub longest_gap: Duration,
}

impl Findings {
    /// The failures, in words.
    pub fn failures(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        let tag = |name: &str, v: &[String]| {
            v.iter()
                .take(5)
                .map(|m| format!("{name}: {m}"))
                .collect::<Vec<_>>()
        };
        all.extend(tag("isolation", &self.isolation));
        all.extend(tag("signaling", &self.signaling));
        all.extend(tag("unknown", &self.unknown_names));
        all.extend(tag("track_unpublished", &self.unknown_track_unpublished));
        all.extend(tag("slot", &self.unknown_slot));
        all.extend(tag("late_resend", &self.late_resends));
        all.extend(tag("liveness", &self.liveness));
        all.extend(tag("refusal", &self.refusals));
        all
    }
}

/// The per-pair records.
#[derive(Debug, Default)]
pub struct Oracle {
    pub allowed: BTreeMap<Pair, Allowed>,
    pub flows: BTreeMap<Pair, Flow>,
    /// How far each client's received log has been checked.
    pub checked: Vec<usize>,
    pub findings: Findings,
}
