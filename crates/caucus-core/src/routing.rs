//! Desired subscriptions: the routing rule, computed in one place.
//!
//! Peer S receives track T of peer P (S ≠ P, both connected) if and only if
//! 1. P's acting role may publish T's source;
//! 2. S's acting role subscribes to P's acting role;
//! 3. S and P stand in the same location, or a cross-room rule allows it:
//!    *main stage* (S's breakout shows the main room's tracks of P's role),
//!    *listen-in* (S listens in to the breakout P stands in),
//!    *broadcast* (P broadcasts and T carries sound).
//!
//! [`may_receive`] is that rule, for one (S, P, T). Everything else here is about doing it
//! cheaply: candidates come from the location × role index, and after a change only the peers
//! it can affect are looked at. The session tells `Routing` *before* it changes a publisher
//! (so the publisher's current receivers are remembered) and *after* it changes a subscriber;
//! [`Routing::flush`] then emits, for every peer whose set changed, its new complete set.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use caucus_proto::template::ViewCaps;
use caucus_proto::{Location, PeerId, Source, TrackKey, Visibility};

use crate::effect::Effect;
use crate::state::{Peer, State, Track};

/// The routing rule for one subscriber, one publisher, one track.
pub(crate) fn may_receive(state: &State, s: &Peer, p: &Peer, t: &Track) -> bool {
    if s.id == p.id || !s.is_connected() || !p.is_connected() {
        return false;
    }
    let publisher_role = state.template.role(p.acting);
    if !publisher_role.may_publish(t.source) {
        return false;
    }
    if !state.template.role(s.acting).subscribes_to(p.acting) {
        return false;
    }
    if s.location == p.location {
        return true;
    }
    if let (Some(listened), Location::Breakout(b)) = (s.listening, p.location)
        && listened == b
    {
        return true;
    }
    if let (Location::Breakout(b), Location::Main) = (s.location, p.location)
        && shows_main_stage_of(state, b, p)
    {
        return true;
    }
    p.broadcasting && t.source.is_audio()
}

fn shows_main_stage_of(state: &State, breakout: caucus_proto::BreakoutId, p: &Peer) -> bool {
    match state.breakouts.room(breakout).map(|r| &r.visibility) {
        Some(Visibility::MainStage { roles }) => {
            roles.contains(state.template.role(p.acting).name())
        }
        _ => false,
    }
}

/// The current desired sets, and what must be recomputed before they are true again.
#[derive(Debug, Default, Clone)]
pub(crate) struct Routing {
    desired: BTreeMap<PeerId, BTreeSet<TrackKey>>,
    /// Subscribers whose whole set must be recomputed.
    dirty_subscribers: BTreeSet<PeerId>,
    /// Publishers whose tracks' receivers must be recomputed.
    dirty_publishers: BTreeSet<PeerId>,
    /// Subscribers that received a dirty publisher before it changed.
    earlier_receivers: BTreeSet<PeerId>,
    rebuild: bool,
    /// The camera cap each connected subscriber was last told of.
    caps: BTreeMap<PeerId, Option<ViewCaps>>,
}

impl Routing {
    /// Call before changing anything about `publisher` that can change who receives it
    /// (its location, role, tracks, connection, broadcast).
    pub(crate) fn before_publisher_change(&mut self, state: &State, publisher: PeerId) {
        if self.rebuild {
            return;
        }
        if let Some(p) = state.peers.get(&publisher) {
            self.earlier_receivers.extend(receivers(state, p));
        }
        self.dirty_publishers.insert(publisher);
    }

    /// Call when anything about `subscriber` changed that can change what it receives.
    pub(crate) fn subscriber_changed(&mut self, subscriber: PeerId) {
        if !self.rebuild {
            self.dirty_subscribers.insert(subscriber);
        }
    }

    /// Call when many peers change at once: every set is recomputed at the next flush.
    pub(crate) fn rebuild_all(&mut self) {
        self.rebuild = true;
        self.dirty_subscribers.clear();
        self.dirty_publishers.clear();
        self.earlier_receivers.clear();
    }

    /// The desired set of `peer`.
    pub(crate) fn desired(&self, peer: PeerId) -> impl Iterator<Item = TrackKey> + '_ {
        self.desired.get(&peer).into_iter().flatten().copied()
    }

    /// Bring every set up to date; push one `Effect::Subscriptions` per changed peer.
    pub(crate) fn flush(&mut self, state: &State, effects: &mut VecDeque<Effect>) {
        let mut changed = BTreeSet::new();
        let touched: Vec<PeerId> = if self.rebuild {
            state.connected().map(|p| p.id).collect()
        } else {
            self.dirty_subscribers.iter().copied().collect()
        };
        if std::mem::take(&mut self.rebuild) {
            let gone: Vec<PeerId> = self
                .desired
                .keys()
                .filter(|id| !state.peers.get(id).is_some_and(Peer::is_connected))
                .copied()
                .collect();
            for id in gone {
                self.desired.remove(&id);
            }
            for s in state.connected() {
                let fresh = compute(state, s);
                if self.desired.get(&s.id) != Some(&fresh) {
                    self.desired.insert(s.id, fresh);
                    changed.insert(s.id);
                }
            }
        } else {
            let subscribers = std::mem::take(&mut self.dirty_subscribers);
            for id in &subscribers {
                match state.peers.get(id).filter(|p| p.is_connected()) {
                    Some(s) => {
                        let fresh = compute(state, s);
                        if self.desired.get(id) != Some(&fresh) {
                            self.desired.insert(*id, fresh);
                            changed.insert(*id);
                        }
                    }
                    None => {
                        self.desired.remove(id);
                    }
                }
            }
            let mut affected = std::mem::take(&mut self.earlier_receivers);
            let publishers = std::mem::take(&mut self.dirty_publishers);
            for id in &publishers {
                if let Some(p) = state.peers.get(id) {
                    affected.extend(receivers(state, p));
                }
            }
            for sid in affected.difference(&subscribers) {
                let Some(s) = state.peers.get(sid).filter(|p| p.is_connected()) else {
                    continue;
                };
                let set = self.desired.entry(*sid).or_default();
                for pid in &publishers {
                    if refresh_pair(state, s, *pid, set) {
                        changed.insert(*sid);
                    }
                }
            }
        }
        for id in changed {
            let tracks = self
                .desired
                .get(&id)
                .map(|set| by_priority(state, set))
                .unwrap_or_default();
            effects.push_back(Effect::Subscriptions { peer: id, tracks });
        }
        self.caps
            .retain(|id, _| state.peers.get(id).is_some_and(Peer::is_connected));
        for id in touched {
            let Some(s) = state.peers.get(&id).filter(|p| p.is_connected()) else {
                continue;
            };
            let cap = state.role_of(s).view_caps();
            if self.caps.insert(id, cap) != Some(cap) {
                effects.push_back(Effect::ViewCap { peer: id, max: cap });
            }
        }
    }
}

