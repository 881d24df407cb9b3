//! Running a step: the command, the effects it emits, the timers that fire, the checks
//! after each.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use caucus_core::{Effect, Peer};
use caucus_proto::{Location, PeerId, Phase, ServerEvent, TrackKey};

use crate::compare::{fail, public_part};
use crate::expect::Snapshot;
use crate::harness::{Harness, op_name};
use crate::ops::Op;

impl Harness {
    pub(crate) fn snapshot(&self) -> Snapshot {
        let ids: Vec<PeerId> = self.present();
        Snapshot {
            peers: ids
                .iter()
                .filter_map(|id| self.session.peer_info(*id).map(|i| (*id, i)))
                .collect(),
            desired: self
                .peers_ever
                .iter()
                .map(|id| (*id, self.session.desired(*id)))
                .collect(),
            view: self.session.breakouts_view(self.now),
            locked: self.session.is_locked(),
            ended: self.session.is_ended(),
            requests: ids
                .iter()
                .map(|id| (*id, self.session.requests_for(*id)))
                .collect(),
            next_timeout: self.session.poll_timeout(),
        }
    }

    /// Collect every pending effect; returns how many there were.
    pub(crate) fn drain(&mut self) -> usize {
        let mut n = 0;
        while let Some(effect) = self.session.poll_effect() {
            n += 1;
            // 9. Signaling stays within what each receiver knows.
            for violation in self.knowledge.observe(&effect) {
                self.effect_errors.push(format!("invariant 9: {violation}"));
            }
            match effect {
                Effect::Subscriptions { peer, tracks } => {
                    let set: BTreeSet<TrackKey> = tracks.iter().copied().collect();
                    if set.len() != tracks.len() {
                        self.effect_errors.push(format!(
                            "subscriptions of {peer} repeat a track: {tracks:?}"
                        ));
                    }
                    self.subs.insert(peer, set);
                }
                Effect::Send { to, event } => match &*event {
                    ServerEvent::Joined { breakouts, .. } => {
                        let seen = Arc::new(public_part(breakouts));
                        for p in to {
                            self.told.insert(p, seen.clone());
                        }
                    }
                    ServerEvent::Breakouts { state } => {
                        let seen = Arc::new(public_part(state));
                        for p in to {
                            self.told.insert(p, seen.clone());
                        }
                    }
                    _ => {}
                },
                Effect::PersistPlan { plan } => {
                    // 10. A plan handed over is the plan as it stands.
                    if plan != self.session.saved_plan() {
                        self.effect_errors
                            .push("invariant 10: a plan write is not the plan".to_owned());
                    }
                    self.written_plan = plan;
                }
                _ => {}
            }
        }
        n
    }

    pub(crate) fn step(&mut self, op: &Op) -> Result<(), String> {
        if let Op::Advance { ms } = op {
            return self.advance(*ms);
        }
        if let Op::Crowd { n } = op {
            let guest = self
                .roles
                .iter()
                .position(|r| r.as_str() == "guest")
                .unwrap_or(0);
            for i in 0..*n {
                let join = Op::Join {
                    user: 100u8.saturating_add(i),
                    role: u8::try_from(guest).unwrap(),
                };
                self.step(&join)?;
            }
            return Ok(());
        }
        let Some((actor, command)) = self.build(op) else {
            return Ok(());
        };
        let pre = self.snapshot();
        let expect = self.predict(actor, &command);
        self.trace
            .push(format!("t={} {actor:?} {command:?}", self.now.as_millis()));
        let result = self
            .session
            .handle_command(self.now, actor, command.clone());
        let emitted = self.drain();
        if let Some(line) = self.trace.last_mut() {
            match &result {
                Ok(outcome) => line.push_str(&format!("\n    => {outcome:?}")),
                Err(denial) => line.push_str(&format!("\n    => refused: {denial}")),
            }
        }
        let name = op_name(op);
        match &result {
            Err(denial) => {
                *self
                    .stats
                    .refused
                    .entry(format!("{name}: {}", denial.code))
                    .or_default() += 1;
                if let Some(reason) = &expect.succeed {
                    return fail(format!("refused ({denial}) but must succeed: {reason}"));
                }
                if let Some((reason, Some(code))) = &expect.refuse
                    && denial.code != *code
                {
                    return fail(format!(
                        "refused with {} but expected {code} ({reason})",
                        denial.code
                    ));
                }
                // 6. A refusal changes nothing and emits nothing.
                if emitted > 0 {
                    return fail(format!(
                        "invariant 6: the refused command emitted {emitted} effects"
                    ));
                }
                let post = self.snapshot();
                if post != pre {
                    return fail(format!(
                        "invariant 6: the refused command changed the session\nbefore: {pre:#?}\nafter: {post:#?}"
                    ));
                }
            }
            Ok(outcome) => {
                *self.stats.ok.entry(name).or_default() += 1;
                if let Some((reason, _)) = &expect.refuse {
                    return fail(format!(
                        "succeeded ({outcome:?}) but must be refused: {reason}"
                    ));
                }
                self.after_success(actor, &command, outcome, &pre)?;
            }
        }
        self.after_step()
    }

    /// Let `ms` pass, firing every timer on the way and checking after each.
    pub(crate) fn advance(&mut self, ms: u64) -> Result<(), String> {
        let end = self.now + Duration::from_millis(ms);
        self.trace
            .push(format!("t={} advance {ms} ms", self.now.as_millis()));
        while let Some(at) = self.session.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            self.session.handle_timeout(self.now);
            self.drain();
            self.trace
                .push(format!("t={} timers fired", self.now.as_millis()));
            self.stats.timer_steps += 1;
            self.after_step()?;
        }
        self.now = end;
        self.session.handle_timeout(self.now);
        self.drain();
        self.after_step()
    }

    pub(crate) fn after_step(&mut self) -> Result<(), String> {
        self.model.advance_to(self.now);
        if !self.session.is_ended() {
            if self.session.peers().next().is_none() {
                self.empty_since.get_or_insert(self.now);
            } else {
                self.empty_since = None;
            }
        }
        self.collect_stats();
        self.check()
    }

    pub(crate) fn collect_stats(&mut self) {
        let s = &mut self.stats;
        s.steps += 1;
        let phase = self.session.breakouts().phase();
        if phase == Phase::Open && self.session.peers().any(|p| p.location().is_breakout()) {
            s.steps_open_with_peers_inside += 1;
        }
        if phase == Phase::Closing {
            s.steps_closing += 1;
        }
        if self.session.peers().any(|p| p.listening().is_some()) {
            s.steps_listening += 1;
        }
        if self.session.peers().any(Peer::is_broadcasting) {
            s.steps_broadcasting += 1;
        }
        let crossing = self.session.peers().any(|s| {
            s.location().is_breakout()
                && self.session.desired(s.id()).iter().any(|k| {
                    self.session
                        .peer(k.peer)
                        .is_some_and(|p| p.location() == Location::Main && !p.is_broadcasting())
                })
        });
        if crossing {
            s.steps_main_stage_route += 1;
        }
    }
}
