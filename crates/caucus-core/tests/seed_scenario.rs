//! The seed example: a main stage of host and co-host, a moderator back stage, guests who
//! watch, and guests split into breakout rooms where they talk and keep watching the stage.
#![allow(clippy::unwrap_used)]

use caucus_core::sim::Sim;
use caucus_core::{Actor, BreakoutOp, Command, RoomUpdate};
use caucus_proto::{ErrorCode, Location, Source, Visibility};

fn publish_av(sim: &mut Sim, peer: caucus_proto::PeerId) {
    sim.by(
        peer,
        Command::Publish {
            source: Source::Audio,
            muted: false,
        },
    )
    .unwrap();
    sim.by(
        peer,
        Command::Publish {
            source: Source::Video,
            muted: false,
        },
    )
    .unwrap();
}

#[test]
fn who_sees_whom_on_the_main_stage() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let cohost = sim.join("cole", "co-host");
    let moderator = sim.join("mo", "moderator");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    for p in [host, cohost, moderator] {
        publish_av(&mut sim, p);
    }
    assert_eq!(sim.hears(host), vec![cohost, moderator]);
    assert_eq!(sim.hears(cohost), vec![host, moderator]);
    assert_eq!(sim.hears(moderator), vec![host, cohost]);
    assert_eq!(sim.hears(ana), vec![host, cohost]);
    assert_eq!(sim.hears(ben), vec![host, cohost]);
    assert_eq!(
        sim.subscriptions[&ana].len(),
        4,
        "audio and video of host and co-host"
    );

    let refused = sim
        .by(
            ana,
            Command::Publish {
                source: Source::Audio,
                muted: false,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PublishNotAllowed);
    let refused = sim
        .by(
            moderator,
            Command::Publish {
                source: Source::Screen,
                muted: false,
            },
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::PublishNotAllowed);
}

#[test]
fn guests_in_breakouts_talk_among_themselves_and_watch_the_stage() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let ana = sim.join("ana", "guest");
    let ben = sim.join("ben", "guest");
    let cy = sim.join("cy", "guest");
    publish_av(&mut sim, host);

    let rooms = match sim.breakouts(
        Actor::Peer(host),
        BreakoutOp::Create {
            count: 2,
            names: vec![],
            capacity: None,
        },
    ) {
        Ok(caucus_core::Outcome::BreakoutsCreated { rooms }) => rooms,
        other => panic!("{other:?}"),
    };
    let (r1, r2) = (rooms[0], rooms[1]);
    sim.breakouts(
        Actor::Peer(host),
        BreakoutOp::Update {
            breakout: r1,
            update: RoomUpdate {
                visibility: Some(Visibility::MainStage {
                    roles: vec!["host".into()],
                }),
                ..RoomUpdate::default()
            },
        },
    )
    .unwrap();
    sim.breakouts(
        Actor::Peer(host),
        BreakoutOp::Assign {
            assignments: vec![
                (caucus_core::Assignee::Peer(ana), Location::Breakout(r1)),
                (caucus_core::Assignee::Peer(ben), Location::Breakout(r1)),
                (caucus_core::Assignee::Peer(cy), Location::Breakout(r2)),
            ],
        },
    )
    .unwrap();
    // Planned, not yet moved.
    assert_eq!(sim.peer(ana).unwrap().location(), Location::Main);
    sim.breakouts(Actor::Peer(host), BreakoutOp::Open { duration_s: None })
        .unwrap();
    assert_eq!(sim.peer(ana).unwrap().location(), Location::Breakout(r1));
    assert_eq!(sim.peer(cy).unwrap().location(), Location::Breakout(r2));

    // In a breakout a guest acts as `breakout` and may talk.
    publish_av(&mut sim, ana);
    publish_av(&mut sim, ben);
    publish_av(&mut sim, cy);
    assert_eq!(
        sim.hears(ana),
        vec![host, ben],
        "room 1 shows the main stage"
    );
    assert_eq!(sim.hears(ben), vec![host, ana]);
    assert_eq!(
        sim.hears(cy),
        Vec::<caucus_proto::PeerId>::new(),
        "room 2 is isolated and alone"
    );
    assert!(
        !sim.hears(host).contains(&ana),
        "the stage does not hear the rooms"
    );

    // Closing with a countdown brings everyone back; the guests' tracks stop (guests may not
    // publish in main) and main-room routing is restored.
    sim.breakouts(
        Actor::Peer(host),
        BreakoutOp::Close {
            countdown_s: Some(10),
            breakout: None,
        },
    )
    .unwrap();
    assert_eq!(sim.peer(ana).unwrap().location(), Location::Breakout(r1));
    sim.advance(std::time::Duration::from_secs(10));
    for g in [ana, ben, cy] {
        assert_eq!(sim.peer(g).unwrap().location(), Location::Main);
        assert_eq!(sim.peer(g).unwrap().tracks().count(), 0);
        assert_eq!(sim.hears(g), vec![host]);
    }
    assert_eq!(sim.hears(host), Vec::<caucus_proto::PeerId>::new());
}
