//! The invariants, checked after every step and every timer that fires.

use std::collections::{BTreeMap, BTreeSet};

use caucus_core::Peer;
use caucus_proto::event::{BreakoutsView, RoomState};
use caucus_proto::{BreakoutId, Location, PeerId, Permission, Phase, TrackKey};

use crate::compare::{fail, ms_until, public_part, stripped};
use crate::harness::Harness;
use crate::reference::{brute_force, spec_may_publish};

impl Harness {
    pub(crate) fn check(&mut self) -> Result<(), String> {
        if let Some(e) = self.effect_errors.pop() {
            return fail(e);
        }
        // 10. Every edit of the breakout plan is handed over to be written: what the store
        // holds is what the session would start again from.
        if !self.session.is_ended() && self.session.saved_plan() != self.written_plan {
            return fail(format!(
                "invariant 10: the plan changed without a write: {:?} written, {:?} now",
                self.written_plan,
                self.session.saved_plan()
            ));
        }
        let now = self.now;
        if self.session.is_ended() {
            if !self.ended_by_command
                && self
                    .empty_since
                    .is_none_or(|t| t + self.config.empty_grace > now)
            {
                return fail("the session ended though nobody ended it and it was not empty long");
            }
            if self.session.peers().next().is_some() {
                return fail("an ended session still has peers");
            }
            for id in &self.peers_ever {
                if !self.session.desired(*id).is_empty() {
                    return fail(format!("{id} still receives after the session ended"));
                }
            }
            return Ok(());
        }
        if self
            .empty_since
            .is_some_and(|t| t + self.config.empty_grace <= now)
        {
            return fail("the session has been empty for its whole grace and did not end");
        }

        let session = &self.session;
        let template = session.template().clone();
        let view = session.breakouts_view(now);
        let peers: Vec<&Peer> = session.peers().collect();

        // 0. The acting role is the role, or its breakout role inside a breakout.
        for p in &peers {
            let role = template.role(p.role());
            let expected = match (p.location(), &role.spec().breakout_role) {
                (Location::Breakout(_), Some(name)) => name.clone(),
                _ => role.name().clone(),
            };
            let acting = template.role(p.acting_role()).name();
            if *acting != expected {
                return fail(format!(
                    "{} holds {} in {} but acts as {acting}, not {expected}",
                    p.id(),
                    role.name(),
                    p.location()
                ));
            }
        }

        // 1. The routing rule, brute-forced, and the emitted sets.
        for p in &peers {
            let desired: BTreeSet<TrackKey> = session.desired(p.id()).into_iter().collect();
            let expected = brute_force(session, p);
            if desired != expected {
                return fail(format!(
                    "invariant 1: desired({}) = {desired:?}, the routing rule gives {expected:?}",
                    p.id()
                ));
            }
            if p.is_connected() {
                let emitted = self.subs.get(&p.id()).cloned().unwrap_or_default();
                if emitted != desired {
                    return fail(format!(
                        "invariant 1: the last subscriptions effect of {} is {emitted:?}, its \
                         desired set is {desired:?}",
                        p.id()
                    ));
                }
            } else if !desired.is_empty() {
                return fail(format!("invariant 1: disconnected {} receives", p.id()));
            }
        }
        for id in &self.peers_ever {
            if session.peer(*id).is_none() && !session.desired(*id).is_empty() {
                return fail(format!("invariant 1: departed {id} still receives"));
            }
        }

        // 2. Locations partition the peers; 3. capacities; 4. closed means everyone in main.
        let rooms: BTreeMap<BreakoutId, &caucus_proto::event::BreakoutRoomView> =
            view.rooms.iter().map(|r| (r.id, r)).collect();
        for p in &peers {
            if let Location::Breakout(b) = p.location() {
                if !rooms.contains_key(&b) {
                    return fail(format!(
                        "invariant 2: {} stands in {b}, which does not exist",
                        p.id()
                    ));
                }
                if matches!(view.phase, Phase::Draft | Phase::Closed) {
                    return fail(format!(
                        "invariant 4: {} stands in {b} while the phase is {:?}",
                        p.id(),
                        view.phase
                    ));
                }
            }
        }
        for room in &view.rooms {
            let mut listed = room.peers.clone();
            listed.sort();
            let before = listed.len();
            listed.dedup();
            if listed.len() != before {
                return fail(format!("invariant 2: {} lists a peer twice", room.id));
            }
            let located: Vec<PeerId> = peers
                .iter()
                .filter(|p| p.location() == Location::Breakout(room.id))
                .map(|p| p.id())
                .collect();
            if listed != located {
                return fail(format!(
                    "invariant 2: {} lists {listed:?} but {located:?} stand there",
                    room.id
                ));
            }
            let seated = self.count_in(Location::Breakout(room.id));
            if room.capacity.is_some_and(|c| seated > c as usize) {
                return fail(format!(
                    "invariant 3: {} holds {seated} peers besides managers, capacity {:?}",
                    room.id, room.capacity
                ));
            }
            if room.state == RoomState::Closed && !located.is_empty() {
                return fail(format!(
                    "invariant 2: {located:?} stand in closed room {}",
                    room.id
                ));
            }
        }
        // A role is *held* by the peers given it, wherever they stand (RoleSpec::max_peers).
        for (idx, role) in template.roles() {
            let max = role.max_peers() as usize;
            let holding = peers.iter().filter(|p| p.role() == idx).count();
            if max > 0 && holding > max {
                return fail(format!(
                    "invariant 3: role {} (max_peers {max}) is held by {holding} peers",
                    role.name()
                ));
            }
        }

        // 5. The version.
        let plain = stripped(&view);
        if view.version < self.last_version {
            return fail(format!(
                "invariant 5: version went from {} back to {}",
                self.last_version, view.version
            ));
        }
        let mut unversioned = plain.clone();
        unversioned.version = self.last_view.version;
        if unversioned != self.last_view && view.version == self.last_version {
            return fail(format!(
                "invariant 5: the breakouts view changed but version stayed {}\nbefore: {:#?}\nafter: {:#?}",
                view.version, self.last_view, plain
            ));
        }

        // 7. Tracks are publishable by the acting role; 8. listen-in and broadcast.
        for p in &peers {
            let spec = template.role(p.acting_role()).spec();
            for (track, source, _) in p.tracks() {
                if !spec_may_publish(spec, source) {
                    return fail(format!(
                        "invariant 7: {} publishes {source} ({track}) as {}",
                        p.id(),
                        template.role(p.acting_role()).name()
                    ));
                }
            }
            if let Some(b) = p.listening() {
                if p.location() == Location::Breakout(b) {
                    return fail(format!(
                        "invariant 8: {} listens in to its own room",
                        p.id()
                    ));
                }
                if !rooms.contains_key(&b) || !self.model.live(b) {
                    return fail(format!(
                        "invariant 8: {} listens in to {b}, which is gone or not live",
                        p.id()
                    ));
                }
                if !spec.permissions.has(Permission::ManageBreakouts) {
                    return fail(format!(
                        "invariant 8: {} listens in without manage_breakouts",
                        p.id()
                    ));
                }
            }
            if p.is_broadcasting()
                && (!p.is_connected() || !spec.permissions.has(Permission::Broadcast))
            {
                return fail(format!(
                    "invariant 8: {} broadcasts while disconnected or without broadcast",
                    p.id()
                ));
            }
        }

        // The breakout set follows its state machine.
        self.check_model(&view)?;

        // Every connected peer was told the current view.
        let current = public_part(&view);
        for p in &peers {
            if !p.is_connected() {
                continue;
            }
            match self.told.get(&p.id()) {
                None => return fail(format!("{} was never told the breakouts view", p.id())),
                Some(told) if **told != current => {
                    return fail(format!(
                        "{} was last told {told:#?}\nbut the view is {current:#?}",
                        p.id(),
                    ));
                }
                Some(_) => {}
            }
        }

        // Timers: reconnect grace, request expiry.
        for (id, since) in &self.disconnected_at {
            if session.peer(*id).is_some_and(|p| !p.is_connected())
                && *since + self.config.reconnect_grace <= now
            {
                return fail(format!(
                    "{id} lost its connection at {} and is still here after the grace",
                    since.as_millis()
                ));
            }
        }
        let pending = self.pending_requests();
        for (r, (since, _, _)) in &self.requests {
            if pending.contains_key(r) && *since + self.config.request_ttl <= now {
                return fail(format!("{r} outlived its time to live"));
            }
        }

        self.disconnected_at
            .retain(|id, _| self.session.peer(*id).is_some_and(|p| !p.is_connected()));
        self.requests.retain(|r, _| pending.contains_key(r));
        self.last_version = view.version;
        self.last_view = plain;
        Ok(())
    }

