//! A compound change of one peer — role, location, name, metadata — carried out whole or not
//! at all: every part is checked against the state the whole change leads to before anything
//! changes, so a refusal of any part leaves the session as it was.

use caucus_proto::ErrorCode;
use caucus_proto::event::RequestKind;

use super::Session;
use crate::command::{Actor, Outcome, PeerPatch};
use crate::denial::Denial;
use crate::policy::Action;
use crate::time::Time;

impl Session {
    pub(super) fn patch_peer(
        &mut self,
        now: Time,
        actor: Actor,
        patch: PeerPatch,
    ) -> Result<Outcome, Denial> {
        let id = patch.peer;
        let peer = self.known_peer(id)?;
        let (role_now, location_now) = (peer.role, peer.location);
        let role = match &patch.role {
            Some(name) => {
                let field = |d: Denial| field(d, "role");
                self.require(actor, Action::ChangeRole).map_err(field)?;
                let idx = self.state.template.require_role(name).map_err(field)?;
                if idx == role_now {
                    return Err(field(Denial::new(
                        ErrorCode::AlreadyThere,
                        format!("peer {id} already is {name}"),
                    )));
                }
                Some(idx)
            }
            None => None,
        };
        if let Some(to) = patch.location {
            self.require(actor, Action::MovePeer)
                .map_err(|d| field(d, "location"))?;
            if to == location_now {
                return Err(field(
                    Denial::new(
                        ErrorCode::AlreadyThere,
                        format!("peer {id} already is in {to}"),
                    ),
                    "location",
                ));
            }
        }
        let name = if patch.name.is_some() || patch.metadata.is_some() {
            Some(self.check_update(actor, id, patch.name.clone(), patch.metadata.as_ref())?)
        } else {
            None
        };
        let moving = role.is_some() || patch.location.is_some();
        if moving && patch.force {
            // Capacity counts who stands where and `max_peers` who holds what, so the state the
            // whole change leads to is the one to check.
            let to = patch.location.unwrap_or(location_now);
            let placed = [(id, role.unwrap_or(role_now), to)];
            let part = if patch.location.is_some() {
                "location"
            } else {
                "role"
            };
            self.check_placements(&placed).map_err(|d| field(d, part))?;
        } else if moving {
            // Each part becomes a request the peer answers; the move must fit as it stands.
            self.connected_peer(id)?;
            if let Some(to) = patch.location {
                self.check_placements(&[(id, role_now, to)])
                    .map_err(|d| field(d, "location"))?;
            }
        }

        // Everything is checked: nothing below refuses.
        if let Some(idx) = role {
            if patch.force {
                self.apply_role_change(id, idx)?;
            } else if let Some(name) = patch.role.clone() {
                self.create_request(now, actor, id, RequestKind::ChangeRole { role: name })?;
            }
        }
        if let Some(to) = patch.location {
            if patch.force {
                self.apply_move(id, to)?;
            } else {
                self.create_request(now, actor, id, RequestKind::Move { to })?;
            }
        }
        if let Some(name) = name {
            self.apply_update(id, name, patch.metadata);
        }
        Ok(Outcome::Done)
    }
}

fn field(denial: Denial, name: &str) -> Denial {
    if denial.field.is_some() {
        denial
    } else {
        denial.with_field(name)
    }
}
