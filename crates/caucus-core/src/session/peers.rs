//! Joining, leaving, losing the connection and coming back; names, metadata, hands.

use caucus_proto::event::{LeaveReason, RequestOutcome};
use caucus_proto::{ErrorCode, LifecycleEvent, Location, PeerId, ServerEvent, TrackKey};

use super::{Session, Timer};
use crate::command::{Actor, JoinRequest, Outcome};
use crate::denial::Denial;
use crate::policy::Action;
use crate::state::Peer;
use crate::time::Time;

const MAX_NAME_CHARS: usize = 64;

const MAX_METADATA_BYTES: usize = 4096;

impl Session {
    /// Join, in this order of refusal whoever asks: a user already present takes its peer over
    /// and a returning peer resumes (no password, no lock), then the role must exist, the room must be unlocked, the password right, and
    /// the session, role and planned room must have space. `password_ok` is the verdict of a
    /// check this join asked for ([`Outcome::CheckPassword`]).
    pub(super) fn join(
        &mut self,
        now: Time,
        request: JoinRequest,
        password_ok: Option<bool>,
    ) -> Result<Outcome, Denial> {
        // One connection per user: a newer connection takes the peer over — its old
        // connection's tracks end as if it had dropped, and it comes back as it stood — so a
        // client that reconnects before its dead socket is noticed resumes at once.
        if let Some(id) = self.state.connected_peer_of(&request.user_id) {
            self.disconnect(now, id)?;
            return self.resume(now, id);
        }
        if let Some(id) = self.state.resumable(&request.user_id) {
            return self.resume(now, id);
        }
        let role = self.state.template.require_role(&request.role)?;
        if self.config.locked {
            return Err(Denial::new(ErrorCode::RoomLocked, "the room is locked"));
        }
        if let Some(check) = self.check_room_password(now, &request, password_ok)? {
            return Ok(check);
        }
        if self.config.max_peers > 0 && self.state.peers.len() >= self.config.max_peers as usize {
            return Err(Denial::new(
                ErrorCode::CapacityExceeded,
                format!("the session holds at most {} peers", self.config.max_peers),
            ));
        }
        let name = clean_name(&request.name)?.unwrap_or_else(|| request.user_id.to_string());
        check_metadata(request.metadata.as_ref())?;

        let planned = self.planned_room(&request.user_id);
        let auto_move = self.state.breakouts.options.auto_move_on_open;
        let location = match planned {
            Some(b) if auto_move && self.check_newcomer(role, Location::Breakout(b)).is_ok() => {
                Location::Breakout(b)
            }
            _ => Location::Main,
        };
        self.check_newcomer(role, location)?;

        let id = PeerId::new(self.issue_id());
        self.state.insert(Peer {
            id,
            user_id: request.user_id.clone(),
            name,
            metadata: request.metadata,
            role,
            acting: role,
            location,
            tracks: Default::default(),
            hand_raised: false,
            disconnected_at: None,
            listening: None,
            broadcasting: false,
        });
        if location.is_breakout() {
            self.state.breakouts.touch();
        }
        self.routing.subscriber_changed(id);
        if !self.started {
            self.started = true;
            self.lifecycle(LifecycleEvent::SessionStarted {});
            if let Some(recording) = self.config.auto_record {
                // The room's policy: the first join starts recording main, as the server. The
                // only refusal possible here is that main is being recorded already (started
                // by the API before anyone came), which is what the policy wants anyway.
                let _ = self.start_recording(Actor::Server, recording, Location::Main);
            }
        }
        self.announce_joined(now, id, false);
        let info = self.peer_info(id).expect("invariant: just inserted");
        let others: Vec<PeerId> = self
            .observers(id, None)
            .into_iter()
            .filter(|p| *p != id)
            .collect();
        self.send(others, ServerEvent::PeerJoined { peer: info });
        self.lifecycle(LifecycleEvent::PeerJoined {
            peer_id: id,
            user_id: request.user_id,
            role: request.role,
            location,
        });
        if let Some(b) = planned.filter(|_| location == Location::Main) {
            self.invite(id, b);
        }
        Ok(Outcome::Joined {
            peer: id,
            resumed: false,
        })
    }

    /// The room a newcomer of `user` is planned into, when rooms are open and it can enter.
    fn planned_room(&self, user: &caucus_proto::UserId) -> Option<caucus_proto::BreakoutId> {
        let set = &self.state.breakouts;
        set.preassignments
            .get(user)
            .copied()
            .filter(|b| set.is_enterable(*b))
    }

    /// Whether a peer not yet in the session fits at `location` with `role`.
    fn check_newcomer(
        &self,
        role: crate::template::RoleIdx,
        location: Location,
    ) -> Result<(), Denial> {
        if let Location::Breakout(b) = location {
            self.check_enterable(b)?;
            let capacity = self.state.breakouts.room(b).and_then(|r| r.capacity);
            if self.state.counts_toward_capacity(role)
                && capacity
                    .is_some_and(|c| self.state.count_toward_capacity(location) >= c as usize)
            {
                return Err(Denial::new(
                    ErrorCode::BreakoutFull,
                    format!("breakout {b} is full"),
                ));
            }
        }
        self.check_role_limit(role, 1)
    }

