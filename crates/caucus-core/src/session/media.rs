//! Tracks: publishing, unpublishing, muting oneself and others, asking to unmute.

use caucus_proto::event::{RequestKind, TrackEndReason};
use caucus_proto::{ErrorCode, PeerId, ServerEvent, Source, TrackId, TrackKey};

use super::Session;
use crate::command::{Actor, Outcome};
use crate::denial::Denial;
use crate::effect::Effect;
use crate::policy::{Action, Principal, authorize};
use crate::state::Track;
use crate::time::Time;

impl Session {
    pub(super) fn publish(
        &mut self,
        actor: Actor,
        source: Source,
        muted: bool,
    ) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        authorize(
            Principal::Peer(self.state.role_of(peer)),
            Action::Publish(source),
        )?;
        if peer.tracks.values().any(|t| t.source == source) {
            return Err(Denial::new(
                ErrorCode::AlreadyExists,
                format!(
                    "peer {} already publishes {source}; unpublish it first",
                    peer.id
                ),
            )
            .with_field("source"));
        }
        let id = peer.id;
        self.routing.before_publisher_change(&self.state, id);
        let track = TrackId::new(self.issue_id());
        if let Some(peer) = self.state.peers.get_mut(&id) {
            peer.tracks.insert(
                track,
                Track {
                    id: track,
                    source,
                    muted,
                },
            );
        }
        if muted {
            self.effects.push_back(Effect::TrackMuted {
                peer: id,
                track,
                muted,
            });
        }
        let (to, strangers): (Vec<PeerId>, Vec<PeerId>) = self
            .observers(id, None)
            .into_iter()
            .partition(|p| self.audiences.acquainted(*p, id));
        // An observer that never met the publisher (it receives it from elsewhere, say) is
        // introduced to the whole peer, the new track included.
        if !strangers.is_empty()
            && let Some(info) = self.peer_info(id)
        {
            self.told_peer_info(id, &strangers);
            self.send(strangers, ServerEvent::PeerUpdated { peer: info });
        }
        self.audiences
            .tell(TrackKey { peer: id, track }, to.iter().copied());
        self.send(
            to,
            ServerEvent::TrackPublished {
                peer_id: id,
                track: caucus_proto::event::TrackInfo {
                    id: track,
                    source,
                    muted,
                },
            },
        );
        Ok(Outcome::Published { track })
    }

    pub(super) fn unpublish(&mut self, actor: Actor, track: TrackId) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        let id = peer.id;
        own_track(peer, track)?;
        self.routing.before_publisher_change(&self.state, id);
        self.end_tracks(id, &[track], TrackEndReason::Unpublished);
        Ok(Outcome::Done)
    }

    pub(super) fn set_muted(
        &mut self,
        actor: Actor,
        track: TrackId,
        muted: bool,
    ) -> Result<Outcome, Denial> {
        let peer = self.acting_peer(actor)?;
        let id = peer.id;
        own_track(peer, track)?;
        self.mute_tracks(id, &[track], muted, None);
        Ok(Outcome::Done)
    }

    pub(super) fn mute_peer(
        &mut self,
        actor: Actor,
        target: PeerId,
        source: Option<Source>,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::MutePeer)?;
        let peer = self.known_peer(target)?;
        let tracks: Vec<TrackId> = peer
            .tracks
            .values()
            .filter(|t| !t.muted && source.is_none_or(|s| s == t.source))
            .map(|t| t.id)
            .collect();
        let by = match actor {
            Actor::Peer(p) => Some(p),
            Actor::Server => None,
        };
        self.mute_tracks(target, &tracks, true, by);
        Ok(Outcome::Done)
    }

    pub(super) fn ask_unmute(
        &mut self,
        now: Time,
        actor: Actor,
        target: PeerId,
        source: Source,
    ) -> Result<Outcome, Denial> {
        self.require(actor, Action::AskUnmute)?;
        self.create_request(now, actor, target, RequestKind::Unmute { source })
    }

    /// Set the mute state of some of a peer's tracks and tell everyone concerned.
    pub(super) fn mute_tracks(
        &mut self,
        id: PeerId,
        tracks: &[TrackId],
        muted: bool,
        by: Option<PeerId>,
    ) {
        let mut changed = Vec::new();
        if let Some(peer) = self.state.peers.get_mut(&id) {
            for track in tracks {
                if let Some(t) = peer.tracks.get_mut(track)
                    && t.muted != muted
                {
                    t.muted = muted;
                    changed.push(*track);
                }
            }
        }
        if changed.is_empty() {
            return;
        }
        for track in changed {
            self.effects.push_back(Effect::TrackMuted {
                peer: id,
                track,
                muted,
            });
            let to = self.connected_of(self.audiences.of(TrackKey { peer: id, track }));
            self.send(
                to,
                ServerEvent::TrackMuted {
                    peer_id: id,
                    track_id: track,
                    muted,
                    by,
                },
            );
        }
    }

    /// Drop every track of a peer (its connection is gone, or its role no longer allows them).
    pub(super) fn clear_tracks(&mut self, id: PeerId, reason: TrackEndReason) {
        let tracks: Vec<TrackId> = self
            .state
            .peers
            .get(&id)
            .map(|p| p.tracks.keys().copied().collect())
            .unwrap_or_default();
        self.end_tracks(id, &tracks, reason);
    }

    /// Remove the given tracks (the caller has told routing already) and tell each one's end
    /// to the peers that knew it — not to whoever observes the peer now: after a move, the
    /// peers at the new place never heard of these tracks.
    pub(super) fn end_tracks(&mut self, id: PeerId, tracks: &[TrackId], reason: TrackEndReason) {
        if let Some(peer) = self.state.peers.get_mut(&id) {
            for track in tracks {
                peer.tracks.remove(track);
            }
        }
        self.stop_track_effects(id, tracks);
        for track in tracks {
            let knew = self.audiences.take(TrackKey {
                peer: id,
                track: *track,
            });
            let to = self.connected_of(knew);
            self.send(
                to,
                ServerEvent::TrackUnpublished {
                    peer_id: id,
                    track_id: *track,
                    reason,
                },
            );
        }
    }
}

fn own_track(peer: &crate::state::Peer, track: TrackId) -> Result<(), Denial> {
    if peer.tracks.contains_key(&track) {
        Ok(())
    } else {
        Err(Denial::new(
            ErrorCode::UnknownTrack,
            format!("peer {} has no track {track}", peer.id),
        )
        .with_field("track"))
    }
}
