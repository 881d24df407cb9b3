//! A plan: what happens in one run, generated from its seed alone.
//!
//! Every room gets the same shape — a host, maybe a co-host, a moderator and guests; the same
//! number of breakout rooms with the same default names (so two rooms hold breakouts that
//! look identical) — and then a timeline of seeded actions: breakouts created, configured,
//! auto-assigned, opened (with or without a timer), people moved, listening in, choosing a
//! room themselves (refused unless allowed), muting, trying what their role may not, losing
//! their connection and resuming, being cut off the network; finally the rooms close with a
//! countdown. Actions name people and breakout rooms by index; the world resolves them to
//! ids when they run, so a plan is plain data.

use std::time::Duration;

use crate::client::Kind;
use crate::net::Faults;
use crate::rng::Rng;

/// One participant.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub name: String,
    pub role: &'static str,
    pub room: usize,
    pub join_at: Duration,
}

/// Something that happens at a time. `who` indexes [`Plan::people`]; breakout rooms are
/// indices into the room's breakout view (in its order).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The room's host creates `count` breakout rooms with default names.
    Create { room: usize, count: u32 },
    /// The host creates rooms with the names given (duplicates included).
    CreateNamed { room: usize, names: Vec<String> },
    /// The host pre-assigns people (by user id) to breakout rooms.
    Preassign {
        room: usize,
        assignments: Vec<(usize, usize)>,
    },
    /// The host sets the options.
    Options {
        room: usize,
        auto_move: bool,
        self_select: bool,
    },
    /// The host auto-assigns everyone but the managers.
    Auto { room: usize, seed: u64 },
    /// The host opens the rooms.
    Open {
        room: usize,
        duration_s: Option<u32>,
    },
    /// The host moves a person to a breakout (`None`: main).
    Move {
        room: usize,
        who: usize,
        to: Option<usize>,
    },
    /// A person listens in to a breakout (`None`: stops).
    ListenIn { who: usize, to: Option<usize> },
    /// A person picks a breakout room itself.
    SelfSelect { who: usize, to: usize },
    /// A person goes back to main itself.
    ReturnToMain { who: usize },
    /// A person mutes or unmutes its own track.
    Mute { who: usize, kind: Kind, muted: bool },
    /// A person tries to move someone (refused unless its role may).
    Forbidden { who: usize, target: usize },
    /// The host closes one room or all, with a countdown.
    Close {
        room: usize,
        which: Option<usize>,
        countdown_s: u32,
    },
    /// The signaling connection drops; the person reconnects (and resumes) after `for_`.
    Disconnect { who: usize, for_: Duration },
    /// The person is cut off the network (media only) for `for_`.
    Blackout { who: usize, for_: Duration },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub seed: u64,
    pub duration: Duration,
    pub faults: Faults,
    pub rooms: usize,
    pub people: Vec<Person>,
    pub steps: Vec<Step>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Plan {
    /// The differential plan of `seed`: two rooms with the same people. In room 0 everyone
    /// joins main and the host moves the moderator and the guests into two breakout rooms;
    /// in room 1 the same people are pre-assigned by user id, the rooms open, and the guests
    /// join afterwards, straight into their rooms. Lasts 6 s; no disconnects or blackouts, so
    /// both rooms settle.
    pub fn twin(seed: u64) -> Plan {
        let mut rng = Rng::new(seed ^ 0x7477_696e);
        let faults = Faults {
            loss: [0.0, 0.01, 0.03][rng.range(0, 3) as usize],
            duplicate: [0.0, 0.01][rng.range(0, 2) as usize],
            base_delay: (ms(rng.range(2, 10)), ms(rng.range(15, 40))),
            jitter: ms(rng.range(0, 15)),
        };
        let guests = rng.range(2, 5) as usize;
        // Where each guest goes (moderator: room 0).
        // The first guest always shares room 0 with the moderator.
        let places: Vec<usize> = (0..guests)
            .map(|g| if g == 0 { 0 } else { rng.range(0, 2) as usize })
            .collect();
        let mut people = Vec::new();
        let mut steps = Vec::new();
        for room in 0..2 {
            let first = people.len();
            let mut roles = vec!["host", "moderator"];
            roles.extend(std::iter::repeat_n("guest", guests));
            for (i, role) in roles.iter().enumerate() {
                let join_at = if room == 1 && *role == "guest" {
                    ms(2_000 + rng.range(0, 500))
                } else {
                    ms(rng.range(0, 500) + if i == 0 { 0 } else { 50 })
                };
                people.push(Person {
                    name: format!("r{room}-{role}{i}"),
                    role,
                    room,
                    join_at,
                });
            }
            let moderator = first + 1;
            let guest = |g: usize| first + 2 + g;
            steps.push(Step {
                at: ms(900),
                action: Action::Create { room, count: 2 },
            });
            steps.push(Step {
                at: ms(1_100),
                action: Action::Options {
                    room,
                    auto_move: true,
                    self_select: false,
                },
            });
            if room == 1 {
                let mut assignments = vec![(moderator, 0)];
                assignments.extend(places.iter().enumerate().map(|(g, p)| (guest(g), *p)));
                steps.push(Step {
                    at: ms(1_250),
                    action: Action::Preassign { room, assignments },
                });
            }
            steps.push(Step {
                at: ms(1_400),
                action: Action::Open {
                    room,
                    duration_s: None,
                },
            });
            if room == 0 {
                steps.push(Step {
                    at: ms(1_900),
                    action: Action::Move {
                        room,
                        who: moderator,
                        to: Some(0),
                    },
                });
                for (g, p) in places.iter().enumerate() {
                    steps.push(Step {
                        at: ms(2_000 + rng.range(0, 500)),
                        action: Action::Move {
                            room,
                            who: guest(g),
                            to: Some(*p),
                        },
                    });
                }
            }
        }
        steps.sort_by_key(|s| s.at);
        Plan {
            seed,
            duration: Duration::from_secs(6),
            faults,
            rooms: 2,
            people,
            steps,
        }
    }

    /// The plan of `seed`, lasting `duration` of simulated time (at least 5 s).
    pub fn generate(seed: u64, duration: Duration) -> Plan {
        let mut rng = Rng::new(seed);
        let duration = duration.max(Duration::from_secs(5));
        let end = duration.as_millis() as u64;
        let faults = Faults {
            loss: [0.0, 0.01, 0.03, 0.05][rng.range(0, 4) as usize],
            duplicate: [0.0, 0.01, 0.02][rng.range(0, 3) as usize],
            base_delay: (ms(rng.range(2, 10)), ms(rng.range(15, 60))),
            jitter: ms(rng.range(0, 25)),
        };
        let rooms = rng.range(2, 4) as usize;
        // One shape for every room: identical-looking rooms are the isolation test.
        let guests = rng.range(2, 4) as usize;
        let co_host = rng.chance(0.5);
        let breakouts = rng.range(2, 4) as u32;
        let duplicate_names = rng.chance(0.3);
        let auto_move = rng.chance(0.7);
        let self_select = rng.chance(0.5);
        let timer = rng.chance(0.3).then(|| rng.range(2, 5) as u32);

        let mut people = Vec::new();
        let mut steps = Vec::new();
        for room in 0..rooms {
            let first = people.len();
            let mut roles = vec!["host", "moderator"];
            if co_host {
                roles.push("co-host");
            }
            roles.extend(std::iter::repeat_n("guest", guests));
            for (i, role) in roles.iter().enumerate() {
                people.push(Person {
                    name: format!("r{room}-{role}{i}"),
                    role,
                    room,
                    join_at: ms(rng.range(0, 800) + if i == 0 { 0 } else { 50 }),
                });
            }
            // A late guest joins while the rooms are open.
            people.push(Person {
                name: format!("r{room}-late"),
                role: "guest",
                room,
                join_at: ms(rng.range(2_000, 2_600)),
            });
            let members: Vec<usize> = (first..people.len()).collect();
            let jitter = |rng: &mut Rng, base: u64| ms(base + rng.range(0, 300));
            if duplicate_names {
                steps.push(Step {
                    at: jitter(&mut rng, 900),
                    action: Action::CreateNamed {
                        room,
                        names: vec!["Twin".into(); breakouts as usize],
                    },
                });
            } else {
                steps.push(Step {
                    at: jitter(&mut rng, 900),
                    action: Action::Create {
                        room,
                        count: breakouts,
                    },
                });
            }
            steps.push(Step {
                at: jitter(&mut rng, 1_250),
                action: Action::Options {
                    room,
                    auto_move,
                    self_select,
                },
            });
            steps.push(Step {
                at: jitter(&mut rng, 1_600),
                action: Action::Auto {
                    room,
                    seed: rng.next_u64() >> 12,
                },
            });
            steps.push(Step {
                at: jitter(&mut rng, 1_950),
                action: Action::Open {
                    room,
                    duration_s: timer,
                },
            });
            // The middle: seeded actions between the opening and the closing.
            let close_at = end.saturating_sub(2_600).max(2_400);
            let actions = rng.range(4, 10);
            for _ in 0..actions {
                let at = ms(rng.range(2_300, close_at));
                let who = members[rng.range(0, members.len() as u64) as usize];
                let to = rng.range(0, u64::from(breakouts) + 1) as usize;
                let to = (to < breakouts as usize).then_some(to);
                let action = match rng.range(0, 10) {
                    0 | 1 => Action::Move { room, who, to },
                    2 => Action::ListenIn { who: first + 1, to },
                    3 => Action::SelfSelect {
                        who,
                        to: to.unwrap_or(0),
                    },
                    4 => Action::ReturnToMain { who },
                    5 => Action::Mute {
                        who,
                        kind: if rng.chance(0.5) {
                            Kind::Audio
                        } else {
                            Kind::Video
                        },
                        muted: rng.chance(0.6),
                    },
                    6 => Action::Forbidden {
                        who: *rng.pick(&members[roles.len() - guests..]).unwrap_or(&who),
                        target: who,
                    },
                    7 => Action::Disconnect {
                        who,
                        for_: ms(rng.range(300, 1_500)),
                    },
                    8 => Action::Blackout {
                        who,
                        for_: ms(rng.range(200, 1_000)),
                    },
                    _ => Action::Close {
                        room,
                        which: Some(rng.range(0, u64::from(breakouts)) as usize),
                        countdown_s: rng.range(1, 3) as u32,
                    },
                };
                steps.push(Step { at, action });
            }
            steps.push(Step {
                at: ms(close_at + rng.range(0, 300)),
                action: Action::Close {
                    room,
                    which: None,
                    countdown_s: rng.range(1, 3) as u32,
                },
            });
        }
        // Stable order: by time, then as generated.
        steps.sort_by_key(|s| s.at);
        Plan {
            seed,
            duration,
            faults,
            rooms,
            people,
            steps,
        }
    }
}
