//! The session's facts, and the queries every decision is made from.
//!
//! `State` holds who is here, in which role, where, with which tracks, and the breakout set.
//! It keeps one index (location × acting role → peers) so that every question the routing rule
//! asks is answered from a handful of small sets rather than a scan of the whole session.
//! All mutation of a peer's placement goes through [`State::place`], which keeps the index and
//! the acting role true.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use caucus_proto::event::{PeerInfo, TrackInfo};
use caucus_proto::{BreakoutId, Location, PeerId, Source, TrackId, UserId};

use crate::breakout_set::BreakoutSet;
use crate::template::{Role, RoleIdx, Template};
use crate::time::Time;

/// One participant of the session.
#[derive(Debug, Clone)]
pub struct Peer {
    pub(crate) id: PeerId,
    pub(crate) user_id: UserId,
    pub(crate) name: String,
    pub(crate) metadata: Option<serde_json::Value>,
    /// The role it was given.
    pub(crate) role: RoleIdx,
    /// The role it acts as where it stands; kept by `State::place`.
    pub(crate) acting: RoleIdx,
    pub(crate) location: Location,
    pub(crate) tracks: BTreeMap<TrackId, Track>,
    pub(crate) hand_raised: bool,
    /// `Some` while the peer's connection is lost and it may still come back.
    pub(crate) disconnected_at: Option<Time>,
    pub(crate) listening: Option<BreakoutId>,
    pub(crate) broadcasting: bool,
}

/// One published track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    pub(crate) id: TrackId,
    pub(crate) source: Source,
    pub(crate) muted: bool,
}

impl Peer {
    pub fn id(&self) -> PeerId {
        self.id
    }

    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self) -> RoleIdx {
        self.role
    }

    pub fn acting_role(&self) -> RoleIdx {
        self.acting
    }

    pub fn location(&self) -> Location {
        self.location
    }

    pub fn is_connected(&self) -> bool {
        self.disconnected_at.is_none()
    }

    pub fn hand_raised(&self) -> bool {
        self.hand_raised
    }

    pub fn listening(&self) -> Option<BreakoutId> {
        self.listening
    }

    pub fn is_broadcasting(&self) -> bool {
        self.broadcasting
    }

    pub fn tracks(&self) -> impl Iterator<Item = (TrackId, Source, bool)> + '_ {
        self.tracks.values().map(|t| (t.id, t.source, t.muted))
    }

    pub fn info(&self, template: &Template) -> PeerInfo {
        PeerInfo {
            id: self.id,
            user_id: self.user_id.clone(),
            name: self.name.clone(),
            role: template.role(self.role).name().clone(),
            acting_role: template.role(self.acting).name().clone(),
            location: self.location,
            tracks: self
                .tracks
                .values()
                .map(|t| TrackInfo {
                    id: t.id,
                    source: t.source,
                    muted: t.muted,
                })
                .collect(),
            metadata: self.metadata.clone(),
            hand_raised: self.hand_raised,
            connected: self.is_connected(),
            broadcasting: self.broadcasting,
            listening_to: self.listening,
        }
    }
}

/// Everything the decisions of a session are made from.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) template: Arc<Template>,
    pub(crate) peers: BTreeMap<PeerId, Peer>,
    /// (location, acting role) → peers standing there, connected or within their grace period.
    index: BTreeMap<(Location, RoleIdx), BTreeSet<PeerId>>,
    /// breakout → managers listening in to it.
    pub(crate) listeners: BTreeMap<BreakoutId, BTreeSet<PeerId>>,
    pub(crate) broadcasters: BTreeSet<PeerId>,
    pub(crate) breakouts: BreakoutSet,
}

impl State {
    pub(crate) fn new(template: Arc<Template>) -> Self {
        Self {
            template,
            peers: BTreeMap::new(),
            index: BTreeMap::new(),
            listeners: BTreeMap::new(),
            broadcasters: BTreeSet::new(),
            breakouts: BreakoutSet::default(),
        }
    }

    pub(crate) fn role_of(&self, peer: &Peer) -> &Role {
        self.template.role(peer.acting)
    }

    /// Insert a new peer at `location` (index kept true).
    pub(crate) fn insert(&mut self, mut peer: Peer) {
        peer.acting = self
            .template
            .acting_role(peer.role, peer.location.is_breakout());
        self.index
            .entry((peer.location, peer.acting))
            .or_default()
            .insert(peer.id);
        self.peers.insert(peer.id, peer);
    }

