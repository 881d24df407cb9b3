//! Stories of tracks: publishing (and what a role may not publish), unpublishing, muting
//! oneself, being muted by a moderator, and being asked to unmute — accepted, rejected, or left
//! to expire. Time is simulated.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{Actor, Command, Effect, Outcome};
use caucus_proto::event::{RequestKind, RequestOutcome, TrackEndReason};
use caucus_proto::{ErrorCode, PeerId, RequestId, ServerEvent, Source, TrackId, TrackKey};

fn publish(sim: &mut Sim, peer: PeerId, source: Source) -> TrackId {
    match sim
        .by(
            peer,
            Command::Publish {
                source,
                muted: false,
            },
        )
        .unwrap()
    {
        Outcome::Published { track } => track,
        other => panic!("{other:?}"),
    }
}

fn muted(sim: &Sim, peer: PeerId, track: TrackId) -> bool {
    sim.peer(peer)
        .unwrap()
        .tracks()
        .find(|(id, _, _)| *id == track)
        .map(|(_, _, m)| m)
        .unwrap()
}

fn key(peer: PeerId, track: TrackId) -> TrackKey {
    TrackKey { peer, track }
}

fn subscribed(sim: &Sim, subscriber: PeerId) -> Vec<TrackKey> {
    sim.subscriptions
        .get(&subscriber)
        .cloned()
        .unwrap_or_default()
}

/// Every `TrackMuted` event `to` was told about `track`: (muted, by).
fn mute_events(sim: &Sim, to: PeerId, track: TrackId) -> Vec<(bool, Option<PeerId>)> {
    sim.inbox
        .get(&to)
        .into_iter()
        .flatten()
        .filter_map(|e| match **e {
            ServerEvent::TrackMuted {
                track_id,
                muted,
                by,
                ..
            } if track_id == track => Some((muted, by)),
            _ => None,
        })
        .collect()
}

fn resolved(sim: &Sim, to: PeerId, request: RequestId) -> Vec<RequestOutcome> {
    sim.inbox
        .get(&to)
        .into_iter()
        .flatten()
        .filter_map(|e| match **e {
            ServerEvent::RequestResolved {
                request_id,
                outcome,
            } if request_id == request => Some(outcome),
            _ => None,
        })
        .collect()
}

fn request_id(outcome: Outcome) -> RequestId {
    match outcome {
        Outcome::RequestSent { request } => request,
        other => panic!("{other:?}"),
    }
}

// ---- publishing --------------------------------------------------------------------------------

#[test]
fn a_published_track_reaches_the_roles_that_subscribe_to_it() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let audio = publish(&mut sim, host, Source::Audio);
    let video = publish(&mut sim, host, Source::Video);
    assert_eq!(
        subscribed(&sim, ana),
        vec![key(host, audio), key(host, video)]
    );
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::TrackPublished { peer_id, track }
            if *peer_id == host && track.id == audio && track.source == Source::Audio && !track.muted
    )));
    // The publisher does not receive itself.
    assert!(subscribed(&sim, host).is_empty());
}

#[test]
fn a_role_that_may_not_publish_a_source_is_refused_with_a_clear_code() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");

    for source in [Source::Audio, Source::Video, Source::Screen] {
        let refused = sim
            .by(
                ana,
                Command::Publish {
                    source,
                    muted: false,
                },
            )
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::PublishNotAllowed, "guest {source}");
        assert_eq!(refused.field.as_deref(), Some("source"));
    }
    for source in [Source::Screen, Source::ScreenAudio] {
        let refused = sim
            .by(
                mo,
                Command::Publish {
                    source,
                    muted: false,
                },
            )
            .unwrap_err();
        assert_eq!(
            refused.code,
            ErrorCode::PublishNotAllowed,
            "moderator {source}"
        );
    }
    assert_eq!(sim.peer(ana).unwrap().tracks().count(), 0);
    assert_eq!(sim.peer(mo).unwrap().tracks().count(), 0);
    assert!(
        !sim.was_told(host, |e| matches!(e, ServerEvent::TrackPublished { .. })),
        "a refused publish announces nothing"
    );

    // A screen's audio rides on `screen`.
    publish(&mut sim, host, Source::Screen);
    publish(&mut sim, host, Source::ScreenAudio);
}

#[test]
fn publishing_a_source_twice_is_refused() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let first = publish(&mut sim, host, Source::Audio);
    let refused = sim
        .by(
            host,
            Command::Publish {
                source: Source::Audio,
                muted: true,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::AlreadyExists);
    let tracks: Vec<_> = sim.peer(host).unwrap().tracks().collect();
    assert_eq!(tracks, vec![(first, Source::Audio, false)]);
}

