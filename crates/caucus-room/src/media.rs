//! The room and the media engine: what the engine reports about this room's peers, and what
//! it is told — each subscriber's desired set as engine tracks in priority order, and the
//! layer hint of each camera it receives.

use caucus_core::Time;
use caucus_media::{EngineEvent, MaxLayer, MediaError, PeerKey};
use caucus_proto::signal::{ReplyData, ServerMessage};
use caucus_proto::{ErrorBody, ErrorCode, PeerId, Source, TrackId, TrackKey};
use tracing::{debug, info};

use crate::media_ids::Bound;
use crate::output::EngineCommand;
use crate::room::Room;
use crate::signaling::no_media;

impl Room {
    /// The outcome of an engine `AddPeer`, `Offer` or `Answer`: the answer SDP for an offer,
    /// `None` for an answer.
    pub fn handle_negotiated(
        &mut self,
        _now: Time,
        key: PeerKey,
        request: u64,
        result: Result<Option<String>, MediaError>,
    ) {
        let was_adding = self.adding.remove(&key);
        let Some(peer) = self.ids.peer_of(key) else {
            debug!(room = %self.id, %key, "negotiation result for a gone engine peer");
            return;
        };
        match result {
            Ok(sdp) => {
                // A client that offered no media section has no transport to bring up until
                // the engine offers it m-lines, which it does for the subscriptions it gets:
                // so it gets them now instead of once connected.
                let nothing_to_connect = was_adding
                    && sdp
                        .as_deref()
                        .is_some_and(|a| !a.lines().any(|l| l.starts_with("m=")));
                self.reply(peer, request, Ok(sdp.map(|sdp| ReplyData::Answer { sdp })));
                if nothing_to_connect {
                    self.ids.connected(key);
                    self.push_subscriptions(peer);
                }
            }
            Err(e) => {
                // The detail stays here: the client gets a code and a fixed sentence.
                info!(room = %self.id, %peer, %key, error = %e, "negotiation failed");
                if was_adding {
                    // The engine never took the peer: the next offer starts afresh.
                    self.ids.detach(peer);
                }
                self.reply_err(peer, request, media_error(&e));
            }
        }
        self.settle();
    }

    /// Something the engine says about one of this room's peers.
    pub fn handle_engine_event(&mut self, _now: Time, event: EngineEvent) {
        match event {
            EngineEvent::PeerConnected { peer: key } => {
                if let Some(peer) = self.ids.connected(key) {
                    debug!(room = %self.id, %key, %peer, "media connected");
                    self.push_subscriptions(peer);
                }
            }
            EngineEvent::PeerDisconnected { peer: key, reason } => {
                if let Some(peer) = self.ids.peer_of(key) {
                    info!(room = %self.id, %peer, %key, ?reason, "media connection lost");
                    self.ids.detach(peer);
                }
            }
            EngineEvent::TrackPublished {
                peer: key,
                track,
                mid,
                kind,
            } => match self.ids.received(key, &mid, track, kind) {
                Some(bound) => self.on_bound(bound),
                // Not announced (yet): forwarded to nobody, and paused so it costs nothing.
                None => self.engine(EngineCommand::SetPaused {
                    track,
                    paused: true,
                }),
            },
            EngineEvent::TrackEnded { track, .. } => self.ids.ended(track),
            EngineEvent::NeedsOffer { peer: key, sdp } => {
                if let Some(peer) = self.ids.peer_of(key) {
                    self.send_message(peer, ServerMessage::Offer { sdp });
                }
            }
            EngineEvent::SlotAssigned {
                subscriber,
                mid,
                track,
            } => {
                if let Some(peer) = self.ids.peer_of(subscriber) {
                    let track = track.and_then(|t| self.ids.remote(t));
                    self.send_message(peer, ServerMessage::Slot { mid, track });
                }
            }
            EngineEvent::Stats(_) => {}
        }
        self.settle();
    }

    pub(crate) fn on_bound(&mut self, bound: Bound) {
        self.engine(EngineCommand::SetPaused {
            track: bound.engine,
            paused: bound.muted,
        });
        for subscriber in bound.subscribers {
            self.push_subscriptions(subscriber);
        }
        self.push_recordings();
    }