/// A desired set in the order the media plane serves it when receive slots or bandwidth run
/// short: the publisher's acting role `priority` first (higher first), then sound before
/// screens before cameras, then by key (so equal ranks keep a stable order).
fn by_priority(state: &State, set: &BTreeSet<TrackKey>) -> Vec<TrackKey> {
    let rank = |key: &TrackKey| {
        let publisher = state.peers.get(&key.peer);
        let priority = publisher.map_or(0, |p| state.role_of(p).priority());
        let source = publisher
            .and_then(|p| p.tracks.get(&key.track))
            .map_or(3, |t| match t.source {
                Source::Audio | Source::ScreenAudio => 0,
                Source::Screen => 1,
                Source::Video => 2,
            });
        (std::cmp::Reverse(priority), source, *key)
    };
    let mut tracks: Vec<TrackKey> = set.iter().copied().collect();
    tracks.sort_by_key(rank);
    tracks
}

/// Recompute the part of `set` that belongs to publisher `pid`; true if it changed.
fn refresh_pair(state: &State, s: &Peer, pid: PeerId, set: &mut BTreeSet<TrackKey>) -> bool {
    let lo = TrackKey {
        peer: pid,
        track: caucus_proto::TrackId::new(0),
    };
    let hi = TrackKey {
        peer: pid,
        track: caucus_proto::TrackId::new(u64::MAX),
    };
    let old: Vec<TrackKey> = set.range(lo..=hi).copied().collect();
    let new: Vec<TrackKey> = match state.peers.get(&pid) {
        Some(p) => p
            .tracks
            .values()
            .filter(|t| may_receive(state, s, p, t))
            .map(|t| TrackKey {
                peer: pid,
                track: t.id,
            })
            .collect(),
        None => Vec::new(),
    };
    if old == new {
        return false;
    }
    for key in old {
        set.remove(&key);
    }
    set.extend(new);
    true
}

/// The complete desired set of subscriber `s`.
pub(crate) fn compute(state: &State, s: &Peer) -> BTreeSet<TrackKey> {
    let mut set = BTreeSet::new();
    for candidate in candidates(state, s) {
        let Some(p) = state.peers.get(&candidate) else {
            continue;
        };
        for t in p.tracks.values() {
            if may_receive(state, s, p, t) {
                set.insert(TrackKey {
                    peer: p.id,
                    track: t.id,
                });
            }
        }
    }
    set
}

/// Every publisher `s` could receive from (a superset; `may_receive` decides).
fn candidates(state: &State, s: &Peer) -> BTreeSet<PeerId> {
    let role = state.template.role(s.acting);
    let main_stage = match s.location {
        Location::Breakout(b) => match state.breakouts.room(b).map(|r| &r.visibility) {
            Some(Visibility::MainStage { roles }) => Some(roles),
            _ => None,
        },
        Location::Main => None,
    };
    let mut out = BTreeSet::new();
    for &publisher_role in role.subscribes() {
        out.extend(state.members(s.location, publisher_role));
        if let Some(b) = s.listening {
            out.extend(state.members(Location::Breakout(b), publisher_role));
        }
        if let Some(roles) = main_stage
            && roles.contains(state.template.role(publisher_role).name())
        {
            out.extend(state.members(Location::Main, publisher_role));
        }
    }
    out.extend(state.broadcasters.iter().copied());
    out
}

/// Every subscriber that could receive `p` (a superset; `may_receive` decides).
pub(crate) fn receivers(state: &State, p: &Peer) -> BTreeSet<PeerId> {
    let role = state.template.role(p.acting);
    let mut out = BTreeSet::new();
    for &subscriber_role in role.subscribed_by() {
        out.extend(state.members(p.location, subscriber_role));
        if let Location::Main = p.location {
            for room in state.breakouts.rooms() {
                if let Visibility::MainStage { roles } = &room.visibility
                    && roles.contains(role.name())
                {
                    out.extend(state.members(Location::Breakout(room.id), subscriber_role));
                }
            }
        }
    }
    if let Location::Breakout(b) = p.location {
        out.extend(state.listeners.get(&b).into_iter().flatten().copied());
    }
    if p.broadcasting {
        out.extend(state.connected().map(|s| s.id));
    }
    out.remove(&p.id);
    out
}
