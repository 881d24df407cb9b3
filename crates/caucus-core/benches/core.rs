//! Core benchmarks: the decisions behind a mass split and a single move, with the desired
//! subscriptions they cause and the effects drained as the shell would.
//!
//! Scenario: a workshop template where `member`s may talk and hear each other, 1,000 members,
//! 100 breakout rooms, one talker per future room (100 audio tracks).

use std::hint::black_box;
use std::sync::Arc;

use caucus_core::{
    Actor, BreakoutOp, Command, JoinRequest, Outcome, Session, SessionConfig, Template, Time,
};
use caucus_proto::{
    Location, Permissions, PublishSpec, RoleSpec, Source, SubscribeSpec, TemplateSpec,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const PEERS: usize = 1000;
const ROOMS: u32 = 100;

fn workshop() -> Arc<Template> {
    let member = RoleSpec {
        publish: PublishSpec {
            allowed: vec![Source::Audio],
            ..PublishSpec::default()
        },
        subscribe: SubscribeSpec {
            roles: vec!["member".into()],
            video: None,
        },
        permissions: Permissions {
            send_chat: true,
            ..Permissions::default()
        },
        ..RoleSpec::default()
    };
    Arc::new(
        Template::compile(TemplateSpec {
            name: "workshop".into(),
            roles: [("member".into(), member)].into(),
        })
        .expect("valid template"),
    )
}

fn drain(session: &mut Session) -> usize {
    let mut n = 0;
    while let Some(effect) = session.poll_effect() {
        black_box(&effect);
        n += 1;
    }
    n
}

/// 1,000 members in main, 100 of them talking, 100 rooms created (draft).
fn populated() -> Session {
    let now = Time::ZERO;
    let config = SessionConfig {
        max_peers: 0,
        ..SessionConfig::default()
    };
    let mut session = Session::new(now, workshop(), config);
    let mut peers = Vec::with_capacity(PEERS);
    for i in 0..PEERS {
        let join = JoinRequest {
            user_id: format!("user{i}").into(),
            name: format!("User {i}"),
            role: "member".into(),
            password: None,
            metadata: None,
        };
        match session.handle_command(now, Actor::Server, Command::Join(join)) {
            Ok(Outcome::Joined { peer, .. }) => peers.push(peer),
            other => panic!("join failed: {other:?}"),
        }
        drain(&mut session);
    }
    for peer in peers.iter().step_by(PEERS / ROOMS as usize) {
        session
            .handle_command(
                now,
                Actor::Peer(*peer),
                Command::Publish {
                    source: Source::Audio,
                    muted: false,
                },
            )
            .expect("publish");
        drain(&mut session);
    }
    let create = BreakoutOp::Create {
        count: ROOMS,
        names: vec![],
        capacity: None,
    };
    session
        .handle_command(
            now,
            Actor::Server,
            Command::Breakouts {
                version: None,
                op: create,
            },
        )
        .expect("create");
    session
        .handle_command(
            now,
            Actor::Server,
            Command::Breakouts {
                version: None,
                op: BreakoutOp::Open { duration_s: None },
            },
        )
        .expect("open");
    drain(&mut session);
    session
}

fn auto_assign(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    group.sample_size(20);
    group.bench_function("auto_assign_1000_peers_into_100_open_rooms", |b| {
        b.iter_batched(
            populated,
            |mut session| {
                let op = BreakoutOp::AutoAssign {
                    exclude_roles: None,
                    seed: 7,
                    keep_previous: false,
                };
                session
                    .handle_command(
                        Time::ZERO,
                        Actor::Server,
                        Command::Breakouts { version: None, op },
                    )
                    .expect("auto-assign");
                let effects = drain(&mut session);
                assert!(effects > PEERS, "every peer gets a new set");
                session
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn one_move(c: &mut Criterion) {
    let mut session = populated();
    let op = BreakoutOp::AutoAssign {
        exclude_roles: None,
        seed: 7,
        keep_previous: false,
    };
    session
        .handle_command(
            Time::ZERO,
            Actor::Server,
            Command::Breakouts { version: None, op },
        )
        .expect("split");
    drain(&mut session);
    let view = session.breakouts_view(Time::ZERO);
    let mover = view.rooms[0].peers[0];
    let rooms = [
        Location::Breakout(view.rooms[1].id),
        Location::Breakout(view.rooms[0].id),
    ];
    let mut flip = 0;
    let mut group = c.benchmark_group("core");
    group.bench_function("move_one_peer_in_a_session_of_1000", |b| {
        b.iter(|| {
            let to = rooms[flip % 2];
            flip += 1;
            session
                .handle_command(
                    Time::ZERO,
                    Actor::Server,
                    Command::MovePeer {
                        peer: mover,
                        to,
                        force: true,
                    },
                )
                .expect("move");
            drain(&mut session)
        });
    });
    group.finish();
}

criterion_group!(benches, auto_assign, one_move);
criterion_main!(benches);
