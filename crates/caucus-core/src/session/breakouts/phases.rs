//! The set's phases in time: opening, the timer and its warning, closing with a countdown
//! (everything or one room), and sending peers back to main.

use std::collections::BTreeSet;
use std::time::Duration;

use caucus_proto::event::Move;
use caucus_proto::{BreakoutId, ErrorCode, LifecycleEvent, Location, PeerId, Phase, ServerEvent};

use super::{BULK_MOVES, check_seconds};
use crate::command::Outcome;
use crate::denial::Denial;
use crate::session::{Session, Timer};
use crate::time::{Time, millis_between};

impl Session {
    pub(super) fn open(&mut self, now: Time, duration_s: Option<u32>) -> Result<Outcome, Denial> {
        let set = &self.state.breakouts;
        match set.phase {
            Phase::Open => {
                return Err(Denial::new(
                    ErrorCode::AlreadyThere,
                    "breakout rooms are already open",
                ));
            }
            Phase::Closing => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsClosing,
                    "breakout rooms are closing",
                ));
            }
            Phase::Draft | Phase::Closed => {}
        }
        if set.rooms.is_empty() {
            return Err(Denial::new(
                ErrorCode::InvalidValue,
                "there are no rooms to open; create some first",
            ));
        }
        let duration = duration_s.or(set.options.duration_s);
        if let Some(d) = duration {
            check_seconds(d, 1, "duration_s")?;
        }
        let auto_move = set.options.auto_move_on_open;
        let set = &mut self.state.breakouts;
        set.phase = Phase::Open;
        set.closing_at = None;
        for room in set.rooms.values_mut() {
            room.closed = false;
            room.closing_at = None;
        }
        set.touch();
        if let Some(d) = duration {
            self.start_timer(now, now + Duration::from_secs(u64::from(d)));
        }
        let planned: Vec<(PeerId, crate::template::RoleIdx, BreakoutId)> = self
            .state
            .peers
            .values()
            .filter_map(|p| {
                let b = self.state.breakouts.assignment_of(p.id, &p.user_id)?;
                (p.location != Location::Breakout(b)).then_some((p.id, p.role, b))
            })
            .collect();
        let mut invited = Vec::new();
        if auto_move {
            if planned.len() > BULK_MOVES {
                self.routing.rebuild_all();
            }
            let mut moves = Vec::new();
            // One at a time, so a room that is over-planned fills up and the rest are invited.
            for (id, role, b) in planned {
                let to = Location::Breakout(b);
                if self.check_placements(&[(id, role, to)]).is_ok() {
                    moves.extend(self.relocate(id, role, to));
                } else {
                    invited.push((id, b));
                }
            }
            self.announce_moves(&moves);
        } else {
            invited.extend(planned.into_iter().map(|(id, _, b)| (id, b)));
        }
        for (id, b) in invited {
            self.invite(id, b);
        }
        let rooms = self.state.breakouts.rooms.keys().copied().collect();
        self.lifecycle(LifecycleEvent::BreakoutsOpened {
            rooms,
            ends_in_s: duration,
        });
        Ok(Outcome::Done)
    }

    fn start_timer(&mut self, now: Time, ends_at: Time) {
        let warning = Duration::from_secs(u64::from(self.state.breakouts.options.warning_s));
        let set = &mut self.state.breakouts;
        set.ends_at = Some(ends_at);
        set.warned = false;
        let warn_at = ends_at - warning;
        if warning > Duration::ZERO && warn_at > now {
            self.schedule(warn_at, Timer::BreakoutWarning);
        }
        self.schedule(ends_at, Timer::BreakoutEnd);
    }

    pub(super) fn extend(&mut self, now: Time, seconds: u32) -> Result<Outcome, Denial> {
        check_seconds(seconds, 1, "seconds")?;
        let set = &self.state.breakouts;
        if set.phase != Phase::Open {
            return Err(Denial::new(
                ErrorCode::BreakoutsNotOpen,
                "breakout rooms are not open",
            ));
        }
        let Some(ends_at) = set.ends_at else {
            return Err(Denial::new(
                ErrorCode::NoTimer,
                "the breakout rooms run without a timer",
            ));
        };
        self.start_timer(now, ends_at + Duration::from_secs(u64::from(seconds)));
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    pub(in crate::session) fn breakout_warning(&mut self, now: Time) {
        let set = &self.state.breakouts;
        let Some(ends_at) = set.ends_at else { return };
        let lead = Duration::from_secs(u64::from(set.options.warning_s));
        if set.phase != Phase::Open || set.warned || ends_at - lead > now {
            return;
        }
        self.state.breakouts.warned = true;
        let remaining_ms = millis_between(now, ends_at);
        let everyone = self.everyone();
        self.send(everyone, ServerEvent::TimerWarning { remaining_ms });
        self.lifecycle(LifecycleEvent::BreakoutsTimerWarning {
            remaining_s: u32::try_from(remaining_ms.div_ceil(1000)).unwrap_or(u32::MAX),
        });
    }

    /// The running timer ran out: close every room with the options' countdown.
    pub(in crate::session) fn breakout_timer_end(&mut self, now: Time) {
        let countdown = self.state.breakouts.options.countdown_s;
        self.begin_closing_all(now, countdown);
    }

    pub(super) fn close(
        &mut self,
        now: Time,
        countdown_s: Option<u32>,
        breakout: Option<BreakoutId>,
    ) -> Result<Outcome, Denial> {
        let set = &self.state.breakouts;
        let countdown = countdown_s.unwrap_or(set.options.countdown_s);
        check_seconds(countdown, 0, "countdown_s")?;
        match set.phase {
            Phase::Open => {}
            Phase::Closing => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsClosing,
                    "breakout rooms are already closing",
                ));
            }
            Phase::Draft | Phase::Closed => {
                return Err(Denial::new(
                    ErrorCode::BreakoutsNotOpen,
                    "breakout rooms are not open",
                ));
            }
        }
        match breakout {
            None => self.begin_closing_all(now, countdown),
            Some(b) => {
                crate::session::check_room_not_closing(self.room(b)?)?;
                self.begin_closing_room(now, b, countdown);
            }
        }
        Ok(Outcome::Done)
    }

    fn begin_closing_all(&mut self, now: Time, countdown_s: u32) {
        self.lifecycle(LifecycleEvent::BreakoutsClosing {
            breakout_id: None,
            countdown_s,
        });
        let set = &mut self.state.breakouts;
        set.ends_at = None;
        set.touch();
        if countdown_s == 0 {
            self.close_all_now();
            return;
        }
        let at = now + Duration::from_secs(u64::from(countdown_s));
        set.phase = Phase::Closing;
        set.closing_at = Some(at);
        self.schedule(at, Timer::CloseAll);
        let everyone = self.everyone();
        self.send(
            everyone,
            ServerEvent::BreakoutsClosing {
                breakout_id: None,
                countdown_ms: u64::from(countdown_s) * 1000,
            },
        );
    }

    fn begin_closing_room(&mut self, now: Time, b: BreakoutId, countdown_s: u32) {
        self.lifecycle(LifecycleEvent::BreakoutsClosing {
            breakout_id: Some(b),
            countdown_s,
        });
        self.state.breakouts.touch();
        if countdown_s == 0 {
            self.close_room_now(b);
            return;
        }
        let at = now + Duration::from_secs(u64::from(countdown_s));
        if let Some(room) = self.state.breakouts.rooms.get_mut(&b) {
            room.closing_at = Some(at);
        }
        self.schedule(at, Timer::CloseRoom(b));
        let mut to: BTreeSet<PeerId> = self.state.everyone_in(Location::Breakout(b)).collect();
        to.extend(self.state.listeners.get(&b).into_iter().flatten().copied());
        to.extend(self.managers());
        let to = to
            .into_iter()
            .filter(|p| self.state.peers.get(p).is_some_and(|p| p.is_connected()))
            .collect();
        self.send(
            to,
            ServerEvent::BreakoutsClosing {
                breakout_id: Some(b),
                countdown_ms: u64::from(countdown_s) * 1000,
            },
        );
    }

    /// Everyone back to main now; the plan (rooms, assignments) is kept for next time.
    pub(in crate::session) fn close_all_now(&mut self) {
        let inside: Vec<PeerId> = self
            .state
            .peers
            .values()
            .filter(|p| p.location.is_breakout())
            .map(|p| p.id)
            .collect();
        let listening: Vec<PeerId> = self.state.listeners.values().flatten().copied().collect();
        self.send_to_main(inside, listening);
        self.finish_closing_all();
    }

    pub(super) fn finish_closing_all(&mut self) {
        let set = &mut self.state.breakouts;
        set.phase = Phase::Closed;
        set.closing_at = None;
        set.ends_at = None;
        set.help.clear();
        for room in set.rooms.values_mut() {
            room.closed = false;
            room.closing_at = None;
        }
        set.touch();
        self.lifecycle(LifecycleEvent::BreakoutsClosed { breakout_id: None });
    }

    /// Close one room now: its peers go back to main.
    pub(in crate::session) fn close_room_now(&mut self, b: BreakoutId) {
        self.empty_room(b);
        let set = &mut self.state.breakouts;
        if let Some(room) = set.rooms.get_mut(&b) {
            room.closed = true;
            room.closing_at = None;
        }
        set.help.retain(|_, h| h.breakout != Some(b));
        set.touch();
        self.lifecycle(LifecycleEvent::BreakoutsClosed {
            breakout_id: Some(b),
        });
        if self.state.breakouts.rooms.values().all(|r| r.closed) {
            self.finish_closing_all();
        }
    }

    /// Send everyone in a room back to main and end listen-ins to it.
    pub(super) fn empty_room(&mut self, b: BreakoutId) {
        let inside: Vec<PeerId> = self.state.everyone_in(Location::Breakout(b)).collect();
        let listening: Vec<PeerId> = self
            .state
            .listeners
            .get(&b)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        self.send_to_main(inside, listening);
    }

    /// Move these peers back to main, end these listen-ins, and announce the moves.
    fn send_to_main(&mut self, inside: Vec<PeerId>, listening: Vec<PeerId>) {
        if inside.len() > BULK_MOVES {
            self.routing.rebuild_all();
        }
        let moves: Vec<Move> = inside
            .into_iter()
            .filter_map(|id| {
                let role = self.state.peers.get(&id)?.role;
                self.relocate(id, role, Location::Main)
            })
            .collect();
        for id in listening {
            self.stop_listening(id);
        }
        self.announce_moves(&moves);
    }
}