    /// Remove a peer entirely (index, listeners and broadcasters kept true).
    pub(crate) fn remove(&mut self, id: PeerId) -> Option<Peer> {
        let peer = self.peers.remove(&id)?;
        self.unindex(id, peer.location, peer.acting);
        if let Some(b) = peer.listening {
            self.drop_listener(b, id);
        }
        self.broadcasters.remove(&id);
        Some(peer)
    }

    /// Give a peer a role and a location; returns its acting role before and after.
    pub(crate) fn place(
        &mut self,
        id: PeerId,
        role: RoleIdx,
        location: Location,
    ) -> (RoleIdx, RoleIdx) {
        let acting = self.template.acting_role(role, location.is_breakout());
        let Some(peer) = self.peers.get_mut(&id) else {
            return (acting, acting);
        };
        let (old_location, old_acting) = (peer.location, peer.acting);
        peer.role = role;
        peer.location = location;
        peer.acting = acting;
        if (old_location, old_acting) != (location, acting) {
            self.unindex(id, old_location, old_acting);
            self.index.entry((location, acting)).or_default().insert(id);
        }
        (old_acting, acting)
    }

    fn unindex(&mut self, id: PeerId, location: Location, acting: RoleIdx) {
        if let Some(set) = self.index.get_mut(&(location, acting)) {
            set.remove(&id);
            if set.is_empty() {
                self.index.remove(&(location, acting));
            }
        }
    }

    pub(crate) fn set_listening(&mut self, id: PeerId, breakout: Option<BreakoutId>) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let old = std::mem::replace(&mut peer.listening, breakout);
        if let Some(b) = old {
            self.drop_listener(b, id);
        }
        if let Some(b) = breakout {
            self.listeners.entry(b).or_default().insert(id);
        }
    }

    fn drop_listener(&mut self, breakout: BreakoutId, id: PeerId) {
        if let Some(set) = self.listeners.get_mut(&breakout) {
            set.remove(&id);
            if set.is_empty() {
                self.listeners.remove(&breakout);
            }
        }
    }

    pub(crate) fn set_broadcasting(&mut self, id: PeerId, on: bool) {
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.broadcasting = on;
            if on {
                self.broadcasters.insert(id);
            } else {
                self.broadcasters.remove(&id);
            }
        }
    }

    /// Peers standing in `location` acting as `role`.
    pub(crate) fn members(
        &self,
        location: Location,
        role: RoleIdx,
    ) -> impl Iterator<Item = PeerId> + '_ {
        self.index
            .get(&(location, role))
            .into_iter()
            .flatten()
            .copied()
    }

    /// Every peer standing in `location`, whatever its role.
    pub(crate) fn everyone_in(&self, location: Location) -> impl Iterator<Item = PeerId> + '_ {
        self.index
            .range(location_range(location))
            .flat_map(|(_, set)| set.iter().copied())
    }

    /// How many peers in `location` take a place of its capacity (managers take none, see
    /// [`crate::policy::exempt_from_capacity`]).
    pub(crate) fn count_toward_capacity(&self, location: Location) -> usize {
        self.index
            .range(location_range(location))
            .flat_map(|(_, set)| set)
            .filter(|id| {
                self.peers
                    .get(id)
                    .is_some_and(|p| self.counts_toward_capacity(p.role))
            })
            .count()
    }

    /// Whether a peer holding `role` takes a place in a breakout room's capacity.
    pub(crate) fn counts_toward_capacity(&self, role: RoleIdx) -> bool {
        !crate::policy::exempt_from_capacity(self.template.role(role))
    }

    /// How many peers hold `role` (were given it), wherever they stand.
    pub(crate) fn count_holding(&self, role: RoleIdx) -> usize {
        self.peers.values().filter(|p| p.role == role).count()
    }

    pub(crate) fn connected(&self) -> impl Iterator<Item = &Peer> + '_ {
        self.peers.values().filter(|p| p.is_connected())
    }

    /// The connected peer of `user_id`, if any (a newer connection of the user takes it over).
    pub(crate) fn connected_peer_of(&self, user_id: &UserId) -> Option<PeerId> {
        self.connected()
            .find(|p| &p.user_id == user_id)
            .map(|p| p.id)
    }

    /// The disconnected peer a returning `user_id` resumes, if any.
    pub(crate) fn resumable(&self, user_id: &UserId) -> Option<PeerId> {
        self.peers
            .values()
            .filter(|p| !p.is_connected() && &p.user_id == user_id)
            .map(|p| p.id)
            .next()
    }
}

fn location_range(location: Location) -> std::ops::RangeInclusive<(Location, RoleIdx)> {
    (location, RoleIdx::MIN)..=(location, RoleIdx::MAX)
}
