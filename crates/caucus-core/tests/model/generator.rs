//! The command generator: proptest strategies for steps and stories.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::ops::{Bop, Op, Place, USERS, Ver, Who, Whom};

pub(crate) fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => Just(Who::Server),
        4 => any::<u8>().prop_map(Who::Manager),
        3 => any::<u8>().prop_map(Who::Peer),
    ]
}

pub(crate) fn ver() -> impl Strategy<Value = Ver> {
    prop_oneof![6 => Just(Ver::Unchecked), 3 => Just(Ver::Current), 1 => Just(Ver::Stale)]
}

pub(crate) fn place() -> impl Strategy<Value = Place> {
    prop_oneof![1 => Just(Place::Main), 3 => any::<u8>().prop_map(Place::Room)]
}

pub(crate) fn whom() -> impl Strategy<Value = Whom> {
    prop_oneof![3 => any::<u8>().prop_map(Whom::Peer), 1 => (0..USERS).prop_map(Whom::User)]
}

/// A role selector: 20 is a role the template does not have.
pub(crate) fn role_sel() -> impl Strategy<Value = u8> {
    0u8..=20
}

pub(crate) fn bop() -> impl Strategy<Value = Bop> {
    prop_oneof![
        5 => (0u8..3, vec(0u8..5, 0..2), 0u8..5)
            .prop_map(|(count, names, capacity)| Bop::Create { count, names, capacity }),
        3 => (
            any::<u8>(),
            option::of(0u8..5),
            option::weighted(0.6, option::weighted(0.8, vec(role_sel(), 1..3))),
            option::of(option::of(any::<bool>())),
        )
            .prop_map(|(room, capacity, visibility, password)| Bop::Update {
                room,
                capacity,
                visibility,
                password,
            }),
        3 => any::<u8>().prop_map(|room| Bop::Remove { room }),
        3 => (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0u8..8,
            option::of(0u8..8),
            0u8..4,
        )
            .prop_map(
                |(self_select, return_to_main, auto_move, countdown, duration, warning)| {
                    Bop::Options {
                        self_select,
                        return_to_main,
                        auto_move,
                        countdown,
                        duration,
                        warning,
                    }
                },
            ),
        3 => vec((whom(), place()), 1..4).prop_map(|list| Bop::Assign { list }),
        3 => (option::of(vec(role_sel(), 0..3)), any::<u64>(), any::<bool>()).prop_map(
            |(exclude, seed, keep_previous)| Bop::AutoAssign {
                exclude,
                seed,
                keep_previous,
            }
        ),
        2 => vec((0..USERS, any::<u8>(), any::<bool>()), 0..4)
            .prop_map(|list| Bop::Preassign { list }),
        10 => option::of(0u8..8).prop_map(|duration| Bop::Open { duration }),
        8 => (option::of(0u8..8), option::of(any::<u8>()))
            .prop_map(|(countdown, room)| Bop::Close { countdown, room }),
        1 => (0u8..4).prop_map(|seconds| Bop::Extend { seconds }),
        1 => Just(Bop::Text),
        1 => (any::<bool>(), any::<u8>()).prop_map(|(claim, entry)| Bop::Help { claim, entry }),
    ]
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (0..USERS, role_sel()).prop_map(|(user, role)| Op::Join { user, role }),
        10 => any::<u8>().prop_map(|peer| Op::Rejoin { peer }),
        6 => (who(), any::<u8>()).prop_map(|(who, peer)| Op::Leave { who, peer }),
        10 => any::<u8>().prop_map(|peer| Op::Disconnect { peer }),
        24 => (any::<u8>(), 0u8..4, any::<bool>())
            .prop_map(|(who, source, muted)| Op::Publish { who, source, muted }),
        5 => (any::<u8>(), any::<u8>()).prop_map(|(who, track)| Op::Unpublish { who, track }),
        5 => (any::<u8>(), any::<u8>(), any::<bool>())
            .prop_map(|(who, track, muted)| Op::SetMuted { who, track, muted }),
        5 => (who(), any::<u8>(), option::of(0u8..4))
            .prop_map(|(who, peer, source)| Op::MutePeer { who, peer, source }),
        5 => (who(), any::<u8>(), 0u8..4)
            .prop_map(|(who, peer, source)| Op::AskUnmute { who, peer, source }),
        15 => (who(), any::<u8>(), role_sel(), any::<bool>())
            .prop_map(|(who, peer, role, force)| Op::ChangeRole { who, peer, role, force }),
        5 => (who(), vec(role_sel(), 1..3), role_sel())
            .prop_map(|(who, from, to)| Op::ChangeRoles { who, from, to }),
        24 => (who(), any::<u8>(), place(), any::<bool>())
            .prop_map(|(who, peer, to, force)| Op::Move { who, peer, to, force }),
        8 => (any::<u8>(), any::<u8>(), any::<bool>())
            .prop_map(|(who, request, accept)| Op::Respond { who, request, accept }),
        90 => (who(), ver(), bop()).prop_map(|(who, version, op)| Op::Breakouts { who, version, op }),
        15 => (any::<u8>(), any::<u8>(), 0u8..3)
            .prop_map(|(who, room, password)| Op::JoinBreakout { who, room, password }),
        8 => any::<u8>().prop_map(|who| Op::ReturnToMain { who }),
        12 => (who(), option::of(any::<u8>())).prop_map(|(who, room)| Op::ListenIn { who, room }),
        9 => (who(), any::<bool>()).prop_map(|(who, on)| Op::Broadcasting { who, on }),
        5 => who().prop_map(|who| Op::RequestHelp { who }),
        2 => (who(), any::<bool>()).prop_map(|(who, locked)| Op::SetLocked { who, locked }),
        1 => (who(), any::<bool>()).prop_map(|(who, lock)| Op::End { who, lock }),
        30 => prop_oneof![
            4 => 0u64..2_000,
            4 => 2_000u64..35_000,
            1 => Just(30_000u64),
            1 => Just(60_000u64),
            2 => 35_000u64..90_000,
        ]
        .prop_map(|ms| Op::Advance { ms }),
    ]
}