    pub(crate) fn check_model(&self, view: &BreakoutsView) -> Result<(), String> {
        let m = &self.model;
        let now = self.now;
        let problem = if view.phase != m.phase {
            Some(format!("phase is {:?}, expected {:?}", view.phase, m.phase))
        } else if view.options != m.options {
            Some(format!(
                "options are {:?}, expected {:?}",
                view.options, m.options
            ))
        } else if view.ends_in_ms != m.ends_at.map(|at| ms_until(now, at)) {
            Some(format!(
                "ends_in_ms is {:?}, expected {:?}",
                view.ends_in_ms,
                m.ends_at.map(|at| ms_until(now, at))
            ))
        } else if view.closes_in_ms != m.closing_at.map(|at| ms_until(now, at)) {
            Some(format!(
                "closes_in_ms is {:?}, expected {:?}",
                view.closes_in_ms,
                m.closing_at.map(|at| ms_until(now, at))
            ))
        } else if view.rooms.iter().map(|r| r.id).collect::<Vec<_>>()
            != m.rooms.keys().copied().collect::<Vec<_>>()
        {
            Some(format!(
                "rooms are {:?}, expected {:?}",
                view.rooms.iter().map(|r| r.id).collect::<Vec<_>>(),
                m.rooms.keys().collect::<Vec<_>>()
            ))
        } else {
            view.rooms.iter().find_map(|r| {
                let mr = &m.rooms[&r.id];
                let expected = (
                    mr.capacity,
                    mr.password,
                    &mr.visibility,
                    m.room_state(mr),
                    mr.closing_at.map(|at| ms_until(now, at)),
                );
                let got = (
                    r.capacity,
                    r.has_password,
                    &r.visibility,
                    r.state,
                    r.closes_in_ms,
                );
                (got != expected).then(|| {
                    format!(
                        "room {}: (capacity, password, visibility, state, closes_in_ms) is \
                         {got:?}, expected {expected:?}",
                        r.id
                    )
                })
            })
        };
        match problem {
            Some(p) => fail(format!("the breakout set left its state machine: {p}")),
            None => Ok(()),
        }
    }
}
