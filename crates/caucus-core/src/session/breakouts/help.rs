//! The help queue: a peer asks for help, a manager claims or dismisses the request.

use caucus_proto::{ErrorCode, HelpId, LifecycleEvent, ServerEvent};

use crate::breakout_set::HelpEntry;
use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::session::Session;

impl Session {
    pub(super) fn claim_help(&mut self, actor: Actor, help: HelpId) -> Result<Outcome, Denial> {
        let claimer = self.acting_peer(actor)?.id;
        let entry = self.state.breakouts.help.get_mut(&help).ok_or_else(|| {
            Denial::new(ErrorCode::UnknownHelp, format!("no help request {help}"))
        })?;
        entry.claimed_by = Some(claimer);
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    pub(super) fn dismiss_help(&mut self, help: HelpId) -> Result<Outcome, Denial> {
        if self.state.breakouts.help.remove(&help).is_none() {
            return Err(Denial::new(
                ErrorCode::UnknownHelp,
                format!("no help request {help}"),
            ));
        }
        self.state.breakouts.touch();
        Ok(Outcome::Done)
    }

    pub(in crate::session) fn request_help(&mut self, actor: Actor) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        let (id, breakout) = (peer.id, peer.location.breakout());
        if let Some(existing) = self.state.breakouts.help.values().find(|h| h.peer == id) {
            return Ok(Outcome::HelpRequested { help: existing.id });
        }
        let help = HelpId::new(self.issue_id());
        let entry = HelpEntry {
            id: help,
            peer: id,
            breakout,
            claimed_by: None,
        };
        self.state.breakouts.help.insert(help, entry);
        self.state.breakouts.touch();
        let managers = self.managers();
        let info = caucus_proto::event::HelpInfo {
            id: help,
            peer_id: id,
            breakout_id: breakout,
            claimed_by: None,
        };
        self.send(managers, ServerEvent::HelpRequested { help: info });
        self.lifecycle(LifecycleEvent::HelpRequested {
            help_id: help,
            peer_id: id,
            breakout_id: breakout,
        });
        Ok(Outcome::HelpRequested { help })
    }
}
