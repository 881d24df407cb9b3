//! A workshop played through the core with simulated time: who receives whom at each step.
//!
//! `cargo run -p caucus-core --example workshop`
use std::time::Duration;

use caucus_core::sim::Sim;
use caucus_core::{Actor, Assignee, BreakoutOp, Command, Outcome, RoomUpdate};
use caucus_proto::{Location, PeerId, Source, Visibility};

fn main() {
    let mut sim = Sim::new();
    let host = sim.join("hana", "host");
    let moderator = sim.join("mo", "moderator");
    let guests: Vec<PeerId> = ["ana", "ben", "cy", "dee"]
        .iter()
        .map(|g| sim.join(g, "guest"))
        .collect();
    publish(&mut sim, host, &[Source::Audio, Source::Video]);
    publish(&mut sim, moderator, &[Source::Audio]);
    report(
        &sim,
        "Main stage: guests watch the host; the moderator stands back stage",
    );

    let rooms = match sim.breakouts(
        Actor::Peer(host),
        BreakoutOp::Create {
            count: 2,
            names: vec![],
            capacity: Some(3),
        },
    ) {
        Ok(Outcome::BreakoutsCreated { rooms }) => rooms,
        other => return eprintln!("could not create rooms: {other:?}"),
    };
    let watch = RoomUpdate {
        visibility: Some(Visibility::MainStage {
            roles: vec!["host".into()],
        }),
        ..RoomUpdate::default()
    };
    let steps = [
        BreakoutOp::Update {
            breakout: rooms[0],
            update: watch,
        },
        BreakoutOp::Assign {
            assignments: guests
                .iter()
                .enumerate()
                .map(|(i, g)| (Assignee::Peer(*g), Location::Breakout(rooms[i % 2])))
                .collect(),
        },
        BreakoutOp::Open {
            duration_s: Some(900),
        },
    ];
    for op in steps {
        if let Err(denial) = sim.breakouts(Actor::Peer(host), op) {
            return eprintln!("refused: {denial}");
        }
    }
    for g in &guests {
        publish(&mut sim, *g, &[Source::Audio, Source::Video]);
    }
    report(
        &sim,
        "Split into two rooms; room 1 keeps watching the host, room 2 is isolated",
    );

    let _ = sim.by(
        moderator,
        Command::ListenIn {
            breakout: Some(rooms[1]),
        },
    );
    report(&sim, "The moderator listens in to room 2 without moving");

    let _ = sim.breakouts(
        Actor::Peer(host),
        BreakoutOp::Close {
            countdown_s: Some(30),
            breakout: None,
        },
    );
    sim.advance(Duration::from_secs(30));
    report(
        &sim,
        "Rooms closed after a 30 s countdown: everyone is back in main",
    );
    println!(
        "Webhooks fired: {}",
        sim.lifecycle
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn publish(sim: &mut Sim, peer: PeerId, sources: &[Source]) {
    for source in sources {
        if let Err(denial) = sim.by(
            peer,
            Command::Publish {
                source: *source,
                muted: false,
            },
        ) {
            eprintln!("{peer} may not publish {source}: {denial}");
        }
    }
}

fn report(sim: &Sim, title: &str) {
    println!("\n== {title}");
    for peer in sim.session.peers() {
        let heard: Vec<String> = sim
            .hears(peer.id())
            .iter()
            .filter_map(|p| sim.peer(*p).map(|p| p.name().to_owned()))
            .collect();
        let role = sim
            .session
            .template()
            .role(peer.acting_role())
            .name()
            .clone();
        println!(
            "  {:<5} {:<10} in {:<5} receives {}",
            peer.name(),
            role.as_str(),
            peer.location().to_string(),
            if heard.is_empty() {
                "nobody".to_owned()
            } else {
                heard.join(", ")
            }
        );
    }
}