/// A few people join first, then anything happens.
pub(crate) fn ops() -> impl Strategy<Value = Vec<Op>> {
    let join = (0..USERS, role_sel()).prop_map(|(user, role)| Op::Join { user, role });
    let create = (1u8..4, 0u8..4).prop_map(|(count, capacity)| Op::Breakouts {
        who: Who::Server,
        version: Ver::Unchecked,
        op: Bop::Create {
            count,
            names: Vec::new(),
            capacity,
        },
    });
    (
        vec(join, 2..8),
        option::weighted(0.8, create),
        vec(op(), 40..75),
    )
        .prop_map(|(mut first, create, rest)| {
            first.extend(create);
            first.extend(rest);
            first
        })
}

/// A crowd of 33+ guests, a few managers and rooms, then anything: moves of more than 32
/// peers at once take the core's bulk paths (every desired set recomputed).
pub(crate) fn crowd_ops() -> impl Strategy<Value = Vec<Op>> {
    let manager = (0..USERS, prop_oneof![Just(1u8), Just(3u8), Just(4u8)])
        .prop_map(|(user, role)| Op::Join { user, role });
    let create = (2u8..4).prop_map(|count| Op::Breakouts {
        who: Who::Server,
        version: Ver::Unchecked,
        op: Bop::Create {
            count,
            names: Vec::new(),
            capacity: 0,
        },
    });
    (vec(manager, 1..4), 33u8..40, create, vec(op(), 30..50)).prop_map(
        |(mut first, n, create, rest)| {
            first.push(Op::Crowd { n });
            first.push(create);
            first.extend(rest);
            first
        },
    )
}