#[test]
fn a_track_published_muted_is_muted_for_the_media_plane() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let track = match sim
        .by(
            host,
            Command::Publish {
                source: Source::Audio,
                muted: true,
            },
        )
        .unwrap()
    {
        Outcome::Published { track } => track,
        other => panic!("{other:?}"),
    };
    assert!(muted(&sim, host, track));
    assert!(sim.log.contains(&Effect::TrackMuted {
        peer: host,
        track,
        muted: true
    }));
}

#[test]
fn unpublishing_takes_the_track_from_every_subscriber() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let cohost = sim.join("cole", "co-host");
    let ana = sim.join("ana", "guest");
    let audio = publish(&mut sim, host, Source::Audio);
    let video = publish(&mut sim, host, Source::Video);
    assert_eq!(subscribed(&sim, cohost).len(), 2);

    sim.by(host, Command::Unpublish { track: video }).unwrap();
    for s in [cohost, ana] {
        assert_eq!(subscribed(&sim, s), vec![key(host, audio)], "{s}");
        assert!(sim.was_told(s, |e| matches!(
            e,
            ServerEvent::TrackUnpublished { peer_id, track_id, reason: TrackEndReason::Unpublished }
                if *peer_id == host && *track_id == video
        )));
    }
    assert!(sim.log.contains(&Effect::TrackStopped {
        peer: host,
        track: video
    }));
    assert_eq!(sim.peer(host).unwrap().tracks().count(), 1);

    // Only one's own track, and only once.
    let refused = sim
        .by(cohost, Command::Unpublish { track: audio })
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownTrack);
    let refused = sim
        .by(host, Command::Unpublish { track: video })
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownTrack);
    assert_eq!(subscribed(&sim, ana), vec![key(host, audio)]);
}

// ---- muting ------------------------------------------------------------------------------------

#[test]
fn muting_oneself_is_told_to_everyone_and_enforced_by_the_media_plane() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let audio = publish(&mut sim, host, Source::Audio);

    sim.by(
        host,
        Command::SetMuted {
            track: audio,
            muted: true,
        },
    )
    .unwrap();
    assert!(muted(&sim, host, audio));
    assert_eq!(mute_events(&sim, ana, audio), vec![(true, None)]);
    assert_eq!(mute_events(&sim, host, audio), vec![(true, None)]);
    assert!(sim.log.contains(&Effect::TrackMuted {
        peer: host,
        track: audio,
        muted: true
    }));

    // Muting again changes nothing and tells nobody.
    sim.by(
        host,
        Command::SetMuted {
            track: audio,
            muted: true,
        },
    )
    .unwrap();
    assert_eq!(mute_events(&sim, ana, audio).len(), 1);

    sim.by(
        host,
        Command::SetMuted {
            track: audio,
            muted: false,
        },
    )
    .unwrap();
    assert!(!muted(&sim, host, audio));
    assert_eq!(
        mute_events(&sim, ana, audio),
        vec![(true, None), (false, None)]
    );
    assert!(sim.log.contains(&Effect::TrackMuted {
        peer: host,
        track: audio,
        muted: false
    }));

    // Nobody unmutes someone else's track by SetMuted.
    let mo = sim.join("mo", "moderator");
    let refused = sim
        .by(
            mo,
            Command::SetMuted {
                track: audio,
                muted: true,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownTrack);
    assert!(!muted(&sim, host, audio));
}

