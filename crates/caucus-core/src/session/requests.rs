//! Requests a peer accepts or rejects: role changes, moves, unmute. They expire.

use caucus_proto::event::{RequestInfo, RequestKind, RequestOutcome};
use caucus_proto::{ErrorCode, PeerId, RequestId, ServerEvent};

use super::{PendingRequest, Session, Timer};
use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::time::{Time, millis_between};

impl Session {
    /// Ask `target` to accept `kind`. The caller has checked the permission.
    pub(super) fn create_request(
        &mut self,
        now: Time,
        actor: Actor,
        target: PeerId,
        kind: RequestKind,
    ) -> Result<Outcome, Denial> {
        self.connected_peer(target)?;
        let from = match actor {
            Actor::Peer(p) => Some(p),
            Actor::Server => None,
        };
        let id = RequestId::new(self.issue_id());
        let expires_at = now + self.config.request_ttl;
        let request = PendingRequest {
            id,
            from,
            target,
            kind: kind.clone(),
            expires_at,
        };
        self.requests.insert(id, request);
        self.schedule(expires_at, Timer::RequestExpiry(id));
        self.send_one(
            target,
            ServerEvent::RequestReceived {
                request: RequestInfo {
                    id,
                    from,
                    target,
                    kind,
                    expires_in_ms: millis_between(now, expires_at),
                },
            },
        );
        Ok(Outcome::RequestSent { request: id })
    }

    /// The target answers. Accepting carries the request out (it may still be refused, e.g. the
    /// room filled up meanwhile; then the request stays pending).
    pub(super) fn respond(
        &mut self,
        actor: Actor,
        id: RequestId,
        accept: bool,
    ) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?.id;
        let request = self.requests.get(&id).cloned().ok_or_else(|| {
            Denial::new(
                ErrorCode::UnknownRequest,
                format!("no pending request {id}"),
            )
        })?;
        if request.target != peer {
            return Err(Denial::new(
                ErrorCode::NotRequestTarget,
                "this request is for another peer",
            ));
        }
        if !accept {
            self.resolve_request(id, RequestOutcome::Rejected);
            return Ok(Outcome::Done);
        }
        match &request.kind {
            RequestKind::ChangeRole { role } => {
                let role = self.state.template.require_role(role)?;
                self.apply_role_change(peer, role)?;
            }
            RequestKind::Move { to } => {
                self.apply_move(peer, *to)?;
            }
            RequestKind::Unmute { source } => {
                let tracks: Vec<_> = self
                    .known_peer(peer)?
                    .tracks
                    .values()
                    .filter(|t| t.source == *source)
                    .map(|t| t.id)
                    .collect();
                self.mute_tracks(peer, &tracks, false, None);
            }
        }
        self.resolve_request(id, RequestOutcome::Accepted);
        Ok(Outcome::Done)
    }

    pub(super) fn expire_request(&mut self, now: Time, id: RequestId) {
        if self.requests.get(&id).is_some_and(|r| r.expires_at <= now) {
            self.resolve_request(id, RequestOutcome::Expired);
        }
    }

    /// Forget a request and tell both sides how it ended.
    pub(super) fn resolve_request(&mut self, id: RequestId, outcome: RequestOutcome) {
        let Some(request) = self.requests.remove(&id) else {
            return;
        };
        let event = ServerEvent::RequestResolved {
            request_id: id,
            outcome,
        };
        let mut to: Vec<PeerId> = [Some(request.target), request.from]
            .into_iter()
            .flatten()
            .collect();
        to.dedup();
        to.retain(|p| self.state.peers.get(p).is_some_and(|p| p.is_connected()));
        self.send(to, event);
    }
}