    fn resume(&mut self, now: Time, id: PeerId) -> Result<Outcome, Denial> {
        if let Some(peer) = self.state.peers.get_mut(&id) {
            peer.disconnected_at = None;
        }
        self.routing.subscriber_changed(id);
        self.announce_joined(now, id, true);
        self.peer_updated(id);
        Ok(Outcome::Joined {
            peer: id,
            resumed: true,
        })
    }

    fn announce_joined(&mut self, now: Time, id: PeerId, resumed: bool) {
        let Some(peer) = self.state.peers.get(&id) else {
            return;
        };
        let template = &self.state.template;
        let role = self.state.role_of(peer);
        let sees_all = role.has(caucus_proto::Permission::SeePeerList);
        let visible: Vec<&Peer> = self
            .state
            .peers
            .values()
            .filter(|p| p.id != id && (sees_all || p.location == peer.location))
            .collect();
        let peers = visible.iter().map(|p| p.info(template)).collect();
        let told: Vec<TrackKey> = visible
            .iter()
            .flat_map(|p| {
                p.tracks.keys().map(|t| TrackKey {
                    peer: p.id,
                    track: *t,
                })
            })
            .collect();
        let full = role.has(caucus_proto::Permission::ManageBreakouts);
        let event = ServerEvent::Joined {
            peer: peer.info(template),
            is_breakout: peer.location.is_breakout(),
            permissions: *role.permissions(),
            may_publish: role.publishable(),
            publish: role.spec().publish.clone(),
            resumed,
            peers,
            breakouts: self.view(now, full),
            locked: self.config.locked,
            recordings: self.recordings().collect(),
            roles: caucus_proto::RoleInfo::list(
                template.roles().map(|(_, r)| (r.name(), r.spec())),
            ),
            // Per-connection transport settings: the shell adds them.
            ice_servers: Vec::new(),
        };
        // `joined` replaces what the client knew: exactly these tracks now.
        self.audiences.forget_receiver(id);
        for key in told {
            self.audiences.tell(key, [id]);
        }
        self.send_one(id, event);
    }

    pub(super) fn leave(&mut self, actor: Actor, peer: PeerId) -> Result<Outcome, Denial> {
        if actor != Actor::Server && actor != Actor::Peer(peer) {
            return Err(Denial::new(
                ErrorCode::NotPermitted,
                "a peer can only leave by itself",
            ));
        }
        self.known_peer(peer)?;
        self.drop_peer(peer, LeaveReason::Left);
        Ok(Outcome::Done)
    }

    pub(super) fn disconnect(&mut self, now: Time, id: PeerId) -> Result<Outcome, Denial> {
        self.connected_peer(id)?;
        self.routing.before_publisher_change(&self.state, id);
        self.clear_tracks(id, caucus_proto::event::TrackEndReason::Disconnected);
        self.state.set_broadcasting(id, false);
        if let Some(peer) = self.state.peers.get_mut(&id) {
            peer.disconnected_at = Some(now);
        }
        self.routing.subscriber_changed(id);
        self.peer_updated(id);
        self.schedule(now + self.config.reconnect_grace, Timer::ReconnectGrace(id));
        Ok(Outcome::Done)
    }

    /// Remove a peer for good.
    pub(super) fn drop_peer(&mut self, id: PeerId, reason: LeaveReason) {
        let Some(peer) = self.state.peers.get(&id) else {
            return;
        };
        let user_id = peer.user_id.clone();
        let was_in_breakout = peer.location.is_breakout();
        // Everyone who sees it now, and everyone it was introduced to (a receiver of its
        // tracks elsewhere): each must hear that it left.
        let mut observers = self.observers(id, None);
        observers.extend(self.connected_of(self.audiences.acquaintances_of(id)));
        observers.sort_unstable();
        observers.dedup();
        let observers: Vec<PeerId> = observers.into_iter().filter(|p| *p != id).collect();
        self.routing.before_publisher_change(&self.state, id);
        let tracks: Vec<_> = peer.tracks.keys().copied().collect();
        self.stop_track_effects(id, &tracks);
        self.audiences.forget_publisher(id);
        self.audiences.forget_receiver(id);
        self.state.remove(id);
        self.routing.subscriber_changed(id);

        let set = &mut self.state.breakouts;
        let had_plan = set.assignments.remove(&id).is_some();
        let help_before = set.help.len();
        set.help
            .retain(|_, h| h.peer != id && h.claimed_by != Some(id));
        if was_in_breakout || had_plan || set.help.len() != help_before {
            set.touch();
        }
        let orphaned: Vec<_> = self
            .requests
            .values()
            .filter(|r| r.target == id || r.from == Some(id))
            .map(|r| r.id)
            .collect();
        for request in orphaned {
            self.resolve_request(request, RequestOutcome::Cancelled);
        }
        self.send(
            observers,
            ServerEvent::PeerLeft {
                peer_id: id,
                reason,
            },
        );
        self.lifecycle(LifecycleEvent::PeerLeft {
            peer_id: id,
            user_id,
            reason,
        });
    }

