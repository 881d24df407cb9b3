//! Peers moving themselves: joining a room (assigned, or self-selected behind an optional
//! password) and returning to main.

use caucus_proto::{BreakoutId, ErrorCode, Location, Permission};

use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::policy::Action;
use crate::session::Session;

impl Session {
    pub(in crate::session) fn join_breakout(
        &mut self,
        actor: Actor,
        b: BreakoutId,
        password: Option<&str>,
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
            if !room.password_matches(password) {
                return Err(Denial::new(
                    ErrorCode::WrongPassword,
                    format!("wrong password for {}", room.name),
                )
                .with_field("password"));
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
