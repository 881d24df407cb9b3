//! Peers moving themselves: joining a room (assigned, or self-selected behind an optional
//! password) and returning to main.

use caucus_proto::{BreakoutId, ErrorCode, Location, Permission};

use crate::command::{Actor, Outcome, RoomPassword};
use crate::denial::Denial;
use crate::policy::Action;
use crate::session::Session;
use crate::session::password::Gate;
use crate::time::Time;

impl Session {
    /// `password_ok` is the verdict of a check this command asked for
    /// ([`Outcome::CheckPassword`]: a restored room knows its password only as a hash).
    pub(in crate::session) fn join_breakout(
        &mut self,
        now: Time,
        actor: Actor,
        b: BreakoutId,
        password: Option<&str>,
        password_ok: Option<bool>,
    ) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        let id = peer.id;
        let room = self.room(b)?;
        if peer.location == Location::Breakout(b) {
            return Err(Denial::new(
                ErrorCode::AlreadyThere,
                format!("peer {id} already is in {b}"),
            ));
        }
        let assigned = self.state.breakouts.assignment_of(id, &peer.user_id) == Some(b);
        if !assigned {
            if !self.state.breakouts.options.allow_self_select {
                return Err(Denial::new(
                    ErrorCode::SelfSelectDisabled,
                    "choosing a breakout room is not allowed now; wait to be assigned",
                ));
            }
            self.require(actor, Action::SelfSelectBreakout)?;
            if let Some(expected) = room.password.clone() {
                let gate = Gate {
                    missing: format!("{} needs a password", room.name),
                    wrong: format!("wrong password for {}", room.name),
                };
                let user = peer.user_id.clone();
                if let Some(check) =
                    self.pass_gate(now, &user, &expected, password, password_ok, &gate)?
                {
                    return Ok(check);
                }
                if let (RoomPassword::Hash(_), Some(plain)) = (&expected, password) {
                    // Checked against the hash: compare here from now on, at no cost.
                    if let Some(room) = self.state.breakouts.rooms.get_mut(&b) {
                        room.password = Some(RoomPassword::Plain(plain.to_owned()));
                    }
                }
            }
        }
        self.apply_move(id, Location::Breakout(b))?;
        Ok(Outcome::Done)
    }

    pub(in crate::session) fn return_to_main(&mut self, actor: Actor) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        if peer.location == Location::Main {
            return Err(Denial::new(
                ErrorCode::AlreadyThere,
                "already in the main room",
            ));
        }
        let manager =
            self.may(peer, Permission::ManageBreakouts) || self.may(peer, Permission::MovePeers);
        if !self.state.breakouts.options.allow_return_to_main && !manager {
            return Err(Denial::new(
                ErrorCode::ReturnToMainDisabled,
                "returning to the main room is not allowed now",
            ));
        }
        let id = peer.id;
        self.apply_move(id, Location::Main)?;
        Ok(Outcome::Done)
    }
}
