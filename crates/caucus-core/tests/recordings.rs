//! Stories of recordings: the main room and breakouts recorded at once, each recording
//! receiving exactly the unmuted tracks of its location, ending with its room or the session.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{Actor, BreakoutOp, Command, Outcome};
use caucus_proto::event::{RecordingEndReason, RecordingInfo};
use caucus_proto::{
    BreakoutId, ErrorCode, LifecycleEvent, Location, PeerId, RecordingId, ServerEvent, Source,
    TrackKey,
};

const SERVER: Actor = Actor::Server;
const REC1: RecordingId = RecordingId::new(1);
const REC2: RecordingId = RecordingId::new(2);
const REC3: RecordingId = RecordingId::new(3);

fn publish(sim: &mut Sim, p: PeerId, source: Source) -> TrackKey {
    match sim
        .by(
            p,
            Command::Publish {
                source,
                muted: false,
            },
        )
        .unwrap()
    {
        Outcome::Published { track } => TrackKey { peer: p, track },
        other => panic!("{other:?}"),
    }
}

fn start(sim: &mut Sim, actor: Actor, recording: RecordingId, location: Location) {
    sim.run(
        actor,
        Command::StartRecording {
            recording,
            location,
        },
    )
    .unwrap();
}

fn finished(sim: &Sim) -> Vec<(RecordingId, RecordingEndReason)> {
    sim.lifecycle
        .iter()
        .filter_map(|e| match e {
            LifecycleEvent::RecordingFinished {
                recording_id,
                reason,
                ..
            } => Some((*recording_id, *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn main_and_breakouts_are_recorded_at_once_each_with_its_own_tracks() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let bob = sim.join("bob", "guest");
    let host_audio = publish(&mut sim, host, Source::Audio);
    let host_video = publish(&mut sim, host, Source::Video);
    let rooms = sim.open_rooms(2, &[(ana, 0), (bob, 1)]);
    // In a breakout, guests act as `breakout` and may publish.
    let ana_audio = publish(&mut sim, ana, Source::Audio);
    let ana_video = publish(&mut sim, ana, Source::Video);
    let bob_audio = publish(&mut sim, bob, Source::Audio);

    start(&mut sim, Actor::Peer(host), REC1, Location::Main);
    start(&mut sim, SERVER, REC2, Location::Breakout(rooms[0]));
    start(&mut sim, SERVER, REC3, Location::Breakout(rooms[1]));

    assert_eq!(sim.recordings[&REC1], vec![host_audio, host_video]);
    assert_eq!(sim.recordings[&REC2], vec![ana_audio, ana_video]);
    assert_eq!(sim.recordings[&REC3], vec![bob_audio]);
    assert_eq!(sim.lifecycle_named("recording.started").len(), 3);
    let active: Vec<RecordingInfo> = sim.session.recordings().collect();
    assert_eq!(active.len(), 3);
    // Everyone was told, wherever they stand.
    for p in [host, ana, bob] {
        assert!(sim.was_told(
            p,
            |e| matches!(e, ServerEvent::Recordings { active } if active.len() == 3)
        ));
    }
}

#[test]
fn the_track_set_follows_publishing_muting_moves_and_leaving() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let mo = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    start(&mut sim, SERVER, REC1, Location::Main);
    assert_eq!(
        sim.recordings[&REC1],
        vec![],
        "an empty set is emitted at the start"
    );

    let host_audio = publish(&mut sim, host, Source::Audio);
    let mo_audio = publish(&mut sim, mo, Source::Audio);
    assert_eq!(sim.recordings[&REC1], vec![host_audio, mo_audio]);

    sim.by(
        host,
        Command::SetMuted {
            track: host_audio.track,
            muted: true,
        },
    )
    .unwrap();
    assert_eq!(
        sim.recordings[&REC1],
        vec![mo_audio],
        "muted tracks are not recorded"
    );
    sim.by(
        host,
        Command::SetMuted {
            track: host_audio.track,
            muted: false,
        },
    )
    .unwrap();
    assert_eq!(sim.recordings[&REC1], vec![host_audio, mo_audio]);

    let rooms = sim.open_rooms(1, &[(ana, 0)]);
    sim.run(
        SERVER,
        Command::MovePeer {
            peer: mo,
            to: Location::Breakout(rooms[0]),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(
        sim.recordings[&REC1],
        vec![host_audio],
        "the moderator left main"
    );
    start(&mut sim, SERVER, REC2, Location::Breakout(rooms[0]));
    assert_eq!(
        sim.recordings[&REC2],
        vec![mo_audio],
        "and is recorded where it stands now"
    );

    sim.run(SERVER, Command::Disconnect { peer: host }).unwrap();
    assert_eq!(
        sim.recordings[&REC1],
        vec![],
        "a lost connection sends nothing"
    );
    assert_eq!(sim.session.recording_tracks(REC1), Some(vec![]));
}

#[test]
fn broadcast_sound_is_recorded_everywhere_but_the_main_stage_is_not() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let host_audio = publish(&mut sim, host, Source::Audio);
    publish(&mut sim, host, Source::Video);
    let rooms = sim.open_rooms(1, &[(ana, 0)]);
    sim.show_main_stage(rooms[0], &["host"]);
    start(&mut sim, SERVER, REC2, Location::Breakout(rooms[0]));
    assert_eq!(
        sim.recordings[&REC2],
        vec![],
        "the main stage belongs to main's recording"
    );
    sim.by(host, Command::SetBroadcasting { on: true }).unwrap();
    assert_eq!(
        sim.recordings[&REC2],
        vec![host_audio],
        "broadcast sound, not video"
    );
}

#[test]
fn one_recording_per_location_and_only_open_rooms() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    start(&mut sim, SERVER, REC1, Location::Main);
    let again = sim.run(
        SERVER,
        Command::StartRecording {
            recording: REC2,
            location: Location::Main,
        },
    );
    assert_eq!(again.unwrap_err().code, ErrorCode::AlreadyExists);
    let same_id = sim.run(
        SERVER,
        Command::StartRecording {
            recording: REC1,
            location: Location::Main,
        },
    );
    assert_eq!(same_id.unwrap_err().code, ErrorCode::AlreadyExists);

    let unknown = Location::Breakout(BreakoutId::new(99));
    let refused = sim.run(
        SERVER,
        Command::StartRecording {
            recording: REC2,
            location: unknown,
        },
    );
    assert_eq!(refused.unwrap_err().code, ErrorCode::UnknownBreakout);

    let rooms = sim.create_rooms(1);
    let draft = sim.run(
        SERVER,
        Command::StartRecording {
            recording: REC2,
            location: Location::Breakout(rooms[0]),
        },
    );
    assert_eq!(
        draft.unwrap_err().code,
        ErrorCode::BreakoutsNotOpen,
        "rooms in draft"
    );

    let stop_unknown = sim.run(SERVER, Command::StopRecording { recording: REC3 });
    assert_eq!(stop_unknown.unwrap_err().code, ErrorCode::UnknownRecording);
    sim.by(host, Command::StopRecording { recording: REC1 })
        .unwrap();
    assert_eq!(finished(&sim), vec![(REC1, RecordingEndReason::Stopped)]);
    assert!(sim.recordings.is_empty());
    // The location is free again.
    start(&mut sim, SERVER, REC2, Location::Main);
}

#[test]
fn recording_needs_the_record_permission() {
    let mut sim = Sim::new();
    let ana = sim.join("ana", "guest");
    let mo = sim.join("mo", "moderator");
    let refused = sim.by(
        ana,
        Command::StartRecording {
            recording: REC1,
            location: Location::Main,
        },
    );
    assert_eq!(refused.unwrap_err().code, ErrorCode::NotPermitted);
    start(&mut sim, Actor::Peer(mo), REC1, Location::Main);
    let refused = sim.by(ana, Command::StopRecording { recording: REC1 });
    assert_eq!(refused.unwrap_err().code, ErrorCode::NotPermitted);
    assert!(sim.recordings.contains_key(&REC1));
}

#[test]
fn a_breakout_recording_ends_when_its_room_closes_and_all_end_with_the_session() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let bob = sim.join("bob", "guest");
    let rooms = sim.open_rooms(2, &[(ana, 0), (bob, 1)]);
    start(&mut sim, SERVER, REC1, Location::Main);
    start(&mut sim, SERVER, REC2, Location::Breakout(rooms[0]));
    start(&mut sim, SERVER, REC3, Location::Breakout(rooms[1]));

    sim.breakouts(
        SERVER,
        BreakoutOp::Close {
            countdown_s: Some(10),
            breakout: Some(rooms[0]),
        },
    )
    .unwrap();
    assert!(
        sim.recordings.contains_key(&REC2),
        "still recording during the countdown"
    );
    sim.advance(Duration::from_secs(10));
    assert_eq!(
        finished(&sim),
        vec![(REC2, RecordingEndReason::BreakoutClosed)]
    );
    assert!(sim.was_told(
        host,
        |e| matches!(e, ServerEvent::Recordings { active } if active.len() == 2)
    ));

    sim.breakouts(SERVER, BreakoutOp::Remove { breakout: rooms[1] })
        .unwrap();
    assert_eq!(
        finished(&sim)[1],
        (REC3, RecordingEndReason::BreakoutClosed)
    );

    sim.run(
        SERVER,
        Command::EndSession {
            reason: None,
            lock: false,
        },
    )
    .unwrap();
    assert_eq!(finished(&sim)[2], (REC1, RecordingEndReason::SessionEnded));
    let names: Vec<&str> = sim.lifecycle.iter().map(|e| e.name()).collect();
    let finished_at = names
        .iter()
        .rposition(|n| *n == "recording.finished")
        .unwrap();
    let ended_at = names.iter().position(|n| *n == "session.ended").unwrap();
    assert!(
        finished_at < ended_at,
        "recording.finished comes before session.ended"
    );
    assert!(sim.recordings.is_empty());
}

#[test]
fn a_peer_joining_learns_the_recordings_in_progress() {
    let mut sim = Sim::new();
    start(&mut sim, SERVER, REC1, Location::Main);
    let ana = sim.join("ana", "guest");
    assert!(sim.was_told(ana, |e| matches!(
        e,
        ServerEvent::Joined { recordings, .. } if recordings == &vec![RecordingInfo { id: REC1, location: Location::Main }]
    )));
}

/// A room whose policy records main: the session's first join starts it (not the creation of
/// the session, which the API may do to edit breakouts before anyone comes), once.
#[test]
fn a_recording_policy_records_main_from_the_first_join() {
    let config = caucus_core::SessionConfig {
        auto_record: Some(REC1),
        ..caucus_core::SessionConfig::default()
    };
    let mut sim = Sim::with(caucus_core::builtin::breakout_template(), config);
    assert!(sim.recordings.is_empty(), "nobody has come yet");
    let host = sim.join("host", "host");
    let audio = publish(&mut sim, host, Source::Audio);
    assert_eq!(sim.recordings.get(&REC1), Some(&vec![audio]));
    assert!(sim.lifecycle.contains(&LifecycleEvent::RecordingStarted {
        recording_id: REC1,
        location: Location::Main,
    }));
    sim.join("guest", "guest");
    let started = sim
        .lifecycle
        .iter()
        .filter(|e| matches!(e, LifecycleEvent::RecordingStarted { .. }))
        .count();
    assert_eq!(started, 1, "later joins start nothing");
}
