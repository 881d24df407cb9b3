//! What each peer has been told: a ledger built from the session's effects alone, so that tests
//! can check the rule that signaling stays inside what a receiver knows.
//!
//! **The rule.** No event names a peer or a track its receiver may not know of. A receiver
//! knows
//! - itself, and a peer it was told of: in `joined` (its `peers`, the breakout view's room
//!   lists and help queue), `peer_joined`, `peer_updated`, `breakouts`, `track_published`, or
//!   through a track of that peer in its desired set — until it is told `peer_left`;
//! - a track it was told of: in a peer's `tracks` (in `joined`, `peer_joined`, `peer_updated`),
//!   by `track_published`, or because the track is (or just was) in its desired set — until it
//!   is told `track_unpublished`.
//!
//! A `joined` starts a receiver's knowledge afresh (a resumed client rebuilds from it). Events
//! that name an existing track (`track_unpublished`, `track_muted`) need both its peer and the
//! track known. The session introduces a track as it enters a receiver's desired set
//! (`track_published`, or the publisher's `peer_updated` when the receiver never met it), so
//! the desired-set clause above is a safety net, not the way a receiver learns. `peers_moved`
//! names only peers the receiver knows. Not checked yet: messages that carry their sender
//! (`chat`, `broadcast`, `request_received`, `help_requested`, `track_muted.by`).
//!
//! The ledger is pure bookkeeping: feed it every effect in order with [`Knowledge::observe`];
//! it returns the violations that effect makes.

use std::collections::{BTreeMap, BTreeSet};

use caucus_proto::event::{BreakoutsView, PeerInfo};
use caucus_proto::{PeerId, ServerEvent, TrackId, TrackKey};

use crate::effect::Effect;

/// What one receiver knows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Known {
    peers: BTreeSet<PeerId>,
    tracks: BTreeSet<TrackKey>,
}

impl Known {
    fn learn_info(&mut self, info: &PeerInfo) {
        self.peers.insert(info.id);
        self.tracks.extend(info.tracks.iter().map(|t| TrackKey {
            peer: info.id,
            track: t.id,
        }));
    }

    fn learn_view(&mut self, view: &BreakoutsView) {
        for room in &view.rooms {
            self.peers.extend(room.peers.iter().copied());
            self.peers.extend(room.assigned.iter().copied());
        }
        for help in &view.help {
            self.peers.insert(help.peer_id);
            self.peers.extend(help.claimed_by);
        }
    }

    fn forget_peer(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        self.tracks.retain(|k| k.peer != peer);
    }
}

/// Every receiver's knowledge, from the effects seen so far.
#[derive(Debug, Default, Clone)]
pub struct Knowledge {
    known: BTreeMap<PeerId, Known>,
}

impl Knowledge {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `receiver` may know `peer` now.
    pub fn knows_peer(&self, receiver: PeerId, peer: PeerId) -> bool {
        receiver == peer
            || self
                .known
                .get(&receiver)
                .is_some_and(|k| k.peers.contains(&peer))
    }

    /// Whether `receiver` may know the track `track` of `peer` now.
    pub fn knows_track(&self, receiver: PeerId, peer: PeerId, track: TrackId) -> bool {
        self.known
            .get(&receiver)
            .is_some_and(|k| k.tracks.contains(&TrackKey { peer, track }))
    }

    /// Take one effect into account; returns what it names that a receiver may not know.
    pub fn observe(&mut self, effect: &Effect) -> Vec<String> {
        match effect {
            Effect::Send { to, event } => {
                let mut violations = Vec::new();
                for receiver in to {
                    self.check(*receiver, event, &mut violations);
                    self.learn(*receiver, event);
                }
                violations
            }
            Effect::Subscriptions { peer, tracks } => {
                let known = self.known.entry(*peer).or_default();
                for key in tracks {
                    known.peers.insert(key.peer);
                    known.tracks.insert(*key);
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn check(&self, receiver: PeerId, event: &ServerEvent, out: &mut Vec<String>) {
        let peer = |p: PeerId, out: &mut Vec<String>| {
            if !self.knows_peer(receiver, p) {
                out.push(format!(
                    "{receiver} was told {} naming peer {p}, which it does not know",
                    kind(event)
                ));
            }
        };
        let track = |p: PeerId, t: TrackId, out: &mut Vec<String>| {
            if p != receiver && !self.knows_track(receiver, p, t) {
                out.push(format!(
                    "{receiver} was told {} naming track {t} of {p}, which it does not know",
                    kind(event)
                ));
            }
        };
        match event {
            ServerEvent::TrackUnpublished {
                peer_id, track_id, ..
            } => {
                peer(*peer_id, out);
                track(*peer_id, *track_id, out);
            }
            ServerEvent::TrackMuted {
                peer_id, track_id, ..
            } => {
                peer(*peer_id, out);
                track(*peer_id, *track_id, out);
            }
            ServerEvent::PeersMoved { moves } => {
                for group in moves {
                    for p in &group.peers {
                        peer(*p, out);
                    }
                }
            }
            _ => {}
        }
    }

    fn learn(&mut self, receiver: PeerId, event: &ServerEvent) {
        if let ServerEvent::Joined {
            peer,
            peers,
            breakouts,
            ..
        } = event
        {
            let mut fresh = Known::default();
            fresh.learn_info(peer);
            for info in peers {
                fresh.learn_info(info);
            }
            fresh.learn_view(breakouts);
            self.known.insert(receiver, fresh);
            return;
        }
        let known = self.known.entry(receiver).or_default();
        match event {
            ServerEvent::PeerJoined { peer } | ServerEvent::PeerUpdated { peer } => {
                known.learn_info(peer);
            }
            ServerEvent::PeerLeft { peer_id, .. } => known.forget_peer(*peer_id),
            ServerEvent::TrackPublished { peer_id, track } => {
                known.peers.insert(*peer_id);
                known.tracks.insert(TrackKey {
                    peer: *peer_id,
                    track: track.id,
                });
            }
            ServerEvent::TrackUnpublished {
                peer_id, track_id, ..
            } => {
                known.tracks.remove(&TrackKey {
                    peer: *peer_id,
                    track: *track_id,
                });
            }
            ServerEvent::Breakouts { state } => known.learn_view(state),
            _ => {}
        }
    }
}

fn kind(event: &ServerEvent) -> &'static str {
    match event {
        ServerEvent::TrackUnpublished { .. } => "track_unpublished",
        ServerEvent::TrackMuted { .. } => "track_muted",
        ServerEvent::PeersMoved { .. } => "peers_moved",
        _ => "an event",
    }
}