#[test]
fn a_moderator_mutes_another_peer_and_everyone_sees_who_did_it() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let audio = publish(&mut sim, host, Source::Audio);
    let video = publish(&mut sim, host, Source::Video);

    // A guest lacks mute_others.
    let refused = sim
        .by(
            ana,
            Command::MutePeer {
                peer: host,
                source: None,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(!muted(&sim, host, audio) && !muted(&sim, host, video));

    sim.by(
        mo,
        Command::MutePeer {
            peer: host,
            source: Some(Source::Audio),
        },
    )
    .unwrap();
    assert!(muted(&sim, host, audio));
    assert!(!muted(&sim, host, video), "only the audio was muted");
    for to in [host, ana, mo] {
        assert_eq!(mute_events(&sim, to, audio), vec![(true, Some(mo))], "{to}");
    }
    assert!(sim.log.contains(&Effect::TrackMuted {
        peer: host,
        track: audio,
        muted: true
    }));

    // Every source at once.
    sim.by(
        mo,
        Command::MutePeer {
            peer: host,
            source: None,
        },
    )
    .unwrap();
    assert!(muted(&sim, host, video));
    assert_eq!(mute_events(&sim, ana, video), vec![(true, Some(mo))]);
    assert_eq!(
        mute_events(&sim, ana, audio).len(),
        1,
        "an already muted track is not muted again"
    );
}

// ---- asking to unmute --------------------------------------------------------------------------

/// A host whose audio a moderator muted, and a moderator asking her to unmute.
fn muted_host() -> (Sim, PeerId, PeerId, TrackId, RequestId) {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let audio = publish(&mut sim, host, Source::Audio);
    sim.by(
        mo,
        Command::MutePeer {
            peer: host,
            source: Some(Source::Audio),
        },
    )
    .unwrap();
    let request = request_id(
        sim.by(
            mo,
            Command::AskUnmute {
                peer: host,
                source: Source::Audio,
            },
        )
        .unwrap(),
    );
    (sim, host, mo, audio, request)
}

#[test]
fn an_unmute_request_asks_the_target_and_nothing_changes_until_it_answers() {
    let (sim, host, mo, audio, request) = muted_host();
    assert!(muted(&sim, host, audio), "asking does not unmute");
    let received: Vec<_> = sim.inbox[&host]
        .iter()
        .filter_map(|e| match &**e {
            ServerEvent::RequestReceived { request } => Some(request.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, request);
    assert_eq!(received[0].from, Some(mo));
    assert_eq!(received[0].target, host);
    assert_eq!(
        received[0].kind,
        RequestKind::Unmute {
            source: Source::Audio
        }
    );
    assert_eq!(received[0].expires_in_ms, 30_000);
    assert_eq!(sim.session.requests_for(host), vec![request]);
}

#[test]
fn the_target_accepts_and_its_track_is_unmuted() {
    let (mut sim, host, mo, audio, request) = muted_host();
    sim.by(
        host,
        Command::RespondRequest {
            request,
            accept: true,
        },
    )
    .unwrap();
    assert!(!muted(&sim, host, audio));
    assert_eq!(
        mute_events(&sim, mo, audio).last(),
        Some(&(false, None)),
        "the unmute is the host's own"
    );
    assert!(sim.log.contains(&Effect::TrackMuted {
        peer: host,
        track: audio,
        muted: false
    }));
    assert_eq!(
        resolved(&sim, host, request),
        vec![RequestOutcome::Accepted]
    );
    assert_eq!(resolved(&sim, mo, request), vec![RequestOutcome::Accepted]);
    assert!(sim.session.requests_for(host).is_empty());

    // A request is answered once.
    let refused = sim
        .by(
            host,
            Command::RespondRequest {
                request,
                accept: true,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownRequest);
}

#[test]
fn the_target_rejects_and_stays_muted() {
    let (mut sim, host, mo, audio, request) = muted_host();
    sim.by(
        host,
        Command::RespondRequest {
            request,
            accept: false,
        },
    )
    .unwrap();
    assert!(muted(&sim, host, audio));
    assert_eq!(
        resolved(&sim, host, request),
        vec![RequestOutcome::Rejected]
    );
    assert_eq!(resolved(&sim, mo, request), vec![RequestOutcome::Rejected]);
}

#[test]
fn an_unanswered_request_expires_after_its_time_to_live() {
    let (mut sim, host, mo, audio, request) = muted_host();
    sim.advance(Duration::from_secs(29));
    assert!(resolved(&sim, mo, request).is_empty());
    assert_eq!(sim.session.requests_for(host), vec![request]);
    sim.advance(Duration::from_secs(1));
    assert_eq!(resolved(&sim, host, request), vec![RequestOutcome::Expired]);
    assert_eq!(resolved(&sim, mo, request), vec![RequestOutcome::Expired]);
    assert!(sim.session.requests_for(host).is_empty());

    let late = sim
        .by(
            host,
            Command::RespondRequest {
                request,
                accept: true,
            },
        )
        .unwrap_err();
    assert_eq!(late.code, ErrorCode::UnknownRequest);
    assert!(
        muted(&sim, host, audio),
        "too late to unmute by the request"
    );
}

#[test]
fn only_a_role_with_ask_unmute_may_ask_and_only_the_target_may_answer() {
    let (mut sim, host, mo, audio, request) = muted_host();
    let ana = sim.join("ana", "guest");
    let refused = sim
        .by(
            ana,
            Command::AskUnmute {
                peer: host,
                source: Source::Audio,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert_eq!(sim.session.requests_for(host), vec![request]);

    for intruder in [ana, mo] {
        let refused = sim
            .by(
                intruder,
                Command::RespondRequest {
                    request,
                    accept: true,
                },
            )
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::NotRequestTarget);
    }
    assert!(muted(&sim, host, audio));
    assert_eq!(sim.session.requests_for(host), vec![request]);
}

#[test]
fn a_request_is_cancelled_when_its_target_leaves() {
    let (mut sim, host, mo, _audio, request) = muted_host();
    sim.run(Actor::Server, Command::Leave { peer: host })
        .unwrap();
    assert_eq!(resolved(&sim, mo, request), vec![RequestOutcome::Cancelled]);
    sim.advance(Duration::from_secs(60));
    assert_eq!(
        resolved(&sim, mo, request),
        vec![RequestOutcome::Cancelled],
        "and does not expire afterwards"
    );
}