    pub(super) fn update_peer(
        &mut self,
        actor: Actor,
        id: PeerId,
        name: Option<String>,
        metadata: Option<serde_json::Value>,
    ) -> Result<Outcome, Denial> {
        let name = self.check_update(actor, id, name, metadata.as_ref())?;
        self.apply_update(id, name, metadata);
        Ok(Outcome::Done)
    }

    /// Whether `actor` may give `id` this name and metadata; the name as it will be kept.
    pub(super) fn check_update(
        &self,
        actor: Actor,
        id: PeerId,
        name: Option<String>,
        metadata: Option<&serde_json::Value>,
    ) -> Result<Option<String>, Denial> {
        if actor != Actor::Server && actor != Actor::Peer(id) {
            return Err(Denial::new(
                ErrorCode::NotPermitted,
                "a peer can only change its own name and metadata",
            ));
        }
        self.known_peer(id)?;
        let name = match name {
            Some(n) => Some(clean_name(&n)?.ok_or_else(|| {
                Denial::new(ErrorCode::InvalidName, "a name may not be empty").with_field("name")
            })?),
            None => None,
        };
        check_metadata(metadata)?;
        Ok(name)
    }

    /// Set a checked name and metadata, and tell who sees the peer.
    pub(super) fn apply_update(
        &mut self,
        id: PeerId,
        name: Option<String>,
        metadata: Option<serde_json::Value>,
    ) {
        if let Some(peer) = self.state.peers.get_mut(&id) {
            if let Some(name) = name {
                peer.name = name;
            }
            if metadata.is_some() {
                peer.metadata = metadata;
            }
        }
        self.peer_updated(id);
    }

    pub(super) fn set_hand(
        &mut self,
        actor: Actor,
        id: PeerId,
        raised: bool,
    ) -> Result<Outcome, Denial> {
        if actor != Actor::Peer(id) {
            if raised {
                return Err(Denial::new(
                    ErrorCode::NotPermitted,
                    "only a peer itself can raise its hand",
                ));
            }
            self.require(actor, Action::MutePeer)?;
        }
        let peer = self.connected_peer(id)?;
        if peer.hand_raised != raised {
            if let Some(peer) = self.state.peers.get_mut(&id) {
                peer.hand_raised = raised;
            }
            self.peer_updated(id);
        }
        Ok(Outcome::Done)
    }

    /// Tell observers that something about `id` changed.
    /// Introduce to `id` everyone it may see now but was never told of: it stood in a room, or
    /// acted as a role without the peer list, when they arrived. Each comes as `peer_updated`,
    /// so its People list is whole again after a move or a role change.
    pub(super) fn introduce_to(&mut self, id: PeerId) {
        let Some(peer) = self.state.peers.get(&id) else {
            return;
        };
        if !peer.is_connected() {
            return;
        }
        let sees_all = self
            .state
            .role_of(peer)
            .has(caucus_proto::Permission::SeePeerList);
        let location = peer.location;
        let strangers: Vec<PeerId> = self
            .state
            .peers
            .values()
            .filter(|p| p.id != id && (sees_all || p.location == location))
            .filter(|p| !self.audiences.acquainted(id, p.id))
            .map(|p| p.id)
            .collect();
        for other in strangers {
            if let Some(info) = self.peer_info(other) {
                self.told_peer_info(other, &[id]);
                self.send(vec![id], ServerEvent::PeerUpdated { peer: info });
            }
        }
    }

    pub(super) fn peer_updated(&mut self, id: PeerId) {
        if let Some(info) = self.peer_info(id) {
            let to = self.observers(id, None);
            self.told_peer_info(id, &to);
            self.send(to, ServerEvent::PeerUpdated { peer: info });
        }
    }
}

fn clean_name(raw: &str) -> Result<Option<String>, Denial> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_NAME_CHARS || !crate::text::is_printable_name(name) {
        return Err(Denial::new(
            ErrorCode::InvalidName,
            format!(
                "a display name is at most {MAX_NAME_CHARS} printable characters, without control or direction-changing characters"
            ),
        )
        .with_field("name"));
    }
    Ok(Some(name.to_owned()))
}

fn check_metadata(metadata: Option<&serde_json::Value>) -> Result<(), Denial> {
    let Some(value) = metadata else { return Ok(()) };
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(Denial::new(
            ErrorCode::InvalidValue,
            format!("metadata is at most {MAX_METADATA_BYTES} bytes of JSON"),
        )
        .with_field("metadata"));
    }
    Ok(())
}
