//! Layer choice for one subscriber: every simulcast slot gets the best layer its hint, the
//! layers arriving and the subscriber's bandwidth estimate allow.

use str0m::bwe::Bitrate;
use str0m::media::Rid;

use crate::ids::TrackKey;
use crate::layer::{Layers, with_headroom};
use crate::peer::Peer;
use crate::tracks::Tracks;

/// Chooses the layer of every video slot of `peer`: within each track's hint, within the
/// bandwidth estimate (audio first, then every video slot at its lowest layer, then
/// upgrades in the subscriber's priority order). Returns the (track, layer) pairs whose
/// slot got a new target: each needs a keyframe request; the slot switches when that
/// keyframe arrives.
///
/// With bandwidth estimation on, str0m is also told what to look for: the rate of
/// everything at its best layer (it probes towards it) and, as a minimum it keeps up with
/// padding, the rate of the next upgrade — so the estimate can grow past what the
/// subscriber receives now and it can move back up.
pub(crate) fn allocate(peer: &mut Peer, tracks: &Tracks) -> Vec<(TrackKey, Option<Rid>)> {
    let order = priority_order(peer);
    let (plain, simulcast_slots) = reserve_plain(peer, tracks, &order);
    // Every simulcast slot at its lowest layer, then upgrades in priority order.
    let floor: u64 = simulcast_slots
        .iter()
        .filter_map(|i| peer.slots[*i].track.and_then(|t| tracks.get(&t)))
        .map(|t| lowest_cost(&t.layers))
        .sum();
    let mut budget = Budget {
        remaining: peer
            .bandwidth
            .map(|b| b.saturating_sub(plain).saturating_sub(floor)),
        allocated: plain,
        wanted: plain,
        next_step: None,
    };
    let mut requests = Vec::new();
    for i in simulcast_slots {
        if let Some(request) = choose_slot(peer, i, tracks, &mut budget) {
            requests.push(request);
        }
    }
    peer.bandwidth_limited = peer.bandwidth.is_some() && budget.next_step.is_some();
    let targets = (
        (budget.allocated + budget.next_step.unwrap_or(0)).min(budget.wanted),
        budget.wanted,
    );
    set_estimator_targets(peer, targets);
    requests
}

/// The running sums of one allocation.
struct Budget {
    /// What is left for upgrades (`None`: no estimate, so no limit).
    remaining: Option<u64>,
    allocated: u64,
    /// Everything at its best layer, ignoring the estimate.
    wanted: u64,
    /// What the first upgrade the estimate held back would add, with its headroom.
    next_step: Option<u64>,
}

/// Slot indices with a track, in the order of the desired set (the priority order).
fn priority_order(peer: &Peer) -> Vec<(usize, usize)> {
    let mut order: Vec<(usize, usize)> = peer
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let track = s.track?;
            let rank = peer
                .desired
                .iter()
                .position(|d| *d == track)
                .unwrap_or(usize::MAX);
            Some((rank, i))
        })
        .collect();
    order.sort_unstable();
    order
}

/// Audio and plain video cost what they cost: their slots get their only layer and the
/// sum is reserved first. Returns it, and the simulcast slots left to choose for.
fn reserve_plain(peer: &mut Peer, tracks: &Tracks, order: &[(usize, usize)]) -> (u64, Vec<usize>) {
    let mut plain = 0u64;
    let mut simulcast_slots = Vec::new();
    for (_, i) in order {
        let Some(track) = peer.slots[*i].track.and_then(|t| tracks.get(&t)) else {
            continue;
        };
        if track.layers.is_simulcast() {
            simulcast_slots.push(*i);
        } else {
            let rid = track.layers.list.first().and_then(|l| l.rid);
            peer.slots[*i].target = Some(rid);
            plain += track.layers.cost(rid);
        }
    }
    (plain, simulcast_slots)
}

/// The rate of the layer a slot falls back to: the lowest arriving one.
fn lowest_cost(layers: &Layers) -> u64 {
    layers
        .list
        .iter()
        .find(|l| l.active)
        .or(layers.list.first())
        .and_then(|l| l.bitrate)
        .unwrap_or(0)
}

/// Chooses the layer of slot `i` within what `budget` has left. Returns a keyframe request
/// if its target changed and the slot can receive it now.
fn choose_slot(
    peer: &mut Peer,
    i: usize,
    tracks: &Tracks,
    budget: &mut Budget,
) -> Option<(TrackKey, Option<Rid>)> {
    let track_key = peer.slots[i].track?;
    let layers = &tracks.get(&track_key)?.layers;
    let max = peer.max_layer.get(&track_key).copied().unwrap_or_default();
    let slot = &mut peer.slots[i];
    let low_cost = lowest_cost(layers);
    let choice = layers.choose(max, budget.remaining.map(|r| r + low_cost), slot.layer);
    budget.remaining = budget
        .remaining
        .map(|r| (r + low_cost).saturating_sub(layers.cost(choice)));
    let unlimited = layers.choose(max, None, slot.layer);
    budget.allocated += layers.cost(choice);
    budget.wanted += layers.cost(unlimited);
    if budget.next_step.is_none()
        && let Some(up) = layers.step_up(choice, unlimited)
    {
        budget.next_step = Some(with_headroom(layers.cost(up)).saturating_sub(layers.cost(choice)));
    }
    if slot.target == Some(choice) {
        return None;
    }
    slot.target = Some(choice);
    let ready = peer.connected && slot.negotiated && slot.layer != Some(choice);
    ready.then_some((track_key, choice))
}

/// Tells str0m's estimator the (minimum, desired) rates, if bandwidth estimation is on.
fn set_estimator_targets(peer: &mut Peer, targets: (u64, u64)) {
    // Measured rates wobble from second to second; a raised target can start a probe,
    // so only a real change (over 10 %) is passed on.
    let moved = |old: u64, new: u64| old.abs_diff(new) * 10 > old.max(1);
    if peer.bandwidth.is_some()
        && (moved(peer.bwe_targets.0, targets.0) || moved(peer.bwe_targets.1, targets.1))
    {
        peer.bwe_targets = targets;
        peer.rtc
            .bwe()
            .set_bitrate(Bitrate::bps(targets.0), Bitrate::bps(targets.1));
    }
}