    /// A receiver's picture size for a remote camera: kept per (subscriber, track) and
    /// applied with the role's cap at the next (and every later) subscription push.
    pub(crate) fn video_size(
        &mut self,
        peer: PeerId,
        id: u64,
        track: TrackId,
        width: u32,
        height: u32,
    ) {
        if !(16..=7680).contains(&width) || !(16..=4320).contains(&height) {
            return self.reply_err(
                peer,
                id,
                ErrorBody {
                    code: ErrorCode::InvalidValue,
                    message: "a picture size is 16 to 7680 × 16 to 4320 pixels".to_owned(),
                    field: Some("max_width".to_owned()),
                },
            );
        }
        let Some(publisher) = self
            .session
            .peers()
            .find(|p| p.tracks().any(|(t, _, _)| t == track))
            .map(|p| p.id())
        else {
            return self.reply_err(
                peer,
                id,
                ErrorBody {
                    code: ErrorCode::UnknownTrack,
                    message: format!("no track {track} in this session"),
                    field: Some("track_id".to_owned()),
                },
            );
        };
        self.view_sizes.entry(peer).or_default().insert(
            TrackKey {
                peer: publisher,
                track,
            },
            (width, height),
        );
        self.reply(peer, id, Ok(None));
        self.push_subscriptions(peer);
    }

    /// Hand the engine the peer's desired set — bound tracks, in the core's order (highest
    /// priority first) — and the layer hint of each camera track: the smaller of the role's
    /// cap (the core's `ViewCap`) and the size the client asked for (`video_size`).
    pub(crate) fn push_subscriptions(&mut self, peer: PeerId) {
        let Some(key) = self.ids.ready_key_of(peer) else {
            return;
        };
        let set = self.ids.bound_set(peer);
        self.engine(EngineCommand::SetSubscriptions {
            key,
            tracks: set.iter().map(|t| t.engine).collect(),
        });
        let role_cap = self
            .view_caps
            .get(&peer)
            .copied()
            .flatten()
            .map(|caps| (caps.max_width, caps.max_height));
        let sizes = self.view_sizes.get(&peer);
        let hints = self.layer_hints.entry(peer).or_default();
        hints.retain(|track, _| set.iter().any(|t| t.engine == *track));
        let mut changed = Vec::new();
        for track in set.iter().filter(|t| t.source == Source::Video) {
            let asked = sizes.and_then(|s| {
                s.get(&TrackKey {
                    peer: track.publisher,
                    track: track.track,
                })
            });
            let max = match (role_cap, asked) {
                (Some((w, h)), Some((aw, ah))) => Some(((*aw).min(w), (*ah).min(h))),
                (cap, asked) => cap.or(asked.copied()),
            }
            .map_or(MaxLayer::default(), |(max_width, max_height)| {
                MaxLayer::Resolution {
                    max_width,
                    max_height,
                }
            });
            if hints.get(&track.engine) != Some(&max) {
                hints.insert(track.engine, max);
                changed.push((track.engine, max));
            }
        }
        for (track, max) in changed {
            self.engine(EngineCommand::SetMaxLayer { key, track, max });
        }
    }
}

fn media_error(error: &MediaError) -> ErrorBody {
    let (code, message) = match error {
        // str0m's own text can hold internal detail (parser offsets, memory addresses, its
        // state): never echo it. The room logs it.
        MediaError::InvalidSdp(_) => (
            ErrorCode::MalformedRequest,
            "the SDP could not be parsed".to_owned(),
        ),
        MediaError::Negotiation(_) | MediaError::PeerExists(_) => (
            ErrorCode::InvalidValue,
            "the SDP could not be negotiated".to_owned(),
        ),
        MediaError::NoPendingOffer(_) => (
            ErrorCode::InvalidValue,
            "no server offer is waiting for an answer".to_owned(),
        ),
        MediaError::UnknownPeer(_) => return no_media(),
    };
    ErrorBody {
        code,
        message,
        field: Some("sdp".to_owned()),
    }
}
